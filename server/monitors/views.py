"""The console's Monitors pages: every monitor with its state, uptime (24 h, 7 d, 30 d) and a
small server-rendered SVG chart of the last 24 hours; one monitor's settings, who runs it (the
server, or an enrolled agent for an internal-only site), maintenance window, results, and the
two-person acceptance of a changed page (POLICY.md E9); the defacement word list (admins edit
it)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.alerts.views import kind_label
from server.console.auth import console_blueprint, login_required, roles_required
from server.console.nav import NavItem
from server.devices.models import DEVICE_PLATFORM
from server.monitors import history, store
from server.monitors.api import UPTIME_WINDOWS, runners
from server.monitors.models import Monitor, MonitorBaseline, MonitorProposal
from server.monitors.page import readable_diff
from server.monitors.record import in_maintenance
from server.monitors.schemas import MAX_WORDS, WORD_LENGTH, BaselineNote, MonitorSettings
from server.rest import input_limits
from server.state import current_state, db_session, log_refusal
from server.store.models import Agent, utcnow

blueprint = console_blueprint("monitors", __name__, template_folder="templates")
NAV = (NavItem("monitors.index", _l("Monitors"), 50),)

PER_PAGE = 100
CHART_WIDTH = 240
CHART_HEIGHT = 36
MAX_FORM_TEXT = 20_000
# The forms' min/max/maxlength, from the models that check them (server/monitors/schemas.py).
FORM_LIMITS = {**input_limits(MonitorSettings), **input_limits(BaselineNote)}
MAX_NUMBER_TEXT = 20  # a whole number's digits, kept short before the model reads them
MAX_AGENT_CHOICES = 500


@dataclass(frozen=True)
class AgentChoice:
    id: str
    hostname: str


def agent_choices(session: Any) -> list[AgentChoice]:
    """Enrolled agents that may run a monitor (not revoked, not a network device's record)."""
    rows = session.execute(
        select(Agent.id, Agent.hostname)
        .where(Agent.revoked_at.is_(None), Agent.platform != DEVICE_PLATFORM)
        .order_by(Agent.hostname, Agent.id)
        .limit(MAX_AGENT_CHOICES)
    ).all()
    return [AgentChoice(row.id, row.hostname) for row in rows]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    kind: str  # up | partial | down
    label: str


def chart(buckets: list[history.Bucket]) -> list[Bar]:
    """Bars of the last 24 hours: height by mean response time, colour by up/down."""
    if not buckets:
        return []
    slowest = max((b.ms_avg or 0) for b in buckets) or 1
    width = CHART_WIDTH / len(buckets)
    bars = []
    for index, bucket in enumerate(buckets):
        if not bucket.probes:
            continue
        kind = "up" if bucket.ups == bucket.probes else ("down" if bucket.ups == 0 else "partial")
        height = (
            CHART_HEIGHT
            if kind == "down" or bucket.ms_avg is None
            else max(3.0, CHART_HEIGHT * bucket.ms_avg / slowest)
        )
        label = f"{bucket.start:%H:%M} UTC: {bucket.ups}/{bucket.probes}" + (
            "" if bucket.ms_avg is None else f", {bucket.ms_avg} ms"
        )
        bars.append(
            Bar(
                round(index * width, 2),
                round(CHART_HEIGHT - height, 2),
                round(max(width - 1, 1), 2),
                round(height, 2),
                kind,
                label,
            )
        )
    return bars


def _percent(value: history.Uptime) -> str:
    return "–" if value.percent is None else f"{value.percent:.2f}%"


# The settings form's fields, as the form sends them; a refused form is shown again with them.
FORM_TEXT_FIELDS = (
    "url",
    "name",
    "keyword",
    "absent_keyword",
    "accepted_statuses",
    "ca_file",
    "interval_seconds",
    "timeout_seconds",
    "fail_threshold",
    "success_threshold",
    "reminder_seconds",
    "similarity_percent",
    "max_ms",
    "volatile_selectors",
    "volatile_patterns",
    "agent_id",
)
FORM_BOXES = ("enabled", "follow_redirects", "tamper_enabled")
ADD_DEFAULTS = {"interval_seconds": "300", "follow_redirects": True}


class FormRefused(Exception):
    """A monitor form with bad fields: ``errors`` maps a field (or "" for the form) to the
    sentence shown beside it; ``corrected`` holds values offered in place of the typed ones."""

    def __init__(self, errors: dict[str, str], corrected: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.corrected = corrected or {}


# What store.validate and the settings model say (English, for the API and the log), turned
# into the person's language beside the field it names.
_URL_REASONS = {
    "url must start with http:// or https://": _l(
        "The address must start with http:// or https://."
    ),
    "url has no host": _l("The address names no host."),
    "url must not contain spaces or control characters": _l(
        "The address must not contain spaces or control characters."
    ),
    "url must not carry credentials (user:password@)": _l(
        "The address must not carry a user name or password (user:password@)."
    ),
    "url port must be 1..65535": _l("The port must be 1..65535."),
}
_EXPECTED = re.compile(
    r"^(?P<field>[a-z_]+): expected `(?P<type>int(?: \| null)?|str)`"
    r"(?:(?P<whole>, got `\w+`)"
    r"| of length (?P<lop>[<>]=) (?P<len>\d+)"
    r"| (?P<op>[<>]=) (?P<n>-?\d+))$"
)


def form_error(message: str) -> tuple[str, str]:
    """(field, sentence in the page's language) for a refusal's English text."""
    if message in _URL_REASONS:
        return "url", str(_URL_REASONS[message])
    if message.startswith("url "):
        return "url", _("The address is not valid: %(reason)s", reason=message.split(": ", 1)[-1])
    if message.startswith("volatile pattern"):
        return "volatile_patterns", message
    if message.startswith("volatile selector"):
        return "volatile_selectors", message
    match = _EXPECTED.match(message)
    if match:
        field = match["field"]
        if match["whole"]:
            return field, _("Write a whole number.")
        if match["op"] == ">=":
            return field, _("At least %(number)s.", number=match["n"])
        if match["op"] == "<=":
            return field, _("At most %(number)s.", number=match["n"])
        if match["lop"] == ">=":
            return field, _("Required.")
        return field, _("At most %(number)s characters.", number=match["len"])
    field, _sep, reason = message.partition(": ")
    if field in FORM_TEXT_FIELDS and reason:
        return field, reason
    return "", message


def _form_values(monitor: Monitor | None, refused: FormRefused | None) -> dict[str, Any]:
    """The values the settings form shows: the monitor's (or the defaults for a new one), and
    after a refusal what the person typed, with any offered correction."""
    values: dict[str, Any]
    if monitor is None:
        values = dict(ADD_DEFAULTS)
    else:
        values = {name: getattr(monitor, name) for name in FORM_TEXT_FIELDS + FORM_BOXES}
        for name in ("volatile_selectors", "volatile_patterns"):
            values[name] = "\n".join(values[name] or [])
        values["max_ms"] = values["max_ms"] or ""
    if refused is not None:
        values.update(
            {name: request.form[name] for name in FORM_TEXT_FIELDS if name in request.form}
        )
        if monitor is not None:
            values.update({name: request.form.get(name) == "on" for name in FORM_BOXES})
        values.update(refused.corrected)
    return values


@blueprint.get("/monitors")
@login_required
def index() -> ResponseReturnValue:
    return _index_page()


def _index_page(refused: FormRefused | None = None) -> ResponseReturnValue:
    engine = current_state().engine
    with db_session() as session:
        monitors = list(session.scalars(select(Monitor).order_by(Monitor.id).limit(PER_PAGE)))
        words = store.words(session)
        agents = runners(session, monitors)
        choices = agent_choices(session) if g.user.role in ("admin", "operator") else []
    ids = [monitor.id for monitor in monitors]
    uptime = history.uptimes(engine, ids, [window for _label, window in UPTIME_WINDOWS])
    series = history.series(engine, ids)
    now = utcnow()
    rows = [
        {
            "monitor": monitor,
            "uptime": [_percent(value) for value in uptime[monitor.id]],
            "bars": chart(series[monitor.id]),
            "alerts": [kind for kind in (monitor.alerting or "").split(",") if kind],
            "maintenance": in_maintenance(monitor, now),
            "agent": agents.get(monitor.agent_id) if monitor.agent_id else None,
        }
        for monitor in monitors
    ]
    return render_template(
        "monitors/index.html",
        limits=FORM_LIMITS,
        kind_label=kind_label,
        rows=rows,
        # After a refused word list, the list as typed, to correct rather than retype.
        words=_form_lines("words") if refused and "words" in refused.errors else words,
        agent_choices=choices,
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        windows=[label for label, _window in UPTIME_WINDOWS],
        form=_form_values(None, refused),
        errors=refused.errors if refused else {},
    ), (400 if refused else 200)


def _form_int(name: str) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        abort(400, _("Not saved: %(reason)s", reason=f"{name} must be a whole number"))
    return int(raw)


def _form_lines(name: str) -> list[str]:
    text = request.form.get(name, "")
    if len(text) > MAX_FORM_TEXT:
        abort(413)
    return [line.strip() for line in text.splitlines() if line.strip()]


def _payload(creating: bool) -> dict[str, Any]:
    """The form as the API's body, numbers still as text: one model (MonitorSettings,
    server/monitors/schemas.py) checks both, the form with ``from_text``."""
    payload: dict[str, Any] = {}
    for name in ("url", "name", "keyword", "absent_keyword", "accepted_statuses", "ca_file"):
        if name in request.form:
            payload[name] = request.form[name][:MAX_FORM_TEXT]
    for name in (
        "interval_seconds",
        "timeout_seconds",
        "fail_threshold",
        "success_threshold",
        "reminder_seconds",
        "similarity_percent",
        "cert_warn_days",
    ):
        raw = request.form.get(name, "").strip()[:MAX_NUMBER_TEXT]
        if raw:
            payload[name] = raw
    if "max_ms" in request.form:
        payload["max_ms"] = request.form["max_ms"].strip()[:MAX_NUMBER_TEXT] or None
    if "volatile_selectors" in request.form:
        payload["volatile_selectors"] = _form_lines("volatile_selectors")
    if "volatile_patterns" in request.form:
        payload["volatile_patterns"] = _form_lines("volatile_patterns")
    if "agent_id" in request.form:
        # The empty choice is "the server"; anything else is checked by store.validate.
        payload["agent_id"] = request.form["agent_id"][:100] or None
    if not creating:
        for name in ("enabled", "follow_redirects", "tamper_enabled"):
            payload[name] = request.form.get(name) == "on"
    elif "follow_redirects" in request.form or "url" in request.form:
        payload["follow_redirects"] = request.form.get("follow_redirects", "on") == "on"
    return payload


def _refused(error: Exception) -> FormRefused:
    log_refusal(400, f"monitor form refused: {error}")
    field, sentence = form_error(str(error))
    return FormRefused({field: sentence})


def _validated(creating: bool, current_ca_file: str = "") -> dict[str, Any]:
    payload = _payload(creating)
    if g.user.role != "admin" and payload.get("ca_file", current_ca_file) != current_ca_file:
        # Only admins name a file on the server (an operator could probe for files otherwise).
        log_refusal(403, f"{g.user.name} may not set ca_file")
        abort(403)
    url = payload.get("url", "").strip()
    if url and "://" not in url and not any(char.isspace() for char in url):
        # "www.school.edu.cn" as people write it: offer https:// in front rather than guess
        # silently, since the page may answer only on http.
        log_refusal(400, "monitor form refused: url without a scheme")
        raise FormRefused(
            {
                "url": _(
                    "An address starts with http:// or https://. It now reads %(url)s: "
                    "check it and save again.",
                    url=f"https://{url}",
                )
            },
            {"url": f"https://{url}"},
        )
    try:
        return store.validate(payload, creating=creating, from_text=True)
    except store.FieldError as error:
        raise _refused(error) from None


@blueprint.post("/monitors")
@roles_required("admin", "operator")
def add() -> ResponseReturnValue:
    try:
        values = _validated(creating=True)
    except FormRefused as refused:
        return _index_page(refused)
    with db_session() as session:
        try:
            monitor = store.create_monitor(
                session, values, g.user.name, current_state().config.monitor_addresses
            )
        except store.FieldError as error:
            session.rollback()
            return _index_page(_refused(error))
        except store.ConflictError as error:
            abort(409, str(error))
        session.commit()
        monitor_id = monitor.id
    return redirect(url_for("monitors.detail", monitor_id=monitor_id, saved=1), code=303)


@dataclass(frozen=True)
class Loaded:
    monitor: Monitor
    baseline: MonitorBaseline | None
    proposals: list[MonitorProposal]
    agent: Agent | None  # the agent that runs it, if one does
    choices: list[AgentChoice]


def _load(monitor_id: int) -> Loaded:
    with db_session() as session:
        monitor = session.get(Monitor, monitor_id)
        if monitor is None:
            abort(404)
        baseline = session.get(MonitorBaseline, monitor_id)
        proposals = list(
            session.scalars(
                select(MonitorProposal)
                .where(MonitorProposal.monitor_id == monitor_id)
                .order_by(MonitorProposal.id.desc())
                .limit(10)
            )
        )
        agent = runners(session, [monitor]).get(monitor.agent_id or "")
        choices = agent_choices(session) if g.user.role in ("admin", "operator") else []
        return Loaded(monitor, baseline, proposals, agent, choices)


@blueprint.get("/monitors/<int:monitor_id>")
@login_required
def detail(monitor_id: int) -> ResponseReturnValue:
    return _detail_page(monitor_id)


def _detail_page(monitor_id: int, refused: FormRefused | None = None) -> ResponseReturnValue:
    loaded = _load(monitor_id)
    monitor, baseline, proposals = loaded.monitor, loaded.baseline, loaded.proposals
    engine = current_state().engine
    now = utcnow()
    uptime = history.uptimes(engine, [monitor_id], [w for _l, w in UPTIME_WINDOWS])[monitor_id]
    results, total = history.recent_results(engine, monitor_id, 50, 0)
    change = None
    if monitor.candidate_text is not None:
        before = ([baseline.title] if baseline and baseline.title else []) + (
            baseline.text.split("\n") if baseline and baseline.text else []
        )
        after = ([monitor.candidate_title] if monitor.candidate_title else []) + (
            monitor.candidate_text.split("\n") if monitor.candidate_text else []
        )
        change = readable_diff(before, after)
    return render_template(
        "monitors/detail.html",
        limits=FORM_LIMITS,
        kind_label=kind_label,
        monitor=monitor,
        baseline=baseline,
        proposals=proposals,
        uptime=[
            (label, _percent(value))
            for (label, _w), value in zip(UPTIME_WINDOWS, uptime, strict=True)
        ],
        bars=chart(history.series(engine, [monitor_id])[monitor_id]),
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        results=results,
        total=total,
        change=change,
        maintenance=in_maintenance(monitor, now),
        alerts=[kind for kind in (monitor.alerting or "").split(",") if kind],
        agent=loaded.agent,
        agent_choices=loaded.choices,
        # How old the last result is: an agent that went silent shows here.
        result_age=None
        if monitor.last_checked_at is None
        else format_timedelta(max(now - monitor.last_checked_at, datetime.timedelta(0))),
        form=_form_values(monitor, refused),
        errors=refused.errors if refused else {},
    ), (400 if refused else 200)


@blueprint.post("/monitors/<int:monitor_id>")
@roles_required("admin", "operator")
def edit(monitor_id: int) -> ResponseReturnValue:
    with db_session() as session:
        monitor = session.get(Monitor, monitor_id)
        if monitor is None:
            abort(404)
        try:
            values = _validated(creating=False, current_ca_file=monitor.ca_file)
            store.update_monitor(session, monitor, values, current_state().config.monitor_addresses)
        except store.FieldError as error:
            session.rollback()
            refused = _refused(error)
        except FormRefused as error:
            refused = error
        else:
            session.commit()
            refused = None
    if refused is not None:
        return _detail_page(monitor_id, refused)
    return redirect(url_for("monitors.detail", monitor_id=monitor_id, saved=1), code=303)


@blueprint.post("/monitors/<int:monitor_id>/maintenance")
@roles_required("admin", "operator")
def maintenance(monitor_id: int) -> ResponseReturnValue:
    window: dict[str, str] | None = None
    if request.form.get("action") != "clear":
        hours = _form_int("hours")
        if hours is None or not 1 <= hours <= 24 * 31:
            abort(400, _("Not saved: %(reason)s", reason="hours must be 1..744"))
        start = datetime.datetime.now(datetime.UTC)
        window = {
            "start": start.isoformat(),
            "end": (start + datetime.timedelta(hours=hours)).isoformat(),
        }
    try:
        values = store.validate({"maintenance": window}, creating=False)
    except store.FieldError as error:
        abort(400, _("Not saved: %(reason)s", reason=str(error)))
    with db_session() as session:
        monitor = session.get(Monitor, monitor_id)
        if monitor is None:
            abort(404)
        store.update_monitor(session, monitor, values, current_state().config.monitor_addresses)
        session.commit()
    return redirect(url_for("monitors.detail", monitor_id=monitor_id), code=303)


@blueprint.post("/monitors/<int:monitor_id>/delete")
@roles_required("admin", "operator")
def delete(monitor_id: int) -> ResponseReturnValue:
    with db_session() as session:
        monitor = session.get(Monitor, monitor_id)
        if monitor is None:
            abort(404)
        store.delete_monitor(session, monitor)
        session.commit()
    return redirect(url_for("monitors.index"), code=303)


@blueprint.post("/monitors/<int:monitor_id>/propose")
@roles_required("admin", "operator")
def propose(monitor_id: int) -> ResponseReturnValue:
    from server.oplog.hook import record

    note = request.form.get("note", "")
    with db_session() as session:
        monitor = session.get(Monitor, monitor_id)
        if monitor is None:
            abort(404)
        try:
            proposal = store.propose(session, monitor, g.user.name, note)
        except store.FieldError as error:
            abort(400, _("Not saved: %(reason)s", reason=str(error)))
        except store.ConflictError:
            log_refusal(409, f"monitor {monitor_id}: nothing to propose")
            abort(409, _("The page matches its baseline; there is nothing to accept."))
        session.commit()
        proposal_id = proposal.id
    record(
        "monitor.baseline.propose",
        target=f"monitor:{monitor_id}",
        details={"proposal": proposal_id},
    )
    return redirect(url_for("monitors.detail", monitor_id=monitor_id), code=303)


@blueprint.post(
    "/monitors/<int:monitor_id>/proposals/<int:proposal_id>/<any(approve, reject):verb>"
)
@roles_required("admin", "operator")
def decide(monitor_id: int, proposal_id: int, verb: str) -> ResponseReturnValue:
    from server.oplog.hook import record

    with db_session() as session:
        monitor = session.get(Monitor, monitor_id)
        if monitor is None:
            abort(404)
        try:
            proposal = store.decide(session, monitor, proposal_id, g.user.name, verb == "approve")
        except LookupError:
            abort(404)
        except store.ForbiddenError:
            session.rollback()
            log_refusal(403, f"{g.user.name} may not approve their own proposal {proposal_id}")
            abort(
                403,
                _("A changed page needs two people: someone other than the proposer approves it."),
            )
        except store.ConflictError:
            session.rollback()
            abort(409, _("This proposal was decided already."))
        session.commit()
        proposed_by = proposal.proposed_by
    record(
        f"monitor.baseline.{verb}",
        target=f"monitor:{monitor_id}",
        details={"proposal": proposal_id, "proposed_by": proposed_by},
    )
    return redirect(url_for("monitors.detail", monitor_id=monitor_id), code=303)


@blueprint.post("/monitors/words")
@roles_required("admin")
def words() -> ResponseReturnValue:
    with db_session() as session:
        try:
            store.replace_words(session, _form_lines("words"), g.user.name)
        except store.FieldError as error:
            session.rollback()
            log_refusal(400, f"defacement words refused: {error}")
            reason = (
                _("Each word or phrase is at most %(n)d characters.", n=WORD_LENGTH)
                if str(error).startswith("each word")
                else _("At most %(n)d words or phrases.", n=MAX_WORDS)
            )
            return _index_page(FormRefused({"words": reason}))
        session.commit()
    return redirect(url_for("monitors.index", words_saved=1), code=303)
