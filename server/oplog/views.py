"""The console's Operation log page (admin and auditor): filters, keyset paging by sequence
number, each entry's client address and source port, the chain's status, and a CSV export of
the filtered view.

Reading the log is itself logged (POLICY.md A1): one ``oplog.view`` entry per page shown and
one ``oplog.export`` per export, each with the filter in its details; refused attempts
(another role, a bad filter) are entries too.

Paging is by sequence number (``?before=<seq>``), newest first, so a page costs the same on
the first day and after millions of entries. A time range becomes a sequence range first
(entries' times rise with their sequence numbers; the ``at`` index finds the ends), so every
page query walks the primary key.

The chain status is the cheap check: the newest checkpoint's signature against the public key,
that checkpoint's entry and the head's entry against the hashes they carry. The full check of
every link is ``xunjian server oplog verify``.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from server.console.auth import console_blueprint
from server.console.nav import NavItem
from server.oplog.chain import OUTCOMES, timestamp
from server.oplog.hook import record
from server.oplog.models import (
    ACTION_LENGTH,
    ACTOR_LENGTH,
    ADDRESS_LENGTH,
    TARGET_LENGTH,
    OplogCheckpoint,
    OplogEntry,
)
from server.oplog.signing import (
    CheckpointClaim,
    SigningKeyError,
    claim_is_signed,
    key_id,
    verification_key,
)
from server.oplog.store import current_anchor, latest_checkpoint, read_head
from server.state import current_state, db_session, log_refusal
from server.store.models import User

BLUEPRINT_NAME = "oplog_pages"
blueprint = console_blueprint(BLUEPRINT_NAME, __name__)

READER_ROLES = ("admin", "auditor")
NAV = (NavItem(f"{BLUEPRINT_NAME}.index", _l("Operation log"), 80, READER_ROLES),)

PER_PAGE = 100
EXPORT_BATCH = 1000
MAX_SEQ = 2**63 - 1
TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
CSV_COLUMNS = (
    "seq",
    "at_utc",
    "actor",
    "role",
    "action",
    "target",
    "outcome",
    "reason",
    "client_address",
    "client_port",
    "details",
    "prev_hash",
    "hash",
)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


class FilterError(ValueError):
    """A filter value is not acceptable; the message (English) says which."""


@dataclass(frozen=True)
class Filters:
    """What the person asked for, as given (for links and the log) and as bounds (for SQL)."""

    since: str = ""
    until: str = ""
    actor: str = ""
    action: str = ""
    target: str = ""
    outcome: str = ""
    address: str = ""
    since_at: datetime.datetime | None = None
    until_at: datetime.datetime | None = None

    def params(self) -> dict[str, str]:
        """The non-empty filters, as query parameters (and as the log entry's details)."""
        shown = {
            "since": self.since,
            "until": self.until,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "address": self.address,
        }
        return {name: value for name, value in shown.items() if value}


def _text(name: str, limit: int) -> str:
    value = request.args.get(name, "").strip()
    if len(value) > limit or not value.isprintable():
        raise FilterError(f"{name} must be at most {limit} printable characters")
    return value


def _moment(name: str) -> tuple[str, datetime.datetime | None]:
    """A time in the console's zone (datetime-local input or a date) as naive UTC."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return "", None
    for pattern in TIME_FORMATS:
        try:
            local = datetime.datetime.strptime(raw[:19], pattern)
        except ValueError:
            continue
        zone = ZoneInfo(current_state().config.console_timezone)
        moment = local.replace(tzinfo=zone).astimezone(datetime.UTC).replace(tzinfo=None)
        return raw[:19], moment
    raise FilterError(f"{name} must be a time such as 2026-11-23T08:00 or a date")


def read_filters() -> Filters:
    since, since_at = _moment("since")
    until, until_at = _moment("until")
    if until and len(until) == len("2026-11-23") and until_at is not None:
        until_at += datetime.timedelta(days=1)  # a date "until" includes that whole day
    outcome = request.args.get("outcome", "")
    if outcome and outcome not in OUTCOMES:
        raise FilterError(f"outcome must be one of {', '.join(OUTCOMES)}")
    return Filters(
        since=since,
        until=until,
        actor=_text("actor", ACTOR_LENGTH),
        action=_text("action", ACTION_LENGTH),
        target=_text("target", TARGET_LENGTH),
        outcome=outcome,
        address=_text("address", ADDRESS_LENGTH),
        since_at=since_at,
        until_at=until_at,
    )


def _before() -> int | None:
    raw = request.args.get("before", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_SEQ:
        raise FilterError("before must be a sequence number")
    return int(raw)


def seq_range(session: Session, filters: Filters) -> tuple[int, int] | None:
    """The sequence numbers the time range covers (inclusive), found through the ``at``
    index; None when no entry lies in it."""
    low, high = 1, MAX_SEQ
    # Times rise with sequence numbers (taken under the append lock), so the first entry by
    # time is the first by number: one step down the ``at`` index each, not a range scan.
    if filters.since_at is not None:
        found = session.scalar(
            select(OplogEntry.seq)
            .where(OplogEntry.at >= filters.since_at)
            .order_by(OplogEntry.at, OplogEntry.seq)
            .limit(1)
        )
        if found is None:
            return None
        low = found
    if filters.until_at is not None:
        found = session.scalar(
            select(OplogEntry.seq)
            .where(OplogEntry.at < filters.until_at)
            .order_by(OplogEntry.at.desc(), OplogEntry.seq.desc())
            .limit(1)
        )
        if found is None:
            return None
        high = found
    return (low, high) if low <= high else None


def filtered(statement: Select[Any], filters: Filters, bounds: tuple[int, int]) -> Select[Any]:
    statement = statement.where(OplogEntry.seq.between(*bounds))
    if filters.since_at is not None:
        statement = statement.where(OplogEntry.at >= filters.since_at)
    if filters.until_at is not None:
        statement = statement.where(OplogEntry.at < filters.until_at)
    if filters.actor:
        statement = statement.where(OplogEntry.actor == filters.actor)
    if filters.action:
        statement = statement.where(OplogEntry.action.startswith(filters.action, autoescape=True))
    if filters.target:
        statement = statement.where(OplogEntry.target.startswith(filters.target, autoescape=True))
    if filters.outcome:
        statement = statement.where(OplogEntry.outcome == filters.outcome)
    if filters.address:
        statement = statement.where(OplogEntry.client_address == filters.address)
    return statement


def peer_text(address: str, port: int | None) -> str:
    """``address:port`` as logs write it; IPv6 in brackets; ``-`` for what is unknown."""
    shown = f"[{address}]" if ":" in address else (address or "-")
    return f"{shown}:{'-' if port is None else port}"


# -- who may read ------------------------------------------------------------------------


def _refused(status: int, reason: str, action: str) -> None:
    log_refusal(status, reason)
    record(action, outcome="refused", reason=f"{status} {reason}"[:200], target="oplog")


def readers_only(action: str) -> Callable[[View], View]:
    """Admin and auditor only; every refusal, even of someone not logged in, is an entry."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user: User | None = g.get("user")
            if user is None:
                _refused(401, "not logged in", action)
                return redirect(url_for("console.login"))
            if user.must_change_password:
                _refused(401, f"{user.name} must change the password first", action)
                return redirect(url_for("console.change_password"))
            if user.role not in READER_ROLES:
                _refused(403, f"role {user.role} may not read the operation log", action)
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _bad_filter(problem: FilterError, action: str) -> NoReturn:
    _refused(400, str(problem), action)
    abort(400, _("A filter value is not acceptable: %(problem)s", problem=str(problem)))


# -- the chain's status --------------------------------------------------------------------


@dataclass(frozen=True)
class ChainStatus:
    state: str  # "ok", "unsigned" (no checkpoint yet), "empty", "broken"
    head_seq: int
    checkpoint: OplogCheckpoint | None
    unsigned: int
    problem: str = ""


def chain_status(session: Session) -> ChainStatus:
    connection = session.connection()
    head = read_head(connection)
    if head is None:
        return ChainStatus("broken", 0, None, 0, "the chain head row is missing")
    checkpoint = latest_checkpoint(session)

    def broken(problem: str) -> ChainStatus:
        unsigned = head.seq - (checkpoint.seq if checkpoint else 0)
        return ChainStatus("broken", head.seq, checkpoint, unsigned, problem)

    if head.seq:
        stored = session.scalar(select(OplogEntry.hash).where(OplogEntry.seq == head.seq))
        if stored != head.hash:
            return broken(f"entry {head.seq} does not match the chain head")
    if checkpoint is None:
        return ChainStatus("empty" if head.seq == 0 else "unsigned", head.seq, None, head.seq)
    try:
        public_key = verification_key(current_state().paths.root)
    except SigningKeyError as exc:
        return broken(str(exc))
    if public_key is None:
        return broken("no public key to check the checkpoint with (oplog-signing.pub)")
    claim = CheckpointClaim(
        seq=checkpoint.seq,
        hash=checkpoint.hash,
        at=checkpoint.at,
        kind=checkpoint.kind,
        anchor_seq=checkpoint.anchor_seq,
        anchor_hash=checkpoint.anchor_hash,
        key_id=checkpoint.key_id,
    )
    if checkpoint.key_id != key_id(public_key):
        return broken(f"checkpoint {checkpoint.id} names another signing key")
    if not claim_is_signed(public_key, claim, checkpoint.signature):
        return broken(f"checkpoint {checkpoint.id}: the signature does not verify")
    if checkpoint.seq > current_anchor(connection)[0]:
        signed = session.scalar(select(OplogEntry.hash).where(OplogEntry.seq == checkpoint.seq))
        if signed != checkpoint.hash:
            return broken(f"entry {checkpoint.seq} differs from what its checkpoint signed")
    if head.seq < checkpoint.seq:
        return broken(f"the chain head is behind checkpoint {checkpoint.id}")
    return ChainStatus("ok", head.seq, checkpoint, head.seq - checkpoint.seq)


# -- pages ---------------------------------------------------------------------------------


@blueprint.get("/oplog")
@readers_only("oplog.view")
def index() -> ResponseReturnValue:
    try:
        filters = read_filters()
        before = _before()
    except FilterError as problem:
        _bad_filter(problem, "oplog.view")
    with db_session() as session:
        status = chain_status(session)
        bounds = seq_range(session, filters)
        rows: list[OplogEntry] = []
        if bounds is not None:
            if before is not None:
                bounds = (bounds[0], min(bounds[1], before - 1))
            query = filtered(select(OplogEntry), filters, bounds)
            rows = list(session.scalars(query.order_by(OplogEntry.seq.desc()).limit(PER_PAGE + 1)))
        session.expunge_all()
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    params = filters.params()
    details: dict[str, Any] = {**params, "returned": len(rows)}
    if before is not None:
        details["before"] = before
    record("oplog.view", target="oplog", details=details)
    return render_template(
        "oplog/index.html",
        entries=rows,
        filters=filters,
        params=params,
        outcomes=OUTCOMES,
        before=before,
        next_before=rows[-1].seq if more and rows else None,
        status=status,
        peer_text=peer_text,
    )


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_rows(filters: Filters, bounds: tuple[int, int] | None) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + flush()  # the BOM tells spreadsheet programs it is UTF-8
    if bounds is None:
        return
    low, high = bounds
    while low <= high:
        with db_session() as session:
            query = filtered(select(OplogEntry), filters, (low, high))
            batch = list(session.scalars(query.order_by(OplogEntry.seq).limit(EXPORT_BATCH)))
            for entry in batch:
                writer.writerow(
                    [
                        entry.seq,
                        timestamp(entry.at) + "Z",
                        *(
                            _cell(value)
                            for value in (
                                entry.actor,
                                entry.role,
                                entry.action,
                                entry.target,
                                entry.outcome,
                                entry.reason,
                                entry.client_address,
                            )
                        ),
                        "" if entry.client_port is None else entry.client_port,
                        _cell(entry.details),
                        entry.prev_hash,
                        entry.hash,
                    ]
                )
        if len(batch) < EXPORT_BATCH:
            yield flush()
            return
        low = batch[-1].seq + 1
        yield flush()


@blueprint.get("/oplog/export.csv")
@readers_only("oplog.export")
def export() -> ResponseReturnValue:
    try:
        filters = read_filters()
    except FilterError as problem:
        _bad_filter(problem, "oplog.export")
    with db_session() as session:
        bounds = seq_range(session, filters)
        head = read_head(session.connection())
    if bounds is not None:
        # The export ends where the log ended when it was asked for: its own entry (below)
        # and anything after it belong to the next export.
        bounds = (bounds[0], min(bounds[1], head.seq if head is not None else 0))
    through = None if bounds is None else bounds[1]
    record(
        "oplog.export",
        target="oplog",
        details={**filters.params(), "format": "csv", "through_seq": through},
    )
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    return Response(
        stream_with_context(_csv_rows(filters, bounds)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="xunjian-oplog-{stamp}.csv"',
        },
    )
