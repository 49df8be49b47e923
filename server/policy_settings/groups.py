"""Groups and their policy as the console edits them, validated against the check registry.

A group's stored policy keeps only what an administrator changed (``server/policy.py``): a
check switched off, a parameter that differs from its default. Every save goes through
``server.policy.set_group_policy``, which bumps ``policy_version`` so the group's agents fetch
the new policy at their next heartbeat. A refused form changes nothing.

No Flask here; the views turn ``FormErrors`` into a 400 page naming the fields.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from server.policy import (
    APPROVED_LIST_PARAMS,
    APPROVED_NAME_LENGTH,
    BASELINE_PARAMS,
    MAX_APPROVED_NAMES,
    approved_problem,
    check_catalog,
    param_problem,
    set_group_policy,
)
from server.store.agents import hosts_per_group
from server.store.models import Group

GROUP_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_GROUPS = 1000
# Parameters a host's own baseline fills in (server/policy.py agent_policy): not per group.
PER_HOST_PARAMS = {(check_id, param) for check_id, param, _ in BASELINE_PARAMS}
# Parameters the group's approved lists add to: check id, parameter -> list name.
FED_BY_LIST = {
    target: list_name for list_name, targets in APPROVED_LIST_PARAMS.items() for target in targets
}


class FormErrors(ValueError):
    """Refused input: ``errors`` maps each bad field to its reason."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in self.errors.items()))


# --- groups -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupSummary:
    id: int
    name: str
    policy_version: int
    hosts: int
    changed_checks: int
    approved_users: int
    approved_software: int


def list_groups(session: Session) -> list[GroupSummary]:
    hosts = hosts_per_group(session)
    summaries = []
    for group in session.scalars(select(Group).order_by(Group.name)):
        policy = group.policy or {}
        approved = policy.get("approved") or {}
        summaries.append(
            GroupSummary(
                id=group.id,
                name=group.name,
                policy_version=group.policy_version,
                hosts=int(hosts.get(group.id, 0)),
                changed_checks=len(policy.get("checks") or {}),
                approved_users=len(approved.get("users") or []),
                approved_software=len(approved.get("software") or []),
            )
        )
    return summaries


def group_or_none(session: Session, group_id: int) -> Group | None:
    return session.get(Group, group_id)


def _check_group_name(session: Session, name: str, keep: int | None = None) -> str:
    if not GROUP_NAME.fullmatch(name):
        raise FormErrors({"name": "1..64 letters, digits, '_', '.', '-'"})
    taken = session.scalar(select(Group.id).where(Group.name == name))
    if taken is not None and taken != keep:
        raise FormErrors({"name": f"a group named {name!r} exists"})
    return name


def create_group(session: Session, name: str) -> Group:
    """A new group with the registry's defaults (an empty stored policy). Caller commits."""
    _check_group_name(session, name)
    if (session.scalar(select(func.count()).select_from(Group)) or 0) >= MAX_GROUPS:
        raise FormErrors({"name": f"at most {MAX_GROUPS} groups"})
    group = Group(name=name, policy={}, policy_version=1)
    session.add(group)
    session.flush()
    return group


def rename_group(session: Session, group: Group, name: str) -> int:
    """Agents and tokens refer to the group by id, so they follow; the version goes up because
    the policy document carries the name."""
    _check_group_name(session, name, keep=group.id)
    session.execute(
        update(Group)
        .where(Group.id == group.id)
        .values(name=name, policy_version=Group.policy_version + 1)
    )
    session.flush()
    session.refresh(group)
    return group.policy_version


# --- the policy form ----------------------------------------------------------------------


@dataclass(frozen=True)
class ParamField:
    name: str
    type: str
    widget: str  # int | bool | str | lines
    value: str  # as the form shows it ("1"/"" for bool)
    default: str
    description: dict[str, str]
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    changed: bool = False
    per_host: bool = False  # filled in from each host's baseline, not editable here
    fed_by: str | None = None  # the approved list that adds to it


