"""Result sentences as ids with parameters, in English and Chinese (issue 13 item 5).

A check says ``say(Status.FAIL, "host", "firewall.inbound_accepted", backends="nftables")``:
the finding carries the id and the parameters (text), and its English ``message``, which
``xunjian scan`` and the agent's logs print. The server renders the id in the reader's language
from this table (server/console: ``result_message``); a sentence it does not know (an older
server, a newer agent) is shown as the agent's English. Ids are stable: change a sentence's
words freely, never what its id means or its parameters' names (tests/checks/test_messages.py
holds every template's placeholders to its parameters).

The standard library only, like the rest of the check library.
"""

from __future__ import annotations

import string
from typing import Any, TypeVar

from checks.errors import CollectError
from checks.model import Finding, Severity, Status

CollectErrorT = TypeVar("CollectErrorT", bound=CollectError)

# id: (English, Chinese). Placeholders are str.format names, the same in both.
MESSAGES: dict[str, tuple[str, str]] = {
    "accounts.uid0_only_root": (
        "no account other than root has UID 0",
        "除 root 外没有 UID 为 0 的账户",
    ),
    "accounts.uid0_extra": (
        "account {user} has UID 0, so it holds every power root holds",
        "账户 {user} 的 UID 为 0，拥有与 root 相同的全部权限",
    ),
    "accounts.empty_password_passwd": (
        "account {user} has an empty password field in /etc/passwd: anyone may log in as it "
        "without a password",
        "账户 {user} 在 /etc/passwd 中的密码字段为空：任何人无需密码即可以该账户登录",
    ),
    "accounts.empty_password_shadow": (
        "account {user} has an empty password in /etc/shadow: anyone may log in as it without "
        "a password",
        "账户 {user} 在 /etc/shadow 中的密码为空：任何人无需密码即可以该账户登录",
    ),
    "accounts.no_empty_password": (
        "no account has an empty password",
        "没有密码为空的账户",
    ),
    "ssh.root_login_allowed": (
        "the SSH server lets root log in with a password (PermitRootLogin yes)",
        "SSH 服务允许 root 用密码登录（PermitRootLogin yes）",
    ),
    "ssh.root_login_refused": (
        "the SSH server does not let root log in with a password (PermitRootLogin {value})",
        "SSH 服务不允许 root 用密码登录（PermitRootLogin {value}）",
    ),
    "ssh.empty_passwords_allowed": (
        "the SSH server accepts accounts with empty passwords (PermitEmptyPasswords yes)",
        "SSH 服务接受空密码的账户（PermitEmptyPasswords yes）",
    ),
    "ssh.empty_passwords_refused": (
        "the SSH server refuses empty passwords",
        "SSH 服务拒绝空密码",
    ),
    "ports.all_approved": (
        "every listening TCP port is approved ({count} reachable)",
        "所有监听的 TCP 端口都已批准（{count} 个可访问）",
    ),
    "ports.unapproved": (
        "TCP port {port} is listening but not on the approved list",
        "TCP 端口 {port} 正在监听，但不在批准列表中",
    ),
    "ports.cleartext_unapproved": (
        "TCP port {port} is listening but not on the approved list; it is usually {service}, "
        "which sends passwords in clear text",
        "TCP 端口 {port} 正在监听，但不在批准列表中；它通常是 {service}，会以明文传送密码",
    ),
    "patch.no_security_pending": (
        "no security update is waiting ({others} other updates are); as fresh as the last "
        "apt-get update",
        "没有待安装的安全更新（另有 {others} 个其他更新）；以最近一次 apt-get update 为准",
    ),
    "patch.security_pending": (
        "{count} security updates are waiting: {names}",
        "有 {count} 个安全更新待安装：{names}",
    ),
    "patch.security_pending_more": (
        "{count} security updates are waiting: {names} and {more} more",
        "有 {count} 个安全更新待安装：{names} 等（另有 {more} 个）",
    ),
    "firewall.active": (
        "the host firewall ({backends}) is active and {policy}s inbound traffic that no rule "
        "allows",
        "主机防火墙（{backends}）已启用，并{policy}所有未被规则允许的入站流量",
    ),
    "firewall.no_tool": (
        "no host firewall is active: no firewall tool (nftables or iptables) is installed",
        "主机防火墙未启用：未安装防火墙工具（nftables 或 iptables）",
    ),
    "firewall.no_kernel_filter": (
        "no host firewall is active: the kernel has no input filter",
        "主机防火墙未启用：内核没有入站过滤规则",
    ),
    "firewall.not_enabled": (
        "no host firewall is active: no firewall (nftables, iptables, ufw, firewalld) is "
        "enabled at boot",
        "主机防火墙未启用：开机时没有启用任何防火墙（nftables、iptables、ufw、firewalld）",
    ),
    "firewall.accepts_inbound": (
        "the host firewall ({backends}) accepts inbound traffic by default; set the input "
        "policy to drop",
        "主机防火墙（{backends}）默认接受入站流量；请将入站策略设为 drop",
    ),
    "accounts.hash_schemes_accepted": (
        "every password hash ({count}) uses an accepted scheme",
        "所有密码哈希（{count} 个）都使用认可的算法",
    ),
    "accounts.hash_scheme_weak": (
        "the password of {user} is stored with the weak scheme {scheme}",
        "{user} 的密码以弱算法 {scheme} 保存",
    ),
    "accounts.password_age_unknown": (
        "account {user} has a password but no recorded date of its last change, so its age "
        "cannot be held to the policy",
        "账户 {user} 设有密码，但没有记录上次修改日期，无法按策略检查密码期限",
    ),
    "accounts.password_too_old": (
        "the password of {user} was last changed {age} days ago (the policy allows {max_days})",
        "{user} 的密码已 {age} 天未修改（策略允许 {max_days} 天）",
    ),
    "accounts.password_age_ok": (
        "no password ({count} checked) is older than {max_days} days",
        "没有超过 {max_days} 天未修改的密码（已检查 {count} 个）",
    ),
    "accounts.no_approved_list": (
        "the policy lists no approved accounts, so no account can be called unexpected; set the "
        "parameter approved to the accounts an administrator added",
        "策略中没有批准的账户名单，无法判断哪些账户不该存在；请将参数 approved 设为管理员添加的账"
        "户",
    ),
    "accounts.all_approved": (
        "all {count} login accounts are on the approved list",
        "全部 {count} 个可登录账户都在批准名单中",
    ),
    "accounts.unapproved": (
        "login account {user} (UID {uid}) is not on the approved list",
        "可登录账户 {user}（UID {uid}）不在批准名单中",
    ),
    "accounts.uids_unique": (
        "every account has a UID of its own",
        "每个账户都有独立的 UID",
    ),
    "accounts.uid_shared": (
        "accounts {users} share UID {uid}, so their actions cannot be told apart",
        "账户 {users} 共用 UID {uid}，无法区分各自的操作",
    ),
    "accounts.weak_password_vendor_default": (
        "account {account} still accepts a vendor's factory default password",
        "账户 {account} 仍可使用厂商出厂默认密码登录",
    ),
    "accounts.weak_password_common": (
        "account {account} accepts one of the most common weak passwords in published leaks",
        "账户 {account} 使用了泄露数据中最常见的弱密码之一",
    ),
    "accounts.weak_password_own_name": (
        "account {account} accepts a password made from its own name",
        "账户 {account} 的密码由账户名构成",
    ),
    "accounts.weak_password_organisation_word": (
        "account {account} accepts a password made from the organisation's own words",
        "账户 {account} 的密码由本单位名称等常用词构成",
    ),
    "accounts.weak_password_untestable": (
        "the password hash of {user} uses a scheme this host's crypt library cannot compute, so "
        "it could not be tested",
        "{user} 的密码哈希使用了本机 crypt 库无法计算的算法，无法测试",
    ),
    "accounts.no_guessable_password": (
        "no account has a password that could be guessed",
        "没有可被猜出的账户密码",
    ),
    "accounts.weak_password_none_so_far": (
        "none of {count} passwords is a known default or weak password so far: {slow} with a "
        "slow hash were tried against their {tried} or more likeliest of {candidates} "
        "candidates; the agent's next scans try the rest",
        "目前 {count} 个密码都不是已知的默认或弱密码：其中 {slow} 个使用慢速哈希，已用 "
        "{candidates} 个候选中最可能的至少 {tried} 个测试；代理后续扫描会继续测试其余候选",
    ),
    "accounts.weak_password_none": (
        "none of {count} passwords is a known default or weak password ({candidates} candidates "
        "each)",
        "{count} 个密码都不是已知的默认或弱密码（每个测试了 {candidates} 个候选）",
    ),
    "accounts.handover_no_date": (
        "the policy gives neither go_live_date nor handover_date, so there is no date the "
        "passwords must postdate; set one of them (YYYY-MM-DD)",
        "策略未设置 go_live_date 或 handover_date，没有密码必须晚于的日期；请设置其中之一（"
        "YYYY-MM-DD）",
    ),
    "accounts.password_before_handover": (
        "the password of {user} was last changed {when}, before the {date_name} {date}: the "
        "set-up or previous administrator may still know it",
        "{user} 的密码上次修改于 {when}，早于{date_name} {date}：安装人员或前任管理员可能仍知道该"
        "密码",
    ),
    "accounts.password_after_handover": (
        "every password ({count}) was changed on or after the {date_name} {date}",
        "所有密码（{count} 个）都在{date_name} {date} 当天或之后修改过",
    ),
    "accounts.no_approved_admins": (
        "the policy lists no approved administrators; set approved_admins to the accounts that "
        "may use sudo",
        "策略中没有批准的管理员名单；请将 approved_admins 设为可以使用 sudo 的账户",
    ),
    "accounts.admins_approved": (
        "every member of {groups} is an approved administrator",
        "{groups} 的所有成员都是已批准的管理员",
    ),
    "accounts.admin_unapproved": (
        "account {user} is in the administrator group {groups} without approval",
        "账户 {user} 未经批准加入了管理员组 {groups}",
    ),
    "accounts.no_login_records": (
        "this host keeps no login records (wtmp, lastlog or lastlog2)",
        "本机没有登录记录（wtmp、lastlog 或 lastlog2）",
    ),
    "accounts.unused": (
        "account {user} last logged in {idle} days ago (allowed: {max_days}); disable it if its "
        "owner left",
        "账户 {user} 已 {idle} 天未登录（允许 {max_days} 天）；如使用人已离开，请停用该账户",
    ),
    "accounts.never_logged_in": (
        "account {user} has never logged in according to {sources}",
        "根据 {sources}，账户 {user} 从未登录过",
    ),
    "accounts.all_used": (
        "every login account ({count}) was used in the last {max_days} days",
        "所有可登录账户（{count} 个）在最近 {max_days} 天内都登录过",
    ),
    "accounts.no_baseline": (
        "the server holds no account baseline for this host yet; set the parameter baseline to "
        "the account names recorded when the host was accepted",
        "服务器还没有本机的账户基线；请将参数 baseline 设为主机验收时记录的账户名",
    ),
    "accounts.none_added": (
        "no account was added since the baseline ({count} accounts)",
        "基线之后没有新增账户（共 {count} 个账户）",
    ),
    "accounts.added": (
        "account {user} (UID {uid}) was added after the baseline was taken",
        "账户 {user}（UID {uid}）是在建立基线之后新增的",
    ),
    "accounts.sudo_all_commands": (
        "{file} gives {user} every command through sudo ({principal}), and the account is not an "
        "approved administrator",
        "{file} 通过 sudo（{principal}）允许 {user} 执行所有命令，而该账户不是已批准的管理员",
    ),
    "accounts.sudo_no_password": (
        "{file} gives {user} no password through sudo ({principal}), and the account is not an "
        "approved administrator",
        "{file} 允许 {user} 通过 sudo（{principal}）免密码执行命令，而该账户不是已批准的管理员",
    ),
    "accounts.sudo_all_commands_no_password": (
        "{file} gives {user} every command and no password through sudo ({principal}), and the "
        "account is not an approved administrator",
        "{file} 允许 {user} 通过 sudo（{principal}）免密码执行所有命令，而该账户不是已批准的管理员",
    ),
    "accounts.sudo_rules_approved": (
        "no sudo rule gives every command or password-less sudo to an unapproved account",
        "没有 sudo 规则把所有命令或免密码 sudo 授予未批准的账户",
    ),
    "ssh.passwords_accepted": (
        "the SSH server accepts passwords (PasswordAuthentication yes), and the policy allows "
        "keys only",
        "SSH 服务接受密码登录（PasswordAuthentication yes），而策略只允许密钥登录",
    ),
    "ssh.password_authentication_allowed": (
        "PasswordAuthentication {value} is what the policy allows",
        "PasswordAuthentication {value} 符合策略",
    ),
    "ssh.max_auth_tries_high": (
        "the SSH server allows {tries} authentication attempts per connection (allowed: "
        "{limit}), which helps password guessing",
        "SSH 服务每个连接允许 {tries} 次认证尝试（允许 {limit} 次），便于猜测密码",
    ),
    "ssh.max_auth_tries_ok": (
        "the SSH server allows {tries} attempts per connection (allowed: {limit})",
        "SSH 服务每个连接允许 {tries} 次尝试（允许 {limit} 次）",
    ),
    "ssh.no_admin_keys": (
        "no administrator account has an SSH key",
        "没有管理员账户配置 SSH 密钥",
    ),
    "ssh.no_approved_keys": (
        "{count} SSH keys open administrator accounts, and the policy lists no approved keys; "
        "set approved_keys to their SHA256 fingerprints",
        "有 {count} 个 SSH 密钥可登录管理员账户，而策略中没有批准的密钥名单；请将 approved_keys "
        "设为这些密钥的 SHA256 指纹",
    ),
    "ssh.admin_keys_approved": (
        "every SSH key of an administrator account ({count}) is approved",
        "管理员账户的所有 SSH 密钥（{count} 个）都已批准",
    ),
    "ssh.key_unapproved": (
        "{file} lets the holder of an unapproved key ({key}) log in as {user}; after an "
        "administrator hands over, the old keys must go",
        "{file} 允许未批准密钥（{key}）的持有者以 {user} 身份登录；管理员交接后，旧密钥必须删除",
    ),
    "password.min_length_ok": (
        "passwords must have at least {length} characters (policy: {required})",
        "密码至少需要 {length} 个字符（策略要求 {required} 个）",
    ),
    "password.min_length_unset": (
        "no minimum password length is configured",
        "未配置密码最小长度",
    ),
    "password.min_length_unset_pwquality_unused": (
        "no minimum password length is configured; pwquality.conf sets minlen, but no PAM "
        "password stack uses pam_pwquality",
        "未配置密码最小长度；pwquality.conf 设置了 minlen，但没有 PAM 密码栈使用 pam_pwquality",
    ),
    "password.min_length_short": (
        "the minimum password length is {length}, below the policy's {required}",
        "密码最小长度为 {length}，低于策略要求的 {required}",
    ),
    "password.min_length_short_pwquality_unused": (
        "the minimum password length is {length}, below the policy's {required}; pwquality.conf "
        "sets minlen, but no PAM password stack uses pam_pwquality",
        "密码最小长度为 {length}，低于策略要求的 {required}；pwquality.conf 设置了 minlen，但没有"
        " PAM 密码栈使用 pam_pwquality",
    ),
    "password.classes_ok": (
        "passwords must mix at least {classes} character classes (policy: {required})",
        "密码至少需要混合 {classes} 类字符（策略要求 {required} 类）",
    ),
    "password.no_quality_module": (
        "no password quality module (pam_pwquality) is in effect, so passwords need not mix "
        "letters, digits and symbols (policy: {required} classes)",
        "没有生效的密码质量模块（pam_pwquality），密码无需混合字母、数字和符号（策略要求 "
        "{required} 类）",
    ),
    "password.classes_few": (
        "passwords must mix only {classes} character classes (policy: {required}); set minclass "
        "or negative credits",
        "密码只需混合 {classes} 类字符（策略要求 {required} 类）；请设置 minclass 或负的 credit 值",
    ),
    "password.max_age_ok": (
        "new passwords expire after {days} days (policy: at most {max_days})",
        "新密码在 {days} 天后过期（策略要求不超过 {max_days} 天）",
    ),
    "password.never_expire": (
        "passwords never expire (PASS_MAX_DAYS unset or {value})",
        "密码永不过期（PASS_MAX_DAYS 未设置或为 {value}）",
    ),
    "password.max_age_long": (
        "passwords expire after {days} days, later than the policy's {max_days}",
        "密码在 {days} 天后才过期，超过策略要求的 {max_days} 天",
    ),
    "password.no_pam_stack": (
        "no PAM {stack} stack was found (common-{stack}, system-auth, password-auth)",
        "未找到 PAM {stack} 栈（common-{stack}、system-auth、password-auth）",
    ),
    "password.no_lockout": (
        "no lockout module (pam_faillock) is in the PAM auth stack ({files}): password guessing "
        "is unlimited",
        "PAM 认证栈（{files}）中没有账户锁定模块（pam_faillock）：猜测密码的次数不受限制",
    ),
    "password.lockout_never": (
        "{module} is in the auth stack with deny=0: it never locks an account",
        "{module} 在认证栈中但 deny=0：永远不会锁定账户",
    ),
    "password.lockout_late": (
        "accounts lock only after {deny} wrong passwords (policy: at most {allowed})",
        "输错 {deny} 次密码后账户才会锁定（策略要求不超过 {allowed} 次）",
    ),
    "password.lockout_until_unlocked": (
        "accounts lock until an administrator unlocks them after {deny} wrong passwords ({module})",
        "输错 {deny} 次密码后账户被锁定，直到管理员解锁（{module}）",
    ),
    "password.lockout_for": (
        "accounts lock for {seconds} s after {deny} wrong passwords ({module})",
        "输错 {deny} 次密码后账户被锁定 {seconds} 秒（{module}）",
    ),
    "password.history_ok": (
        "a new password may not repeat the last {remember} ({module})",
        "新密码不得与最近 {remember} 个旧密码相同（{module}）",
    ),
    "password.no_history": (
        "no password history is kept (no pam_pwhistory, no pam_unix remember= in {files}): an "
        "old password may be set again",
        "未保留密码历史（{files} 中没有 pam_pwhistory，也没有 pam_unix 的 remember=）：可以重新设"
        "置旧密码",
    ),
    "password.history_short": (
        "{module} remembers only {remember} old passwords (policy: {required})",
        "{module} 只记住 {remember} 个旧密码（策略要求 {required} 个）",
    ),
    "patch.kernel_not_running": (
        "kernel {newest} is installed but {running} is running: the host has not restarted since "
        "the kernel was updated",
        "已安装内核 {newest}，但正在运行的是 {running}：内核更新后主机尚未重启",
    ),
    "patch.reboot_pending": (
        "updates are installed but not in use until the host restarts ({packages})",
        "更新已安装，但需重启主机后才生效（{packages}）",
    ),
    "patch.no_reboot_flag": (
        "{release} keeps no reboot-required flag and no installed kernel was found to compare "
        "with the running one",
        "{release} 没有“需要重启”标记，也未找到可与正在运行内核比较的已安装内核",
    ),
    "patch.no_reboot_pending": (
        "no installed update is waiting for a reboot",
        "没有等待重启才能生效的已安装更新",
    ),
    "patch.no_security_source": (
        "no configured package source carries security updates (no security suite such as "
        "bookworm-security among {suites}), so security fixes never arrive; add the "
        "distribution's security source",
        "已配置的软件源都不提供安全更新（{suites} 中没有 bookworm-security 这类安全源），安全修复"
        "永远不会到达；请添加发行版的安全更新源",
    ),
    "patch.lists_never_refreshed": (
        "no security update is listed, but the package lists are never refreshed (allowed: "
        "{allowed}), so newer security updates cannot be seen; run apt-get update",
        "没有列出安全更新，但软件包列表从未刷新（允许 {allowed} 天），看不到新的安全更新；请运行 "
        "apt-get update",
    ),
    "patch.lists_stale_no_security": (
        "no security update is listed, but the package lists are {days} days old (allowed: "
        "{allowed}), so newer security updates cannot be seen; run apt-get update",
        "没有列出安全更新，但软件包列表已有 {days} 天未刷新（允许 {allowed} 天），看不到新的安全"
        "更新；请运行 apt-get update",
    ),
    "patch.updates_within_limit": (
        "{count} updates are waiting (allowed: {allowed})",
        "有 {count} 个更新待安装（允许 {allowed} 个）",
    ),
    "patch.updates_too_many": (
        "{count} updates are waiting (allowed: {allowed}): {names}",
        "有 {count} 个更新待安装（允许 {allowed} 个）：{names}",
    ),
    "patch.updates_too_many_more": (
        "{count} updates are waiting (allowed: {allowed}): {names} and {more} more",
        "有 {count} 个更新待安装（允许 {allowed} 个）：{names} 等（另有 {more} 个）",
    ),
    "patch.lists_never_downloaded": (
        "the {manager} package lists have never been downloaded, so no update can be seen",
        "{manager} 软件包列表从未下载过，看不到任何更新",
    ),
    "patch.lists_fresh": (
        "the package lists were refreshed {days} days ago (allowed: {max_days})",
        "软件包列表于 {days} 天前刷新（允许 {max_days} 天）",
    ),
    "patch.lists_stale": (
        'the package lists were last refreshed {days} days ago (allowed: {max_days}); "no '
        'updates" from such lists means nothing',
        "软件包列表已有 {days} 天未刷新（允许 {max_days} 天）；据此得出的“没有更新”并不可信",
    ),
    "patch.no_install_log": (
        "{manager} keeps no log of installs on this host",
        "本机的 {manager} 没有安装日志",
    ),
    "patch.no_install_recorded": (
        "no package install or upgrade is recorded in {sources}",
        "{sources} 中没有软件包安装或升级记录",
    ),
    "patch.last_install_recent": (
        "the last package install was {days} days ago (allowed: {max_days})",
        "最近一次安装软件包是在 {days} 天前（允许 {max_days} 天）",
    ),
    "patch.last_install_old": (
        "no package has been installed or upgraded for {days} days (allowed: {max_days}): "
        "patches are not being applied",
        "已有 {days} 天没有安装或升级任何软件包（允许 {max_days} 天）：补丁没有在安装",
    ),
    "patch.eol_unknown": (
        "the end of support of {release} is not known to this agent; add it to extra_eol_dates "
        "as ID:VERSION=YYYY-MM-DD",
        "本代理不知道 {release} 的支持结束日期；请以 ID:VERSION=YYYY-MM-DD 的格式加入 "
        "extra_eol_dates",
    ),
    "patch.eol_invalid": (
        "the end-of-life date {date} is invalid",
        "支持结束日期 {date} 无效",
    ),
    "patch.release_supported": (
        "{release} gets security updates until {date}",
        "{release} 在 {date} 之前都有安全更新",
    ),
    "patch.release_unsupported": (
        "{release} stopped getting security updates on {date}; upgrade to a supported release",
        "{release} 已于 {date} 停止提供安全更新；请升级到仍受支持的版本",
    ),
    "files.account_file_world": (
        "{path} can be read or written by every account",
        "{path} 所有账户都可读写",
    ),
    "files.account_file_group": (
        "{path} is open to group {group}",
        "{path} 对组 {group} 开放",
    ),
    "files.account_file_groupwrite": (
        "{path} can be written by its group",
        "{path} 所属组可写",
    ),
    "files.account_file_world_group": (
        "{path} can be read or written by every account; is open to group {group}",
        "{path} 所有账户都可读写；对组 {group} 开放",
    ),
    "files.account_file_world_groupwrite": (
        "{path} can be read or written by every account; can be written by its group",
        "{path} 所有账户都可读写；所属组可写",
    ),
    "files.account_file_group_groupwrite": (
        "{path} is open to group {group}; can be written by its group",
        "{path} 对组 {group} 开放；所属组可写",
    ),
    "files.account_file_world_group_groupwrite": (
        "{path} can be read or written by every account; is open to group {group}; can be "
        "written by its group",
        "{path} 所有账户都可读写；对组 {group} 开放；所属组可写",
    ),
    "files.account_file_owner": (
        "{path} is owned by {owner}, not root",
        "{path} 的属主是 {owner}，而不是 root",
    ),
    "files.account_file_owner_world": (
        "{path} is owned by {owner}, not root; can be read or written by every account",
        "{path} 的属主是 {owner}，而不是 root；所有账户都可读写",
    ),
    "files.account_file_owner_group": (
        "{path} is owned by {owner}, not root; is open to group {group}",
        "{path} 的属主是 {owner}，而不是 root；对组 {group} 开放",
    ),
    "files.account_file_owner_groupwrite": (
        "{path} is owned by {owner}, not root; can be written by its group",
        "{path} 的属主是 {owner}，而不是 root；所属组可写",
    ),
    "files.account_file_owner_world_group": (
        "{path} is owned by {owner}, not root; can be read or written by every account; is open "
        "to group {group}",
        "{path} 的属主是 {owner}，而不是 root；所有账户都可读写；对组 {group} 开放",
    ),
    "files.account_file_owner_world_groupwrite": (
        "{path} is owned by {owner}, not root; can be read or written by every account; can be "
        "written by its group",
        "{path} 的属主是 {owner}，而不是 root；所有账户都可读写；所属组可写",
    ),
    "files.account_file_owner_group_groupwrite": (
        "{path} is owned by {owner}, not root; is open to group {group}; can be written by its "
        "group",
        "{path} 的属主是 {owner}，而不是 root；对组 {group} 开放；所属组可写",
    ),
    "files.account_file_owner_world_group_groupwrite": (
        "{path} is owned by {owner}, not root; can be read or written by every account; is open "
        "to group {group}; can be written by its group",
        "{path} 的属主是 {owner}，而不是 root；所有账户都可读写；对组 {group} 开放；所属组可写",
    ),
    "files.account_file_otherwrite": (
        "{path} can be written by accounts other than root",
        "{path} root 以外的账户可写",
    ),
    "files.account_file_owner_otherwrite": (
        "{path} is owned by {owner}, not root; can be written by accounts other than root",
        "{path} 的属主是 {owner}，而不是 root；root 以外的账户可写",
    ),
    "files.hashes_in_passwd": (
        "/etc/passwd holds the password hashes of {users} and every account can read it, so "
        "anyone on this host can try to crack them offline; run pwconv to move them into "
        "/etc/shadow",
        "/etc/passwd 中保存了 {users} 的密码哈希，且所有账户都可读取，本机任何人都可离线破解；请"
        "运行 pwconv 把它们移到 /etc/shadow",
    ),
    "files.account_files_safe": (
        "the account and password files have safe owners and permissions",
        "账户和密码文件的属主和权限都是安全的",
    ),
    "files.world_writable_packaged": (
        "every account can change the {kind} {path} (mode {mode}; shipped by package {package})",
        "所有账户都可修改{kind} {path}（权限 {mode}；来自软件包 {package}）",
    ),
    "files.world_writable": (
        "every account can change the {kind} {path} (mode {mode}; no package ships it)",
        "所有账户都可修改{kind} {path}（权限 {mode}；不属于任何软件包）",
    ),
    "files.none_world_writable": (
        "no file or folder in the system folders can be changed by every account",
        "系统目录中没有所有账户都可修改的文件或目录",
    ),
    "files.setid_unpackaged_distribution_name": (
        "{path} is {bits} (owner uid {uid}, mode {mode}) and has the name of a distribution's "
        "program, but no installed package ships it",
        "{path} 设置了 {bits}（属主 uid {uid}，权限 {mode}），名称与发行版自带程序相同，但不属于"
        "任何已安装的软件包",
    ),
    "files.setid_not_distribution": (
        "{path} is {bits} (owner uid {uid}, mode {mode}) and is from package {package}, but is "
        "not among the set-id programs the distributions ship (was its mode changed?)",
        "{path} 设置了 {bits}（属主 uid {uid}，权限 {mode}），来自软件包 {package}，但不在发行版"
        "自带的 set-id 程序之列（权限是否被改过？）",
    ),
    "files.setid_unpackaged": (
        "{path} is {bits} (owner uid {uid}, mode {mode}) and no installed package ships it",
        "{path} 设置了 {bits}（属主 uid {uid}，权限 {mode}），且不属于任何已安装的软件包",
    ),
    "files.setid_all_distribution": (
        "the {count} set-user-id and set-group-id programs are the distribution's own",
        "{count} 个 set-user-id 和 set-group-id 程序都是发行版自带的",
    ),
    "logs.syslog_on_disk": (
        "{daemons} starts at boot and writes logs to disk",
        "{daemons} 开机启动，并把日志写入磁盘",
    ),
    "logs.journal_on_disk": (
        "journald keeps the journal in /var/log/journal (Storage={storage})",
        "journald 把日志保存在 /var/log/journal（Storage={storage}）",
    ),
    "logs.lost_no_logger": (
        "the system's logs are lost at every restart: there is neither journald nor a syslog "
        "daemon (rsyslog, syslog-ng), and no syslog daemon runs",
        "系统日志每次重启都会丢失：既没有 journald，也没有 syslog 服务（rsyslog、syslog-ng）在运行",
    ),
    "logs.lost_journal_in_memory": (
        "the system's logs are lost at every restart: journald's Storage=auto keeps the journal "
        "in memory, as /var/log/journal is missing, and no syslog daemon runs",
        "系统日志每次重启都会丢失：由于缺少 /var/log/journal，journald 的 Storage=auto 只把日志保"
        "存在内存中，且没有 syslog 服务在运行",
    ),
    "logs.lost_journal_storage": (
        "the system's logs are lost at every restart: journald's Storage={storage} keeps no "
        "journal on disk, and no syslog daemon runs",
        "系统日志每次重启都会丢失：journald 的 Storage={storage} 不在磁盘上保存日志，且没有 "
        "syslog 服务在运行",
    ),
    "logs.none_on_disk": (
        "no logs are kept on disk, so none are kept long (logs.persistent reports it)",
        "磁盘上没有保存日志，因此谈不上保存期限（由 logs.persistent 报告）",
    ),
    "logs.journal_short": (
        "journald deletes entries after {days} days (MaxRetentionSec; policy: {required})",
        "journald 在 {days} 天后删除日志（MaxRetentionSec；策略要求 {required} 天）",
    ),
    "logs.journal_no_age": (
        "journald sets no age limit (MaxRetentionSec unset); its size limit (SystemMaxUse) "
        "decides how long entries stay",
        "journald 未设置保存期限（MaxRetentionSec 未设置）；日志保存多久由容量上限（"
        "SystemMaxUse）决定",
    ),
    "logs.journal_kept": (
        "journald keeps entries {days} days (policy: {required})",
        "journald 保存日志 {days} 天（策略要求 {required} 天）",
    ),
    "logs.rotated_by_size": (
        "{config} rotates {files} by size, so how long a line is kept is not known; rotate by "
        "time (weekly, rotate 26)",
        "{config} 按大小轮转 {files}，无法确定日志保存多久；请改为按时间轮转（weekly、rotate 26）",
    ),
    "logs.rotation_short": (
        "{config} keeps {files} for {days} days ({copies} old copies; policy: {required})",
        "{config} 只保存 {files} {days} 天（{copies} 份旧文件；策略要求 {required} 天）",
    ),
    "logs.rotation_kept": (
        "{config} keeps {files} for {days} days",
        "{config} 保存 {files} {days} 天",
    ),
    "logs.not_rotated": (
        "no logrotate rule rotates {files}: they are kept until removed by hand",
        "没有 logrotate 规则轮转 {files}：它们会一直保留到手动删除",
    ),
    "logs.world_writable": (
        "every account can change or empty the log {kind} {path} (mode {mode}), so a record can "
        "be forged or erased",
        "所有账户都可修改或清空日志{kind} {path}（权限 {mode}），记录可能被伪造或抹除",
    ),
    "logs.no_var_log": (
        "this host has no /var/log",
        "本机没有 /var/log",
    ),
    "logs.none_world_writable": (
        "no log file or folder can be changed by every account",
        "没有所有账户都可修改的日志文件或目录",
    ),
    "network.no_dhcp_server": (
        "no DHCP server is listening on UDP port 67",
        "UDP 67 端口上没有 DHCP 服务在监听",
    ),
    "network.dhcp_server_approved": (
        "a DHCP server is listening, and this host is approved to run one",
        "有 DHCP 服务在监听，且本机已获准运行 DHCP 服务",
    ),
    "network.dhcp_server": (
        "a DHCP server is listening on UDP port 67; a private DHCP server can hand out "
        "unregistered addresses",
        "UDP 67 端口上有 DHCP 服务在监听；私设的 DHCP 服务可能分发未登记的地址",
    ),
    "network.addresses_reported": (
        "addresses reported for the server's asset registry; set registered_ipv4 and "
        "registered_macs to have the host compare them itself",
        "已将地址报告给服务器的资产登记；设置 registered_ipv4 和 registered_macs 后，主机会自行比"
        "对",
    ),
    "network.ipv4_differs": (
        "the host's IPv4 addresses {found} differ from the registered {registered}",
        "主机的 IPv4 地址 {found} 与登记的 {registered} 不一致",
    ),
    "network.macs_differ": (
        "the host's MAC addresses {found} differ from the registered {registered}",
        "主机的 MAC 地址 {found} 与登记的 {registered} 不一致",
    ),
    "network.addresses_match": (
        "the host's addresses match the registered ones",
        "主机地址与登记的一致",
    ),
    "network.time_synced": (
        "time is synchronised at boot by {services}",
        "开机时由 {services} 同步时间",
    ),
    "network.no_time_sync": (
        "no time synchronisation service starts at boot, so log times drift and cannot be "
        "matched with other hosts' logs",
        "没有开机启动的时间同步服务，日志时间会漂移，无法与其他主机的日志对应",
    ),
    "software.more_not_allowed": (
        "{count} more packages are installed but not on the allow list",
        "另有 {count} 个已安装的软件包不在允许清单中",
    ),
    "software.more_denied": (
        "{count} more packages are on the deny list",
        "另有 {count} 个软件包在禁止清单中",
    ),
    "software.more_added": (
        "{count} more packages were installed after the baseline was taken",
        "另有 {count} 个软件包是在建立基线之后安装的",
    ),
    "software.no_allow_list": (
        "the policy has no software allow list; set the parameter allowed to the package names "
        "(patterns such as lib* allowed) this group may have",
        "策略中没有软件允许清单；请将参数 allowed 设为本组可以安装的软件包名（可用 lib* 这样的通"
        "配）",
    ),
    "software.all_allowed": (
        "all {count} installed packages are on the allow list",
        "全部 {count} 个已安装的软件包都在允许清单中",
    ),
    "software.not_allowed": (
        "package {package} is installed but not on the allow list",
        "已安装的软件包 {package} 不在允许清单中",
    ),
    "software.denied_by_name": (
        "package {package} is on the deny list ({category}; matched by its name)",
        "软件包 {package} 在禁止清单中（{category}；按名称匹配）",
    ),
    "software.denied_by_section": (
        "package {package} is on the deny list ({category}; matched by its section)",
        "软件包 {package} 在禁止清单中（{category}；按分类匹配）",
    ),
    "software.denied_by_description": (
        "package {package} is on the deny list ({category}; matched by its description)",
        "软件包 {package} 在禁止清单中（{category}；按描述匹配）",
    ),
    "software.none_denied": (
        "none of the {count} installed packages is on the deny list",
        "{count} 个已安装的软件包都不在禁止清单中",
    ),
    "software.no_baseline": (
        "the server holds no software baseline for this host yet; set the parameter baseline to "
        "the package names recorded when the host was accepted",
        "服务器还没有本机的软件基线；请将参数 baseline 设为主机验收时记录的软件包名",
    ),
    "software.none_added": (
        "no package was installed since the baseline ({count} installed)",
        "基线之后没有安装新的软件包（已安装 {count} 个）",
    ),
    "software.added": (
        "package {package} was installed after the baseline was taken",
        "软件包 {package} 是在建立基线之后安装的",
    ),
    "software.added_with_dependencies": (
        "package {package} was installed after the baseline was taken, with {count} dependencies",
        "软件包 {package} 是在建立基线之后安装的，连同 {count} 个依赖包",
    ),
    "software.only_xunjian_listens": (
        "the only listening programs ({count}) are xunjian's own",
        "正在监听的程序（{count} 个）只有巡检自身",
    ),
    "software.listeners_owner_unknown": (
        "no package database could say which package owns the listening programs",
        "没有软件包数据库能说明正在监听的程序属于哪个软件包",
    ),
    "software.listeners_packaged": (
        "every listening program ({count}) comes from an installed package",
        "所有正在监听的程序（{count} 个）都来自已安装的软件包",
    ),
    "software.listeners_packaged_and_xunjian": (
        "every listening program ({count}) comes from an installed package, besides xunjian's "
        "own ({own})",
        "除巡检自身（{own} 个）外，所有正在监听的程序（{count} 个）都来自已安装的软件包",
    ),
    "software.unpackaged_listener": (
        "{listener} listens on {ports}, and its program {program} belongs to no installed "
        "package: a program of unknown purpose",
        "{listener} 在 {ports} 上监听，其程序 {program} 不属于任何已安装的软件包：用途不明的程序",
    ),
    "antivirus.none": (
        "no antivirus software is installed or running on this host",
        "本机没有安装或运行防病毒软件",
    ),
    "antivirus.none_so_no_signature_database": (
        "no antivirus software is installed, so there is no signature database to judge "
        "(antivirus.installed reports it)",
        "未安装防病毒软件，没有病毒库可检查（由 antivirus.installed 报告）",
    ),
    "antivirus.none_so_no_scan_log": (
        "no antivirus software is installed, so there is no scan log to judge "
        "(antivirus.installed reports it)",
        "未安装防病毒软件，没有扫描日志可检查（由 antivirus.installed 报告）",
    ),
    "antivirus.processes_unreadable": (
        "{products} is installed, but the process table cannot be read here to tell whether it "
        "runs",
        "已安装 {products}，但这里无法读取进程表，无法判断它是否在运行",
    ),
    "antivirus.running": (
        "{product} is installed and running ({processes})",
        "{product} 已安装并在运行（{processes}）",
    ),
    "antivirus.not_running": (
        "{product} is installed but none of its services ({processes}) is running",
        "{product} 已安装，但它的服务（{processes}）都没有运行",
    ),
    "antivirus.clamav_no_signatures": (
        "ClamAV is installed but has no signature database (run freshclam)",
        "已安装 ClamAV，但没有病毒库（请运行 freshclam）",
    ),
    "antivirus.signature_date_unreadable": (
        "{products} keeps its signature date where the agent cannot read it",
        "{products} 的病毒库日期保存在代理无法读取的位置",
    ),
    "antivirus.signatures_fresh": (
        "the ClamAV signatures are {days} days old (allowed: {max_days})",
        "ClamAV 病毒库已有 {days} 天（允许 {max_days} 天）",
    ),
    "antivirus.signatures_old": (
        "the ClamAV signatures are {days} days old, older than the {max_days} days allowed; "
        "freshclam is not updating them",
        "ClamAV 病毒库已有 {days} 天，超过允许的 {max_days} 天；freshclam 没有在更新病毒库",
    ),
    "antivirus.no_scan_log": (
        "no scan log was found, so the last full scan is not on record; run the weekly full scan "
        "with `clamscan -r --log=FILE /` and set scan_log_paths to FILE",
        "未找到扫描日志，没有最近一次全盘扫描的记录；请用 `clamscan -r --log=FILE /` 每周全盘扫描"
        "，并将 scan_log_paths 设为 FILE",
    ),
    "antivirus.no_finished_scan": (
        "the scan logs record no finished scan",
        "扫描日志中没有已完成的扫描",
    ),
    "antivirus.scan_recent": (
        "the last full scan ended {days} days ago (allowed: {max_days})",
        "最近一次全盘扫描在 {days} 天前完成（允许 {max_days} 天）",
    ),
    "antivirus.scan_old": (
        "the last full scan ended {days} days ago; the policy asks for one every {max_days} days",
        "最近一次全盘扫描在 {days} 天前完成；策略要求每 {max_days} 天扫描一次",
    ),
    "backup.no_locations": (
        "the policy names no backup location for this host; set local_locations and "
        "offsite_locations (paths, off-site ones as mounted here)",
        "策略没有为本机指定备份位置；请设置 local_locations 和 offsite_locations（路径；异地备份"
        "用其在本机的挂载路径）",
    ),
    "backup.no_local_location": (
        "the policy names no local backup location; E11 asks for both local and off-site backups",
        "策略没有指定本地备份位置；E11 要求同时有本地和异地备份",
    ),
    "backup.no_offsite_location": (
        "the policy names no off-site backup location; E11 asks for both local and off-site "
        "backups",
        "策略没有指定异地备份位置；E11 要求同时有本地和异地备份",
    ),
    "backup.missing": (
        "{path} does not exist",
        "{path} 不存在",
    ),
    "backup.empty": (
        "{path} holds no backup file",
        "{path} 中没有备份文件",
    ),
    "backup.fresh": (
        "the newest backup in {path} is {days} days old, within the {max_days} days allowed",
        "{path} 中最新的备份已有 {days} 天，在允许的 {max_days} 天之内",
    ),
    "backup.old": (
        "the newest backup in {path} is {days} days old, older than the {max_days} days allowed",
        "{path} 中最新的备份已有 {days} 天，超过允许的 {max_days} 天",
    ),
    "jobs.runs_from_temporary_folder": (
        "a job in {source} running as {account} runs {program} from a temporary folder every "
        "account can write to; whoever writes it runs commands as {account}",
        "{source} 中以 {account} 身份运行的任务从所有账户都可写的临时目录运行 {program}；能写入它"
        "的人就能以 {account} 身份执行命令",
    ),
    "jobs.runs_world_writable": (
        "a job in {source} running as {account} runs {program}, which every account can change "
        "(mode {mode}); whoever writes it runs commands as {account}",
        "{source} 中以 {account} 身份运行的任务运行 {program}，所有账户都可修改该文件（权限 "
        "{mode}）；能写入它的人就能以 {account} 身份执行命令",
    ),
    "jobs.runs_group_writable": (
        "a job in {source} running as {account} runs {program}, which group {group} can change; "
        "whoever writes it runs commands as {account}",
        "{source} 中以 {account} 身份运行的任务运行 {program}，组 {group} 可修改该文件；能写入它"
        "的人就能以 {account} 身份执行命令",
    ),
    "jobs.runs_other_owner": (
        "a job in {source} running as {account} runs {program}, owned and changeable by UID "
        "{uid}; whoever writes it runs commands as {account}",
        "{source} 中以 {account} 身份运行的任务运行 {program}，该文件属于 UID {uid} 且可被其修改"
        "；能写入它的人就能以 {account} 身份执行命令",
    ),
    "jobs.none_unsafe": (
        "none of {count} scheduled jobs runs a file others can change",
        "{count} 个计划任务都没有运行可被他人修改的文件",
    ),
    "mac.selinux_enforcing": (
        "SELinux is enforcing",
        "SELinux 处于强制模式",
    ),
    "mac.apparmor_at_boot": (
        "AppArmor starts at boot",
        "AppArmor 开机启动",
    ),
    "mac.apparmor_kernel_off": (
        "no mandatory access control: the AppArmor service is enabled, but the running kernel "
        "has AppArmor off",
        "没有强制访问控制：AppArmor 服务已启用，但正在运行的内核关闭了 AppArmor",
    ),
    "mac.selinux_permissive": (
        "no mandatory access control: SELinux is permissive and AppArmor does not start at boot",
        "没有强制访问控制：SELinux 处于宽容模式，且 AppArmor 不会开机启动",
    ),
    "mac.selinux_disabled": (
        "no mandatory access control: SELinux is disabled and AppArmor does not start at boot",
        "没有强制访问控制：SELinux 已禁用，且 AppArmor 不会开机启动",
    ),
    "mac.none": (
        "no mandatory access control: neither AppArmor nor SELinux is enabled (install apparmor "
        "on Debian)",
        "没有强制访问控制：AppArmor 和 SELinux 都未启用（Debian 上请安装 apparmor）",
    ),
    "desktop.lock_disabled": (
        "the screen saver does not lock the screen (lock-enabled is false)",
        "屏幕保护不会锁定屏幕（lock-enabled 为 false）",
    ),
    "desktop.never_idle": (
        "the session never goes idle (idle-delay 0), so the screen never locks",
        "会话永远不会进入空闲（idle-delay 0），屏幕永远不会锁定",
    ),
    "desktop.lock_late": (
        "the screen locks after {seconds} s without input (idle-delay {idle}, lock-delay "
        "{delay}; policy: at most {allowed})",
        "无操作 {seconds} 秒后才锁屏（idle-delay {idle}，lock-delay {delay}；策略要求不超过 "
        "{allowed} 秒）",
    ),
    "desktop.locks": (
        "the screen locks after {seconds} s without input",
        "无操作 {seconds} 秒后锁屏",
    ),
    "desktop.locks_unlocked": (
        "the screen locks after {seconds} s without input; each user may still change {unlocked} "
        "(no dconf lock)",
        "无操作 {seconds} 秒后锁屏；但每个用户仍可修改 {unlocked}（没有 dconf 锁定）",
    ),
    "desktop.automount": (
        "removable media are mounted and opened as soon as they are plugged in ({keys} is true; "
        "GNOME's default)",
        "移动存储一插入就会被自动挂载并打开（{keys} 为 true；GNOME 的默认设置）",
    ),
    "desktop.no_automount": (
        "removable media are not mounted automatically",
        "移动存储不会被自动挂载",
    ),
    "desktop.no_automount_unlocked": (
        "removable media are not mounted automatically; each user may still change {unlocked} "
        "(no dconf lock)",
        "移动存储不会被自动挂载；但每个用户仍可修改 {unlocked}（没有 dconf 锁定）",
    ),
    "windows.build_unknown": (
        "build {build} ({edition}) is not in this agent's lifecycle table; upgrade the agent",
        "版本号 {build}（{edition}）不在本代理的生命周期表中；请升级代理",
    ),
    "windows.esu_covered": (
        "{product} {version} left mainstream support on {end}; it is covered by Extended "
        "Security Updates until {esu_end}",
        "{product} {version} 已于 {end} 结束支持；扩展安全更新（ESU）覆盖到 {esu_end}",
    ),
    "windows.unsupported": (
        "{product} {version} (build {build}) gets no security updates since {end}",
        "{product} {version}（版本号 {build}）自 {end} 起不再有安全更新",
    ),
    "windows.supported": (
        "{product} {version} gets security updates until {end}",
        "{product} {version} 在 {end} 之前都有安全更新",
    ),
    "windows.no_cumulative_update": (
        "no installed cumulative update is recorded (Component Based Servicing)",
        "没有已安装累积更新的记录（Component Based Servicing）",
    ),
    "windows.update_old": (
        "the last cumulative update ({update}) was installed {days} days ago, more than {max_days}",
        "最近一次累积更新（{update}）安装于 {days} 天前，超过 {max_days} 天",
    ),
    "windows.update_recent": (
        "the last cumulative update ({update}) was installed {days} days ago",
        "最近一次累积更新（{update}）安装于 {days} 天前",
    ),
    "windows.update_off_by_service": (
        "the Windows Update service (wuauserv) is disabled",
        "Windows 更新服务（wuauserv）已禁用",
    ),
    "windows.update_off_by_policy": (
        "group policy turns automatic updates off (NoAutoUpdate=1)",
        "组策略关闭了自动更新（NoAutoUpdate=1）",
    ),
    "windows.update_off_by_service_and_policy": (
        "the Windows Update service (wuauserv) is disabled; group policy turns automatic updates "
        "off (NoAutoUpdate=1)",
        "Windows 更新服务（wuauserv）已禁用；组策略关闭了自动更新（NoAutoUpdate=1）",
    ),
    "windows.update_may_run": (
        "Windows Update may run",
        "Windows 更新可以运行",
    ),
    "windows.defender_signatures_undated": (
        "Defender's signatures record no update time",
        "Defender 病毒库没有记录更新时间",
    ),
    "windows.defender_signatures_old": (
        "Defender's signatures ({version}) are {days} days old, more than {max_days}",
        "Defender 病毒库（{version}）已有 {days} 天，超过 {max_days} 天",
    ),
    "windows.defender_on": (
        "Defender is on with real-time protection; signatures {days} days old",
        "Defender 已启用实时保护；病毒库已有 {days} 天",
    ),
    "windows.third_party_current": (
        "{product} is on and Security Center reports its signatures up to date",
        "{product} 已启用，安全中心报告其病毒库为最新",
    ),
    "windows.third_party_outdated": (
        "{product} is on, but Security Center reports its signatures out of date",
        "{product} 已启用，但安全中心报告其病毒库已过期",
    ),
    "windows.antivirus_off": (
        "no working antivirus: {products}",
        "没有正常工作的防病毒软件：{products}",
    ),
    "windows.third_party_state_unknown": (
        "Microsoft Defender is off and {product} is installed; its state is not known here "
        "({reason})",
        "Microsoft Defender 已关闭，已安装 {product}；这里无法得知它的状态（{reason}）",
    ),
    "windows.realtime_off": (
        "no working antivirus: real-time protection is off",
        "没有正常工作的防病毒软件：实时保护已关闭",
    ),
    "windows.defender_off_by_policy": (
        "no working antivirus: Microsoft Defender is turned off by policy",
        "没有正常工作的防病毒软件：Microsoft Defender 被策略关闭",
    ),
    "windows.defender_not_running": (
        "no working antivirus: Microsoft Defender's engine is not running",
        "没有正常工作的防病毒软件：Microsoft Defender 引擎没有运行",
    ),
    "windows.defender_not_installed": (
        "no working antivirus: Microsoft Defender is not installed",
        "没有正常工作的防病毒软件：未安装 Microsoft Defender",
    ),
    "windows.defender_never_scanned": (
        "Defender has never finished a scan",
        "Defender 从未完成过扫描",
    ),
    "windows.defender_scan_old": (
        "Defender's last scan finished {days} days ago, more than {max_days}",
        "Defender 最近一次扫描在 {days} 天前完成，超过 {max_days} 天",
    ),
    "windows.firewall_off": (
        "Windows Firewall is off in the {profile} profile",
        "Windows 防火墙在 {profile} 配置文件中已关闭",
    ),
    "windows.firewall_unknown": (
        "no firewall profile setting was found",
        "未找到防火墙配置文件的设置",
    ),
    "windows.firewall_on": (
        "Windows Firewall is on in every profile",
        "Windows 防火墙在所有配置文件中都已启用",
    ),
    "windows.rdp_off": (
        "Remote Desktop is off",
        "远程桌面已关闭",
    ),
    "windows.rdp_without_nla": (
        "Remote Desktop is on without Network Level Authentication: anyone who reaches the port "
        "gets a logon screen",
        "远程桌面已开启，但未要求网络级别身份验证（NLA）：任何能连到该端口的人都能看到登录界面",
    ),
    "windows.rdp_not_allowed": (
        "Remote Desktop is on, and this group's policy does not allow it",
        "远程桌面已开启，而本组策略不允许",
    ),
    "windows.rdp_with_nla": (
        "Remote Desktop is on and requires NLA",
        "远程桌面已开启，并要求网络级别身份验证（NLA）",
    ),
    "windows.smb1_server": (
        "the SMB server accepts SMBv1",
        "SMB 服务端接受 SMBv1",
    ),
    "windows.smb1_client": (
        "the SMBv1 client driver (mrxsmb10) is installed and enabled",
        "SMBv1 客户端驱动（mrxsmb10）已安装并启用",
    ),
    "windows.smb1_off": (
        "SMBv1 is off",
        "SMBv1 已关闭",
    ),
    "windows.remote_registry_starts": (
        "the Remote Registry service starts {start}: the registry can be read and changed over "
        "the network",
        "远程注册表服务的启动类型为“{start}”：注册表可通过网络读取和修改",
    ),
    "windows.remote_registry_absent": (
        "Remote Registry is not installed",
        "未安装远程注册表服务",
    ),
    "windows.remote_registry": (
        "Remote Registry is {start}",
        "远程注册表服务的启动类型为“{start}”",
    ),
    "windows.no_guest": (
        "there is no Guest account (RID 501)",
        "没有 Guest 账户（RID 501）",
    ),
    "windows.guest_disabled": (
        "the Guest account is disabled",
        "Guest 账户已禁用",
    ),
    "windows.guest_enabled": (
        "the Guest account ({user}) is enabled: anyone may log on",
        "Guest 账户（{user}）已启用：任何人都能登录",
    ),
    "windows.admin_unapproved": (
        "{user} is a member of Administrators and not on the approved list",
        "{user} 是 Administrators 组成员，但不在批准名单中",
    ),
    "windows.admins_approved": (
        "Administrators holds only approved members ({count})",
        "Administrators 组只有已批准的成员（{count} 个）",
    ),
    "windows.min_length": (
        "the minimum password length is {length} (policy: {required})",
        "密码最小长度为 {length}（策略要求 {required}）",
    ),
    "windows.complexity_unknown": (
        "password complexity is not known: the SAM could not be read and the Net API does not tell",
        "无法得知密码复杂度要求：SAM 无法读取，Net API 也不提供",
    ),
    "windows.complexity_required": (
        "passwords must meet complexity requirements (three of upper, lower, digit, symbol)",
        "密码必须符合复杂度要求（大写、小写、数字、符号中至少三类）",
    ),
    "windows.complexity_off": (
        "password complexity is not required",
        "不要求密码复杂度",
    ),
    "windows.never_expire": (
        "passwords never expire (policy: at most {max_days})",
        "密码永不过期（策略要求不超过 {max_days} 天）",
    ),
    "windows.max_age_long": (
        "passwords expire after {days} days (policy: at most {max_days})",
        "密码在 {days} 天后过期（策略要求不超过 {max_days} 天）",
    ),
    "windows.max_age_ok": (
        "passwords expire after {days} days (policy: at most {max_days})",
        "密码在 {days} 天后过期（策略要求不超过 {max_days} 天）",
    ),
    "windows.lockout": (
        "accounts lock after {threshold} wrong passwords (policy: 1..{allowed})",
        "输错 {threshold} 次密码后账户锁定（策略要求 1 到 {allowed} 次）",
    ),
    "windows.no_lockout": (
        "accounts never lock after wrong passwords: guessing is unlimited",
        "输错密码永远不会锁定账户：猜测密码的次数不受限制",
    ),
    "windows.account_unused": (
        "account {user} last logged on {idle} days ago (allowed: {max_days}); disable it if its "
        "owner left",
        "账户 {user} 已 {idle} 天未登录（允许 {max_days} 天）；如使用人已离开，请停用该账户",
    ),
    "windows.account_never_used": (
        "account {user} is enabled and has never logged on",
        "账户 {user} 已启用但从未登录过",
    ),
    "windows.accounts_used": (
        "every enabled account logged on within {max_days} days",
        "所有已启用的账户在 {max_days} 天内都登录过",
    ),
    "windows.autorun_not_set": (
        "AutoRun is not turned off by policy (NoDriveTypeAutoRun is not set)",
        "自动运行（AutoRun）没有被策略关闭（未设置 NoDriveTypeAutoRun）",
    ),
    "windows.autorun_on": (
        "AutoRun stays on for removable or CD drives (NoDriveTypeAutoRun={value})",
        "移动存储或光驱的自动运行（AutoRun）仍然开启（NoDriveTypeAutoRun={value}）",
    ),
    "windows.autorun_off": (
        "AutoRun is off (NoDriveTypeAutoRun={value})",
        "自动运行（AutoRun）已关闭（NoDriveTypeAutoRun={value}）",
    ),
    "windows.machine_locks": (
        "the PC locks itself after {seconds} s without input (machine policy)",
        "无操作 {seconds} 秒后电脑自动锁定（计算机策略）",
    ),
    "windows.no_profiles": (
        "no user profile (Users\\*\\NTUSER.DAT) and no machine inactivity limit to judge",
        "没有用户配置文件（Users\\*\\NTUSER.DAT），也没有计算机无操作时限可检查",
    ),
    "windows.user_locks": (
        "the screen locks after {seconds} s for {profile}",
        "{profile} 无操作 {seconds} 秒后锁屏",
    ),
    "windows.saver_off": (
        "{profile}: the screen saver is off",
        "{profile}：屏幕保护已关闭",
    ),
    "windows.saver_no_password": (
        "{profile}: the screen saver asks no password on resume",
        "{profile}：屏幕保护恢复时不要求密码",
    ),
    "windows.saver_late": (
        "{profile}: the screen saver starts after {seconds} s, more than {allowed}",
        "{profile}：屏幕保护在 {seconds} 秒后才启动，超过 {allowed} 秒",
    ),
    "windows.no_account_baseline": (
        "the server holds no account baseline for this host yet; set the parameter baseline to "
        "the account SIDs recorded when the host was accepted",
        "服务器还没有本机的账户基线；请将参数 baseline 设为主机验收时记录的账户 SID",
    ),
    "windows.machine_sid_changed": (
        "the machine SID {sid} is not the baseline's: Windows was reinstalled or the disk is "
        "another PC's; check the accounts and take a new baseline",
        "计算机 SID {sid} 与基线不符：Windows 被重装过，或这块硬盘来自另一台电脑；请检查账户并重"
        "新建立基线",
    ),
    "windows.account_added": (
        "account {user} (RID {rid}) was added after the baseline was taken (its highest RID was "
        "{highest})",
        "账户 {user}（RID {rid}）是在建立基线之后新增的（基线中最大的 RID 为 {highest}）",
    ),
    "windows.account_below_baseline": (
        "account {user} (RID {rid}) is not in the baseline although its RID is below the "
        "baseline's highest ({highest}): RIDs are never reused, so the SAM was changed outside "
        "Windows or the baseline is incomplete",
        "账户 {user}（RID {rid}）不在基线中，但其 RID 小于基线中最大的 RID（{highest}）：RID 不会"
        "重复使用，说明 SAM 在 Windows 之外被修改过，或基线不完整",
    ),
    "windows.no_account_added": (
        "no account was added since the baseline ({count} accounts, highest RID {highest})",
        "基线之后没有新增账户（共 {count} 个账户，最大 RID 为 {highest}）",
    ),
    "engine.other_platform": (
        "this check runs on {platforms}; this host runs {platform}",
        "此检查适用于 {platforms}；本机运行的是 {platform}",
    ),
    "engine.no_result": (
        "the check judged nothing and returned no result",
        "检查没有作出判断，也没有返回结果",
    ),
    "engine.unknown_check": (
        "the policy names a check this agent does not know; upgrade the agent",
        "策略中有本代理不认识的检查；请升级代理",
    ),
    "facts.unreadable": (
        "{path} is not readable by this account",
        "当前账户无法读取 {path}",
    ),
    "facts.commands_not_run": (
        "{why} needs the command {program}, and commands are not run when scanning {mode}",
        "{why}需要运行命令 {program}，而扫描{mode}时不运行命令",
    ),
    "facts.command_missing": (
        "{why} needs {program}, which is not installed",
        "{why}需要 {program}，但它没有安装",
    ),
    "facts.file_missing": (
        "{path} does not exist on this host",
        "本机不存在 {path}",
    ),
    "facts.no_sudo": (
        "sudo is not installed (no {path})",
        "未安装 sudo（没有 {path}）",
    ),
    "facts.no_os_release": (
        "there is no /etc/os-release naming the operating system",
        "没有说明操作系统的 /etc/os-release",
    ),
    "facts.no_package_manager": (
        "pending updates are read with apt or dnf; this host runs {system}",
        "待安装的更新要通过 apt 或 dnf 读取；本机运行的是 {system}",
    ),
    "facts.no_sshd": (
        "the OpenSSH server is not installed (no {path})",
        "未安装 OpenSSH 服务端（没有 {path}）",
    ),
    "facts.no_process_table": (
        "there is no process table under /proc to read",
        "/proc 下没有可读取的进程表",
    ),
    "facts.no_scheduler": (
        "no cron and no systemd on this host",
        "本机既没有 cron 也没有 systemd",
    ),
    "facts.no_interfaces": (
        "no network interface could be read on this host",
        "无法读取本机的任何网络接口",
    ),
    "facts.no_password_hashes": (
        "/etc/shadow does not exist and /etc/passwd holds no hash",
        "/etc/shadow 不存在，/etc/passwd 中也没有密码哈希",
    ),
    "facts.no_rpm_database": (
        "no rpm database was found on this host",
        "本机没有找到 rpm 数据库",
    ),
    "facts.no_dnf_metadata": (
        "dnf's cache holds no repository metadata readable here (none cached, or only "
        "zstd/zchunk-compressed): run dnf makecache on the host, or scan it live",
        "dnf 缓存中没有这里可读的软件源元数据（没有缓存，或只有 zstd/zchunk 压缩的）：请在主机上"
        "运行 dnf makecache，或在线扫描该主机",
    ),
    "facts.no_apt_lists": (
        "apt has downloaded no package lists ({path}/*_Packages) to compare the installed "
        "versions with, and commands are not run on this host (apt-get update fetches the lists)",
        "apt 没有下载可用于比较已安装版本的软件包列表（{path}/*_Packages），且本机不运行命令（"
        "apt-get update 会下载这些列表）",
    ),
    "desktop.none": (
        "no desktop is installed (a server): nothing to lock or automount",
        "未安装桌面（服务器）：没有需要锁屏或自动挂载的内容",
    ),
    "desktop.not_gnome": (
        "the desktop ({desktops}) does not use GNOME's settings, the only ones read",
        "桌面（{desktops}）不使用 GNOME 的设置，而只有 GNOME 的设置会被读取",
    ),
    "windows.no_logon_times": (
        "this Windows's NetUserEnum gives no logon times (only level 20), and the SAM could not "
        "be read",
        "此 Windows 的 NetUserEnum 不提供登录时间（只有 level 20），且无法读取 SAM",
    ),
    "accounts.password_unrecorded_handover": (
        "the password of {user} was last changed never recorded, before the {date_name} {date}: "
        "the set-up or previous administrator may still know it",
        "{user} 的密码没有修改日期记录，无法证明是在{date_name} {date} 之后修改的：安装人员或前任"
        "管理员可能仍知道该密码",
    ),
    "windows.sam_needs_backup_privilege": (
        "saving the SAM needs SeBackupPrivilege: run the agent as LocalSystem",
        "保存 SAM 需要 SeBackupPrivilege 权限：请以 LocalSystem 身份运行代理",
    ),
    "windows.ports_live_only": (
        "listening ports are read on the running PC only",
        "监听端口只能在运行中的电脑上读取",
    ),
    "windows.port_programs_live_only": (
        "the programs behind listening ports are read on the running PC only",
        "监听端口背后的程序只能在运行中的电脑上读取",
    ),
    "windows.no_hive": (
        "this Windows volume has no {hive} hive (Windows/System32/config)",
        "此 Windows 卷中没有 {hive} 注册表配置单元（Windows/System32/config）",
    ),
    "windows.updates_live_only": (
        "pending updates are searched for on the running PC only",
        "待安装的更新只能在运行中的电脑上查找",
    ),
    "windows.updates_agent_only": (
        "pending Windows updates are searched for by the agent's scheduled job; this scan runs "
        "outside the agent",
        "待安装的 Windows 更新由代理的计划任务查找；本次扫描不是由代理运行的",
    ),
    "windows.updates_not_searched_yet": (
        "the agent has not finished a search for pending Windows updates yet",
        "代理尚未完成对待安装 Windows 更新的查找",
    ),
}
# Words a parameter may hold that are themselves said in the reader's language.
WORDS: dict[str, tuple[str, str]] = {
    "drop": ("drop", "丢弃"),
    "reject": ("reject", "拒绝"),
    # Windows service start types (checks/collectors/windows/exposure.py START_NAMES).
    "automatic": ("automatic", "自动"),
    "manual": ("manual", "手动"),
    "disabled": ("disabled", "禁用"),
    "listing pending updates": ("listing pending updates", "列出待安装的更新"),
    "reading the firewall rules": ("reading the firewall rules", "读取防火墙规则"),
    "finding a binary's package": ("finding a binary's package", "查找程序所属的软件包"),
    "listing installed rpm packages": ("listing installed rpm packages", "列出已安装的 rpm 软件包"),
    "the search for pending Windows updates": (
        "the search for pending Windows updates",
        "查找待安装的 Windows 更新",
    ),
    "a host tree (--root)": ("a host tree (--root)", "主机目录树（--root）"),
    "this scan": ("this scan", "本次扫描"),
    "games": ("games", "游戏"),
    "remote control": ("remote control", "远程控制"),
    "p2p": ("p2p", "P2P 下载"),
    "policy": ("policy", "策略"),
    "none": ("none", "无"),
    "folder": ("folder", "目录"),
    "file": ("file", "文件"),
    "set-user-id": ("set-user-id", "set-user-id 位"),
    "set-group-id": ("set-group-id", "set-group-id 位"),
    "set-user-id and set-group-id": (
        "set-user-id and set-group-id",
        "set-user-id 和 set-group-id 位",
    ),
    "go live date": ("go live date", "上线日期"),
    "handover date": ("handover date", "交接日期"),
}


