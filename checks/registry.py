"""The one registry of checks. Each check is declared here once, with its metadata as data.

Importing this module validates every entry; a mistake in metadata is an import error that
names the check and what is wrong, so it cannot reach an agent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from checks.collectors import collector_for, keyed_collector_for
from checks.errors import RegistryError
from checks.facts import FactName
from checks.factset import Facts
from checks.library import (
    accounts,
    antivirus,
    backup,
    desktop,
    files,
    firewall,
    jobs,
    logs,
    mac,
    network,
    password,
    patch,
    software,
    ssh,
    windows,
    windows_baseline,
)
from checks.model import Finding, Severity
from checks.params import PARAM_TYPES, ParamSpec, value_matches
from checks.policy_tags import POLICY_TAGS

CheckFunction = Callable[[Facts, dict[str, Any]], list[Finding]]

PLATFORMS = frozenset({"linux", "windows", "macos"})
CATEGORIES = frozenset(
    {
        "accounts",
        "password",
        "services",
        "network",
        "patch",
        "ssh",
        "files",
        "antivirus",
        "software",
        "firewall",
        "backup",
        "jobs",
        "system",
        "logs",
    }
)
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title_zh: str
    title_en: str
    remediation_zh: str
    remediation_en: str
    severity: Severity
    category: str
    platforms: tuple[str, ...]
    rules: tuple[str, ...]
    facts: tuple[FactName, ...]
    function: CheckFunction
    params: tuple[ParamSpec, ...] = ()
    # Where POLICY.md has no rule for what the check judges, the baseline idea it comes from
    # (CIS Debian Linux 12 Benchmark sections, MLPS 2.0 / GB/T 22239-2019 clauses), as text.
    references: tuple[str, ...] = ()

    def to_catalog(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": {"zh": self.title_zh, "en": self.title_en},
            "remediation": {"zh": self.remediation_zh, "en": self.remediation_en},
            "severity": self.severity.value,
            "category": self.category,
            "platforms": list(self.platforms),
            "rules": list(self.rules),
            "facts": [str(fact) for fact in self.facts],
            "params": {param.name: param.to_dict() for param in self.params},
        }


# services.listening's and services.windows_listening's: the same judging on both platforms.
_INCLUDE_LOOPBACK = ParamSpec(
    "include_loopback",
    "bool",
    False,
    "是否也检查只监听在本机回环地址上的端口",
    "also judge ports that listen on loopback addresses only",
)

_CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        id="accounts.uid0_extra",
        title_zh="除 root 外不应有 UID 为 0 的账户",
        title_en="No account other than root has UID 0",
        remediation_zh="删除该账户,或用 usermod -u 为其分配普通 UID;确认它不是入侵者留下的后门。",
        remediation_en="Delete the account or give it an ordinary UID with usermod -u; find out "
        "who added it, as a second UID 0 account is a common backdoor.",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("linux",),
        rules=("E8", "E16"),
        facts=(FactName.USERS,),
        function=accounts.uid0_extra,
        params=(
            ParamSpec(
                "allowed",
                "list[str]",
                (),
                "允许拥有 UID 0 的其他账户名",
                "other account names allowed to have UID 0",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.empty_password",
        title_zh="账户不得使用空密码",
        title_en="No account has an empty password",
        remediation_zh="用 passwd 为该账户设置强密码,或用 passwd -l 锁定它。",
        remediation_en="Set a strong password with passwd, or lock the account with passwd -l.",
        severity=Severity.CRITICAL,
        category="accounts",
        platforms=("linux",),
        rules=("E5",),
        facts=(FactName.USERS, FactName.SHADOW),
        function=accounts.empty_password,
    ),
    CheckSpec(
        id="accounts.weak_password_hash",
        title_zh="密码哈希应使用强算法",
        title_en="Password hashes use a strong scheme",
        remediation_zh="在 /etc/login.defs 中设置 ENCRYPT_METHOD YESCRYPT 或 SHA512,"
        "然后让这些账户重新设置密码。",
        remediation_en="Set ENCRYPT_METHOD YESCRYPT or SHA512 in /etc/login.defs, then have "
        "these accounts set their passwords again.",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("linux",),
        rules=("E4",),
        facts=(FactName.SHADOW,),
        function=accounts.weak_password_hash,
        params=(
            ParamSpec(
                "allowed_schemes",
                "list[str]",
                ("yescrypt", "gost-yescrypt", "sha512", "sha256", "bcrypt", "scrypt"),
                "可接受的哈希算法",
                "hash schemes accepted as strong",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.password_age",
        title_zh="账户密码应定期更换",
        title_en="Account passwords are changed regularly",
        remediation_zh="让这些账户用 passwd 更换密码,并用 chage -M 设置最长使用天数。",
        remediation_en="Have these accounts change their password with passwd, and set a "
        "maximum age with chage -M.",
        severity=Severity.MEDIUM,
        category="accounts",
        platforms=("linux",),
        rules=("E4",),
        facts=(FactName.SHADOW, FactName.CLOCK),
        function=accounts.password_age,
        params=(
            ParamSpec(
                "max_days",
                "int",
                90,
                "密码最长使用天数",
                "most days a password may stay unchanged",
                minimum=1,
            ),
        ),
    ),
    CheckSpec(
        id="accounts.unapproved",
        title_zh="不应存在非管理员添加的登录账户",
        title_en="Every login account is on the approved list",
        remediation_zh="核实该账户由谁添加;离职人员或未经批准的账户"
        "应禁用(usermod -L)或删除(userdel)。",
        remediation_en="Find out who added the account; disable (usermod -L) or delete (userdel) "
        "accounts of people who left or that nobody approved.",
        severity=Severity.MEDIUM,
        category="accounts",
        platforms=("linux",),
        rules=("E8", "E16"),
        facts=(FactName.USERS, FactName.LOGIN_DEFS),
        function=accounts.unapproved,
        params=(
            ParamSpec(
                "approved",
                "list[str]",
                (),
                "经批准的登录账户名;为空时不做判断",
                "approved login account names; when empty the check cannot judge",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.duplicate_uid",
        title_zh="每个账户应有独立的 UID",
        title_en="Every account has its own UID",
        remediation_zh="为共用 UID 的账户分配不同的 UID(usermod -u),每位操作员使用自己的账户。",
        remediation_en="Give accounts that share a UID their own (usermod -u), so that each "
        "operator works under an account of their own.",
        severity=Severity.MEDIUM,
        category="accounts",
        platforms=("linux",),
        rules=("E18",),
        facts=(FactName.USERS,),
        function=accounts.duplicate_uid,
    ),
    CheckSpec(
        id="password.policy",
        title_zh="系统密码策略:至少 8 位、混合字符类型、定期过期",
        title_en="System password policy: length, character classes, maximum age",
        remediation_zh="安装 libpam-pwquality,在 /etc/security/pwquality.conf 中设置 minlen=8 与 "
        "minclass=3;在 /etc/login.defs 中设置 PASS_MAX_DAYS 90。",
        remediation_en="Install libpam-pwquality and set minlen = 8 and minclass = 3 in "
        "/etc/security/pwquality.conf; set PASS_MAX_DAYS 90 in /etc/login.defs.",
        severity=Severity.MEDIUM,
        category="password",
        platforms=("linux",),
        rules=("E4",),
        facts=(FactName.LOGIN_DEFS, FactName.PWQUALITY),
        function=password.policy,
        params=(
            ParamSpec("min_length", "int", 8, "最短密码长度", "shortest password allowed", 1),
            ParamSpec(
                "min_classes",
                "int",
                3,
                "必须混合的字符类型数(大写、小写、数字、符号)",
                "character classes (upper, lower, digit, symbol) a password must mix",
                1,
            ),
            ParamSpec(
                "max_days", "int", 90, "密码最长有效天数", "most days a password is valid", 1
            ),
        ),
    ),
    CheckSpec(
        id="password.lockout",
        title_zh="多次输错密码后锁定账户(pam_faillock)",
        title_en="Accounts lock after repeated wrong passwords (pam_faillock)",
        remediation_zh="在 PAM 认证栈中启用 pam_faillock:Debian 在 /usr/share/pam-configs 中添加 "
        "faillock 配置并运行 pam-auth-update --enable faillock;Red Hat 系运行 authselect "
        "enable-feature with-faillock。在 /etc/security/faillock.conf 中设置 deny = 5、"
        "unlock_time = 900。",
        remediation_en="Put pam_faillock in the PAM auth stack: on Debian add a faillock profile "
        "to /usr/share/pam-configs and run pam-auth-update --enable faillock; on the Red Hat "
        "family run authselect enable-feature with-faillock. Set deny = 5 and unlock_time = 900 "
        "in /etc/security/faillock.conf.",
        severity=Severity.MEDIUM,
        category="password",
        platforms=("linux",),
        rules=("E4",),
        references=(
            "CIS Debian Linux 12 5.3.3.1 (pam_faillock: lockout for failed password attempts)",
            "MLPS 2.0 GB/T 22239 8.1.4.1 (identification and authentication: login failure "
            "handling, 登录失败处理)",
        ),
        facts=(FactName.PAM_LOCKOUT,),
        function=password.lockout,
        params=(
            ParamSpec(
                "max_attempts",
                "int",
                10,
                "锁定前允许输错密码的最多次数",
                "most wrong passwords allowed before an account locks",
                1,
            ),
        ),
    ),
    CheckSpec(
        id="password.history",
        title_zh="新密码不得重复最近用过的密码(密码历史)",
        title_en="A new password may not repeat recent ones (password history)",
        remediation_zh="在 PAM 密码栈中启用 pam_pwhistory(Debian:common-password;Red Hat 系:"
        "authselect enable-feature with-pwhistory),并在 /etc/security/pwhistory.conf 中设置 "
        "remember = 5 或更多。",
        remediation_en="Put pam_pwhistory in the PAM password stack (Debian: common-password; "
        "Red Hat family: authselect enable-feature with-pwhistory) and set remember = 5 or more "
        "in /etc/security/pwhistory.conf.",
        severity=Severity.LOW,
        category="password",
        platforms=("linux",),
        rules=("E4",),
        references=("CIS Debian Linux 12 5.3.3.3 (pam_pwhistory: password history)",),
        facts=(FactName.PAM_HISTORY,),
        function=password.history,
        params=(
            ParamSpec(
                "min_remembered",
                "int",
                5,
                "新密码不得与之相同的最近旧密码个数",
                "how many recent passwords a new one may not repeat",
                1,
            ),
        ),
    ),
    CheckSpec(
        id="services.listening",
        title_zh="只开放经批准的端口",
        title_en="Only approved TCP ports are listening",
        remediation_zh="停止并禁用不用的服务(systemctl disable --now 服务名),"
        "或把确需开放的端口加入策略的批准列表。",
        remediation_en="Stop and disable unused services (systemctl disable --now NAME), or add "
        "a port that must stay open to the policy's approved list.",
        severity=Severity.MEDIUM,
        category="services",
        platforms=("linux",),
        rules=("E3", "E18"),
        facts=(FactName.LISTENING_SOCKETS, FactName.LISTENING_PROGRAMS),
        function=network.listening,
        params=(
            ParamSpec(
                "approved_tcp_ports",
                "list[int]",
                (22,),
                "经批准的 TCP 监听端口",
                "TCP ports approved to listen",
                minimum=1,
            ),
            _INCLUDE_LOOPBACK,
        ),
    ),
    CheckSpec(
        id="services.windows_listening",
        title_zh="Windows 只开放经批准的端口",
        title_en="Only approved TCP ports are listening on Windows",
        remediation_zh="在“服务”中停止并禁用不用的服务,卸载不用的程序,或把确需开放的端口加入"
        "策略的批准列表。",
        remediation_en="Stop and disable unused services (services.msc), uninstall unused "
        "programs, or add a port that must stay open to the policy's approved list.",
        severity=Severity.MEDIUM,
        category="services",
        platforms=("windows",),
        rules=("E3", "E18"),
        facts=(FactName.LISTENING_SOCKETS, FactName.LISTENING_PROGRAMS),
        function=network.windows_listening,
        params=(
            ParamSpec(
                "approved_tcp_ports",
                "list[int]",
                (),
                "经批准的 TCP 监听端口(Windows 自身的端口之外)",
                "TCP ports approved to listen (besides Windows's own)",
                minimum=1,
            ),
            ParamSpec(
                "windows_system_ports",
                "list[int]",
                # 135 RPC endpoint mapper, 139 NetBIOS session, 445 SMB (SMBv1 is
                # services.windows_smb1's), 3389 Remote Desktop (services.windows_remote_desktop),
                # 5040 Connected Devices Platform, 5357 WSD network discovery, 7680 Delivery
                # Optimization: every Windows 10/11 opens them; the firewall profiles are judged
                # by firewall.windows_profiles.
                (135, 139, 445, 3389, 5040, 5357, 7680),
                "Windows 自身的端口,由各自的检查判断,不算未知端口",
                "Windows's own ports, judged by their own checks, not as unknown ports",
                minimum=1,
            ),
            ParamSpec(
                "rpc_dynamic_programs",
                "list[str]",
                ("lsass.exe", "wininit.exe", "services.exe", "spoolsv.exe", "svchost.exe"),
                "在 RPC 动态端口(49152-65535)上监听时视为 Windows 自身的程序",
                "programs whose ports in RPC's dynamic range (49152-65535) are Windows's own",
            ),
            _INCLUDE_LOOPBACK,
        ),
    ),
    CheckSpec(
        id="network.dhcp_server",
        title_zh="客户机不得私自运行 DHCP 服务",
        title_en="No private DHCP server runs on this host",
        remediation_zh="停止并卸载该 DHCP 服务(如 isc-dhcp-server、dnsmasq),"
        "由网络管理员统一分配地址。",
        remediation_en="Stop and remove the DHCP service (such as isc-dhcp-server or dnsmasq); "
        "addresses are handed out by the network administrators only.",
        severity=Severity.HIGH,
        category="network",
        platforms=("linux",),
        rules=("E14",),
        facts=(FactName.LISTENING_SOCKETS,),
        function=network.dhcp_server,
        params=(
            ParamSpec(
                "approved_dhcp_server",
                "bool",
                False,
                "本机是经批准的 DHCP 服务器",
                "this host is an approved DHCP server",
            ),
        ),
    ),
    CheckSpec(
        id="patch.reboot_required",
        title_zh="已安装的补丁需要重启才能生效",
        title_en="Installed updates are not waiting for a reboot",
        remediation_zh="在维护时间内重启主机,使已安装的补丁(尤其是内核补丁)生效。",
        remediation_en="Restart the host in a maintenance window so that installed updates, "
        "the kernel's above all, take effect.",
        severity=Severity.MEDIUM,
        category="patch",
        platforms=("linux",),
        rules=("E1",),
        facts=(FactName.OS_RELEASE, FactName.REBOOT_REQUIRED, FactName.KERNELS),
        function=patch.reboot_required,
    ),
    CheckSpec(
        id="patch.security_pending",
        title_zh="应及时安装安全补丁",
        title_en="No security update is waiting to be installed",
        remediation_zh="运行 apt-get update && apt-get upgrade 安装安全更新,"
        "或启用 unattended-upgrades 自动安装。",
        remediation_en="Run apt-get update && apt-get upgrade to install the security updates, "
        "or enable unattended-upgrades to install them automatically.",
        severity=Severity.HIGH,
        category="patch",
        platforms=("linux",),
        rules=("E1", "E8"),
        facts=(FactName.PENDING_UPDATES, FactName.PACKAGE_ACTIVITY, FactName.CLOCK),
        function=patch.security_pending,
        params=(
            ParamSpec(
                "max_list_age_days",
                "int",
                7,
                "软件包列表最长多少天未刷新仍可信;超过则“无待装更新”不算通过",
                'most days since the package lists were refreshed for "nothing pending" to '
                "count as a pass",
                minimum=1,
            ),
        ),
    ),
    CheckSpec(
        id="ssh.root_login",
        title_zh="SSH 不允许 root 使用密码登录",
        title_en="SSH does not let root log in with a password",
        remediation_zh="在 /etc/ssh/sshd_config 中设置 PermitRootLogin no(或 prohibit-password),"
        "然后 systemctl reload ssh;管理员使用各自的账户登录。",
        remediation_en="Set PermitRootLogin no (or prohibit-password) in /etc/ssh/sshd_config, "
        "then systemctl reload ssh; administrators log in with accounts of their own.",
        severity=Severity.HIGH,
        category="ssh",
        platforms=("linux",),
        rules=("E18",),
        facts=(FactName.SSHD_CONFIG,),
        function=ssh.root_login,
    ),
    CheckSpec(
        id="ssh.empty_passwords",
        title_zh="SSH 不接受空密码",
        title_en="SSH refuses empty passwords",
        remediation_zh="在 /etc/ssh/sshd_config 中设置 PermitEmptyPasswords no,"
        "然后 systemctl reload ssh。",
        remediation_en="Set PermitEmptyPasswords no in /etc/ssh/sshd_config, then "
        "systemctl reload ssh.",
        severity=Severity.CRITICAL,
        category="ssh",
        platforms=("linux",),
        rules=("E5",),
        facts=(FactName.SSHD_CONFIG,),
        function=ssh.empty_passwords,
    ),
    CheckSpec(
        id="ssh.authentication",
        title_zh="SSH 认证设置:密码登录符合策略,限制每次连接的尝试次数",
        title_en="SSH authentication: password logins as the policy allows, few tries a connection",
        remediation_zh="在 /etc/ssh/sshd_config 中设置 MaxAuthTries 4(或更少);策略只允许密钥时设置 "
        "PasswordAuthentication no;然后 systemctl reload ssh。",
        remediation_en="Set MaxAuthTries 4 (or fewer) in /etc/ssh/sshd_config, and "
        "PasswordAuthentication no where the policy allows keys only; then systemctl reload ssh.",
        severity=Severity.MEDIUM,
        category="ssh",
        platforms=("linux",),
        rules=("E4", "E18"),
        references=(
            "CIS Debian Linux 12 5.1 (SSH server: MaxAuthTries)",
            "MLPS 2.0 GB/T 22239 8.1.4.1 (login failure handling)",
        ),
        facts=(FactName.SSHD_CONFIG,),
        function=ssh.authentication,
        params=(
            ParamSpec(
                "password_authentication_allowed",
                "bool",
                True,
                "是否允许 SSH 使用密码登录(false 表示只允许密钥)",
                "whether SSH may accept passwords (false: keys only)",
            ),
            ParamSpec(
                "max_auth_tries",
                "int",
                4,
                "每次连接允许的最多认证尝试次数",
                "most authentication attempts allowed per connection",
            ),
        ),
    ),
    CheckSpec(
        id="ssh.authorized_keys",
        title_zh="root 与管理员账户的 SSH 公钥均在批准列表中",
        title_en="SSH keys of root and administrators are on the approved key list",
        remediation_zh="从 authorized_keys 中删除未批准的公钥(特别是已交接的前任管理员的公钥),"
        "或将其指纹加入批准列表。",
        remediation_en="Remove unapproved keys from authorized_keys (above all those of an "
        "administrator who handed over), or add their fingerprints to the approved list.",
        severity=Severity.HIGH,
        category="ssh",
        platforms=("linux",),
        rules=("E15", "E18"),
        facts=(FactName.USERS, FactName.GROUPS, FactName.AUTHORIZED_KEYS),
        function=ssh.authorized_keys,
        params=(
            ParamSpec(
                "approved_keys",
                "list[str]",
                (),
                "批准的公钥指纹(ssh-keygen -l 显示的 SHA256:...)",
                "approved key fingerprints (SHA256:... as ssh-keygen -l prints them)",
            ),
            ParamSpec(
                "admin_groups",
                "list[str]",
                ("sudo", "wheel", "admin"),
                "管理员组",
                "administrator groups",
            ),
        ),
    ),
    CheckSpec(
        id="jobs.unsafe_programs",
        title_zh="计划任务不运行临时目录中或他人可修改的程序",
        title_en="Scheduled jobs run no file from /tmp or a file other accounts can change",
        remediation_zh="把任务运行的脚本移到 root 所有的目录(如 /usr/local/sbin),"
        "chown root:root 并 chmod 755;"
        "删除运行 /tmp 中文件的任务(crontab -e,/etc/cron.d,systemd 定时器)。",
        remediation_en="Move the job's script into a folder root owns (/usr/local/sbin), chown "
        "root:root and chmod 755 it; remove jobs that run files from /tmp (crontab -e, "
        "/etc/cron.d, systemd timers).",
        severity=Severity.HIGH,
        category="jobs",
        platforms=("linux",),
        rules=("E8",),
        references=("CIS Debian Linux 12 2.4 (job schedulers)",),
        facts=(FactName.USERS, FactName.SCHEDULED_JOBS),
        function=jobs.unsafe,
    ),
    CheckSpec(
        id="accounts.sudo_rules",
        title_zh="sudo 规则不给未批准的账户全部权限或免密码",
        title_en="sudo gives no unapproved account every command or password-less use",
        remediation_zh="用 visudo 删除 /etc/sudoers 或 /etc/sudoers.d 中给未批准账户的 ALL 或 "
        "NOPASSWD 规则,或把该账户加入批准列表。",
        remediation_en="With visudo, remove the ALL or NOPASSWD rules for unapproved accounts "
        "from /etc/sudoers or /etc/sudoers.d, or add the account to the approved list.",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("linux",),
        rules=("E8", "E16", "E18"),
        facts=(FactName.USERS, FactName.GROUPS, FactName.SUDO_RULES),
        function=accounts.sudo_rules,
        params=(
            ParamSpec(
                "approved",
                "list[str]",
                ("root",),
                "可以拥有全部 sudo 权限或免密码 sudo 的账户",
                "accounts that may have every command or password-less sudo",
            ),
            ParamSpec(
                "admin_groups",
                "list[str]",
                ("sudo", "wheel", "admin"),
                "管理员组(其规则由 accounts.admin_members 判断)",
                "administrator groups (their rules are judged by accounts.admin_members)",
            ),
        ),
    ),
    CheckSpec(
        id="network.time_sync",
        title_zh="开机即启用时间同步服务",
        title_en="A time synchronisation service starts at boot",
        remediation_zh="安装并启用时间同步:apt-get install systemd-timesyncd(或 chrony),"
        "systemctl enable --now systemd-timesyncd。",
        remediation_en="Install and enable time synchronisation: apt-get install "
        "systemd-timesyncd (or chrony), then systemctl enable --now systemd-timesyncd.",
        severity=Severity.MEDIUM,
        category="network",
        platforms=("linux",),
        rules=("E12",),
        references=("CIS Debian Linux 12 2.3 (time synchronization)",),
        facts=(FactName.TIME_SYNC,),
        function=network.time_sync,
    ),
    CheckSpec(
        id="system.mandatory_access_control",
        title_zh="强制访问控制(AppArmor 或 SELinux)已启用",
        title_en="Mandatory access control (AppArmor or SELinux) is on",
        remediation_zh="Debian:apt-get install apparmor apparmor-utils,systemctl enable apparmor,"
        "重启;Red Hat 系:在 /etc/selinux/config 中设置 SELINUX=enforcing 并重启。",
        remediation_en="Debian: apt-get install apparmor apparmor-utils, systemctl enable "
        "apparmor, reboot; Red Hat family: set SELINUX=enforcing in /etc/selinux/config and "
        "reboot.",
        severity=Severity.MEDIUM,
        category="system",
        platforms=("linux",),
        rules=("E1",),
        references=(
            "CIS Debian Linux 12 1.3 (mandatory access control: AppArmor)",
            "MLPS 2.0 GB/T 22239 8.1.4.2 (access control: security labels)",
        ),
        facts=(FactName.MAC_STATE,),
        function=mac.mandatory_access_control,
    ),
    CheckSpec(
        id="logs.persistent",
        title_zh="系统日志保存在磁盘上(journald 持久化或 rsyslog)",
        title_en="System logs are kept on disk (persistent journald or rsyslog)",
        remediation_zh="安装并启用 rsyslog(apt-get install rsyslog),或在 "
        "/etc/systemd/journald.conf 中设置 Storage=persistent 并重启 systemd-journald。",
        remediation_en="Install and enable rsyslog (apt-get install rsyslog), or set "
        "Storage=persistent in /etc/systemd/journald.conf and restart systemd-journald.",
        severity=Severity.HIGH,
        category="logs",
        platforms=("linux",),
        rules=("E12",),
        references=("CIS Debian Linux 12 6.1 (system logging: journald, rsyslog)",),
        facts=(FactName.LOG_SETUP,),
        function=logs.persistent,
    ),
    CheckSpec(
        id="logs.retention",
        title_zh="系统日志至少保留 6 个月",
        title_en="System logs are kept for at least six months",
        remediation_zh="在 /etc/logrotate.d/rsyslog 中改为 weekly 与 rotate 26(或 monthly 与 "
        "rotate 6);journald 的 MaxRetentionSec 不得小于 6 个月。",
        remediation_en="In /etc/logrotate.d/rsyslog use weekly with rotate 26 (or monthly with "
        "rotate 6); journald's MaxRetentionSec must not be below six months.",
        severity=Severity.MEDIUM,
        category="logs",
        platforms=("linux",),
        rules=("E12",),
        references=("Cybersecurity Law of the PRC art. 21 (network logs kept six months)",),
        facts=(FactName.LOG_SETUP,),
        function=logs.retention,
        params=(
            ParamSpec(
                "min_days",
                "int",
                180,
                "日志至少保留的天数",
                "fewest days logs must be kept",
                60,
            ),
        ),
    ),
    CheckSpec(
        id="logs.file_permissions",
        title_zh="日志文件不能被任何账户修改",
        title_en="No log file can be changed by every account",
        remediation_zh="去掉其他用户的写权限:chmod o-w 文件;确认是哪个程序或脚本创建了它。",
        remediation_en="Remove the write permission of others: chmod o-w FILE; find out which "
        "program or script made it so.",
        severity=Severity.HIGH,
        category="logs",
        platforms=("linux",),
        rules=("E12",),
        references=("CIS Debian Linux 12 6.1.4.1 (access to all log files is configured)",),
        facts=(FactName.SPECIAL_FILES,),
        function=logs.file_permissions,
    ),
    CheckSpec(
        id="files.world_writable",
        title_zh="系统目录中没有任何账户都可修改的文件",
        title_en="No file in the system folders can be changed by every account",
        remediation_zh="去掉其他用户的写权限:chmod o-w 路径(目录需要共享时改用粘滞位 chmod +t);"
        "查明是谁改的权限。",
        remediation_en="Remove the write permission of others: chmod o-w PATH (a folder that "
        "must be shared gets the sticky bit, chmod +t); find out who changed it.",
        severity=Severity.HIGH,
        category="files",
        platforms=("linux",),
        rules=("E8",),
        references=(
            "CIS Debian Linux 12 7.1.11 (world writable files and directories are secured)",
        ),
        facts=(FactName.SPECIAL_FILES,),
        function=files.world_writable,
        params=(
            ParamSpec(
                "allowed",
                "list[str]",
                (),
                "允许任何账户写入的路径",
                "paths every account is allowed to write",
            ),
        ),
    ),
    CheckSpec(
        id="files.setid_programs",
        title_zh="没有发行版之外的 SUID/SGID 程序",
        title_en="No set-user-id or set-group-id program other than the distribution's",
        remediation_zh="去掉该程序的特权位(chmod u-s,g-s 路径)或删除它,并排查入侵;确需保留的,"
        "在策略中批准其路径。",
        remediation_en="Remove the program's special bits (chmod u-s,g-s PATH) or delete it, "
        "and look for an intrusion; if it must stay, approve its path in the policy.",
        severity=Severity.HIGH,
        category="files",
        platforms=("linux",),
        rules=("E8",),
        references=("CIS Debian Linux 12 7.1.13 (SUID and SGID files are reviewed)",),
        facts=(FactName.SPECIAL_FILES,),
        function=files.setid_programs,
        params=(
            ParamSpec(
                "allowed",
                "list[str]",
                (),
                "另外批准的 SUID/SGID 程序路径",
                "further set-user-id or set-group-id programs approved",
            ),
        ),
    ),
    CheckSpec(
        id="services.screen_lock",
        title_zh="桌面无人操作时自动锁屏",
        title_en="The desktop locks its screen when left alone",
        remediation_zh="在 /etc/dconf/db/local.d/00-screensaver 中设置 [org/gnome/desktop/session] "
        "idle-delay=uint32 900 与 [org/gnome/desktop/screensaver] lock-enabled=true,在 "
        "locks 目录中锁定这两项,运行 dconf update。",
        remediation_en="In /etc/dconf/db/local.d/00-screensaver set [org/gnome/desktop/session] "
        "idle-delay=uint32 900 and [org/gnome/desktop/screensaver] lock-enabled=true, lock both "
        "in the locks folder, and run dconf update.",
        severity=Severity.MEDIUM,
        category="services",
        platforms=("linux",),
        rules=("E18",),
        references=(
            "CIS Debian Linux 12 1.7.4, 1.7.5 (GDM screen lock when idle, and its lock)",
            "MLPS 2.0 GB/T 22239 8.1.4.1 (session ends after a time without activity)",
        ),
        facts=(FactName.DESKTOP_SETTINGS,),
        function=desktop.screen_lock,
        params=(
            ParamSpec(
                "max_seconds",
                "int",
                900,
                "无人操作到锁屏的最长秒数",
                "most seconds without input before the screen locks",
                1,
            ),
        ),
    ),
    CheckSpec(
        id="services.media_automount",
        title_zh="桌面不自动挂载和打开移动介质",
        title_en="The desktop does not mount removable media automatically",
        remediation_zh="在 /etc/dconf/db/local.d/00-media-automount 中设置 "
        "[org/gnome/desktop/media-handling] automount=false 与 automount-open=false,在 locks "
        "目录中锁定,运行 dconf update。",
        remediation_en="In /etc/dconf/db/local.d/00-media-automount set "
        "[org/gnome/desktop/media-handling] automount=false and automount-open=false, lock "
        "them in the locks folder, and run dconf update.",
        severity=Severity.MEDIUM,
        category="services",
        platforms=("linux",),
        rules=("E1", "E17"),
        references=(
            "CIS Debian Linux 12 1.7.6, 1.7.7 (GDM automatic mounting of removable media)",
            "MLPS 2.0 GB/T 22239 8.1.4.5 (malicious code prevention)",
        ),
        facts=(FactName.DESKTOP_SETTINGS,),
        function=desktop.media_automount,
    ),
    CheckSpec(
        id="files.account_file_permissions",
        title_zh="账户与密码文件的属主和权限安全",
        title_en="Account and password files have safe owners and permissions",
        remediation_zh="执行 chown root:root /etc/passwd /etc/group && chmod 644 /etc/passwd "
        "/etc/group;chown root:shadow /etc/shadow /etc/gshadow && "
        "chmod 640 /etc/shadow /etc/gshadow;密码哈希若在 /etc/passwd 中(pwunconv),执行 pwconv "
        "移回 /etc/shadow。",
        remediation_en="Run chown root:root /etc/passwd /etc/group && chmod 644 /etc/passwd "
        "/etc/group; chown root:shadow /etc/shadow /etc/gshadow && chmod 640 /etc/shadow "
        "/etc/gshadow; hashes kept in /etc/passwd (pwunconv) go back into /etc/shadow with pwconv.",
        severity=Severity.HIGH,
        category="files",
        platforms=("linux",),
        rules=("E4",),
        facts=(FactName.USERS, FactName.SENSITIVE_FILES),
        function=files.account_file_permissions,
    ),
    CheckSpec(
        id="accounts.weak_password",
        title_zh="账户不得使用厂商默认密码或常见弱密码",
        title_en="No account accepts a vendor default or common weak password",
        remediation_zh="立即为该账户设置只有使用者知道的强密码(Linux:passwd;Windows:net user "
        "账户名 *,或 Ctrl+Alt+Del > 更改密码);若是设备或镜像自带的账户且不再需要,锁定或删除它"
        "(Linux:usermod -L、userdel;Windows:net user 账户名 /active:no)。",
        remediation_en="Set a strong password only its user knows right away (Linux: passwd; "
        "Windows: net user NAME *, or Ctrl+Alt+Del > Change a password); if the account came "
        "with a device or image and is not needed, lock or delete it (Linux: usermod -L, "
        "userdel; Windows: net user NAME /active:no).",
        severity=Severity.CRITICAL,
        category="accounts",
        platforms=("linux", "windows"),
        rules=("E4", "E5", "E6"),
        facts=(FactName.WEAK_PASSWORDS,),
        function=accounts.weak_password,
        params=(
            ParamSpec(
                "organisation_words",
                "list[str]",
                (),
                "本单位的词(校名、拼音及缩写、年份等),按常见方式组合后也作为弱密码尝试,"
                "如 yizhong、Yizhong@123、yizhong2024",
                "the organisation's own words (school name, its pinyin and abbreviation...), "
                "also tried as weak passwords in the usual forms: yizhong, Yizhong@123, "
                "yizhong2024",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.password_changed_since_handover",
        title_zh="上线或管理员交接之后密码已更换",
        title_en="Passwords were changed after go-live and after the last admin handover",
        remediation_zh="为这些账户重新设置密码(passwd),使调试人员或前任管理员知道的密码失效。",
        remediation_en="Set new passwords for these accounts with passwd, so that passwords "
        "known to the installers or the previous administrator stop working.",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("linux",),
        rules=("E6", "E15"),
        facts=(FactName.SHADOW,),
        function=accounts.password_changed_since_handover,
        params=(
            ParamSpec(
                "go_live_date",
                "str",
                "",
                "主机上线日期 YYYY-MM-DD;为空时不判断",
                "the host's go-live date, YYYY-MM-DD; empty to skip",
            ),
            ParamSpec(
                "handover_date",
                "str",
                "",
                "最近一次管理员交接日期 YYYY-MM-DD;为空时不判断",
                "the date of the last administrator handover, YYYY-MM-DD; empty to skip",
            ),
            ParamSpec(
                "accounts",
                "list[str]",
                (),
                "只检查这些账户;为空时检查所有有密码的账户",
                "judge only these accounts; empty for every account with a password",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.admin_members",
        title_zh="管理员组(sudo、wheel、admin)只有经批准的成员",
        title_en="Only approved accounts are in the sudo, wheel or admin groups",
        remediation_zh="用 gpasswd -d 账户 sudo 把未经批准的账户移出管理员组,并定期复核权限。",
        remediation_en="Remove unapproved accounts from the administrator group with "
        "gpasswd -d ACCOUNT sudo, and review these rights regularly.",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("linux",),
        rules=("E8", "E16", "E18"),
        facts=(FactName.USERS, FactName.GROUPS),
        function=accounts.admin_members,
        params=(
            ParamSpec(
                "approved_admins",
                "list[str]",
                (),
                "经批准的管理员账户;为空时不做判断",
                "accounts approved as administrators; when empty the check cannot judge",
            ),
            ParamSpec(
                "admin_groups",
                "list[str]",
                ("sudo", "wheel", "admin"),
                "视为管理员的组",
                "groups whose members are administrators",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.unused",
        title_zh="长期未使用的登录账户应禁用",
        title_en="No login account has gone unused for too long",
        remediation_zh="核实账户使用者是否已离职或调岗;不再需要的账户用 usermod -L 禁用"
        "或 userdel 删除。",
        remediation_en="Find out whether the account's owner left or changed role; disable "
        "accounts no longer needed with usermod -L or delete them with userdel.",
        severity=Severity.MEDIUM,
        category="accounts",
        platforms=("linux",),
        rules=("E16",),
        facts=(
            FactName.USERS,
            FactName.LOGIN_DEFS,
            FactName.SHADOW,
            FactName.LAST_LOGINS,
            FactName.CLOCK,
        ),
        function=accounts.unused,
        params=(
            ParamSpec(
                "max_unused_days",
                "int",
                90,
                "账户最长可闲置天数",
                "most days a login account may go unused",
                minimum=1,
            ),
            ParamSpec(
                "exempt",
                "list[str]",
                (),
                "不做此项检查的账户(如应急账户)",
                "accounts exempt from this check (such as an emergency account)",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.added_since_baseline",
        title_zh="基线之后不应新增账户",
        title_en="No account was added since the server's baseline",
        remediation_zh="核实新增账户是否由管理员添加;如不是,禁用(usermod -L)或删除(userdel)"
        "并排查入侵;确属批准的,在服务器上更新基线。",
        remediation_en="Find out whether an administrator added the account; if not, disable "
        "(usermod -L) or delete (userdel) it and look for an intrusion; if it was approved, "
        "update the baseline on the server.",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("linux",),
        rules=("E8", "E16"),
        facts=(FactName.USERS,),
        function=accounts.added_since_baseline,
        params=(
            ParamSpec(
                "baseline",
                "list[str]",
                (),
                "服务器保存的基线账户名;为空时不做判断",
                "account names in the server's baseline; when empty the check cannot judge",
            ),
        ),
    ),
    CheckSpec(
        id="antivirus.installed",
        title_zh="已安装并运行防病毒软件",
        title_en="Antivirus software is installed and running",
        remediation_zh="安装防病毒软件(如 apt-get install clamav-daemon clamav-freshclam),"
        "并启动其服务(systemctl enable --now clamav-daemon clamav-freshclam)。",
        remediation_en="Install antivirus software (for example apt-get install clamav-daemon "
        "clamav-freshclam) and start its services (systemctl enable --now clamav-daemon "
        "clamav-freshclam).",
        severity=Severity.HIGH,
        category="antivirus",
        platforms=("linux",),
        rules=("E1", "E8"),
        facts=(FactName.ANTIVIRUS, FactName.PROCESSES),
        function=antivirus.installed,
        params=(
            ParamSpec(
                "extra_process_names",
                "list[str]",
                (),
                "其他防病毒产品的进程名(/proc/PID/comm)",
                "process names (/proc/PID/comm) of other antivirus products",
            ),
        ),
    ),
    CheckSpec(
        id="antivirus.signatures",
        title_zh="防病毒软件的病毒库及时更新",
        title_en="Antivirus signatures are up to date",
        remediation_zh="确认 freshclam 服务在运行且能连到更新服务器"
        "(systemctl status clamav-freshclam),或手动运行 freshclam。",
        remediation_en="Make sure the freshclam service runs and reaches its mirror "
        "(systemctl status clamav-freshclam), or run freshclam by hand.",
        severity=Severity.HIGH,
        category="antivirus",
        platforms=("linux",),
        rules=("E1", "E8"),
        facts=(FactName.ANTIVIRUS, FactName.CLOCK),
        function=antivirus.signatures,
        params=(
            ParamSpec(
                "max_age_days",
                "int",
                3,
                "病毒库最长可用天数",
                "most days old the signatures may be",
                minimum=1,
            ),
        ),
    ),
    CheckSpec(
        id="antivirus.last_scan",
        title_zh="每周至少进行一次全盘病毒扫描",
        title_en="A full virus scan ran within the last week",
        remediation_zh="用计划任务每周运行全盘扫描,例如 clamscan -r -i --log=/var/log/clamav/"
        "clamscan.log /,并把日志路径填入 scan_log_paths。",
        remediation_en="Schedule a weekly full scan, for example clamscan -r -i "
        "--log=/var/log/clamav/clamscan.log /, and list the log in scan_log_paths.",
        severity=Severity.MEDIUM,
        category="antivirus",
        platforms=("linux",),
        rules=("E1", "E8"),
        facts=(FactName.ANTIVIRUS, FactName.SCAN_LOG, FactName.CLOCK),
        function=antivirus.last_scan,
        params=(
            ParamSpec(
                "max_days",
                "int",
                7,
                "两次全盘扫描之间最多相隔天数",
                "most days between full scans",
                minimum=1,
            ),
            ParamSpec(
                "scan_log_paths",
                "list[str]",
                ("/var/log/clamav/clamscan.log",),
                "记录全盘扫描的日志(clamscan --log 的文件)",
                "logs that record full scans (files written by clamscan --log)",
            ),
        ),
    ),
    CheckSpec(
        id="software.allow_list",
        title_zh="只安装允许清单中的软件",
        title_en="Only software on the allow list is installed",
        remediation_zh="核实这些软件的用途;未经批准的卸载(Linux:apt-get purge;Windows:"
        "设置 > 应用),确需使用的在服务器上加入允许清单。",
        remediation_en="Find out what these programs are for; remove unapproved ones (Linux: "
        "apt-get purge; Windows: Settings > Apps), and add the ones that are needed to the "
        "allow list on the server.",
        severity=Severity.MEDIUM,
        category="software",
        platforms=("linux", "windows"),
        rules=("E8", "E17"),
        facts=(FactName.PACKAGES,),
        function=software.allow_list,
        params=(
            ParamSpec(
                "allowed",
                "list[str]",
                (),
                "允许安装的软件包名(可用 lib* 等通配符);为空时不做判断",
                "package names allowed (patterns like lib* accepted); when empty the check "
                "cannot judge",
            ),
        ),
    ),
    CheckSpec(
        id="software.deny_list",
        title_zh="未安装禁止的软件(游戏、远程控制、P2P 下载)",
        title_en="No denied software (games, remote control, P2P) is installed",
        remediation_zh="卸载这些软件(Linux:apt-get purge;Windows:设置 > 应用,按用户安装的"
        "需在该用户登录时卸载);确需使用的须经批准并加入例外。",
        remediation_en="Remove these programs (Linux: apt-get purge; Windows: Settings > Apps, "
        "per-user installs while that user is logged on); any that are truly needed must be "
        "approved and added to the exceptions.",
        severity=Severity.MEDIUM,
        category="software",
        platforms=("linux", "windows"),
        rules=("E17",),
        facts=(FactName.PACKAGES,),
        function=software.deny_list,
        params=(
            ParamSpec(
                "denied_categories",
                "list[str]",
                ("games", "remote_control", "p2p"),
                "启用的内置禁止类别:games、remote_control、p2p",
                "built-in deny categories in force: games, remote_control, p2p",
            ),
            ParamSpec(
                "denied",
                "list[str]",
                (),
                "额外禁止的软件包(类别:模式,如 games:*chess*)",
                "more denied packages, as category:pattern (games:*chess*)",
            ),
            ParamSpec(
                "exceptions",
                "list[str]",
                (),
                "经批准的例外软件包(模式)",
                "approved exceptions (package name patterns)",
            ),
        ),
    ),
    CheckSpec(
        id="software.baseline",
        title_zh="基线之后未私自安装软件",
        title_en="No software was installed since the server's baseline",
        remediation_zh="核实新装软件由谁安装、作何用途;未经批准的卸载,批准的在服务器上更新基线。",
        remediation_en="Find out who installed the new packages and why; remove unapproved "
        "ones, and update the baseline on the server for approved ones.",
        severity=Severity.MEDIUM,
        category="software",
        platforms=("linux", "windows"),
        rules=("E8", "E17"),
        facts=(FactName.PACKAGES,),
        function=software.baseline,
        params=(
            ParamSpec(
                "baseline",
                "list[str]",
                (),
                "服务器保存的基线软件包名;为空时不做判断",
                "package names in the server's baseline; when empty the check cannot judge",
            ),
        ),
    ),
    CheckSpec(
        id="software.unpackaged_listeners",
        title_zh="监听端口的程序都来自已安装的软件包",
        title_en="Every program listening on the network comes from an installed package",
        remediation_zh="查明该程序的来源和用途(ls -l、sha256sum,结果中有完整命令行和运行账户);"
        "来历不明的立即停止并删除,同时排查入侵。巡检自身的服务端、客户端进程按命令行识别,不报告。",
        remediation_en="Find out where the program came from and what it does (ls -l, "
        "sha256sum; the result gives its whole command line and account); stop and delete it "
        "if nobody can account for it, and look for an intrusion. xunjian's own server and "
        "agent processes are known by their command lines and not reported.",
        severity=Severity.HIGH,
        category="software",
        platforms=("linux",),
        rules=("E3", "E8", "E17"),
        facts=(FactName.LISTENING_PROGRAMS,),
        function=software.unpackaged_listeners,
        params=(
            ParamSpec(
                "exempt_paths",
                "list[str]",
                (),
                "经批准的非软件包程序路径(模式,如 /opt/app/*)",
                "approved program paths outside packages (patterns such as /opt/app/*)",
            ),
        ),
    ),
    CheckSpec(
        id="firewall.host_firewall",
        title_zh="主机防火墙已启用且默认拒绝入站",
        title_en="The host firewall is on and denies inbound traffic by default",
        remediation_zh="启用防火墙并默认拒绝入站,例如 ufw default deny incoming && ufw allow ssh"
        " && ufw enable,或在 nftables 的 input 链设置 policy drop。",
        remediation_en="Turn the firewall on with a default-deny inbound policy, for example "
        "ufw default deny incoming && ufw allow ssh && ufw enable, or policy drop on the "
        "nftables input chain.",
        severity=Severity.HIGH,
        category="firewall",
        platforms=("linux",),
        rules=("E17",),
        facts=(FactName.FIREWALL,),
        function=firewall.host_firewall,
    ),
    CheckSpec(
        id="network.identity",
        title_zh="IP 与 MAC 地址与登记一致",
        title_en="IP and MAC addresses match the registered ones",
        remediation_zh="核实地址变更是否经过批准;未经批准的改回登记的固定 IP,"
        "批准的在服务器资产登记中更新。",
        remediation_en="Find out whether the address change was approved; restore the "
        "registered fixed IP if not, and update the asset registry on the server if it was.",
        severity=Severity.MEDIUM,
        category="network",
        platforms=("linux",),
        rules=("E2", "E14"),
        facts=(FactName.NETWORK_INTERFACES,),
        function=network.identity,
        params=(
            ParamSpec(
                "registered_ipv4",
                "list[str]",
                (),
                "登记的 IPv4 地址;为空时只上报不判断",
                "registered IPv4 addresses; when empty addresses are reported, not judged",
            ),
            ParamSpec(
                "registered_macs",
                "list[str]",
                (),
                "登记的 MAC 地址;为空时只上报不判断",
                "registered MAC addresses; when empty addresses are reported, not judged",
            ),
        ),
    ),
    CheckSpec(
        id="backup.freshness",
        title_zh="本地和异地备份都是最近的",
        title_en="Local and off-site backups are recent",
        remediation_zh="检查备份任务(cron、备份软件)是否正常运行,并确认异地备份位置已挂载且可写。",
        remediation_en="Check that the backup job (cron or backup software) runs, and that "
        "the off-site location is mounted and writable.",
        severity=Severity.HIGH,
        category="backup",
        platforms=("linux",),
        rules=("E11",),
        facts=(FactName.BACKUP_LOCATION, FactName.CLOCK),
        function=backup.freshness,
        params=(
            ParamSpec(
                "local_locations",
                "list[str]",
                (),
                "本地备份目录",
                "local backup folders",
            ),
            ParamSpec(
                "offsite_locations",
                "list[str]",
                (),
                "异地备份目录(在本机挂载的路径)",
                "off-site backup folders, as mounted on this host",
            ),
            ParamSpec(
                "max_age_days",
                "int",
                7,
                "最新备份最长可有多少天",
                "most days old the newest backup may be",
                minimum=1,
            ),
        ),
    ),
    CheckSpec(
        id="patch.updates_pending",
        title_zh="系统更新及时安装",
        title_en="Pending updates are installed promptly",
        remediation_zh="运行 apt-get update && apt-get upgrade(或 dnf upgrade)安装更新;"
        "Windows 上在 设置 > Windows 更新 中安装。",
        remediation_en="Run apt-get update && apt-get upgrade (or dnf upgrade) to install the "
        "updates; on Windows, install them in Settings > Windows Update.",
        severity=Severity.LOW,
        category="patch",
        platforms=("linux", "windows"),
        rules=("E1", "E8"),
        facts=(FactName.PENDING_UPDATES,),
        function=patch.updates_pending,
        params=(
            ParamSpec(
                "max_pending",
                "int",
                0,
                "允许等待安装的更新个数",
                "how many updates may be waiting",
                minimum=0,
            ),
        ),
    ),
    CheckSpec(
        id="patch.package_lists_age",
        title_zh="软件包列表定期刷新",
        title_en="The package lists are refreshed regularly",
        remediation_zh="运行 apt-get update(或 dnf makecache),并启用 apt-daily.timer "
        "或 unattended-upgrades 定期刷新。",
        remediation_en="Run apt-get update (or dnf makecache), and enable apt-daily.timer or "
        "unattended-upgrades to refresh them regularly.",
        severity=Severity.MEDIUM,
        category="patch",
        platforms=("linux",),
        rules=("E1", "E8"),
        facts=(FactName.PACKAGE_ACTIVITY, FactName.CLOCK),
        function=patch.package_lists_age,
        params=(
            ParamSpec(
                "max_age_days",
                "int",
                7,
                "软件包列表最长多少天未刷新",
                "most days since the package lists were refreshed",
                minimum=1,
            ),
        ),
    ),
    CheckSpec(
        id="patch.last_install",
        title_zh="近期安装过系统补丁或更新",
        title_en="Packages were installed or upgraded recently",
        remediation_zh="安装待装的更新(apt-get upgrade),"
        "并启用 unattended-upgrades 自动安装安全更新。",
        remediation_en="Install the waiting updates (apt-get upgrade), and enable "
        "unattended-upgrades to install security updates automatically.",
        severity=Severity.MEDIUM,
        category="patch",
        platforms=("linux",),
        rules=("E1", "E8"),
        facts=(FactName.PACKAGE_ACTIVITY, FactName.CLOCK),
        function=patch.last_install,
        params=(
            ParamSpec(
                "max_days",
                "int",
                30,
                "距上次安装或升级软件包最多天数",
                "most days since the last package install or upgrade",
                minimum=1,
            ),
        ),
    ),
    CheckSpec(
        id="patch.eol_release",
        title_zh="操作系统版本仍在安全支持期内",
        title_en="The operating system release still gets security updates",
        remediation_zh="把系统升级到仍受支持的版本(如 Debian 12、Ubuntu 24.04、Rocky Linux 9)。",
        remediation_en="Upgrade the system to a supported release (such as Debian 12, Ubuntu "
        "24.04 or Rocky Linux 9).",
        severity=Severity.HIGH,
        category="patch",
        platforms=("linux",),
        rules=("E1",),
        facts=(FactName.OS_RELEASE, FactName.CLOCK),
        function=patch.eol_release,
        params=(
            ParamSpec(
                "extra_eol_dates",
                "list[str]",
                (),
                "其他版本的停止支持日期,格式 ID:版本=YYYY-MM-DD",
                "end-of-support dates of other releases, as ID:VERSION=YYYY-MM-DD",
            ),
        ),
    ),
    CheckSpec(
        id="patch.windows_supported",
        title_zh="Windows 版本仍在微软安全更新支持期内",
        title_en="The Windows version still gets security updates from Microsoft",
        remediation_zh="将该电脑升级到仍受支持的 Windows 版本(设置 > Windows 更新,或用安装介质"
        "就地升级);确实无法升级的,购买扩展安全更新(ESU)并在策略中填写其截止日期,或将其断网隔离。",
        remediation_en="Upgrade the PC to a supported Windows release (Settings > Windows Update, "
        "or an in-place upgrade from installation media); where that is impossible, buy "
        "Extended Security Updates and set their end date in the policy, or take the PC off "
        "the network.",
        severity=Severity.HIGH,
        category="patch",
        platforms=("windows",),
        rules=("E1",),
        facts=(FactName.WINDOWS_SYSTEM, FactName.CLOCK),
        function=windows.supported,
        params=(
            ParamSpec(
                "esu_until",
                "str",
                "",
                "Windows 10 扩展安全更新(ESU)的截止日期,如 2026-10-13;未购买则留空",
                "the date Windows 10 Extended Security Updates run to, e.g. 2026-10-13; "
                "empty when none were bought",
            ),
        ),
    ),
    CheckSpec(
        id="patch.windows_update_age",
        title_zh="最近一次 Windows 累积更新安装及时",
        title_en="The last Windows cumulative update is recent",
        remediation_zh="打开 设置 > Windows 更新,检查并安装更新后重启;若更新反复失败,"
        "查看更新历史中的错误代码。",
        remediation_en="Open Settings > Windows Update, check for and install updates, then "
        "restart; if updates keep failing, look up the error code in the update history.",
        severity=Severity.HIGH,
        category="patch",
        platforms=("windows",),
        rules=("E1", "E8"),
        facts=(FactName.WINDOWS_SYSTEM, FactName.CLOCK),
        function=windows.update_age,
        params=(
            ParamSpec(
                "max_days",
                "int",
                45,
                "最近一次累积更新距今的最多天数(每月第二个星期二发布,默认 45 天)",
                "most days since the last cumulative update (released each second Tuesday; "
                "default 45)",
            ),
        ),
    ),
    CheckSpec(
        id="patch.windows_update_service",
        title_zh="Windows 更新服务未被禁用",
        title_en="Windows Update is not disabled",
        remediation_zh="在 services.msc 中将 Windows Update 服务的启动类型改回“手动”,"
        "并在组策略中取消“配置自动更新”为“已禁用”的设置。",
        remediation_en="In services.msc set the Windows Update service's startup type back to "
        "Manual, and undo the group policy that sets Configure Automatic Updates to Disabled.",
        severity=Severity.HIGH,
        category="patch",
        platforms=("windows",),
        rules=("E1",),
        facts=(FactName.WINDOWS_EXPOSURE,),
        function=windows.update_service,
    ),
    CheckSpec(
        id="antivirus.windows_protection",
        title_zh="防病毒软件已开启实时防护且病毒库为最新",
        title_en="Antivirus runs with real-time protection and current signatures",
        remediation_zh="在 Windows 安全中心 > 病毒和威胁防护 中打开实时保护并检查更新;"
        "若已安装 360、火绒等第三方杀毒软件,确认其已开启并更新病毒库。",
        remediation_en="In Windows Security > Virus & threat protection turn real-time "
        "protection on and check for updates; where a third-party product (360, Huorong...) is "
        "installed, make sure it is on and its signatures are current.",
        severity=Severity.HIGH,
        category="antivirus",
        platforms=("windows",),
        rules=("E1", "E8"),
        facts=(
            FactName.WINDOWS_DEFENDER,
            FactName.WINDOWS_SECURITY_CENTER,
            FactName.PACKAGES,
            FactName.CLOCK,
        ),
        function=windows.antivirus,
        params=(
            ParamSpec(
                "max_signature_days",
                "int",
                7,
                "病毒库最多允许的天数",
                "most days the signatures may be old",
            ),
            ParamSpec(
                "max_scan_days",
                "int",
                7,
                "距上次病毒扫描最多允许的天数(仅在运行中的电脑上可读)",
                "most days since Defender's last scan (known only on the running PC)",
            ),
        ),
    ),
    CheckSpec(
        id="firewall.windows_profiles",
        title_zh="Windows 防火墙在所有网络配置文件中均已开启",
        title_en="Windows Firewall is on in every network profile",
        remediation_zh="在 Windows 安全中心 > 防火墙和网络保护 中为域、专用和公用网络打开防火墙;"
        "或用组策略统一开启。",
        remediation_en="In Windows Security > Firewall & network protection turn the firewall "
        "on for the domain, private and public networks, or turn it on by group policy.",
        severity=Severity.HIGH,
        category="firewall",
        platforms=("windows",),
        rules=("E17",),
        facts=(FactName.WINDOWS_EXPOSURE,),
        function=windows.firewall_profiles,
    ),
    CheckSpec(
        id="services.windows_remote_desktop",
        title_zh="远程桌面关闭,或开启时要求网络级身份验证",
        title_en="Remote Desktop is off, or requires Network Level Authentication",
        remediation_zh="不需要时在 设置 > 系统 > 远程桌面 中关闭;需要时勾选“要求计算机使用网络级"
        "别身份验证(NLA)”,并只允许管理网段访问 3389 端口。",
        remediation_en="Turn Remote Desktop off in Settings > System > Remote Desktop when it is "
        "not needed; when it is, require Network Level Authentication and allow port 3389 from "
        "the management network only.",
        severity=Severity.HIGH,
        category="services",
        platforms=("windows",),
        rules=("E18",),
        facts=(FactName.WINDOWS_EXPOSURE,),
        function=windows.remote_desktop,
        params=(
            ParamSpec(
                "allowed",
                "bool",
                True,
                "是否允许开启远程桌面(要求 NLA)",
                "whether Remote Desktop may be on (with NLA)",
            ),
        ),
    ),
    CheckSpec(
        id="services.windows_smb1",
        title_zh="已关闭 SMBv1 协议",
        title_en="SMBv1 is off",
        remediation_zh="在“启用或关闭 Windows 功能”中取消“SMB 1.0/CIFS 文件共享支持”,或运行 "
        "Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol 后重启。",
        remediation_en="Untick SMB 1.0/CIFS File Sharing Support in Turn Windows features on or "
        "off, or run Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol and "
        "restart.",
        severity=Severity.HIGH,
        category="services",
        platforms=("windows",),
        rules=("E18",),
        facts=(FactName.WINDOWS_EXPOSURE,),
        function=windows.smb1,
    ),
    CheckSpec(
        id="services.windows_remote_registry",
        title_zh="远程注册表服务未自动启动",
        title_en="The Remote Registry service does not start automatically",
        remediation_zh="在 services.msc 中将 Remote Registry 服务停止,并把启动类型设为“禁用”。",
        remediation_en="In services.msc stop the Remote Registry service and set its startup "
        "type to Disabled.",
        severity=Severity.MEDIUM,
        category="services",
        platforms=("windows",),
        rules=("E18",),
        facts=(FactName.WINDOWS_EXPOSURE,),
        function=windows.remote_registry,
        params=(
            ParamSpec(
                "allowed_start",
                "list[str]",
                ("disabled", "manual"),
                "允许的启动类型(disabled、manual、automatic)",
                "start modes allowed (disabled, manual, automatic)",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.windows_guest",
        title_zh="来宾(Guest)账户已禁用",
        title_en="The Guest account is disabled",
        remediation_zh="运行 net user Guest /active:no,"
        "或在 计算机管理 > 本地用户和组 中禁用 Guest。",
        remediation_en="Run net user Guest /active:no, or disable Guest in Computer Management "
        "> Local Users and Groups.",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("windows",),
        rules=("E16",),
        facts=(FactName.WINDOWS_ACCOUNTS,),
        function=windows.guest,
    ),
    CheckSpec(
        id="accounts.windows_administrators",
        title_zh="管理员组中只有经批准的账户",
        title_en="Only approved accounts are in Administrators",
        remediation_zh="核实这些账户由谁、为何加入管理员组;不需要的运行 net localgroup "
        "Administrators 账户名 /delete 移出,需要的在策略中加入允许列表。",
        remediation_en="Find out who added these accounts to Administrators and why; remove "
        "those not needed with net localgroup Administrators NAME /delete, and add the "
        "needed ones to the policy's allowed list.",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("windows",),
        rules=("E8", "E16", "E18"),
        facts=(FactName.WINDOWS_ACCOUNTS,),
        function=windows.administrators,
        params=(
            ParamSpec(
                "allowed",
                "list[str]",
                (),
                "允许在管理员组中的账户名(内置 Administrator 之外)",
                "account names allowed in Administrators (besides the built-in Administrator)",
            ),
        ),
    ),
    CheckSpec(
        id="password.windows_policy",
        title_zh="Windows 密码策略:至少 8 位、要求复杂性、定期过期、输错锁定",
        title_en="Windows password policy: length, complexity, maximum age, lockout",
        remediation_zh="在 本地安全策略(secpol.msc)> 账户策略 中设置:密码长度最小值 8、"
        "密码必须符合复杂性要求 启用、密码最长使用期限 90 天、账户锁定阈值 5 次;"
        "域中的电脑在组策略中设置。",
        remediation_en="In Local Security Policy (secpol.msc) > Account Policies set a minimum "
        "password length of 8, enable Password must meet complexity requirements, a maximum "
        "password age of 90 days and an account lockout threshold of 5; on a domain, set them "
        "by group policy.",
        severity=Severity.MEDIUM,
        category="password",
        platforms=("windows",),
        rules=("E4",),
        facts=(FactName.WINDOWS_ACCOUNTS,),
        function=windows.password_policy,
        params=(
            ParamSpec("min_length", "int", 8, "最短密码长度", "shortest password allowed", 1),
            ParamSpec(
                "max_days", "int", 90, "密码最长有效天数", "most days a password is valid", 1
            ),
            ParamSpec(
                "max_lockout_threshold",
                "int",
                10,
                "账户锁定阈值的上限(0 表示从不锁定,不合格)",
                "highest lockout threshold allowed (0, never locking, fails)",
                1,
            ),
        ),
    ),
    CheckSpec(
        id="accounts.windows_unused",
        title_zh="长期未登录的 Windows 账户应禁用",
        title_en="No enabled Windows account has gone unused for too long",
        remediation_zh="核实账户使用者是否已离职或调岗;不再需要的运行 net user 账户名 "
        "/active:no 禁用,或在 计算机管理 > 本地用户和组 中删除。",
        remediation_en="Find out whether the account's owner left or changed role; disable "
        "accounts no longer needed with net user NAME /active:no, or delete them in Computer "
        "Management > Local Users and Groups.",
        severity=Severity.MEDIUM,
        category="accounts",
        platforms=("windows",),
        rules=("E16",),
        facts=(FactName.WINDOWS_ACCOUNTS, FactName.CLOCK),
        function=windows.unused_accounts,
        params=(
            ParamSpec(
                "max_unused_days",
                "int",
                90,
                "账户最长可闲置天数",
                "most days an enabled account may go unused",
                minimum=1,
            ),
            ParamSpec(
                "exempt",
                "list[str]",
                (),
                "不做此项检查的账户(如应急账户)",
                "accounts exempt from this check (such as an emergency account)",
            ),
        ),
    ),
    CheckSpec(
        id="accounts.windows_added_since_baseline",
        title_zh="基线之后不应新增 Windows 账户",
        title_en="No Windows account was added since the server's baseline",
        remediation_zh="核实新增账户是否由管理员添加(计算机管理 > 本地用户和组);如不是,运行 "
        "net user 账户名 /active:no 禁用或删除它并排查入侵;确属批准的,在服务器上更新基线"
        "(xunjian server agent rebaseline)。",
        remediation_en="Find out whether an administrator added the account (Computer Management "
        "> Local Users and Groups); if not, disable it with net user NAME /active:no or delete "
        "it and look for an intrusion; if it was approved, take a new baseline on the server "
        "(xunjian server agent rebaseline).",
        severity=Severity.HIGH,
        category="accounts",
        platforms=("windows",),
        rules=("E8", "E16"),
        facts=(FactName.WINDOWS_ACCOUNTS,),
        function=windows_baseline.added_since_baseline,
        params=(
            ParamSpec(
                "baseline",
                "list[str]",
                (),
                "服务器保存的基线账户 SID(本机 SID 加 RID);为空时不做判断",
                "account SIDs (machine SID and RID) in the server's baseline; when empty the "
                "check cannot judge",
            ),
        ),
    ),
    CheckSpec(
        id="services.windows_autorun",
        title_zh="已关闭 U 盘和光盘的自动运行",
        title_en="AutoRun is off for removable and CD drives",
        remediation_zh="在组策略 计算机配置 > 管理模板 > Windows 组件 > 自动播放策略 中启用"
        "“关闭自动播放”并选择“所有驱动器”。",
        remediation_en="In group policy, Computer Configuration > Administrative Templates > "
        "Windows Components > AutoPlay Policies, enable Turn off AutoPlay for All drives.",
        severity=Severity.MEDIUM,
        category="services",
        platforms=("windows",),
        rules=("E17",),
        facts=(FactName.WINDOWS_EXPOSURE,),
        function=windows.autorun,
    ),
    CheckSpec(
        id="services.windows_screen_lock",
        title_zh="无人操作时自动锁屏并需要密码解锁",
        title_en="The screen locks with a password when the PC is left alone",
        remediation_zh="在组策略 计算机配置 > Windows 设置 > 安全设置 > 本地策略 > 安全选项 中设置"
        "“交互式登录:计算机不活动限制”为 900 秒以内;或为每个用户启用带密码的屏幕保护程序。",
        remediation_en="In group policy set Interactive logon: Machine inactivity limit "
        "(Security Options) to 900 seconds or less, or give each user a screen saver that "
        "asks for the password on resume.",
        severity=Severity.MEDIUM,
        category="services",
        platforms=("windows",),
        rules=("E18",),
        facts=(FactName.WINDOWS_DESKTOP,),
        function=windows.screen_lock,
        params=(
            ParamSpec(
                "max_seconds",
                "int",
                900,
                "无人操作到锁屏的最长秒数",
                "most seconds without input before the screen locks",
                1,
            ),
        ),
    ),
)


def _param_problems(param: ParamSpec) -> list[str]:
    where = f"parameter {param.name!r}"
    problems = []
    if not _PARAM_NAME.match(param.name):
        problems.append(f"{where}: name must be lower_case_with_underscores")
    if param.type not in PARAM_TYPES:
        problems.append(f"{where}: type {param.type!r} is not one of {', '.join(PARAM_TYPES)}")
    elif not value_matches(param.type, param.default):
        problems.append(f"{where}: default {param.default!r} is not a {param.type}")
    else:
        try:
            param.validate(param.default)
        except Exception as exc:
            problems.append(f"{where}: default is invalid: {exc}")
    if not param.description_zh.strip() or not param.description_en.strip():
        problems.append(f"{where}: needs a description in zh and en")
    return problems


def spec_problems(spec: CheckSpec) -> list[str]:
    """Everything wrong with one entry; empty when it is valid."""
    problems = []
    if not _ID_PATTERN.match(spec.id):
        problems.append("id must look like category.name in lower_case")
    elif spec.id.split(".")[0] != spec.category:
        problems.append(f"id must start with its category {spec.category!r}")
    if spec.category not in CATEGORIES:
        problems.append(f"category {spec.category!r} is not one of {sorted(CATEGORIES)}")
    for field_name in ("title_zh", "title_en", "remediation_zh", "remediation_en"):
        if not getattr(spec, field_name).strip():
            problems.append(f"{field_name} is empty")
    for field_name in ("title_zh", "remediation_zh"):
        if not _CJK.search(getattr(spec, field_name)):
            problems.append(f"{field_name} must be written in Chinese")
    for field_name in ("title_en", "remediation_en"):
        if _CJK.search(getattr(spec, field_name)):
            problems.append(f"{field_name} must be written in English")
    if not isinstance(spec.severity, Severity):
        problems.append(f"severity {spec.severity!r} is not a Severity")
    if not spec.platforms or not set(spec.platforms) <= PLATFORMS:
        problems.append(f"platforms {spec.platforms!r} must be a non-empty subset of {PLATFORMS}")
    if not spec.rules:
        problems.append("rules must name at least one POLICY.md tag")
    unknown_rules = [rule for rule in spec.rules if rule not in POLICY_TAGS]
    if unknown_rules:
        problems.append(f"rules {unknown_rules} are not POLICY.md tags")
    if not spec.facts or not all(isinstance(fact, FactName) for fact in spec.facts):
        problems.append("facts must name at least one FactName")
    else:
        for platform in spec.platforms:
            missing = [
                str(fact)
                for fact in spec.facts
                if collector_for(fact, platform) is None
                and keyed_collector_for(fact, platform) is None
            ]
            if missing:
                problems.append(f"no {platform} collector for facts {missing}")
    if not callable(spec.function):
        problems.append("function is not callable")
    names = [param.name for param in spec.params]
    if len(names) != len(set(names)):
        problems.append(f"parameter names repeat: {names}")
    for param in spec.params:
        problems.extend(_param_problems(param))
    return problems


def validate(specs: tuple[CheckSpec, ...]) -> dict[str, CheckSpec]:
    """The specs by id, or RegistryError listing every problem of every entry."""
    problems = []
    by_id: dict[str, CheckSpec] = {}
    for spec in specs:
        problems.extend(f"check {spec.id!r}: {problem}" for problem in spec_problems(spec))
        if spec.id in by_id:
            problems.append(f"check {spec.id!r}: declared twice")
        by_id[spec.id] = spec
    if problems:
        raise RegistryError("invalid check registry:\n  " + "\n  ".join(problems))
    return by_id


REGISTRY: dict[str, CheckSpec] = validate(_CHECKS)
