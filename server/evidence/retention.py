"""Evidence retention (POLICY.md A3: records past their retention are destroyed by rule, and the
destruction is logged; docs/incidents.md, "Retention").

``purge`` is what the scheduled job ``evidence_purge`` runs (server/jobs/runner.py, daily,
under its lease, so several server processes run it once). It removes three things, each
with one operation log entry through the ``log`` the caller passes:

* **archives past retention** (``evidence.purge``, reason ``retention``): complete snapshots
  that arrived more than ``evidence_retention_days`` ago, the row and the file, except those
  *held* by an incident (below);
* **abandoned uploads** (reason ``abandoned_upload``): uploads an agent started more than
  ``ABANDONED_UPLOAD_AFTER`` ago and never finished, and that received no chunk within that
  time either, with their ``.tar.part``; an agent that
  comes back later starts the archive again from its first byte (its copy is kept until the
  server holds it);
* **orphaned files** (reason ``orphaned_file``): files in ``DATA/evidence/`` that no row
  describes: the archives of an agent whose row was deleted (its snapshots' rows go with it by
  the foreign key, the files stayed), or the remains of a crash between a row's delete and
  its file's unlink.

An archive is held while an incident it belongs to is not closed, and for the retention
period after that incident closed (a case closed today must not lose its scene tomorrow
because the snapshot is old). It belongs to an incident when its hash or name is on the
incident's timeline (the ``evidence`` event the intake records, or one a person added), and
to every incident of its host (the scene of the case, even a snapshot taken before anyone
opened it).
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, or_, select
from sqlalchemy.orm import Session

from server.evidence import storage
from server.evidence.models import EvidenceSnapshot
from server.incidents.models import Incident, IncidentEvent
from server.store.models import Agent, utcnow

# An upload not finished a week after it started is abandoned: an archive is at most 256 MiB,
# which even a PC that is on an hour a day over a slow link sends within days; one that comes
# back later only sends it again.
ABANDONED_UPLOAD_AFTER = datetime.timedelta(days=7)
PURGE_ACTION = "evidence.purge"
RETENTION, ABANDONED, ORPHANED = "retention", "abandoned_upload", "orphaned_file"
_FILE = re.compile(r"(?P<id>[0-9a-f-]{36})\.tar(?:\.part)?")
logger = logging.getLogger("xunjian.server.evidence")

# (action, target, details): the caller's way into the operation log.
Log = Callable[[str, str, dict[str, Any]], None]


@dataclass
class PurgeResult:
    archives: int = 0
    abandoned: int = 0
    orphaned: int = 0
    held: int = 0
    bytes: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self, retention_days: int) -> str:
        text = (
            f"evidence purge: {self.archives} archive(s) older than {retention_days} days, "
            f"{self.abandoned} abandoned upload(s), {self.orphaned} orphaned file(s) removed "
            f"({self.bytes} bytes); {self.held} kept for incidents"
        )
        return text + (f"; problems: {'; '.join(self.problems)}" if self.problems else "")


def _time(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


def _held(
    session: Session, candidates: list[EvidenceSnapshot], cutoff: datetime.datetime
) -> dict[str, list[int]]:
    """snapshot id -> the incidents that hold it (not closed, or closed after ``cutoff``)."""
    holding: dict[str, list[int]] = {}
    if not candidates:
        return holding
    hosts = {row.agent_id for row in candidates}
    still_holding = or_(Incident.closed_at.is_(None), Incident.closed_at >= cutoff)
    of_host: dict[str, list[int]] = {}
    for incident_id, agent_id in session.execute(
        select(Incident.id, Incident.agent_id).where(still_holding, Incident.agent_id.in_(hosts))
    ):
        of_host.setdefault(agent_id, []).append(incident_id)
    # The timeline of every incident that may still hold an archive (any event whose details
    # carry a hash counts, as Record.evidence() lists them): few rows, incidents open or
    # closed within the retention, so matched here rather than in dialect-specific JSON SQL.
    on_timeline: dict[str, set[int]] = {}
    for incident_id, details in session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.details)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(still_holding)
    ):
        for key in ("sha256", "name"):
            value = (details or {}).get(key)
            if isinstance(value, str) and value:
                on_timeline.setdefault(value, set()).add(incident_id)
    for row in candidates:
        found = set(of_host.get(row.agent_id, ()))
        found |= on_timeline.get(row.sha256, set())
        found |= on_timeline.get(f"evidence-{row.id}.tar", set())
        if found:
            holding[row.id] = sorted(found)
    return holding


def _written_since(data_dir: Path, row: EvidenceSnapshot, moment: datetime.datetime) -> bool:
    """Whether a chunk of this upload landed within ``ABANDONED_UPLOAD_AFTER``: an upload
    spread over many days on a slow link is slow, not abandoned (its ``.part`` file's
    modification time is its last chunk's)."""
    part = storage.root(data_dir) / row.agent_id / f"{row.id}.tar.part"
    try:
        written = datetime.datetime.fromtimestamp(part.stat().st_mtime, datetime.UTC)
    except OSError:
        return False
    return written.replace(tzinfo=None) >= moment - ABANDONED_UPLOAD_AFTER


def _remove_file(path: Path) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    path.unlink(missing_ok=True)
    return size


def _purge_rows(
    engine: Engine,
    data_dir: Path,
    rows: list[EvidenceSnapshot],
    reason: str,
    details_of: Callable[[EvidenceSnapshot], dict[str, Any]],
    log: Log,
    result: PurgeResult,
) -> int:
    done = 0
    for row in rows:
        # The row goes first (conditional, so two purges never log one archive twice), then
        # the file: a crash between leaves a file without a row, which the orphan sweep
        # removes and logs at its next run; never a row whose archive is silently gone.
        if reason == ABANDONED:
            still = EvidenceSnapshot.completed_at.is_(None)
        else:
            # Re-checked in the DELETE itself: a case opened for the host since the holds were
            # read keeps its scene.
            still = EvidenceSnapshot.completed_at.is_not(None) & ~(
                select(Incident.id)
                .where(Incident.agent_id == row.agent_id, Incident.closed_at.is_(None))
                .exists()
            )
        with Session(engine) as session:
            removed = session.execute(
                delete(EvidenceSnapshot).where(EvidenceSnapshot.id == row.id, still)
            ).rowcount
            session.commit()
        if removed != 1:
            continue
        freed = 0
        try:
            folder = storage.root(data_dir) / row.agent_id
            for name in (f"{row.id}.tar", f"{row.id}.tar.part"):
                freed += _remove_file(folder / name)
        except OSError as exc:
            result.problems.append(f"evidence {row.id}: {exc}")
        result.bytes += freed
        details = {
            "reason": reason,
            "host": row.agent_id,
            "hostname": row.hostname,
            "sha256": row.sha256,
            "size": row.size,
            "received": row.received,
            "started_at": _time(row.started_at),
            "completed_at": _time(row.completed_at),
            "file_bytes_removed": freed,
            **details_of(row),
        }
        log(PURGE_ACTION, f"evidence:{row.id}", details)
        done += 1
    return done


def _orphans(engine: Engine, data_dir: Path, log: Log, result: PurgeResult) -> None:
    base = storage.root(data_dir)
    if not base.is_dir():
        return
    # The files are listed before the rows are read: a row is committed before its first byte
    # is written, so a file listed here whose row is missing below has no row at all (an
    # upload that starts meanwhile is neither listed nor read).
    files = [
        path for folder in sorted(base.iterdir()) if folder.is_dir() for path in folder.iterdir()
    ]
    with Session(engine) as session:
        known = set(session.scalars(select(EvidenceSnapshot.id)))
        agents = set(session.scalars(select(Agent.id)))
    for path in files:
        match = _FILE.fullmatch(path.name)
        if match is not None and match["id"] in known:
            continue
        if not path.is_file():
            continue  # only files the intake writes are ours to remove
        try:
            freed = _remove_file(path)
        except OSError as exc:
            result.problems.append(f"{path}: {exc}")
            continue
        result.orphaned += 1
        result.bytes += freed
        log(
            PURGE_ACTION,
            f"evidence_file:{path.parent.name}/{path.name}",
            {"reason": ORPHANED, "host": path.parent.name, "file_bytes_removed": freed},
        )
    for folder in base.iterdir():
        # Only a deleted agent's folder: an enrolled agent's may be made again at any moment
        # by an upload that starts, which must find it.
        if folder.is_dir() and folder.name not in agents and not any(folder.iterdir()):
            folder.rmdir()


def purge(
    engine: Engine,
    data_dir: Path,
    retention_days: int,
    log: Log,
    now: datetime.datetime | None = None,
) -> PurgeResult:
    """Remove the archives past ``retention_days`` not held by an incident, the abandoned
    uploads and the orphaned files; one ``evidence.purge`` entry each through ``log``."""
    moment = now or utcnow()
    cutoff = moment - datetime.timedelta(days=retention_days)
    result = PurgeResult()
    with Session(engine) as session:
        expired = list(
            session.scalars(
                select(EvidenceSnapshot)
                .where(
                    EvidenceSnapshot.completed_at.is_not(None),
                    EvidenceSnapshot.completed_at < cutoff,
                )
                .order_by(EvidenceSnapshot.completed_at)
            )
        )
        abandoned = list(
            session.scalars(
                select(EvidenceSnapshot).where(
                    EvidenceSnapshot.completed_at.is_(None),
                    EvidenceSnapshot.started_at < moment - ABANDONED_UPLOAD_AFTER,
                )
            )
        )
        holding = _held(session, expired, cutoff)
        session.expunge_all()
    abandoned = [row for row in abandoned if not _written_since(data_dir, row, moment)]
    result.held = len(holding)
    for snapshot_id, incidents in holding.items():
        logger.info(
            "evidence %s is past retention but held by incident(s) %s", snapshot_id, incidents
        )
    result.archives = _purge_rows(
        engine,
        data_dir,
        [row for row in expired if row.id not in holding],
        RETENTION,
        lambda _row: {"retention_days": retention_days},
        log,
        result,
    )
    result.abandoned = _purge_rows(
        engine,
        data_dir,
        abandoned,
        ABANDONED,
        lambda _row: {"abandoned_after_days": ABANDONED_UPLOAD_AFTER.days},
        log,
        result,
    )
    _orphans(engine, data_dir, log, result)
    return result
