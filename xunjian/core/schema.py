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
# What text and numbers a body may hold, wherever they are (free JSON such as evidence and
# inventory included), so SQLite and PostgreSQL take or refuse a body alike:
# * no NUL (U+0000): PostgreSQL text and jsonb cannot store it (a 500 there, stored on SQLite),
#   and no name, path or message needs one;
# * no lone surrogate (``\ud800``): not a character, not encodable as UTF-8 (msgspec refuses
#   the escape while parsing);
# * nesting within msgspec's guard (about 1,000 levels; JSON_MAX_DEPTH is tighter for evidence
#   and inventory);
# * integers within 64 bits (signed or unsigned): what SQLite's JSON functions, PostgreSQL's
#   jsonb readers and every other reader of a stored document take back exactly.
INTEGER_BOUNDS = (-(2**63), 2**64 - 1)
_NUL_ESCAPE = b"\\u0000"
# 2**63 has 19 digits: shorter runs of digits are in bounds. Found by mapping every digit to
# one byte and everything else to another, then one substring search: 5 us for a 9 KB report,
# where the regex [0-9]{19,} took 72-80 us (as long as msgspec's whole decode of it).
_DIGITS = bytes(1 if byte in b"0123456789" else 0 for byte in range(256))
_LONG_RUN = b"\x01" * 19


def _has_long_number(data: bytes) -> bool:
    return _LONG_RUN in data.translate(_DIGITS)


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


def check_content(value: Any, place: str = "") -> None:
    """BodyError when ``value`` holds a NUL in any text (keys included) or an integer outside
    INTEGER_BOUNDS: what no body may hold (see above)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BodyError(place or "body", "text may not contain NUL characters")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if not INTEGER_BOUNDS[0] <= value <= INTEGER_BOUNDS[1]:
            raise BodyError(place or "body", "integer out of range (64 bits at most)")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{place}.{key}" if place else str(key)
            if isinstance(key, str) and "\x00" in key:
                raise BodyError(place or "body", "a key may not contain NUL characters")
            check_content(item, where)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_content(item, f"{place}[{index}]")


def decode_json(data: bytes, model: type[T]) -> T:
    """Parse and validate a JSON body in one pass; BodyError names the place of the fault."""
    try:
        body = msgspec.json.decode(data, type=model)
    except msgspec.ValidationError as error:
        raise _body_error(error) from None
    except msgspec.DecodeError as error:
        raise BodyError("body", f"not valid JSON ({error})") from None
    except RecursionError:
        # msgspec's own depth guard (about 1,000 levels); raised before any stack is at risk.
        raise BodyError("body", "nested too deeply") from None
    # Only a body whose bytes could hold a NUL or a long number is walked (a NUL travels as
    # the escape; a raw control character is already invalid JSON), so a usual report costs
    # two byte searches.
    if _NUL_ESCAPE in data or _has_long_number(data):
        check_content(to_builtins(body))
    return body


def convert(value: Any, model: type[T], *, from_text: bool = False) -> T:
    """Validate an already parsed value (a dict from a form or a query string, a stored row).

    ``from_text`` accepts numbers and booleans spelled as text, as query strings and forms
    carry them ("3", "true"); JSON bodies never get that leniency.
    """
    if from_text:  # forms and query strings: small, and text from people
        check_content(value)
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
