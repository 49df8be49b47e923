"""Building a week's report files, and keeping them.

``build_files`` reads the week once (``collect_week``) and writes each asked format from the
same spool, into a folder the caller owns. ``keep_week`` builds all three formats, stores them
under ``DATA/reports/`` (CSV and JSON gzip-compressed; XLSX is a zip already) and indexes them
with a ``weekly_reports`` row. Kept reports are kept ``KEEP_WEEKS`` weeks (three years) after
their week ended, then ``purge_expired`` deletes files and rows (the job logs it).
"""

from __future__ import annotations

import contextlib
import datetime
import gzip
import hashlib
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.reports.collect import WeekData, collect_week, open_spool_dir
from server.reports.formats import FORMATS, file_key, file_name, writer_for
from server.reports.models import WeeklyReport
from server.reports.readable import LANGUAGES
from server.reports.signing import ensure_report_key
from server.reports.verify import fingerprint
from server.reports.week import IsoWeek
from server.store.models import utcnow

REPORTS_DIR = "reports"
KEEP_WEEKS = 156
COMPRESSED = frozenset({"csv", "json"})
logger = logging.getLogger("xunjian.server.reports")


@dataclass(frozen=True)
class BuiltFiles:
    week: IsoWeek
    meta: dict[str, Any]
    summary: dict[str, Any]
    rows: int
    files: dict[str, Path]
    key_id: str
    report_sha256: str


def build_files(
    engine: Engine,
    data_dir: Path,
    week: IsoWeek,
    zone: datetime.tzinfo,
    forms: tuple[str, ...],
    folder: Path,
    generated_by: str,
    now: datetime.datetime | None = None,
    languages: tuple[str, ...] = LANGUAGES,
) -> BuiltFiles:
    """Write ``forms`` of ``week`` into ``folder``, the readable ones in each of ``languages``;
    nothing is kept. ``files`` is keyed by ``file_key``."""
    key = ensure_report_key(data_dir)
    data: WeekData = collect_week(engine, week, zone, folder, generated_by, now)
    files: dict[str, Path] = {}
    digest = ""
    zone_name = str(getattr(zone, "key", None) or zone)
    try:
        for form in forms:
            for language in ("",) if form == "json" else languages:
                path = folder / file_name(str(week), form, language)
                with path.open("wb") as out:
                    written = writer_for(form, key, language, zone_name)(data, out)
                if form == "json":
                    digest = str(written)
                files[file_key(form, language)] = path
    finally:
        data.spool.unlink(missing_ok=True)
    return BuiltFiles(
        week=week,
        meta=data.meta,
        summary=data.summary,
        rows=data.row_count,
        files=files,
        key_id=fingerprint(key.public_key()),
        report_sha256=digest,
    )