@dataclass(frozen=True)
class CheckForm:
    id: str
    title: dict[str, str]
    category: str
    severity: str
    rules: tuple[str, ...]
    enabled: bool
    changed: bool
    params: list[ParamField] = field(default_factory=list)


def _text(type_name: str, value: Any) -> str:
    if type_name == "bool":
        return "1" if value else ""
    if type_name.startswith("list["):
        return "\n".join(str(item) for item in value or [])
    return "" if value is None else str(value)


def _widget(type_name: str) -> str:
    return {"int": "int", "bool": "bool", "str": "str"}.get(type_name, "lines")


def _catalog() -> list[dict[str, Any]]:
    return [
        entry
        for entry in check_catalog()
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    ]


def check_forms(group: Group, submitted: Mapping[str, str] | None = None) -> list[CheckForm]:
    """Every registry check with its enabled box and parameters: the stored values, or what
    was just submitted when a refused form is shown again."""
    overrides = (group.policy or {}).get("checks") or {}
    forms = []
    for entry in _catalog():
        check_id = entry["id"]
        override = overrides.get(check_id) or {}
        stored_params = override.get("params") or {}
        enabled = override.get("enabled", True) is not False
        if submitted is not None and f"c.{check_id}" in submitted:
            enabled = f"e.{check_id}" in submitted
        params = []
        for name, spec in (entry.get("params") or {}).items():
            type_name = str(spec.get("type"))
            key = f"p.{check_id}.{name}"
            if submitted is not None and f"c.{check_id}" in submitted:
                value = (
                    submitted.get(key, "")
                    if type_name != "bool"
                    else ("1" if key in submitted else "")
                )
            else:
                value = _text(type_name, stored_params.get(name, spec.get("default")))
            choices = spec.get("choices")
            params.append(
                ParamField(
                    name=name,
                    type=type_name,
                    widget=_widget(type_name),
                    value=value,
                    default=_text(type_name, spec.get("default")),
                    description=dict(spec.get("description") or {}),
                    minimum=spec.get("minimum"),
                    maximum=spec.get("maximum"),
                    choices=tuple(choices) if isinstance(choices, list) else (),
                    changed=name in stored_params,
                    per_host=(check_id, name) in PER_HOST_PARAMS,
                    fed_by=FED_BY_LIST.get((check_id, name)),
                )
            )
        forms.append(
            CheckForm(
                id=check_id,
                title=dict(entry.get("title") or {}),
                category=str(entry.get("category", "")),
                severity=str(entry.get("severity", "")),
                rules=tuple(entry.get("rules") or ()),
                enabled=enabled,
                changed=bool(override),
                params=params,
            )
        )
    return forms


def parse_value(type_name: str, text: str, checked: bool) -> Any:
    """A form field's text as the parameter's JSON value; ValueError if it cannot be read."""
    if type_name == "bool":
        return checked
    text = text.strip()
    if type_name == "int":
        if not re.fullmatch(r"-?[0-9]{1,12}", text):
            raise ValueError("must be a whole number")
        return int(text)
    if type_name == "str":
        if "\n" in text or "\r" in text:
            raise ValueError("must be one line")
        return text
    if type_name == "list[int]":
        words = [word for word in re.split(r"[\s,]+", text) if word]
        if not all(re.fullmatch(r"-?[0-9]{1,12}", word) for word in words):
            raise ValueError("must be whole numbers, one per line")
        return [int(word) for word in words]
    if type_name == "list[str]":
        return [line.strip() for line in text.splitlines() if line.strip()]
    raise ValueError(f"unsupported parameter type {type_name!r}")


