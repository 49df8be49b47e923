"""A desktop left alone locks itself, and does not mount whatever is plugged in."""

from __future__ import annotations

from typing import Any

from checks.errors import NotApplicable
from checks.facts import DesktopSettings
from checks.factset import Facts
from checks.model import Finding, Status

IDLE = "org.gnome.desktop.session idle-delay"
LOCK = "org.gnome.desktop.screensaver lock-enabled"
LOCK_DELAY = "org.gnome.desktop.screensaver lock-delay"
AUTOMOUNT = "org.gnome.desktop.media-handling automount"
AUTOMOUNT_OPEN = "org.gnome.desktop.media-handling automount-open"


def _gnome(settings: DesktopSettings) -> None:
    if not settings.desktops:
        raise NotApplicable("no desktop is installed (a server): nothing to lock or automount")
    if not settings.gnome_settings:
        raise NotApplicable(
            f"the desktop ({', '.join(settings.desktops)}) does not use GNOME's settings, the "
            "only ones read"
        )


def _evidence(settings: DesktopSettings, *keys: str) -> dict[str, Any]:
    return {
        "desktops": list(settings.desktops),
        "values": {k: settings.values.get(k) for k in keys},
        "sources": {k: settings.sources.get(k) for k in keys},
        "locked": [k for k in keys if k in settings.locked],
    }


def _note_unlocked(settings: DesktopSettings, keys: tuple[str, ...]) -> str:
    unlocked = [k.split()[1] for k in keys if k not in settings.locked]
    if not unlocked:
        return ""
    return f"; each user may still change {', '.join(unlocked)} (no dconf lock)"


def screen_lock(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    settings = facts.desktop_settings
    _gnome(settings)
    keys = (IDLE, LOCK, LOCK_DELAY)
    evidence = _evidence(settings, *keys)
    most = params["max_seconds"]
    idle = int(settings.values.get(IDLE, "0") or 0)
    delay = int(settings.values.get(LOCK_DELAY, "0") or 0)
    if settings.values.get(LOCK) != "true":
        message = "the screen saver does not lock the screen (lock-enabled is false)"
    elif idle == 0:
        message = "the session never goes idle (idle-delay 0), so the screen never locks"
    elif idle + delay > most:
        message = (
            f"the screen locks after {idle + delay} s without input (idle-delay {idle}, "
            f"lock-delay {delay}; policy: at most {most})"
        )
    else:
        message = f"the screen locks after {idle + delay} s without input" + _note_unlocked(
            settings, keys
        )
        return [Finding(Status.PASS, "desktop:screen_lock", message, evidence)]
    return [Finding(Status.FAIL, "desktop:screen_lock", message, evidence)]


def media_automount(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    settings = facts.desktop_settings
    _gnome(settings)
    keys = (AUTOMOUNT, AUTOMOUNT_OPEN)
    evidence = _evidence(settings, *keys)
    on = [k.split()[1] for k in keys if settings.values.get(k) == "true"]
    if on:
        message = (
            f"removable media are mounted and opened as soon as they are plugged in "
            f"({', '.join(on)} is true; GNOME's default)"
        )
        return [Finding(Status.FAIL, "desktop:automount", message, evidence)]
    message = "removable media are not mounted automatically" + _note_unlocked(settings, keys)
    return [Finding(Status.PASS, "desktop:automount", message, evidence)]