def write_private_file(path: Path) -> IO[bytes]:
    """A new or truncated file readable by its owner only (reports are audit records)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(descriptor, "wb")


def export_to(
    engine: Engine,
    data_dir: Path,
    week: IsoWeek,
    zone: datetime.tzinfo,
    form: str,
    target: Path,
    generated_by: str,
    language: str = "en",
) -> BuiltFiles:
    """Build one format (a readable one in ``language``) and copy it to ``target`` (0600), for
    the command line."""
    with open_spool_dir(str(target.parent) if target.parent.is_dir() else None) as folder:
        built = build_files(
            engine, data_dir, week, zone, (form,), Path(folder), generated_by, None, (language,)
        )
        with (
            built.files[file_key(form, language)].open("rb") as source,
            write_private_file(target) as out,
        ):
            shutil.copyfileobj(source, out, 1024 * 1024)
    return built


def reports_dir(data_dir: Path) -> Path:
    folder = data_dir / REPORTS_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _digest(path: Path) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while piece := handle.read(1024 * 1024):
            sha.update(piece)
            size += len(piece)
    return size, sha.hexdigest()


def _store(source: Path, folder: Path, stem: str, form: str) -> dict[str, Any]:
    size, sha = _digest(source)
    name = f"{stem}.{form}.gz" if form in COMPRESSED else f"{stem}.{form}"
    target = folder / name
    with source.open("rb") as handle, write_private_file(target) as raw:
        if form in COMPRESSED:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
                shutil.copyfileobj(handle, packed, 1024 * 1024)
        else:
            shutil.copyfileobj(handle, raw, 1024 * 1024)
    return {"name": name, "bytes": size, "sha256": sha}


def keep_week(
    engine: Engine,
    data_dir: Path,
    week: IsoWeek,
    zone: datetime.tzinfo,
    trigger: str,
    generated_by: str,
    now: datetime.datetime | None = None,
) -> WeeklyReport | None:
    """Build and keep the three formats of ``week``. For ``trigger == "schedule"`` returns None
    (and keeps nothing) when the week's scheduled report exists already."""
    folder = reports_dir(data_dir)
    stem = f"weekly-{week}-{utcnow():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"
    stored: list[Path] = []
    try:
        with open_spool_dir(str(folder)) as scratch:
            built = build_files(
                engine, data_dir, week, zone, FORMATS, Path(scratch), generated_by, now
            )
            files = {}
            for name, path in built.files.items():
                files[name] = _store(path, folder, stem, name)
                stored.append(folder / files[name]["name"])
        start, end = week.bounds(zone)
        row = WeeklyReport(
            week=str(week),
            scheduled_week=str(week) if trigger == "schedule" else None,
            period_start=start,
            period_end=end,
            complete=bool(built.meta["complete"]),
            trigger=trigger,
            generated_by=generated_by[:100],
            generated_at=now or utcnow(),
            hosts=built.summary["hosts"],
            hosts_reporting=built.summary["hosts_reporting"],
            rows=built.rows,
            summary=built.summary,
            key_id=built.key_id,
            report_sha256=built.report_sha256,
            files=files,
        )
        with Session(engine, expire_on_commit=False) as session:
            session.add(row)
            session.commit()
    except IntegrityError:
        # Another process kept this week's scheduled report first.
        for path in stored:
            path.unlink(missing_ok=True)
        if trigger == "schedule":
            return None
        raise
    except BaseException:
        for path in stored:
            path.unlink(missing_ok=True)
        raise
    return row


def latest_kept(session: Session, week: IsoWeek) -> WeeklyReport | None:
    return session.scalars(
        select(WeeklyReport)
        .where(WeeklyReport.week == str(week))
        .order_by(WeeklyReport.generated_at.desc(), WeeklyReport.id.desc())
        .limit(1)
    ).first()


def list_kept(session: Session, limit: int = 100, offset: int = 0) -> list[WeeklyReport]:
    return list(
        session.scalars(
            select(WeeklyReport)
            .order_by(WeeklyReport.week.desc(), WeeklyReport.generated_at.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def scheduled_exists(session: Session, week: IsoWeek) -> bool:
    found = session.scalar(
        select(WeeklyReport.id).where(WeeklyReport.scheduled_week == str(week)).limit(1)
    )
    return found is not None


@contextlib.contextmanager
def open_kept(data_dir: Path, row: WeeklyReport, form: str) -> Iterator[IO[bytes]]:
    """The kept file as downloaded (decompressed when stored compressed)."""
    entry = row.files.get(form)
    if not isinstance(entry, dict) or "/" in str(entry.get("name", "/")):
        raise FileNotFoundError(f"report {row.id} has no {form} file")
    path = reports_dir(data_dir) / str(entry["name"])
    if path.name.endswith(".gz"):
        with gzip.open(path, "rb") as packed:
            yield packed
    else:
        with path.open("rb") as plain:
            yield plain


def purge_expired(engine: Engine, data_dir: Path, now: datetime.datetime | None = None) -> int:
    """Delete kept reports whose week ended more than KEEP_WEEKS weeks ago; returns how many."""
    cutoff = (now or utcnow()) - datetime.timedelta(weeks=KEEP_WEEKS)
    folder = reports_dir(data_dir)
    with Session(engine) as session:
        expired = list(
            session.scalars(select(WeeklyReport).where(WeeklyReport.period_end < cutoff))
        )
        for row in expired:
            for entry in row.files.values():
                name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
                if name and "/" not in name:
                    (folder / name).unlink(missing_ok=True)
        if expired:
            session.execute(
                delete(WeeklyReport).where(WeeklyReport.id.in_([row.id for row in expired]))
            )
            session.commit()
    return len(expired)
