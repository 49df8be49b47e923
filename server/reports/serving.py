"""Serving a weekly report over HTTP, for the REST API and the console alike.

Which file is served for a week:

* the newest kept report of that week (``weekly_reports``), if there is one;
* else, for a week that is over, a report generated now and kept (trigger ``api`` or
  ``console``), so every later download of that week gets the same signed file;
* else (the current week, still running) a report generated now and not kept: it says
  ``"complete": false``.

Every download is an entry in the operation log (``report.export``, POLICY.md A1), with the
week, format, report id and the served file's SHA-256.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flask import Response, jsonify

from server.oplog.hook import record
from server.reports.formats import CONTENT_TYPES, FORMATS, file_key, file_name
from server.reports.generate import build_files, keep_week, latest_kept, open_kept, reports_dir
from server.reports.models import WeeklyReport
from server.reports.readable import LANGUAGES
from server.reports.week import (
    IsoWeek,
    WeekError,
    has_started,
    is_complete,
    last_complete_week,
    zone_of,
)
from server.state import current_state, db_session, events
from server.store.models import utcnow

EXPORT_ACTION = "report.export"
CHUNK = 256 * 1024


class BadRequest(ValueError):
    """A week or format the caller got wrong; the message says what is expected."""


@dataclass(frozen=True)
class Wanted:
    week: IsoWeek
    form: str
    language: str = "en"  # of a readable form (CSV, XLSX)

    @property
    def key(self) -> str:
        return file_key(self.form, self.language)


def kept_key(row: WeeklyReport, form: str, language: str) -> str | None:
    """The kept file for ``form`` in ``language``; a report kept before the readable forms
    has one CSV and one XLSX (English, UTC), served as they are."""
    for key in (file_key(form, language), form):
        if key in row.files:
            return key
    return None


def parse_request(
    week_text: str | None, form_text: str | None, language: str | None = None
) -> Wanted:
    now = utcnow()
    zone = zone_of(current_state().config)
    if week_text is None or week_text == "":
        week = last_complete_week(now, zone)
    else:
        try:
            week = IsoWeek.parse(week_text)
        except WeekError as exc:
            raise BadRequest(str(exc)) from exc
    form = form_text or "json"
    if form not in FORMATS:
        raise BadRequest(f"format must be one of {', '.join(FORMATS)}; got {form[:20]!r}")
    if not has_started(week, now, zone):
        raise BadRequest(f"week {week} has not begun yet")
    chosen = language or current_state().config.console_language
    return Wanted(week, form, chosen if chosen in LANGUAGES else "en")


def _headers(
    week: IsoWeek, form: str, size: int | None, extra: dict[str, str], language: str = ""
) -> dict:
    headers = {
        "Content-Type": CONTENT_TYPES[form],
        "Content-Disposition": f'attachment; filename="{file_name(str(week), form, language)}"',
        "Cache-Control": "no-store",
        **extra,
    }
    if size is not None:
        headers["Content-Length"] = str(size)
    return headers


MISSING_KEPT_FILE = (
    "the kept file of this report is missing from the data folder's reports/ (several server "
    "instances must share that folder: docs/operations.md)"
)


def kept_chunks(data_dir: Path, row: WeeklyReport, form: str) -> Iterator[bytes]:
    """The kept file's bytes, the file opened now: a missing one (FileNotFoundError, e.g. an
    instance that does not share reports/ with the one that kept it) is known before an answer
    starts, instead of a 200 whose body is cut off after its head."""
    stack = contextlib.ExitStack()
    handle = stack.enter_context(open_kept(data_dir, row, form))

    def chunks() -> Iterator[bytes]:
        with stack:
            while piece := handle.read(CHUNK):
                yield piece

    return chunks()


def _temporary_chunks(folder: Path, path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as handle:
            while piece := handle.read(CHUNK):
                yield piece
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report_response(wanted: Wanted, trigger: str, user_name: str) -> Response:
    """The file for ``wanted``, kept or made now; recorded in the operation log."""
    state = current_state()
    data_dir = state.paths.root
    week, form = wanted.week, wanted.form
    zone = zone_of(state.config)
    with db_session() as session:
        row = latest_kept(session, week)
    source = "kept"
    if row is None and is_complete(week, utcnow(), zone):
        row = keep_week(state.engine, data_dir, week, zone, trigger, user_name)
        source = "generated and kept"
    key = kept_key(row, form, wanted.language) if row is not None else None
    if row is not None and key is not None:
        entry = row.files[key]
        try:
            chunks = kept_chunks(data_dir, row, key)
        except FileNotFoundError as exc:
            events.error("weekly report %s: %s (%s)", row.id, MISSING_KEPT_FILE, exc)
            missing = jsonify({"error": MISSING_KEPT_FILE})
            missing.status_code = 500
            return missing
        record(
            EXPORT_ACTION,
            target=f"week:{week}",
            details={
                "format": form,
                "language": wanted.language if form != "json" else None,
                "via": trigger,
                "report_id": row.id,
                "source": source,
                "sha256": entry["sha256"],
            },
        )
        extra = {"X-Report-Id": str(row.id), "X-Report-SHA256": str(entry["sha256"])}
        return Response(
            chunks,
            headers=_headers(
                week, form, int(entry["bytes"]), extra, "" if key == form else wanted.language
            ),
        )
    # The week is still running: a snapshot, not kept.
    folder = Path(tempfile.mkdtemp(prefix="xunjian-report-", dir=reports_dir(data_dir)))
    try:
        built = build_files(
            state.engine, data_dir, week, zone, (form,), folder, user_name, None, (wanted.language,)
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    path = built.files[wanted.key]
    record(
        EXPORT_ACTION,
        target=f"week:{week}",
        details={"format": form, "via": trigger, "report_id": None, "source": "week in progress"},
    )
    return Response(
        _temporary_chunks(folder, path),
        headers=_headers(
            week,
            form,
            path.stat().st_size,
            {"X-Report-Complete": "false"},
            "" if form == "json" else wanted.language,
        ),
    )
