"""Typed JSON bodies: the base every body shared by agent and server derives from, and decoding
that names the exact place of a fault (docs/architecture.md, "Bodies and validation").

Bodies are msgspec Structs: the same class validates a body (unknown keys refused, every
string, list and number bounded through ``Annotated[..., Meta(...)]``) and describes it in the
OpenAPI document (``msgspec.json.schema_components``), so the two cannot drift apart. msgspec
was chosen over pydantic v2 by the measured intake cost per report (bench/schema_cost.py,
docs/PERFORMANCE.md). It is small and pure C with wheels for Linux and Windows, so the agent
may import this module too; it still imports neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

MAX_SAFE_INTEGER = 2**53 - 1  # what JavaScript clients can still read exactly

# msgspec ends a validation message with " - at `$.results[3].status`"; the part before the
# marker is the reason, the part after it the place.
_PLACE = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<place>[^`]*)`)?$", re.DOTALL)


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """The base of every JSON body: unknown keys are refused, fields are keyword-only."""


class BodyError(ValueError):
    """A body does not match its schema; ``str()`` is ``place: reason``, the 400's text."""

    def __init__(self, place: str, reason: str) -> None:
        super().__init__(f"{place}: {reason}")
        self.place = place
        self.reason = reason


# A check in a Struct's ``__post_init__`` names its field with field_error; msgspec puts the
# place of the Struct after it, and _body_error joins the two. A missing field, which msgspec
# places at the object that lacks it, is placed at the field itself.
_FIELD = re.compile(r"^field `(?P<name>[^`]+)`: (?P<reason>.*)$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")


def field_error(name: str, reason: str) -> ValueError:
    """For ``__post_init__``: a fault of field ``name`` (a 400 placed at that field)."""
    return ValueError(f"field `{name}`: {reason}")


def _body_error(error: msgspec.ValidationError) -> BodyError:
    match = _PLACE.match(str(error))
    assert match is not None  # the pattern matches every string
    place = (match.group("place") or "").lstrip(".")
    reason = match.group("reason")
    named = _FIELD.match(reason) or _MISSING.match(reason)
    if named is not None:
        place = f"{place}.{named.group('name')}" if place else named.group("name")
        reason = named.group("reason") if "reason" in named.groupdict() else "is required"
    return BodyError(place or "body", reason[:1].lower() + reason[1:])


def decode_json(data: bytes, model: type[T]) -> T:
    """Parse and validate a JSON body in one pass; BodyError names the place of the fault."""
    try:
        return msgspec.json.decode(data, type=model)
    except msgspec.ValidationError as error:
        raise _body_error(error) from None
    except msgspec.DecodeError as error:
        raise BodyError("body", f"not valid JSON ({error})") from None
    except RecursionError:
        # msgspec's own depth guard (about 1,000 levels); raised before any stack is at risk.
        raise BodyError("body", "nested too deeply") from None


def convert(value: Any, model: type[T], *, from_text: bool = False) -> T:
    """Validate an already parsed value (a dict from a form or a query string, a stored row).

    ``from_text`` accepts numbers and booleans spelled as text, as query strings and forms
    carry them ("3", "true"); JSON bodies never get that leniency.
    """
    try:
        return msgspec.convert(value, model, strict=not from_text)
    except msgspec.ValidationError as error:
        raise _body_error(error) from None


def convert_query(args: Mapping[str, str], model: type[T]) -> T:
    """A query string's parameters as ``model`` (one value per name; the first one wins)."""
    return convert(dict(args.items()), model, from_text=True)


def to_builtins(value: Any) -> Any:
    """A Struct (or anything msgspec encodes) as plain dicts and lists, for jsonify."""
    return msgspec.to_builtins(value)


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)