def placeholders(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


def render(message_id: str, params: dict[str, str], language: str) -> str | None:
    """The sentence in ``language`` (``zh`` or ``en``), or None when the id is unknown or the
    parameters do not fill it (then the agent's English stands)."""
    found = MESSAGES.get(message_id)
    if found is None:
        return None
    english, chinese = found
    template = chinese if language == "zh" else english
    if language == "zh":
        params = {name: WORDS.get(value, (value, value))[1] for name, value in params.items()}
    try:
        return template.format_map(params)
    except (KeyError, IndexError, ValueError):
        return None


def say(
    status: Status,
    resource: str,
    message_id: str,
    evidence: dict[str, Any] | None = None,
    severity: Severity | None = None,
    **params: Any,
) -> Finding:
    """A finding whose sentence is ``message_id`` with ``params`` (made text), English in
    ``message``."""
    texts = {name: str(value) for name, value in params.items()}
    english = MESSAGES[message_id][0].format_map(texts)
    return Finding(
        status,
        resource,
        english,
        dict(evidence or {}),
        severity,
        message_id=message_id,
        params=texts,
    )


def said(error: type[CollectErrorT], message_id: str, **params: Any) -> CollectErrorT:
    """A collector's error (``NotApplicable``, ``NoPrivilege``) whose sentence is
    ``message_id``: its text is the English, and the engine's result carries the id."""
    texts = {name: str(value) for name, value in params.items()}
    return error(MESSAGES[message_id][0].format_map(texts), message_id=message_id, params=texts)
