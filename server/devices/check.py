"""One device check: probe for vendor-default credentials, then (if the device takes the
organisation's key) run the Linux collectors over SSH, and store everything as a report of the
device's agents row through the same intake as an agent's (server/intake/report.py). The
default-credential result, check ``device.default_credential``, fails when a default is
accepted, which opens a critical ``default_credential`` alert (server/alerts/detect.py) and
resolves it when a later check passes.

Nothing here logs or returns the password: it goes only, encrypted, into
``devices.credential_secret``.
"""

from __future__ import annotations

import datetime
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from server.config import ServerConfig
from server.devices.defaults import CredentialListError, credentials_for
from server.devices.models import Device
from server.devices.prober import ProbeOutcome, ProbeSettings, probe, try_key
from server.devices.remote import organisation_key, scan_over_ssh
from server.devices.store import claim, seal
from server.intake.report import ingest_report
from server.policy import agent_policy, group_by_id
from server.store.models import Agent, utcnow
from xunjian.core.contract.bodies import Report
from xunjian.core.schema import convert

logger = logging.getLogger("xunjian.server.devices")

CHECK_ID = "device.default_credential"
RULES = ["E2", "E5"]
_STATUS = {
    "default_credential": "fail",
    "no_default": "pass",
    "no_password_auth": "pass",
    "lockout": "error",
    "unreachable": "error",
    "error": "error",
}


@dataclass(frozen=True)
class CheckSummary:
    device_id: int
    label: str
    outcome: str
    message: str
    attempts: int
    user: str | None
    org_key: bool | None
    results: int

    def line(self) -> str:
        """One line for people and logs: the user name at most, never the password."""
        key = {True: "; organisation key accepted", False: "", None: ""}[self.org_key]
        extra = f", {self.results} results stored" if self.results else ""
        return (
            f"device {self.device_id} {self.label}: {self.outcome}: {self.message} "
            f"({self.attempts} password attempt(s){extra}){key}"
        )


def probe_settings(config: ServerConfig) -> ProbeSettings:
    return ProbeSettings(
        attempt_interval=config.device_attempt_interval_ms / 1000,
        max_attempts=config.device_max_attempts,
        timeout=float(config.device_connect_timeout_seconds),
    )


def _result(device: Device, found: ProbeOutcome) -> dict[str, Any]:
    evidence: dict[str, Any] = {
        "outcome": found.outcome,
        "attempts": found.attempts,
        "methods": found.methods,
        "server_version": found.server_version,
        "host_key": found.host_key,
        "address": f"{device.address}:{device.port}",
        "device_type": device.type,
    }
    if found.found is not None:
        evidence["user"] = found.found.user  # the user name only; the password is sealed
    return {
        "check_id": CHECK_ID,
        "status": _STATUS[found.outcome],
        "resource": f"ssh:{device.port}",
        "message": found.message[:1000],
        "evidence": evidence,
        "rules": RULES,
        "severity": "critical",
    }


def _policy_checks(session: Session, device: Device, config: ServerConfig) -> dict[str, Any]:
    agent = session.get(Agent, device.agent_id)
    assert agent is not None
    group = group_by_id(session, agent.group_id)
    return dict(agent_policy(session, agent.id, group, config)["checks"])


