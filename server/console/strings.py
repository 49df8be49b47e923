"""Every label of the console, in Chinese and English, in one place (full i18n comes later)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "product": {"zh": "巡检", "en": "xunjian"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "name": {"zh": "用户名", "en": "User name"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {
        "zh": "登录失败。请检查用户名和密码；多次失败后请等待一段时间再试。",
        "en": "Login failed. Check the name and password; after repeated failures, wait a while.",
    },
    "change_password": {"zh": "修改密码", "en": "Change password"},
    "must_change": {
        "zh": "首次登录须修改密码。",
        "en": "Please choose a new password before you continue.",
    },
    "current_password": {"zh": "当前密码", "en": "Current password"},
    "new_password": {"zh": "新密码", "en": "New password"},
    "confirm_password": {"zh": "确认新密码", "en": "Confirm new password"},
    "password_rule": {
        "zh": "至少8位，包含小写字母、大写字母、数字、符号中的至少三类。",
        "en": "At least 8 characters, with three of: lower case, upper case, digits, symbols.",
    },
    "wrong_current": {"zh": "当前密码不正确。", "en": "The current password is not correct."},
    "mismatch": {"zh": "两次输入的新密码不一致。", "en": "The new passwords differ."},
    "same_password": {
        "zh": "新密码不能与当前密码相同。",
        "en": "The new password must differ from the current one.",
    },
    "weak_password": {
        "zh": "新密码不符合要求：",
        "en": "The new password does not meet the rule: ",
    },
    "hosts": {"zh": "主机", "en": "Hosts"},
    "hostname": {"zh": "主机名", "en": "Host name"},
    "group": {"zh": "分组", "en": "Group"},
    "os": {"zh": "操作系统", "en": "Operating system"},
    "state": {"zh": "状态", "en": "State"},
    "online": {"zh": "在线", "en": "online"},
    "offline": {"zh": "离线", "en": "offline"},
    "revoked": {"zh": "已吊销", "en": "revoked"},
    "last_seen": {"zh": "最后联系", "en": "Last seen"},
    "never": {"zh": "从未", "en": "never"},
    "failing": {"zh": "未通过检查", "en": "Failing checks"},
    "no_hosts": {
        "zh": "还没有主机。用 xunjian server token create 生成注册令牌。",
        "en": "No hosts yet. Create an enrollment token with: xunjian server token create",
    },
    "results": {"zh": "最新检查结果", "en": "Latest results"},
    "check": {"zh": "检查项", "en": "Check"},
    "status": {"zh": "结果", "en": "Status"},
    "resource": {"zh": "对象", "en": "Resource"},
    "severity": {"zh": "严重性", "en": "Severity"},
    "message": {"zh": "说明", "en": "Message"},
    "evidence": {"zh": "证据", "en": "Evidence"},
    "rules": {"zh": "制度条款", "en": "Rules"},
    "observed": {"zh": "检查时间", "en": "Observed"},
    "no_results": {"zh": "尚无检查结果。", "en": "No results yet."},
    "inventory": {"zh": "资产信息", "en": "Inventory"},
    "no_inventory": {"zh": "尚无资产信息。", "en": "No inventory yet."},
    "scan_now": {"zh": "立即检查", "en": "Scan now"},
    "scan_queued": {"zh": "已下发立即检查命令。", "en": "A scan was requested."},
    "previous": {"zh": "上一页", "en": "Previous"},
    "next": {"zh": "下一页", "en": "Next"},
    "show": {"zh": "展开", "en": "Show"},
    # Roles, result statuses and severities: the stored values are English ids.
    "role.admin": {"zh": "管理员", "en": "admin"},
    "role.operator": {"zh": "操作员", "en": "operator"},
    "role.auditor": {"zh": "审计员", "en": "auditor"},
    "status.pass": {"zh": "通过", "en": "pass"},
    "status.fail": {"zh": "未通过", "en": "fail"},
    "status.error": {"zh": "出错", "en": "error"},
    "status.not_applicable": {"zh": "不适用", "en": "not applicable"},
    "status.no_privilege": {"zh": "权限不足", "en": "no privilege"},
    "severity.info": {"zh": "提示", "en": "info"},
    "severity.low": {"zh": "低", "en": "low"},
    "severity.medium": {"zh": "中", "en": "medium"},
    "severity.high": {"zh": "高", "en": "high"},
    "severity.critical": {"zh": "严重", "en": "critical"},
    # Inventory keys the agent sends (others are shown by their own name).
    "inventory.hostname": {"zh": "主机名", "en": "Host name"},
    "inventory.os": {"zh": "操作系统", "en": "Operating system"},
    "inventory.kernel": {"zh": "内核", "en": "Kernel"},
    "inventory.architecture": {"zh": "架构", "en": "Architecture"},
    "inventory.platform": {"zh": "平台", "en": "Platform"},
    "inventory.addresses": {"zh": "网络地址", "en": "Addresses"},
    "interface": {"zh": "网卡", "en": "Interface"},
    "mac": {"zh": "MAC 地址", "en": "MAC address"},
    "ipv4": {"zh": "IPv4", "en": "IPv4"},
    "ipv6": {"zh": "IPv6", "en": "IPv6"},
    # Error pages.
    "error.400": {"zh": "请求被拒绝", "en": "Request refused"},
    "error.403": {"zh": "无权执行此操作", "en": "Not allowed"},
    "error.404": {"zh": "页面不存在", "en": "Not found"},
    "error.409": {"zh": "操作与当前状态冲突", "en": "Conflict"},
    "csrf_refused": {
        "zh": "表单缺少安全令牌（CSRF）或令牌有误，未做任何更改。请刷新页面后重试。",
        "en": "Missing or wrong CSRF token: nothing was changed. Reload the page and try again.",
    },
    "back_to_hosts": {"zh": "返回主机列表", "en": "Back to the hosts"},
}


def label(key: str, language: str) -> str:
    entry = LABELS[key]
    return entry.get(language) or entry["en"]


def value_label(kind: str, value: str, language: str) -> str:
    """A stored id (a role, status, severity, inventory key) as words; unknown ids as they are."""
    key = f"{kind}.{value}"
    return label(key, language) if key in LABELS else value
