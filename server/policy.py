"""Per-group policy: which checks run with which parameters, and the approved lists.

A group row stores only what an administrator changed (``Group.policy``); the document an agent
receives fills in every check of the registry with its defaults. ``Group.policy_version`` goes
up on every change, so agents know when to fetch again.
"""

from __future__ import annotations

import copy
import logging
import re
from functools import cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.config import ServerConfig
from server.files.policy import watch_section
from server.store.models import Group, HostBaseline, Inventory, utcnow

log = logging.getLogger("xunjian.server.policy")


@cache
def check_catalog() -> list[dict[str, Any]]:
    """Every check's metadata from the check registry; empty if the registry fails to load.

    Imported lazily: the registry belongs to the ``checks`` package, which the server only reads.
    Cached: the registry is fixed for the life of the process. Callers must not modify it.
    """
    from checks.api import registry_catalog

    try:
        return list(registry_catalog())
    except Exception:  # a broken registry must not take the agent API down with it
        log.exception("the check registry failed to load; serving policy without defaults")
        return []


def _default_params(entry: dict[str, Any]) -> dict[str, Any]:
    params = entry.get("params") or {}
    if isinstance(params, dict):
        return {
            name: spec.get("default") if isinstance(spec, dict) and "default" in spec else spec
            for name, spec in params.items()
        }
    if isinstance(params, list):
        return {
            spec["name"]: spec.get("default")
            for spec in params
            if isinstance(spec, dict) and "name" in spec
        }
    return {}


# The group's approved lists are what the checks judge against: each list feeds these check
# parameters (added to any values an administrator set on the parameter itself). One explicit
# map, so a reader sees which check consumes which list.
APPROVED_LIST_PARAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "users": (("accounts.unapproved", "approved"),),
    "software": (("software.allow_list", "allowed"),),
}


# Bounds of the approved lists an administrator keeps per group (the console refuses more).
MAX_APPROVED_NAMES = 2000
APPROVED_NAME_LENGTH = {"users": 64, "software": 200}
# Beyond letters and digits (any script): account names as Linux and Windows write them
# (DOMAIN\user, user$, user@realm); package names and the patterns software.allow_list takes
# (lib*, python3.11, g++, section:games, "Microsoft Visual C++ 2015 (x64)").
APPROVED_NAME_PUNCTUATION = {"users": "._-$@\\ ", "software": "._-+:*?[]~()@,&/ '"}


def approved_problem(list_name: str, names: list[str]) -> str | None:
    """Why ``names`` cannot be the group's approved ``list_name`` list, or None."""
    if list_name not in APPROVED_LIST_PARAMS:
        return f"unknown list {list_name!r}"
    if len(names) > MAX_APPROVED_NAMES:
        return f"at most {MAX_APPROVED_NAMES} names"
    length = APPROVED_NAME_LENGTH[list_name]
    allowed = APPROVED_NAME_PUNCTUATION[list_name]
    for name in names:
        if not 0 < len(name) <= length:
            return f"each name is 1..{length} characters"
        if name != name.strip():
            return f"{name!r} starts or ends with a space"
        bad = sorted({ch for ch in name if not (ch.isalnum() or ch in allowed)})
        if bad:
            return f"{name!r} has characters not allowed in a name: {' '.join(bad)}"
    return None


# Parameter values an administrator sets are bounded even where the check declares no bound.
MAX_PARAM_INT = 1_000_000_000
MAX_PARAM_TEXT = 1000
MAX_PARAM_ITEMS = 2000
PARAM_TYPES = ("int", "bool", "str", "list[int]", "list[str]")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def param_problem(spec: dict[str, Any], value: Any) -> str | None:
    """Why ``value`` does not fit a parameter described by ``spec`` (a ``params`` entry of
    ``check_catalog()``: type, minimum, and maximum or choices where declared), or None."""
    kind = spec.get("type")
    if kind not in PARAM_TYPES:
        return f"unsupported parameter type {kind!r}"
    items = value if kind.startswith("list[") else [value]
    if kind.startswith("list["):
        if not isinstance(value, list):
            return "must be a list"
        if len(value) > MAX_PARAM_ITEMS:
            return f"at most {MAX_PARAM_ITEMS} items"
    item_type = kind.removeprefix("list[").removesuffix("]")
    minimum, maximum = spec.get("minimum"), spec.get("maximum")
    choices = spec.get("choices")
    for item in items:
        if item_type == "bool":
            if not isinstance(item, bool):
                return "must be true or false"
        elif item_type == "int":
            if not _is_int(item):
                return "must be a whole number"
            low = minimum if _is_int(minimum) else -MAX_PARAM_INT
            high = maximum if _is_int(maximum) else MAX_PARAM_INT
            if not low <= item <= high:
                return f"must be between {low} and {high}"
        else:
            if not isinstance(item, str):
                return "must be text"
            if len(item) > MAX_PARAM_TEXT:
                return f"at most {MAX_PARAM_TEXT} characters"
            if any(not ch.isprintable() for ch in item):
                return "must be one line of printable text"
        if isinstance(choices, list) and choices and item not in choices:
            return f"must be one of {', '.join(str(choice) for choice in choices)}"
    return None


def _apply_approved_lists(
    checks: dict[str, dict[str, Any]], approved: dict[str, list[str]]
) -> None:
    for list_name, targets in APPROVED_LIST_PARAMS.items():
        names = approved.get(list_name) or []
        if not names:
            continue
        for check_id, param in targets:
            if check_id not in checks:
                continue
            params = checks[check_id]["params"]
            current = params.get(param) or []
            params[param] = sorted({*current, *names}) if isinstance(current, list) else names


