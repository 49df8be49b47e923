"""The one registry of checks. Each check is declared here once, with its metadata as data.

Importing this module validates every entry; a mistake in metadata is an import error that
names the check and what is wrong, so it cannot reach an agent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from checks.errors import RegistryError
from checks.facts import FactName
from checks.factset import Facts
from checks.library import accounts, files, network, password, patch, ssh
from checks.model import Finding, Severity
from checks.params import PARAM_TYPES, ParamSpec, value_matches
from checks.policy_tags import POLICY_TAGS

CheckFunction = Callable[[Facts, dict[str, Any]], list[Finding]]

PLATFORMS = frozenset({"linux", "windows", "macos"})
CATEGORIES = frozenset({"accounts", "password", "services", "network", "patch", "ssh", "files"})
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
        facts=(FactName.LISTENING_SOCKETS,),
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
            ParamSpec(
                "include_loopback",
                "bool",
                False,
                "是否也检查只监听在本机回环地址上的端口",
                "also judge ports that listen on loopback addresses only",
            ),
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
        facts=(FactName.OS_RELEASE, FactName.REBOOT_REQUIRED),
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
        facts=(FactName.PENDING_UPDATES,),
        function=patch.security_pending,
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
        id="files.account_file_permissions",
        title_zh="账户与密码文件的属主和权限安全",
        title_en="Account and password files have safe owners and permissions",
        remediation_zh="执行 chown root:root /etc/passwd /etc/group && chmod 644 /etc/passwd "
        "/etc/group;chown root:shadow /etc/shadow /etc/gshadow && "
        "chmod 640 /etc/shadow /etc/gshadow。",
        remediation_en="Run chown root:root /etc/passwd /etc/group && chmod 644 /etc/passwd "
        "/etc/group; chown root:shadow /etc/shadow /etc/gshadow && chmod 640 /etc/shadow "
        "/etc/gshadow.",
        severity=Severity.HIGH,
        category="files",
        platforms=("linux",),
        rules=("E4",),
        facts=(FactName.SENSITIVE_FILES,),
        function=files.account_file_permissions,
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
