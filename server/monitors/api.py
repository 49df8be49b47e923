"""``/api/v1/monitors``: page monitors for people with API tokens. Any role reads; admin and
operator tokens create, change, delete, propose and approve; only admin tokens edit the
defacement word list. Nested in the app's ``api`` blueprint (server/api.py), so the token check
and the operation log's record of every write come with it; proposals and decisions are also
recorded under their own action names (POLICY.md E9: both people are in the log)."""

from __future__ import annotations

import datetime
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.apidoc import documented
from server.monitors import history, schemas, store
from server.monitors.models import Monitor, MonitorBaseline, MonitorProposal
from server.monitors.record import in_maintenance
from server.rest import read_body, read_query, reply
from server.state import current_state, db_session, events, refuse
from server.store.models import Agent, utcnow

UPTIME_WINDOWS = (
    ("24h", datetime.timedelta(hours=24)),
    ("7d", datetime.timedelta(days=7)),
    ("30d", datetime.timedelta(days=30)),
)


def make_blueprint() -> Blueprint:
    """These views as a blueprint that ``install(app)`` nests in the app's ``/api/v1`` blueprint
    (server/api.py); made per app, as the parent is."""
    from server.api import token_required

    blueprint = Blueprint("monitors", __name__)
    routes: list[tuple[str, str, Any, list[str]]] = [
        ("/monitors", "monitors", list_monitors, ["GET"]),
        ("/monitors", "monitor_create", create, ["POST"]),
        ("/monitors/<int:monitor_id>", "monitor", get_one, ["GET"]),
        ("/monitors/<int:monitor_id>", "monitor_update", change, ["PATCH"]),
        ("/monitors/<int:monitor_id>", "monitor_delete", remove, ["DELETE"]),
        ("/monitors/<int:monitor_id>/history", "monitor_history", monitor_history, ["GET"]),
        ("/monitors/<int:monitor_id>/baseline", "monitor_baseline", baseline, ["GET"]),
        (
            "/monitors/<int:monitor_id>/baseline/proposals",
            "monitor_propose",
            propose,
            ["POST"],
        ),
        (
            "/monitors/<int:monitor_id>/baseline/proposals/<int:proposal_id>/approve",
            "monitor_approve",
            approve,
            ["POST"],
        ),
        (
            "/monitors/<int:monitor_id>/baseline/proposals/<int:proposal_id>/reject",
            "monitor_reject",
            reject,
            ["POST"],
        ),
        ("/monitors/defacement-words", "defacement_words", get_words, ["GET"]),
        ("/monitors/defacement-words", "defacement_words_put", put_words, ["PUT"]),
    ]
    for rule, endpoint, view, methods in routes:
        blueprint.add_url_rule(rule, endpoint, token_required(view), methods=methods)
    return blueprint


