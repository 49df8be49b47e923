"""Evidence retention (POLICY.md A3; docs/incidents.md "Retention") on SQLite and PostgreSQL:
archives uploaded for real by a signing agent identity are purged by the scheduled job
``evidence_purge`` (under its lease: it runs once however many processes tick) once older than
``evidence_retention_days``, except while an incident they belong to is not closed; uploads
started and never finished are removed after a week, and files no row describes (an agent
deleted) too. Every removal is one ``evidence.purge`` entry in the operation log."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import uuid
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from server.config import ConfigError, load_config
from server.evidence import retention, storage
from server.evidence.models import EvidenceSnapshot
from server.incidents.models import Incident
from server.incidents.store import close, open_incident, record_event
from server.jobs.models import JobLease
from server.jobs.runner import run_once
from server.settings.runtime import SettingError, set_setting
from server.store.models import Agent, utcnow
from tests.server.conftest import Server, SignedAgent, apply_settings
from tests.server.test_reports_jobs import JOB, backdate_job, context_of, oplog_actions
from xunjian.core.contract import PATH_EVIDENCE, evidence_chunk_path
from xunjian.core.evidence import Part, build_archive

DAY = datetime.timedelta(days=1)


def upload(server: Server, agent: SignedAgent, complete: bool = True) -> tuple[str, bytes]:
    """An archive built and signed with the agent's key, uploaded through the agent API (its
    first half only, unless ``complete``). Returns the snapshot id and the archive."""
    snapshot = str(uuid.uuid4())
    fields = {
        "snapshot_id": snapshot,
        "agent_id": agent.agent_id,
        "hostname": "pc-101",
        "taken_at": "2026-12-07T07:00:00Z",
        "reason": "web shell alert",
        "command_id": None,
    }
    archive, _ = build_archive(
        fields, [Part("processes.json", b"[]"), Part("errors.json", b"{}")], agent.key, 1
    )
    start = json.dumps(
        {"id": snapshot, "size": len(archive), "sha256": hashlib.sha256(archive).hexdigest()}
    ).encode()
    assert agent.signed("POST", PATH_EVIDENCE, start).status_code == 200
    chunk = archive if complete else archive[: len(archive) // 2]
    path = evidence_chunk_path(snapshot, 0)
    headers = agent.signed_headers("PUT", path, chunk)
    headers["Content-Type"] = "application/octet-stream"
    answer = server.client().put(path, data=chunk, headers=headers)
    assert answer.status_code == 200, answer.get_data()
    assert answer.get_json()["complete"] is complete
    return snapshot, archive


def backdate(server: Server, snapshot: str, days: int) -> None:
    """As if the snapshot had started (and, if complete, arrived) ``days`` ago."""
    moment = utcnow() - days * DAY
    with server.state.engine.begin() as connection:
        row = connection.execute(
            select(EvidenceSnapshot.completed_at).where(EvidenceSnapshot.id == snapshot)
        ).one()
        values: dict[str, Any] = {"started_at": moment}
        if row.completed_at is not None:
            values["completed_at"] = moment
        connection.execute(
            update(EvidenceSnapshot).where(EvidenceSnapshot.id == snapshot).values(**values)
        )


def rows(server: Server) -> set[str]:
    with server.state.sessions() as session:
        return set(session.scalars(select(EvidenceSnapshot.id)))


def files(server: Server) -> set[str]:
    base = storage.root(server.data)
    return {path.name for path in base.rglob("*") if path.is_file()}


def purges(server: Server) -> dict[str, dict[str, Any]]:
    """target -> details of every ``evidence.purge`` entry."""
    return {e.target: json.loads(e.details) for e in oplog_actions(server, "evidence.purge")}


def run_purge(server: Server, now: datetime.datetime | None = None) -> str | None:
    """The scheduled job as the runner runs it, made due (a day after its last success)."""
    backdate_job(server, "evidence_purge", 2)
    with server.state.engine.begin() as connection:
        connection.execute(
            update(JobLease)
            .where(JobLease.name == "evidence_purge")
            .values(last_success_at=utcnow() - 2 * DAY)
        )
    return run_once(context_of(server), JOB["evidence_purge"], "test-holder", now)


def test_archives_past_retention_are_purged_once_and_logged(
    server: Server, agent: SignedAgent
) -> None:
    old, old_archive = upload(server, agent)
    recent, _ = upload(server, agent)
    backdate(server, old, 181)
    backdate(server, recent, 179)

    done = run_purge(server)
    assert done is not None and "1 archive(s) older than 180 days" in done, done
    assert rows(server) == {recent}
    assert files(server) == {f"{recent}.tar"}
    entry = purges(server)[f"evidence:{old}"]
    assert entry["reason"] == "retention" and entry["retention_days"] == 180
    assert entry["sha256"] == hashlib.sha256(old_archive).hexdigest()
    assert entry["host"] == agent.agent_id and entry["file_bytes_removed"] == len(old_archive)
    # Run under its lease and then not due for a day: a second process ticking now does nothing.
    assert run_once(context_of(server), JOB["evidence_purge"], "other-holder") is None
    assert len(purges(server)) == 1


def test_the_console_setting_sets_the_retention(server: Server, agent: SignedAgent) -> None:
    snapshot, _ = upload(server, agent)
    backdate(server, snapshot, 45)
    run_purge(server)
    assert rows(server) == {snapshot}
    with server.state.sessions() as session:
        with pytest.raises(SettingError, match="at least 30 days"):
            set_setting(session, "evidence_retention_days", 29, "admin")
        set_setting(session, "evidence_retention_days", 30, "admin")
        session.commit()
    run_purge(server)
    assert rows(server) == set() and files(server) == set()
    assert purges(server)[f"evidence:{snapshot}"]["retention_days"] == 30


def test_config_json_refuses_a_retention_below_the_floor(server: Server) -> None:
    apply_settings(server.data, {"evidence_retention_days": 10})
    with pytest.raises(ConfigError, match="evidence_retention_days is 10"):
        load_config(server.data)


def test_the_scene_of_a_case_not_closed_is_kept(server: Server, agent: SignedAgent) -> None:
    before_case, _ = upload(server, agent)  # taken before anyone opened a case
    with server.state.sessions() as session:
        incident = open_incident(session, "olga", host_id=agent.agent_id).incident.id
    during_case, archive = upload(server, agent)  # on the incident's timeline
    other = server.enroll("pc-102")
    unrelated, _ = upload(server, other)
    for snapshot in (before_case, during_case, unrelated):
        backdate(server, snapshot, 400)

    run_purge(server)
    assert rows(server) == {before_case, during_case}
    assert f"evidence:{unrelated}" in purges(server)

    # Closed today: the case's archives are kept for the retention after the close.
    with server.state.sessions() as session:
        close(session, incident, "olga", "cleaned")
    run_purge(server)
    assert rows(server) == {before_case, during_case}
    # Closed more than the retention ago: both go.
    with server.state.engine.begin() as connection:
        connection.execute(
            update(Incident).where(Incident.id == incident).values(closed_at=utcnow() - 200 * DAY)
        )
    run_purge(server)
    assert rows(server) == set()
    assert (
        purges(server)[f"evidence:{during_case}"]["sha256"] == hashlib.sha256(archive).hexdigest()
    )


def test_the_hash_on_another_hosts_open_incident_holds_an_archive(
    server: Server, agent: SignedAgent
) -> None:
    snapshot, archive = upload(server, agent)
    backdate(server, snapshot, 400)
    other = server.enroll("pc-102")
    # An investigator notes the archive on the incident of the host it spread to.

    with server.state.sessions() as session:
        incident = open_incident(session, "olga", host_id=other.agent_id).incident.id
        record_event(
            session,
            incident_id=incident,
            kind="evidence",
            text="pc-101's snapshot shows the same shell",
            actor="olga",
            details={"sha256": hashlib.sha256(archive).hexdigest()},
        )
        session.commit()
    run_purge(server)
    assert rows(server) == {snapshot}


def test_an_upload_never_finished_goes_after_a_week(server: Server, agent: SignedAgent) -> None:
    stale, _ = upload(server, agent, complete=False)
    fresh, _ = upload(server, agent, complete=False)
    slow, _ = upload(server, agent, complete=False)  # started long ago, a chunk today
    for snapshot, days in ((stale, 8), (fresh, 6), (slow, 30)):
        backdate(server, snapshot, days)
    folder = storage.root(server.data) / agent.agent_id
    for snapshot in (stale, fresh):
        last_chunk = (utcnow() - 8 * DAY).replace(tzinfo=datetime.UTC).timestamp()
        os.utime(folder / f"{snapshot}.tar.part", (last_chunk, last_chunk))
    assert files(server) == {f"{stale}.tar.part", f"{fresh}.tar.part", f"{slow}.tar.part"}

    run_purge(server)
    assert rows(server) == {fresh, slow}
    assert files(server) == {f"{fresh}.tar.part", f"{slow}.tar.part"}
    entry = purges(server)[f"evidence:{stale}"]
    assert entry["reason"] == "abandoned_upload" and entry["completed_at"] is None
    assert 0 < entry["file_bytes_removed"] == entry["received"]


def test_files_left_by_a_deleted_agent_and_stray_files_are_removed(
    server: Server, agent: SignedAgent
) -> None:
    kept_agent = server.enroll("pc-102")
    kept, _ = upload(server, kept_agent)
    gone, _ = upload(server, agent)
    stray = storage.root(server.data) / kept_agent.agent_id / f"{uuid.uuid4()}.tar"
    stray.write_bytes(b"left by a crash")
    with server.state.engine.begin() as connection:
        # Deleting an agent takes its snapshots' rows (ON DELETE CASCADE), not their files.
        connection.execute(delete(Agent).where(Agent.id == agent.agent_id))
    assert rows(server) == {kept}
    assert f"{gone}.tar" in files(server)

    run_purge(server)
    assert rows(server) == {kept} and files(server) == {f"{kept}.tar"}
    assert not (storage.root(server.data) / agent.agent_id).exists()
    logged = purges(server)
    assert logged[f"evidence_file:{agent.agent_id}/{gone}.tar"]["reason"] == "orphaned_file"
    assert logged[f"evidence_file:{kept_agent.agent_id}/{stray.name}"]["file_bytes_removed"] == 15


def test_a_case_opened_after_the_holds_were_read_still_keeps_its_scene(
    server: Server, agent: SignedAgent
) -> None:
    """The DELETE re-checks the host's open cases: no window between reading holds and
    removing an archive in which a new case loses its scene."""
    snapshot, _ = upload(server, agent)
    with server.state.sessions() as session:
        row = session.get(EvidenceSnapshot, snapshot)
        assert row is not None
        session.expunge(row)
        open_incident(session, "olga", host_id=agent.agent_id)
    logged: list[str] = []
    removed = retention._purge_rows(
        server.state.engine,
        server.data,
        [row],
        retention.RETENTION,
        lambda _row: {},
        lambda _action, target, _details: logged.append(target),
        retention.PurgeResult(),
    )
    assert removed == 0 and logged == []
    assert rows(server) == {snapshot} and files(server) == {f"{snapshot}.tar"}
