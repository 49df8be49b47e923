"""What people read for a device's type and its last check's outcome, in the page's language.
Shared by the Devices page and the fleet pages (hosts list, host page, dashboard), so one
outcome reads the same everywhere."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

OUTCOME_LABELS: dict[str, LazyString] = {
    "default_credential": _l("accepts a vendor-default password"),
    "no_default": _l("no default password accepted"),
    "no_password_auth": _l("no password login offered"),
    "lockout": _l("stopped: signs of lockout"),
    "unreachable": _l("unreachable"),
    "error": _l("error"),
}
NOT_CHECKED_LABEL = _l("not checked yet")
# How each outcome is shown: the result classes of the console's style sheet.
OUTCOME_CLASSES = {
    "default_credential": "fail",
    "no_default": "pass",
    "no_password_auth": "pass",
    "lockout": "error-status",
    "unreachable": "error-status",
    "error": "error-status",
}
TYPE_LABELS: dict[str, LazyString] = {
    "router": _l("router"),
    "ap": _l("Wi-Fi access point"),
    "nas": _l("NAS"),
    "switch": _l("switch"),
    "linux": _l("Linux"),
}


def outcome_label(outcome: str | None) -> str:
    return str(OUTCOME_LABELS.get(outcome or "", outcome or ""))


def type_label(device_type: str) -> str:
    return str(TYPE_LABELS.get(device_type, device_type))
