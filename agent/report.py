"""The content of a report (docs/architecture.md, ``POST /api/v1/agent/reports``), minus the
numbering that the spool adds when it sends.

The server refuses a whole report for one malformed result (400), and a refused report is a
lost scan. So results are fitted to the contract here, before they are spooled: unknown keys
dropped, strings cut to their limits, oversized evidence replaced by a note saying so. The
limits are the contract's (xunjian/core/contract/), the very numbers the server checks.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any

from xunjian.core.contract import (
    CHECK_ID_PATTERN,
    EVIDENCE_MAX_BYTES,
    INVENTORY_MAX_BYTES,
    MAX_RESULTS,
    MAX_RULES,
    MESSAGE_ID_MAX,
    MESSAGE_ID_PATTERN,
    MESSAGE_MAX,
    MESSAGE_PARAM_MAX,
    MESSAGE_PARAM_NAME_PATTERN,
    MESSAGE_PARAMS_MAX,
    OS_BUILD_MAX,
    OS_NAME_MAX,
    OS_VERSION_MAX,
    PLATFORM_NAME_MAX,
    PLATFORM_PATTERN,
    RESOURCE_MAX,
    RULE_TAG_MAX,
    RULE_TAG_PATTERN,
    SEVERITIES,
    STATUSES,
)

log = logging.getLogger(__name__)

_CHECK_ID = re.compile(CHECK_ID_PATTERN)
_RULE_TAG = re.compile(RULE_TAG_PATTERN)
_MESSAGE_ID = re.compile(MESSAGE_ID_PATTERN)
_PARAM_NAME = re.compile(MESSAGE_PARAM_NAME_PATTERN)
_PLATFORM = re.compile(PLATFORM_PATTERN)
# When a scan has more results than a report may carry, the ones that need attention go first.
_KEEP_FIRST = {"fail": 0, "error": 1, "no_privilege": 2, "not_applicable": 3, "pass": 4}


def _encoded_size(value: Any, limit: int) -> int:
    """The size the server measures against ``limit``: the contract's compact UTF-8 encoding
    (msgspec's). The stdlib's differs only in how some floats are spelt (``1e-05`` against
    ``0.00001``: at most 1.4 times as long or short), so below 5/8 of the limit its size
    decides; above, msgspec measures exactly. msgspec is imported only then: it costs the agent
    about 3 MB resident, and the idle service stays without it (docs/PERFORMANCE.md)."""
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size * 8 <= limit * 5:
        return size
    import msgspec

    return len(msgspec.json.encode(value))


def readable_text(text: str) -> str:
    """``text`` as valid UTF-8 for people and the wire. A name read from the OS (a file, a link's
    target) that is not UTF-8 arrives as surrogate escapes (``os.fsdecode``), which no UTF-8
    encoder takes: a world-writable file named ``shell-\\xff.php`` made the whole report fail.
    Such bytes become ``\\xff``-style escapes; text that is valid already is returned as is."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte (JSON's "\\ud800")
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


def _readable_json(value: Any) -> Any:
    """Every string (keys too) of a JSON value made ``readable_text``."""
    if isinstance(value, str):
        return readable_text(value)
    if isinstance(value, list):
        return [_readable_json(item) for item in value]
    if isinstance(value, dict):
        return {readable_text(key): _readable_json(item) for key, item in value.items()}
    return value


def _fitted_json(value: Any, limit: int) -> tuple[Any, int]:
    """``value`` made plain JSON, and its encoded size; walked for unencodable text only when
    encoding failed (nearly never: the common path costs nothing more)."""
    value = _plain_json(value)
    try:
        return value, _encoded_size(value, limit)
    except UnicodeEncodeError:
        value = _readable_json(value)
        return value, _encoded_size(value, limit)


def _plain_json(value: Any) -> Any:
    """Make ``value`` JSON-clean the way the server reads it: odd types become strings, and a
    NaN or infinity becomes null (they are not JSON; the server refuses a body that has one)."""
    return json.loads(
        json.dumps(value, ensure_ascii=False, default=str), parse_constant=lambda _: None
    )


def fit_result(raw: Any) -> dict[str, Any] | None:
    """One result fitted to the contract, or None when it names no usable check."""
    if not isinstance(raw, dict):
        return None
    check_id = raw.get("check_id")
    if not isinstance(check_id, str) or not _CHECK_ID.fullmatch(check_id):
        log.warning("dropping a result with a malformed check_id: %r", check_id)
        return None
    status = raw.get("status")
    message = str(raw.get("message", ""))
    if status not in STATUSES:
        message = f"(agent: unknown status {status!r:.40}) {message}"
        status = "error"
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        severity = "medium"
    resource = raw.get("resource")
    if not isinstance(resource, str) or not resource:
        resource = "host"
    evidence = raw.get("evidence", {})
    if not isinstance(evidence, dict):
        evidence = {"value": evidence}
    evidence, size = _fitted_json(evidence, EVIDENCE_MAX_BYTES)
    if size > EVIDENCE_MAX_BYTES:
        evidence = {"truncated": True, "encoded_bytes": size}
    rules = raw.get("rules", [])
    if not isinstance(rules, list):
        rules = []
    rules = [
        tag
        for tag in rules
        if isinstance(tag, str) and len(tag) <= RULE_TAG_MAX and _RULE_TAG.fullmatch(tag)
    ]
    return {
        "check_id": check_id,
        "status": status,
        "resource": readable_text(resource)[:RESOURCE_MAX],
        "message": readable_text(message)[:MESSAGE_MAX],
        "severity": severity,
        "evidence": evidence,
        "rules": rules[:MAX_RULES],
        **_fit_said(raw),
    }


def _fit_said(raw: dict[str, Any]) -> dict[str, Any]:
    """The message id and its parameters when they fit the contract; else neither, and the
    English ``message`` alone stands (a report is never refused for them)."""
    message_id, params = raw.get("message_id"), raw.get("params", {})
    if (
        not isinstance(message_id, str)
        or len(message_id) > MESSAGE_ID_MAX
        or not _MESSAGE_ID.fullmatch(message_id)
        or not isinstance(params, dict)
        or len(params) > MESSAGE_PARAMS_MAX
        or not all(isinstance(name, str) and _PARAM_NAME.fullmatch(name) for name in params)
    ):
        return {}
    return {
        "message_id": message_id,
        "params": {
            name: readable_text(str(value))[:MESSAGE_PARAM_MAX] for name, value in params.items()
        },
    }


def fit_results(raw_results: Iterable[Any]) -> list[dict[str, Any]]:
    fitted = [result for result in map(fit_result, raw_results) if result is not None]
    if len(fitted) > MAX_RESULTS:
        log.warning("scan gave %d results; sending the %d most urgent", len(fitted), MAX_RESULTS)
        fitted.sort(key=lambda result: _KEEP_FIRST[result["status"]])
        fitted = fitted[:MAX_RESULTS]
    return fitted


def fit_inventory(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return {"value": str(raw)[:1000]}
    inventory, size = _fitted_json(raw, INVENTORY_MAX_BYTES)
    if size > INVENTORY_MAX_BYTES:
        return {"truncated": True, "encoded_bytes": size}
    return inventory  # type: ignore[no-any-return]


def fit_platform(inventory: Any) -> dict[str, str] | None:
    """The report's ``platform`` from the scan's inventory (checks/inventory.py), fitted to the
    contract; None when the inventory names no usable platform (the server then keeps what it
    knew)."""
    if not isinstance(inventory, dict):
        return None
    name = inventory.get("platform")
    if not isinstance(name, str) or len(name) > PLATFORM_NAME_MAX or not _PLATFORM.fullmatch(name):
        return None

    def text(key: str, limit: int) -> str:
        value = inventory.get(key)
        return value[:limit] if isinstance(value, str) else ""

    return {
        "name": name,
        "os": text("os", OS_NAME_MAX),
        "version": text("os_version", OS_VERSION_MAX),
        "build": text("os_build", OS_BUILD_MAX),
    }


def report_content(
    results: Iterable[Any],
    inventory: Any,
    policy_version: int | None,
    created_at: str,
) -> dict[str, Any]:
    """Everything of a scan report except agent_id, epoch, seq, kind and gaps."""
    content = {
        "created_at": created_at,
        "policy_version": policy_version,
        "results": fit_results(results),
        "inventory": fit_inventory(inventory),
    }
    platform = fit_platform(inventory)
    if platform is not None:
        content["platform"] = platform
    return content