def parse_policy_form(group: Group, form: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The group's new ``checks`` overrides from a submitted form, and what changed
    (``check`` or ``check.param`` names). Only checks the form carries (``c.<id>``) are read;
    the others keep their stored overrides. ``FormErrors`` names every bad field."""
    catalog = {entry["id"]: entry for entry in _catalog()}
    stored = copy.deepcopy((group.policy or {}).get("checks") or {})
    errors: dict[str, str] = {}
    for key in form:
        if key.startswith("c.") and key[2:] not in catalog:
            errors[key[2:]] = "no such check in the registry"
    result = dict(stored)
    changed: list[str] = []
    for check_id, entry in catalog.items():
        if f"c.{check_id}" not in form:
            continue
        before = stored.get(check_id) or {}
        before_params = before.get("params") or {}
        override: dict[str, Any] = {}
        if f"e.{check_id}" not in form:
            override["enabled"] = False
        params: dict[str, Any] = {}
        for name, spec in (entry.get("params") or {}).items():
            type_name = str(spec.get("type"))
            key = f"p.{check_id}.{name}"
            if (check_id, name) in PER_HOST_PARAMS:
                if name in before_params:
                    params[name] = before_params[name]
                continue
            try:
                value = parse_value(type_name, form.get(key, ""), key in form)
            except ValueError as error:
                errors[f"{check_id}.{name}"] = str(error)
                continue
            problem = param_problem(spec, value)
            if problem is not None:
                errors[f"{check_id}.{name}"] = problem
                continue
            if value != spec.get("default"):
                params[name] = value
            if value != before_params.get(name, spec.get("default")):
                changed.append(f"{check_id}.{name}")
        if params:
            override["params"] = params
        if override.get("enabled", True) != (before.get("enabled", True) is not False):
            changed.append(f"{check_id}.enabled")
        if override:
            result[check_id] = override
        else:
            result.pop(check_id, None)
    if errors:
        raise FormErrors(errors)
    return result, changed


def save_checks(
    session: Session, group: Group, checks: dict[str, Any], expected_version: int | None = None
) -> int:
    """Store the checks' overrides; ``StalePolicy`` if the group moved past
    ``expected_version`` (someone else saved since the form was made)."""
    policy = copy.deepcopy(group.policy or {})
    policy["checks"] = checks
    return set_group_policy(session, group, policy, expected_version)


def reset_check(session: Session, group: Group, check_id: str) -> int | None:
    """Back to the registry's defaults for one check; None if it had none changed."""
    policy = copy.deepcopy(group.policy or {})
    checks = policy.get("checks") or {}
    if check_id not in checks:
        return None
    del checks[check_id]
    policy["checks"] = checks
    return set_group_policy(session, group, policy)


def reset_all(session: Session, group: Group) -> int | None:
    policy = copy.deepcopy(group.policy or {})
    if not policy.get("checks"):
        return None
    policy["checks"] = {}
    return set_group_policy(session, group, policy)


# --- approved lists -------------------------------------------------------------------------


def parse_names(text: str) -> list[str]:
    """One name a line; blank lines dropped, duplicates once, sorted."""
    return sorted({line.strip() for line in text.splitlines() if line.strip()})


def parse_approved_form(form: Mapping[str, str]) -> dict[str, list[str]]:
    lists: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    for list_name in APPROVED_LIST_PARAMS:
        names = parse_names(form.get(list_name, ""))
        problem = approved_problem(list_name, names)
        if problem is not None:
            errors[list_name] = problem
        lists[list_name] = names
    if errors:
        raise FormErrors(errors)
    return lists


def approved_limits() -> dict[str, int]:
    return {"count": MAX_APPROVED_NAMES, **APPROVED_NAME_LENGTH}


def approved_lists(group: Group) -> dict[str, list[str]]:
    stored = (group.policy or {}).get("approved") or {}
    return {name: list(stored.get(name) or []) for name in APPROVED_LIST_PARAMS}


def save_approved(
    session: Session,
    group: Group,
    lists: dict[str, list[str]],
    expected_version: int | None = None,
) -> int | None:
    """Store the lists; None (and no version bump) if nothing changed; ``StalePolicy`` as
    ``save_checks``."""
    if approved_lists(group) == lists:
        return None
    policy = copy.deepcopy(group.policy or {})
    policy["approved"] = {**(policy.get("approved") or {}), **lists}
    return set_group_policy(session, group, policy, expected_version)


def form_version(form: Mapping[str, str]) -> int | None:
    """The policy version a submitted form was made from (its hidden ``version`` field)."""
    text = form.get("version", "")
    return int(text) if text.isdigit() and len(text) < 10 else None
