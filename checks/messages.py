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
from typing import Any

from checks.model import Finding, Severity, Status

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
}
# Words a parameter may hold that are themselves said in the reader's language.
WORDS: dict[str, tuple[str, str]] = {
    "drop": ("drop", "丢弃"),
    "reject": ("reject", "拒绝"),
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
