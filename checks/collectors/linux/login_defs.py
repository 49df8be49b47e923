"""Password aging and length defaults from /etc/login.defs."""

from __future__ import annotations

from checks.facts import LoginDefs
from checks.host import HostContext


def parse_login_defs(text: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, *rest = line.split(None, 1)
        value = rest[0] if rest else ""
        settings[key] = value.strip().strip('"')
    return settings


def _int_setting(settings: dict[str, str], key: str) -> int | None:
    value = settings.get(key)
    if value is None:
        return None
    try:
        return int(value, 0) if value.lower().startswith("0x") else int(value)
    except ValueError:
        return None


def login_defs_from_text(text: str) -> LoginDefs:
    settings = parse_login_defs(text)
    return LoginDefs(
        pass_max_days=_int_setting(settings, "PASS_MAX_DAYS"),
        pass_min_days=_int_setting(settings, "PASS_MIN_DAYS"),
        pass_min_len=_int_setting(settings, "PASS_MIN_LEN"),
        pass_warn_age=_int_setting(settings, "PASS_WARN_AGE"),
        uid_min=_int_setting(settings, "UID_MIN"),
        uid_max=_int_setting(settings, "UID_MAX"),
        encrypt_method=settings.get("ENCRYPT_METHOD"),
    )


def collect_login_defs(host: HostContext) -> LoginDefs:
    # Without the file the shadow tools use their built-in defaults, which set no aging and no
    # length: every setting None is the truth, not a gap.
    return login_defs_from_text(host.read_optional("/etc/login.defs") or "")