def _time(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


def runners(session: Session, monitors: list[Monitor]) -> dict[str, Agent]:
    """The agents that run these monitors, by id (detached, for reading)."""
    ids = {monitor.agent_id for monitor in monitors if monitor.agent_id}
    if not ids:
        return {}
    return {agent.id: agent for agent in session.scalars(select(Agent).where(Agent.id.in_(ids)))}


def run_by(monitor: Monitor, agents: dict[str, Agent]) -> dict[str, Any]:
    """Who fetches the page: the server, or the agent (with what the console shows of it)."""
    if monitor.agent_id is None:
        return {"kind": "server"}
    agent = agents.get(monitor.agent_id)
    return {
        "kind": "agent",
        "agent_id": monitor.agent_id,
        "hostname": None if agent is None else agent.hostname,
        "revoked": agent is not None and agent.revoked_at is not None,
        "last_seen": None if agent is None else _time(agent.last_seen),
    }


def monitor_json(
    monitor: Monitor,
    baseline_row: MonitorBaseline | None,
    uptime: list[history.Uptime] | None = None,
    now: datetime.datetime | None = None,
    agents: dict[str, Agent] | None = None,
) -> dict[str, Any]:
    now = now or utcnow()
    checked = monitor.last_checked_at
    maintenance = (
        None
        if monitor.maintenance_start is None
        else {"start": _time(monitor.maintenance_start), "end": _time(monitor.maintenance_end)}
    )
    return {
        "id": monitor.id,
        "name": monitor.name,
        "url": monitor.url,
        "enabled": monitor.enabled,
        "state": monitor.state,
        "state_since": _time(monitor.state_since),
        "last_checked_at": _time(monitor.last_checked_at),
        # How old the last result is: an agent that went silent shows here (and in its
        # agent_silent alert), not as a page that is down.
        "last_result_age_seconds": None
        if checked is None
        else max(0, int((now - checked).total_seconds())),
        "last_result": monitor.last_result,
        "agent_id": monitor.agent_id,
        "run_by": run_by(monitor, agents or {}),
        "next_due_at": _time(monitor.next_due_at),
        "open_alerts": [kind for kind in (monitor.alerting or "").split(",") if kind],
        "in_maintenance": in_maintenance(monitor, now),
        "maintenance": maintenance,
        "uptime": None
        if uptime is None
        else {
            label: (None if value.percent is None else round(value.percent, 3))
            for (label, _window), value in zip(UPTIME_WINDOWS, uptime, strict=True)
        },
        "baseline": None
        if baseline_row is None
        else {
            "taken_at": _time(baseline_row.taken_at),
            "accepted_by": baseline_row.accepted_by,
            "title": baseline_row.title,
            "domains": baseline_row.domains,
        },
        "page_changed_at": _time(monitor.candidate_at),
        "interval_seconds": monitor.interval_seconds,
        "timeout_seconds": monitor.timeout_seconds,
        "accepted_statuses": monitor.accepted_statuses,
        "keyword": monitor.keyword,
        "absent_keyword": monitor.absent_keyword,
        "max_ms": monitor.max_ms,
        "follow_redirects": monitor.follow_redirects,
        "max_redirects": monitor.max_redirects,
        "ca_file": monitor.ca_file,
        "cert_warn_days": monitor.cert_warn_days,
        "fail_threshold": monitor.fail_threshold,
        "success_threshold": monitor.success_threshold,
        "reminder_seconds": monitor.reminder_seconds,
        "tamper_enabled": monitor.tamper_enabled,
        "similarity_percent": monitor.similarity_percent,
        "volatile_selectors": monitor.volatile_selectors,
        "volatile_patterns": monitor.volatile_patterns,
        "created_at": _time(monitor.created_at),
        "created_by": monitor.created_by,
    }


def proposal_json(proposal: MonitorProposal) -> dict[str, Any]:
    return {
        "id": proposal.id,
        "monitor_id": proposal.monitor_id,
        "status": proposal.status,
        "proposed_by": proposal.proposed_by,
        "proposed_at": _time(proposal.proposed_at),
        "note": proposal.note,
        "title": proposal.title,
        "domains": proposal.domains,
        "diff": proposal.diff,
        "decided_by": proposal.decided_by,
        "decided_at": _time(proposal.decided_at),
    }


def _owner() -> Any:
    from server.api import owner

    return owner()


def _writer(what: str) -> ResponseReturnValue | None:
    from server.api import refused_unless_writer

    return refused_unless_writer(what)


def _baselines(session: Session, ids: list[int]) -> dict[int, MonitorBaseline]:
    if not ids:
        return {}
    rows = session.scalars(select(MonitorBaseline).where(MonitorBaseline.monitor_id.in_(ids)))
    return {row.monitor_id: row for row in rows}


def _uptimes(ids: list[int]) -> dict[int, list[history.Uptime]]:
    return history.uptimes(current_state().engine, ids, [w for _l, w in UPTIME_WINDOWS])


@documented(
    "Page monitors with state, last result, uptime and baseline",
    auth="bearer",
    tags=["monitors"],
    query=schemas.MonitorsQuery,
    responses={200: schemas.MonitorPage},
)
def list_monitors() -> ResponseReturnValue:
    query = read_query(schemas.MonitorsQuery)
    limit, offset, state = query.limit, query.offset, query.state
    with db_session() as session:
        query = select(Monitor)
        counting = select(func.count()).select_from(Monitor)
        if state:
            query, counting = (
                query.where(Monitor.state == state),
                counting.where(Monitor.state == state),
            )
        total = session.scalar(counting)
        monitors = list(session.scalars(query.order_by(Monitor.id).limit(limit).offset(offset)))
        ids = [monitor.id for monitor in monitors]
        baselines = _baselines(session, ids)
        agents = runners(session, monitors)
    uptime = _uptimes(ids)
    now = utcnow()
    return reply(
        schemas.MonitorPage,
        {
            "monitors": [
                monitor_json(m, baselines.get(m.id), uptime.get(m.id), now, agents)
                for m in monitors
            ],
            "total": total,
            "limit": limit,
            "offset": offset,
        },
    )


def _ca_file_denied(values: dict[str, Any]) -> ResponseReturnValue | None:
    from server.api import refused_unless_admin_names_a_file

    return refused_unless_admin_names_a_file(values)


@documented(
    "Add a monitor (admin and operator tokens; ca_file: admin only)",
    auth="bearer",
    tags=["monitors"],
    body=schemas.NewMonitor,
    responses={201: schemas.Monitor},
    errors={403: "the token's role may not do this", 409: "too many monitors"},
)
def create() -> ResponseReturnValue:
    denied = _writer("create monitors")
    if denied is not None:
        return denied
    try:
        values = store.validate(read_body(schemas.NewMonitor), creating=True)
    except store.FieldError as error:
        return refuse(400, str(error))
    denied = _ca_file_denied(values)
    if denied is not None:
        return denied
    who = _owner().user_name
    with db_session() as session:
        try:
            monitor = store.create_monitor(
                session, values, who, current_state().config.monitor_addresses
            )
        except store.FieldError as error:
            return refuse(400, str(error))
        except store.ConflictError as error:
            return refuse(409, str(error))
        session.commit()
        baselines = _baselines(session, [monitor.id])
        agents = runners(session, [monitor])
    events.info(
        "user %s added monitor %s for %s (run by %s)",
        who,
        monitor.id,
        monitor.url,
        f"agent {monitor.agent_id}" if monitor.agent_id else "the server",
    )
    return reply(
        schemas.Monitor,
        monitor_json(
            monitor,
            baselines.get(monitor.id),
            _uptimes([monitor.id])[monitor.id],
            agents=agents,
        ),
        201,
    )


def _load(session: Session, monitor_id: int) -> Monitor | None:
    return session.get(Monitor, monitor_id)


@documented(
    "One monitor",
    auth="bearer",
    tags=["monitors"],
    responses={200: schemas.Monitor},
)
def get_one(monitor_id: int) -> ResponseReturnValue:
    with db_session() as session:
        monitor = _load(session, monitor_id)
        if monitor is None:
            return jsonify({"error": "no such monitor"}), 404
        baselines = _baselines(session, [monitor_id])
        agents = runners(session, [monitor])
    return reply(
        schemas.Monitor,
        monitor_json(
            monitor,
            baselines.get(monitor_id),
            _uptimes([monitor_id])[monitor_id],
            agents=agents,
        ),
    )


@documented(
    "Change a monitor: only the fields given (admin and operator tokens)",
    auth="bearer",
    tags=["monitors"],
    body=schemas.MonitorSettings,
    responses={200: schemas.Monitor},
    errors={403: "the token's role may not do this"},
)
def change(monitor_id: int) -> ResponseReturnValue:
    denied = _writer("change monitors")
    if denied is not None:
        return denied
    try:
        values = store.validate(read_body(schemas.MonitorSettings), creating=False)
    except store.FieldError as error:
        return refuse(400, str(error))
    denied = _ca_file_denied(values)
    if denied is not None:
        return denied
    with db_session() as session:
        monitor = _load(session, monitor_id)
        if monitor is None:
            return jsonify({"error": "no such monitor"}), 404
        try:
            store.update_monitor(session, monitor, values, current_state().config.monitor_addresses)
        except store.FieldError as error:
            session.rollback()
            return refuse(400, str(error))
        session.commit()
        baselines = _baselines(session, [monitor_id])
        agents = runners(session, [monitor])
    if "agent_id" in values:
        events.info(
            "user %s: monitor %s now run by %s",
            _owner().user_name,
            monitor_id,
            f"agent {values['agent_id']}" if values["agent_id"] else "the server",
        )
    return reply(
        schemas.Monitor,
        monitor_json(
            monitor,
            baselines.get(monitor_id),
            _uptimes([monitor_id])[monitor_id],
            agents=agents,
        ),
    )


@documented(
    "Delete a monitor and its history (admin and operator tokens)",
    auth="bearer",
    tags=["monitors"],
    responses={204: None},
    errors={403: "the token's role may not do this"},
)
def remove(monitor_id: int) -> ResponseReturnValue:
    denied = _writer("delete monitors")
    if denied is not None:
        return denied
    with db_session() as session:
        monitor = _load(session, monitor_id)
        if monitor is None:
            return jsonify({"error": "no such monitor"}), 404
        store.delete_monitor(session, monitor)
        session.commit()
    events.info("user %s deleted monitor %s", _owner().user_name, monitor_id)
    return "", 204


@documented(
    "A monitor's results (period=raw, paged) or hourly or daily aggregates",
    auth="bearer",
    tags=["monitors"],
    query=schemas.HistoryQuery,
    responses={200: schemas.MonitorHistory},
)
def monitor_history(monitor_id: int) -> ResponseReturnValue:
    query = read_query(schemas.HistoryQuery)
    period, limit, offset = query.period, query.limit, query.offset
    days = query.days if query.days is not None else (7 if period == "hour" else 366)
    engine = current_state().engine
    with db_session() as session:
        if _load(session, monitor_id) is None:
            return jsonify({"error": "no such monitor"}), 404
    if period == "raw":
        rows, total = history.recent_results(engine, monitor_id, limit, offset)
        return reply(
            schemas.MonitorHistory,
            {
                "period": "raw",
                "results": [
                    {
                        "at": _time(row.at),
                        "ok": row.ok,
                        "status_code": row.status_code,
                        "ms": row.ms,
                        "problems": row.problems,
                    }
                    for row in rows
                ],
                "total": total,
                "limit": limit,
                "offset": offset,
            },
        )
    since = utcnow() - datetime.timedelta(days=days)
    rows_agg = history.aggregates(engine, monitor_id, period, since)
    return reply(
        schemas.MonitorHistory,
        {
            "period": period,
            "aggregates": [
                {
                    "start": _time(row.start),
                    "probes": row.probes,
                    "ups": row.ups,
                    "uptime": round(100.0 * row.ups / row.probes, 3) if row.probes else None,
                    "ms_avg": int(row.ms_total / row.probes) if row.probes else None,
                    "ms_max": row.ms_max,
                }
                for row in rows_agg
            ],
        },
    )


@documented(
    "A monitor's baseline, the changed page seen, and the latest proposals",
    auth="bearer",
    tags=["monitors"],
    responses={200: schemas.MonitorBaseline},
)
def baseline(monitor_id: int) -> ResponseReturnValue:
    with db_session() as session:
        monitor = _load(session, monitor_id)
        if monitor is None:
            return jsonify({"error": "no such monitor"}), 404
        row = session.get(MonitorBaseline, monitor_id)
        proposals = list(
            session.scalars(
                select(MonitorProposal)
                .where(MonitorProposal.monitor_id == monitor_id)
                .order_by(MonitorProposal.id.desc())
                .limit(20)
            )
        )
        return reply(
            schemas.MonitorBaseline,
            {
                "baseline": None
                if row is None
                else {
                    "taken_at": _time(row.taken_at),
                    "accepted_by": row.accepted_by,
                    "title": row.title,
                    "domains": row.domains,
                    "text_hash": row.text_hash,
                    "text": row.text,
                },
                "candidate": None
                if monitor.candidate_hash is None
                else {
                    "seen_at": _time(monitor.candidate_at),
                    "title": monitor.candidate_title,
                    "domains": monitor.candidate_domains,
                    "text_hash": monitor.candidate_hash,
                },
                "proposals": [proposal_json(p) for p in proposals],
            },
        )


@documented(
    "Propose the changed page as the new baseline (admin and operator tokens)",
    auth="bearer",
    tags=["monitors"],
    body=schemas.BaselineNote,
    responses={201: schemas.Proposal},
    errors={403: "the token's role may not do this", 409: "the page matches its baseline"},
    description="A different person approves it (POLICY.md E9).",
)
def propose(monitor_id: int) -> ResponseReturnValue:
    from server.oplog.hook import record

    denied = _writer("propose a baseline")
    if denied is not None:
        return denied
    payload = read_body(schemas.BaselineNote, optional=True)
    who = _owner().user_name
    with db_session() as session:
        monitor = _load(session, monitor_id)
        if monitor is None:
            return jsonify({"error": "no such monitor"}), 404
        try:
            proposal = store.propose(session, monitor, who, payload.note)
        except store.FieldError as error:
            return refuse(400, str(error))
        except store.ConflictError as error:
            return refuse(409, str(error))
        session.commit()
        answer = proposal_json(proposal)
    record(
        "monitor.baseline.propose",
        target=f"monitor:{monitor_id}",
        details={"proposal": answer["id"]},
    )
    return reply(schemas.Proposal, answer, 201)


def _decide(monitor_id: int, proposal_id: int, approve_it: bool) -> ResponseReturnValue:
    from server.oplog.hook import record

    verb = "approve" if approve_it else "reject"
    denied = _writer(f"{verb} a baseline")
    if denied is not None:
        return denied
    who = _owner().user_name
    with db_session() as session:
        monitor = _load(session, monitor_id)
        if monitor is None:
            return jsonify({"error": "no such monitor"}), 404
        try:
            proposal = store.decide(session, monitor, proposal_id, who, approve_it)
        except LookupError:
            return jsonify({"error": "no such proposal"}), 404
        except store.ForbiddenError as error:
            session.rollback()
            return refuse(403, str(error))
        except store.ConflictError as error:
            session.rollback()
            return refuse(409, str(error))
        session.commit()
        answer = proposal_json(proposal)
    record(
        f"monitor.baseline.{verb}",
        target=f"monitor:{monitor_id}",
        details={"proposal": proposal_id, "proposed_by": answer["proposed_by"]},
    )
    events.info(
        "user %s: %s baseline proposal %s of monitor %s", who, verb, proposal_id, monitor_id
    )
    return reply(schemas.Proposal, answer)


_DECISION_REFUSALS = {
    403: "the token's role may not decide, or it is the proposer's own proposal",
    409: "the proposal is not pending",
}


@documented(
    "Approve a pending baseline proposal: someone other than its proposer",
    auth="bearer",
    tags=["monitors"],
    responses={200: schemas.Proposal},
    errors=_DECISION_REFUSALS,
)
def approve(monitor_id: int, proposal_id: int) -> ResponseReturnValue:
    return _decide(monitor_id, proposal_id, True)


@documented(
    "Reject a pending baseline proposal",
    auth="bearer",
    tags=["monitors"],
    responses={200: schemas.Proposal},
    errors=_DECISION_REFUSALS,
)
def reject(monitor_id: int, proposal_id: int) -> ResponseReturnValue:
    return _decide(monitor_id, proposal_id, False)


@documented(
    "The defacement word list",
    auth="bearer",
    tags=["monitors"],
    responses={200: schemas.DefacementWords},
)
def get_words() -> ResponseReturnValue:
    with db_session() as session:
        return reply(schemas.DefacementWords, {"words": store.words(session)})


@documented(
    "Replace the defacement word list (admin tokens); answers the words as stored",
    auth="bearer",
    tags=["monitors"],
    body=schemas.DefacementWords,
    responses={200: schemas.DefacementWords},
    errors={403: "only admin tokens edit the list"},
)
def put_words() -> ResponseReturnValue:
    owner = _owner()
    if owner.role != "admin":
        return refuse(403, f"only admins edit the defacement words ({owner.user_name})")
    payload = read_body(schemas.DefacementWords)
    with db_session() as session:
        try:
            cleaned = store.replace_words(session, payload.words, owner.user_name)
        except store.FieldError as error:
            return refuse(400, str(error))
        session.commit()
    return reply(schemas.DefacementWords, {"words": cleaned})
