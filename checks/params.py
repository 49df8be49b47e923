"""Check parameters: declared with a type and default, checked when a policy supplies values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checks.errors import ParameterError

PARAM_TYPES = ("int", "bool", "str", "list[int]", "list[str]")


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python; a policy's `true` is not a port number.
    return isinstance(value, int) and not isinstance(value, bool)


def value_matches(type_name: str, value: Any) -> bool:
    if type_name == "int":
        return _is_int(value)
    if type_name == "bool":
        return isinstance(value, bool)
    if type_name == "str":
        return isinstance(value, str)
    if type_name == "list[int]":
        return isinstance(value, list | tuple) and all(_is_int(item) for item in value)
    if type_name == "list[str]":
        return isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
    return False


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str
    default: Any
    description_zh: str
    description_en: str
    minimum: int | None = None  # for int and list[int]

    def validate(self, value: Any) -> Any:
        """The value to use, or ParameterError naming what is wrong."""
        if not value_matches(self.type, value):
            raise ParameterError(
                f"parameter {self.name} must be {self.type}, got {type(value).__name__} "
                f"{_preview(value)}"
            )
        if self.minimum is not None:
            numbers = value if isinstance(value, list | tuple) else [value]
            too_small = [n for n in numbers if n < self.minimum]
            if too_small:
                raise ParameterError(
                    f"parameter {self.name} must be at least {self.minimum}, got {too_small[0]}"
                )
        # A fresh list each time, so no check can change a default for the next scan.
        return list(value) if isinstance(value, list | tuple) else value

    def to_dict(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "type": self.type,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
            "description": {"zh": self.description_zh, "en": self.description_en},
        }
        if self.minimum is not None:
            described["minimum"] = self.minimum
        return described


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def resolve_params(specs: tuple[ParamSpec, ...], given: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with the policy's values. Names the check does not know are ignored:
    a newer server may send parameters an older agent has never heard of."""
    return {spec.name: spec.validate(given.get(spec.name, spec.default)) for spec in specs}
