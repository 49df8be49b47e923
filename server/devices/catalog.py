"""The checks the server itself runs on devices, described like the check registry's entries
(``checks.api.registry_catalog``), so the console's check pages, titles and filters know them.
The Linux collectors over SSH run registry checks, which describe themselves."""

from __future__ import annotations

from typing import Any

from server.devices.check import CHECK_ID, RULES

DEVICE_CHECKS: tuple[dict[str, Any], ...] = (
    {
        "id": CHECK_ID,
        "title": {
            "zh": "网络设备不接受厂商默认密码",
            "en": "The network device accepts no vendor-default password",
        },
        "remediation": {
            "zh": "在设备的管理界面修改该账户的密码(至少 8 位,字母、数字和符号混合),"
            "然后在控制台对该设备点击“立即检查”;管理员可在“网络设备”页面查看找到的密码。",
            "en": "Change the account's password on the device (at least 8 characters mixing "
            "letters, digits and symbols), then press Check now on the device's page in the "
            "console; admins see the password that was found on the Devices page.",
        },
        "severity": "critical",
        "category": "devices",
        "platforms": ["device"],
        "rules": RULES,
        "facts": [],
        "params": {},
    },
)


def device_catalog() -> list[dict[str, Any]]:
    """Copies, so a caller cannot change the entries for everyone."""
    return [dict(entry) for entry in DEVICE_CHECKS]