def run_device_check(
    engine: Engine, session: Session, device_id: int, config: ServerConfig, data: Path, worker: str
) -> CheckSummary | None:
    """Check a device this caller has claimed (``store.claim``), store the outcome, release it."""
    device = session.get(Device, device_id)
    if device is None:
        return None
    started = time.monotonic()
    try:
        credentials = credentials_for(device.type, config.device_credentials_dir or None)
    except CredentialListError as exc:
        found = ProbeOutcome(outcome="error", message=str(exc))
    else:
        found = probe(device.address, device.port, credentials, probe_settings(config))
    results = [_result(device, found)]
    inventory: dict[str, Any] = {
        "hostname": device.label,
        "os": device.type,
        "platform": "device",
        "device": {"type": device.type, "address": device.address, "port": device.port},
    }
    org_key: bool | None = None
    if found.outcome not in ("unreachable", "lockout"):
        org_key, scanned = _scan_with_key(session, device, config, data)
        if scanned is not None:
            results.extend(scanned[0])
            inventory = {**scanned[1], **{"device": inventory["device"], "platform": "device"}}
    now = utcnow()
    # Checked like an agent's report (a BodyError here is a bug in the prober, not input).
    report = {
        "agent_id": device.agent_id,
        "epoch": int(time.time() * 1000),
        "seq": device.id,
        "kind": "scan",
        "created_at": now.replace(tzinfo=datetime.UTC),
        "policy_version": None,
        "results": results,
        "inventory": inventory,
        "gaps": [],
    }
    session.rollback()  # end the read transaction before intake writes (SQLite: one writer)
    ingest_report(engine, device.agent_id, convert(report, Report))
    values: dict[str, Any] = {
        "last_checked_at": now,
        "last_outcome": found.outcome,
        "last_message": found.message[:1000],
        "last_attempts": found.attempts,
        "auth_methods": sorted({m for methods in found.methods.values() for m in methods}),
        "host_key": found.host_key[:200] or None,
        "org_key_accepted": org_key,
        "due_at": now + datetime.timedelta(seconds=config.device_check_interval_seconds),
        "claimed_by": None,
        "claimed_until": None,
    }
    if found.found is not None:
        values.update(
            credential_user=found.found.user,
            credential_secret=seal(data, found.found.password),
            credential_found_at=now,
        )
    elif found.outcome in ("no_default", "no_password_auth"):
        # Changed since: the old password is no longer a secret worth keeping.
        values.update(credential_user=None, credential_secret=None, credential_found_at=None)
    with engine.begin() as connection:
        connection.execute(
            update(Device)
            .where(Device.id == device_id, Device.claimed_by == worker)
            .values(**values)
        )
    summary = CheckSummary(
        device_id=device.id,
        label=device.label,
        outcome=found.outcome,
        message=found.message,
        attempts=found.attempts,
        user=found.found.user if found.found else None,
        org_key=org_key,
        results=len(results) - 1,
    )
    logger.info("%s in %.1f s", summary.line(), time.monotonic() - started)
    return summary


def _scan_with_key(
    session: Session, device: Device, config: ServerConfig, data: Path
) -> tuple[bool, tuple[list[dict[str, Any]], dict[str, Any]] | None]:
    key = organisation_key(data)
    client = try_key(
        device.address,
        device.port,
        device.key_user,
        key,
        float(config.device_connect_timeout_seconds),
    )
    if client is None:
        return False, None
    try:
        scan = scan_over_ssh(client, _policy_checks(session, device, config))
    except Exception:
        logger.exception("device %d: the collectors over SSH failed", device.id)
        return True, None
    finally:
        client.close()
    return True, (scan.results, scan.inventory)


def run_claimed(
    engine: Engine, session: Session, device_id: int, config: ServerConfig, data: Path, worker: str
) -> CheckSummary | None:
    """``run_device_check`` that releases the claim if the check fails half way."""
    try:
        return run_device_check(engine, session, device_id, config, data, worker)
    except BaseException:
        _release(engine, device_id, worker)
        raise


def check_now(
    engine: Engine, session: Session, device_id: int, config: ServerConfig, data: Path, worker: str
) -> CheckSummary | str:
    """Claim and check one device now; a string says why it was not checked."""
    if not claim(engine, device_id, worker, due_only=False):
        return f"device {device_id} is being checked by another process right now"
    summary = run_claimed(engine, session, device_id, config, data, worker)
    return summary if summary is not None else f"no device {device_id}"


def _release(engine: Engine, device_id: int, worker: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Device)
            .where(Device.id == device_id, Device.claimed_by == worker)
            .values(claimed_by=None, claimed_until=None)
        )
