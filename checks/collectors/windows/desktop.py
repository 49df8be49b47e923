"""What locks an unattended PC (E18): the machine's inactivity limit (SOFTWARE) and each user's
screen saver (their NTUSER.DAT), group policy first as Windows applies it."""

from __future__ import annotations

from checks.collectors.windows.registry import RegistrySource
from checks.facts_windows import UserScreenLock

DESKTOP = "Control Panel\\Desktop"
DESKTOP_POLICY = "Software\\Policies\\Microsoft\\Windows\\Control Panel\\Desktop"
SYSTEM_POLICY = "Microsoft\\Windows\\CurrentVersion\\Policies\\System"


def _number(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def machine_inactivity_seconds(software: RegistrySource) -> int | None:
    key = software.key(SYSTEM_POLICY)
    return _number(key.value("InactivityTimeoutSecs")) if key is not None else None


def user_screen_lock(user: RegistrySource, profile: str) -> UserScreenLock:
    def setting(name: str) -> object:
        for path in (DESKTOP_POLICY, DESKTOP):
            key = user.key(path)
            value = key.value(name) if key is not None else None
            if value is not None:
                return value
        return None

    return UserScreenLock(
        profile=profile,
        active=_number(setting("ScreenSaveActive")) == 1,
        secure=_number(setting("ScreenSaverIsSecure")) == 1,
        timeout_seconds=_number(setting("ScreenSaveTimeOut")),
    )
