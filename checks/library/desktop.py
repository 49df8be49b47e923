"""A desktop left alone locks itself, and does not mount whatever is plugged in."""

from __future__ import annotations

from typing import Any

from checks.errors import NotApplicable
from checks.facts import DesktopSettings
from checks.factset import Facts
from checks.messages import said, say
from checks.model import Finding, Status

IDLE = "org.gnome.desktop.session idle-delay"
LOCK = "org.gnome.desktop.screensaver lock-enabled"
LOCK_DELAY = "org.gnome.desktop.screensaver lock-delay"
AUTOMOUNT = "org.gnome.desktop.media-handling automount"
AUTOMOUNT_OPEN = "org.gnome.desktop.media-handling automount-open"


def _gnome(settings: DesktopSettings) -> None:
    if not settings.desktops:
        raise said(NotApplicable, "desktop.none")
    if not settings.gnome_settings:
        raise said(NotApplicable, "desktop.not_gnome", desktops=", ".join(settings.desktops))


def _evidence(settings: DesktopSettings, *keys: str) -> dict[str, Any]:
    return {
        "desktops": list(settings.desktops),
        "values": {k: settings.values.get(k) for k in keys},
        "sources": {k: settings.sources.get(k) for k in keys},
        "locked": [k for k in keys if k in settings.locked],
    }


def _unlocked(settings: DesktopSettings, keys: tuple[str, ...]) -> str:
    """The settings each user may still change (no dconf lock), "" when all are locked."""
    return ", ".join(k.split()[1] for k in keys if k not in settings.locked)


def screen_lock(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    settings = facts.desktop_settings
    _gnome(settings)
    keys = (IDLE, LOCK, LOCK_DELAY)
    evidence = _evidence(settings, *keys)
    most = params["max_seconds"]
    idle = int(settings.values.get(IDLE, "0") or 0)
    delay = int(settings.values.get(LOCK_DELAY, "0") or 0)
    resource = "desktop:screen_lock"
    if settings.values.get(LOCK) != "true":
        return [say(Status.FAIL, resource, "desktop.lock_disabled", evidence)]
    if idle == 0:
        return [say(Status.FAIL, resource, "desktop.never_idle", evidence)]
    if idle + delay > most:
        return [
            say(
                Status.FAIL,
                resource,
                "desktop.lock_late",
                evidence,
                seconds=idle + delay,
                idle=idle,
                delay=delay,
                allowed=most,
            )
        ]
    unlocked = _unlocked(settings, keys)
    if unlocked:
        return [
            say(
                Status.PASS,
                resource,
                "desktop.locks_unlocked",
                evidence,
                seconds=idle + delay,
                unlocked=unlocked,
            )
        ]
    return [say(Status.PASS, resource, "desktop.locks", evidence, seconds=idle + delay)]


def media_automount(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    settings = facts.desktop_settings
    _gnome(settings)
    keys = (AUTOMOUNT, AUTOMOUNT_OPEN)
    evidence = _evidence(settings, *keys)
    on = [k.split()[1] for k in keys if settings.values.get(k) == "true"]
    resource = "desktop:automount"
    if on:
        return [say(Status.FAIL, resource, "desktop.automount", evidence, keys=", ".join(on))]
    unlocked = _unlocked(settings, keys)
    if unlocked:
        return [
            say(Status.PASS, resource, "desktop.no_automount_unlocked", evidence, unlocked=unlocked)
        ]
    return [say(Status.PASS, resource, "desktop.no_automount", evidence)]
