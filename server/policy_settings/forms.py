"""A notifier's settings as form fields, read from its frozen settings dataclass (the registry
is the one description of what each channel takes), and a submitted form back into the JSON
object ``build_notifier`` validates.

Secrets (fields declared ``repr=False``) are write-only: the form never carries their value; a
blank secret keeps the stored one, a typed one replaces it, and an optional secret can be
removed with its "remove" box.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from server.notify import NOTIFIERS
from server.policy_settings.alerting import SettingsError

MAX_TEXT = 2000
MAX_LINES = 100


@dataclass(frozen=True)
class SettingField:
    name: str
    # text | secret | int | float | bool | choice | lines
    widget: str
    required: bool
    optional: bool  # may be absent / null
    default: Any
    choices: tuple[str, ...] = ()


def _unwrap(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return args[0], True
    return hint, False


def setting_fields(kind: str) -> list[SettingField]:
    """The kind's settings, required ones first, in the dataclass's order otherwise."""
    cls = NOTIFIERS[kind].settings_class
    hints = typing.get_type_hints(cls)
    found: list[SettingField] = []
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        hint, optional = _unwrap(hints[field.name])
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        # A default_factory (helo_name: the host's name) is computed at send time: show none.
        default = None if field.default is dataclasses.MISSING else field.default
        choices: tuple[str, ...] = ()
        if not field.repr:
            widget = "secret"
        elif typing.get_origin(hint) is Literal:
            widget, choices = "choice", tuple(str(arg) for arg in typing.get_args(hint))
        elif typing.get_origin(hint) is tuple:
            widget = "lines"
        elif hint is bool:
            widget = "bool"
        elif hint is int:
            widget = "int"
        elif hint is float:
            widget = "float"
        else:
            widget = "text"
        found.append(SettingField(field.name, widget, required, optional, default, choices))
    return sorted(found, key=lambda f: not f.required)


def form_key(name: str) -> str:
    return f"s.{name}"


def clear_key(name: str) -> str:
    return f"clear.{name}"


def settings_from_form(
    kind: str,
    form: Mapping[str, str],
    stored: Mapping[str, Any] | None,
    lost: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The settings object a submitted form describes; ``SettingsError`` names a field that
    cannot even be read (a word where a number goes). Meaning is checked by the notifier.
    ``lost``: stored secrets this server's key cannot open; left blank, they would silently
    vanish (a webhook would stop signing), so each must be entered again or cleared."""
    raw: dict[str, Any] = {}
    stored = stored or {}
    for field in setting_fields(kind):
        text = form.get(form_key(field.name), "")
        if len(text) > MAX_TEXT:
            raise SettingsError(field.name, f"at most {MAX_TEXT} characters")
        if field.widget == "secret":
            if text.strip():
                raw[field.name] = text.strip()
            elif field.name in stored and not form.get(clear_key(field.name)):
                raw[field.name] = stored[field.name]
            elif field.name in lost and not form.get(clear_key(field.name)):
                raise SettingsError(
                    field.name,
                    "the stored value cannot be opened with this server's secret key: "
                    "enter it again, or tick Clear to save the channel without it",
                )
            continue
        if field.widget == "bool":
            value = form.get(form_key(field.name)) is not None
            if value != bool(field.default):
                raw[field.name] = value
            continue
        text = text.strip()
        if field.widget == "lines":
            items = [line.strip() for line in text.splitlines() if line.strip()]
            if len(items) > MAX_LINES:
                raise SettingsError(field.name, f"at most {MAX_LINES} lines")
            if items or field.default:
                raw[field.name] = items
            continue
        if not text:
            continue  # absent: the default (or "is required")
        if field.widget == "int":
            if not (text.isdigit() or (text.startswith("-") and text[1:].isdigit())):
                raise SettingsError(field.name, "must be a whole number")
            raw[field.name] = int(text)
        elif field.widget == "float":
            try:
                number = float(text)
            except ValueError:
                raise SettingsError(field.name, "must be a number") from None
            if not math.isfinite(number):
                raise SettingsError(field.name, "must be a number")
            raw[field.name] = number
        else:
            raw[field.name] = text
    return raw


def form_values(kind: str, settings: Mapping[str, Any]) -> dict[str, str]:
    """What the form shows for stored (or just submitted) settings: secrets never."""
    values: dict[str, str] = {}
    for field in setting_fields(kind):
        if field.widget == "secret":
            continue
        value = settings.get(field.name, field.default)
        if value is None:
            values[field.name] = ""
        elif field.widget == "lines":
            values[field.name] = "\n".join(str(item) for item in value)
        elif field.widget == "bool":
            values[field.name] = "1" if value else ""
        else:
            values[field.name] = str(value)
    return values