def effective_policy(group: Group, config: ServerConfig) -> dict[str, Any]:
    """The document ``GET /api/v1/agent/policy`` returns for agents of ``group``."""
    stored = group.policy or {}
    checks: dict[str, dict[str, Any]] = {
        entry["id"]: {"enabled": True, "params": copy.deepcopy(_default_params(entry))}
        for entry in check_catalog()
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    }
    for check_id, override in (stored.get("checks") or {}).items():
        current = checks.setdefault(check_id, {"enabled": True, "params": {}})
        if "enabled" in override:
            current["enabled"] = bool(override["enabled"])
        current["params"] = {**current["params"], **(override.get("params") or {})}
    approved_stored = stored.get("approved") or {}
    approved = {
        "users": list(approved_stored.get("users") or []),
        "software": list(approved_stored.get("software") or []),
    }
    _apply_approved_lists(checks, approved)
    return {
        "version": group.policy_version,
        "group": group.name,
        "checks": checks,
        "schedules": {
            "scan_interval_seconds": config.scan_interval_seconds,
            "heartbeat_interval_seconds": config.heartbeat_interval_seconds,
        },
        "approved": approved,
        # The file watcher's folders and sensitive words (server/files/policy.py).
        "watch": watch_section(stored),
    }


class StalePolicy(Exception):
    """The group's policy changed since the version the caller started from (another edit)."""


def set_group_policy(
    session: Session,
    group: Group,
    policy: dict[str, Any],
    expected_version: int | None = None,
) -> int:
    """Replace a group's stored policy and bump its version; returns the new version.

    The bump is an UPDATE ... SET version = version + 1, so two simultaneous edits cannot both
    produce the same version number. With ``expected_version`` (the version a person's form
    was made from) the UPDATE only happens while the group is still at that version, else
    ``StalePolicy``: an edit never silently overwrites another made in between.
    """
    statement = update(Group).where(Group.id == group.id)
    if expected_version is not None:
        statement = statement.where(Group.policy_version == expected_version)
    changed = session.execute(
        statement.values(policy=copy.deepcopy(policy), policy_version=Group.policy_version + 1)
    ).rowcount
    if changed != 1:
        raise StalePolicy(f"group {group.id} is no longer at policy version {expected_version}")
    session.flush()
    session.refresh(group)
    return group.policy_version


def group_by_id(session: Session, group_id: int) -> Group:
    return session.execute(select(Group).where(Group.id == group_id)).scalar_one()


# The checks that judge a host against its own baseline, and which list each one takes.
BASELINE_PARAMS: tuple[tuple[str, str, str], ...] = (
    ("accounts.added_since_baseline", "baseline", "accounts"),
    ("accounts.windows_added_since_baseline", "baseline", "account_sids"),
    ("software.baseline", "baseline", "packages"),
)
MAX_BASELINE_NAMES = 20_000


def _names(value: Any) -> list[str] | None:
    if not isinstance(value, list) or len(value) > MAX_BASELINE_NAMES:
        return None
    names = [item for item in value if isinstance(item, str) and 0 < len(item) <= 255]
    return sorted(set(names)) if len(names) == len(value) else None


_SID = re.compile(r"S-1-[0-9]{1,14}(?:-[0-9]{1,10}){1,15}")


def _sids(value: Any) -> list[str] | None:
    """A list of SIDs (``S-1-5-21-...-1001``), as ``_names``; None if any item is not one."""
    names = _names(value)
    if names is None or not all(_SID.fullmatch(name) for name in names):
        return None
    return names


def host_baseline(session: Session, agent_id: str) -> HostBaseline | None:
    """The host's baseline; taken from its newest inventory the first time one carries it.

    The agent sends the lists in every inventory (``inventory.baseline``); only the first that
    reaches the server becomes the baseline, so later additions show as additions."""
    baseline = session.get(HostBaseline, agent_id)
    if baseline is not None:
        return baseline
    inventory = session.get(Inventory, agent_id)
    sent = (inventory.data or {}).get("baseline") if inventory is not None else None
    if not isinstance(sent, dict):
        return None
    accounts, packages = _names(sent.get("accounts")), _names(sent.get("packages"))
    # A Windows host's accounts by SID; an older agent sends none (None, like an unreadable list).
    account_sids = _sids(sent.get("account_sids"))
    if accounts is None and packages is None and account_sids is None:
        return None
    baseline = HostBaseline(
        agent_id=agent_id,
        accounts=accounts,
        account_sids=account_sids,
        packages=packages,
        taken_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(baseline)
    except IntegrityError:
        # Another server process took it at the same moment: theirs is as good as ours.
        return session.get(HostBaseline, agent_id)
    log.info("took the baseline of agent %s from its inventory", agent_id)
    return baseline


def agent_policy(
    session: Session, agent_id: str, group: Group, config: ServerConfig
) -> dict[str, Any]:
    """The group's policy, plus this host's own baseline for the checks that judge against it."""
    document = effective_policy(group, config)
    baseline = host_baseline(session, agent_id)
    if baseline is not None:
        for check_id, param, list_name in BASELINE_PARAMS:
            names = getattr(baseline, list_name)
            if names is not None and check_id in document["checks"]:
                document["checks"][check_id]["params"][param] = list(names)
    return document
