"""Running registered checks against facts, turning every outcome into a result."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from checks.errors import CollectError, NoPrivilege, NotApplicable, ParameterError
from checks.factset import Facts, FactSource
from checks.messages import MESSAGES, say
from checks.model import Finding, Result, Severity, Status, truncate_text
from checks.params import resolve_params
from checks.registry import REGISTRY, CheckSpec

PolicyChecks = Mapping[str, Mapping[str, Any]]


def _result(
    spec: CheckSpec,
    status: Status,
    message: str,
    resource: str = "host",
    message_id: str = "",
    params: dict[str, str] | None = None,
) -> Result:
    return Result(
        check_id=spec.id,
        status=status,
        resource=resource,
        message=message,
        evidence={},
        rules=list(spec.rules),
        severity=spec.severity,
        message_id=message_id,
        params=dict(params or {}),
    )


def _said_result(spec: CheckSpec, status: Status, message_id: str, **params: Any) -> Result:
    """A result of the engine's own, said by ``message_id`` (checks/messages.py)."""
    finding = say(status, "host", message_id, **params)
    return _result(spec, status, finding.message, "host", message_id, finding.params)


def _error_result(spec: CheckSpec, status: Status, error: CollectError) -> Result:
    """A collector's error as a result, by its message id when it was raised with one."""
    return _result(spec, status, str(error), "host", error.message_id, error.params)


def _stamp(spec: CheckSpec, finding: Finding) -> Result:
    return Result(
        check_id=spec.id,
        status=Status(finding.status),
        resource=finding.resource,
        message=finding.message,
        evidence=dict(finding.evidence),
        rules=list(spec.rules),
        severity=Severity(finding.severity or spec.severity),
        message_id=finding.message_id,
        params=dict(finding.params),
    )


def _policy_entry(spec: CheckSpec, policy: PolicyChecks) -> tuple[bool, Mapping[str, Any]]:
    entry = policy.get(spec.id, {})
    if not isinstance(entry, Mapping):
        raise ParameterError(f"the policy entry for {spec.id} is not an object")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ParameterError(f"'enabled' for {spec.id} must be true or false, got {enabled!r}")
    params = entry.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise ParameterError(f"'params' for {spec.id} must be an object")
    return enabled, params


def run_check(
    spec: CheckSpec, source: FactSource, platform: str, given: Mapping[str, Any]
) -> list[Result]:
    """One check's results; whatever goes wrong becomes a result, never an exception."""
    if platform not in spec.platforms:
        return [
            _said_result(
                spec,
                Status.NOT_APPLICABLE,
                "engine.other_platform",
                platforms=", ".join(spec.platforms),
                platform=platform,
            )
        ]
    try:
        params = resolve_params(spec.params, given)
    except ParameterError as exc:
        return [_result(spec, Status.ERROR, f"the policy gives this check a bad value: {exc}")]
    facts = Facts(source, frozenset(spec.facts))
    try:
        findings = spec.function(facts, params)
    except NoPrivilege as exc:
        return [_error_result(spec, Status.NO_PRIVILEGE, exc)]
    except NotApplicable as exc:
        return [_error_result(spec, Status.NOT_APPLICABLE, exc)]
    except CollectError as exc:
        return [_result(spec, Status.ERROR, f"facts could not be collected: {exc}")]
    except Exception as exc:
        return [_result(spec, Status.ERROR, f"the check failed: {type(exc).__name__}: {exc}")]
    if not findings:
        return [_said_result(spec, Status.ERROR, "engine.no_result")]
    return [_stamp(spec, finding) for finding in findings]


def _unknown_check(check_id: str) -> Result:
    return Result(
        check_id=truncate_text(str(check_id), 100),
        status=Status.ERROR,
        resource="host",
        message=MESSAGES["engine.unknown_check"][0],
        evidence={},
        rules=[],
        severity=Severity.INFO,
        message_id="engine.unknown_check",
    )


def run_checks(
    source: FactSource,
    platform: str,
    policy: PolicyChecks | None = None,
    specs: Iterable[CheckSpec] | None = None,
) -> list[Result]:
    policy = policy or {}
    chosen = list(REGISTRY.values()) if specs is None else list(specs)
    results: list[Result] = []
    for spec in chosen:
        try:
            enabled, given = _policy_entry(spec, policy)
        except ParameterError as exc:
            results.append(_result(spec, Status.ERROR, f"the policy is malformed: {exc}"))
            continue
        if enabled:
            results.extend(run_check(spec, source, platform, given))
    if specs is None:
        for check_id, entry in policy.items():
            wanted = not isinstance(entry, Mapping) or entry.get("enabled", True) is not False
            if check_id not in REGISTRY and wanted:
                results.append(_unknown_check(check_id))
    return results
