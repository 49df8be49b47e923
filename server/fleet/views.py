"""The fleet pages of the console: the dashboard (``/``), hosts with search, filters and paging,
a host (results, inventory, history, operation log, scan now), and the checks (docs/console.md).
Network devices (server/devices) are hosts too, shown as devices: their type and last check
instead of online or offline, and *Check now* runs a device check instead of queueing a command.

Every query parameter is validated and bounded: a bad value gets a 400 page that says which,
a page past the end a 404, and nothing is changed by a GET. Each page runs a fixed number of
queries (server/fleet/store.py), whatever the fleet's size.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console.auth import console_blueprint, login_required, roles_required
from server.console.i18n import bilingual
from server.console.nav import NavItem
from server.devices.catalog import device_catalog
from server.devices.jobs import Started, start_check
from server.devices.models import DEVICE_PLATFORM
from server.fleet import store
from server.fleet.chart import compliance_chart
from server.fleet.devices import DeviceState, device_states, outcome_counts
from server.fleet.jobs import local_day, newest_report_at, refresh_compliance
from server.oplog.hook import record
from server.policy import check_catalog
from server.state import current_state, db_session, events, log_refusal
from server.store.agents import queue_command
from server.store.isolation import count_isolated, isolated_host_ids, isolation_of
from server.store.models import User, utcnow
from server.store.queries import inventory, latest_results
from xunjian.core.contract import SEVERITIES

blueprint = console_blueprint("fleet", __name__)

NAV = (
    NavItem("fleet.dashboard", _l("Dashboard"), 10),
    NavItem("fleet.hosts", _l("Hosts"), 20),
    NavItem("fleet.checks", _l("Checks"), 30),
)

HOSTS_PER_PAGE = 50
# An inventory list longer than this (installed packages) is folded, and its box shows at most
# INVENTORY_SHOWN entries: a host page must stay a page, not 23,000 px of packages.
INVENTORY_INLINE = 20
INVENTORY_SHOWN = 500
HISTORY_PER_PAGE = 50
OPLOG_PER_PAGE = 50
FAILING_PER_PAGE = 50
MAX_PAGE = 100_000
CHART_WEEKS = 12
COMMAND_ROLES = ("admin", "operator")
# The operation log is audit data (POLICY.md A1): the roles that may read it through the API.
OPLOG_ROLES = ("admin", "auditor")
AGENT_ID_MAX = 36


def _refuse(reason: str, shown: str) -> None:
    """400 with a reason in the log (English) and one for the person (their language)."""
    log_refusal(400, reason)
    abort(400, shown)


def _page_number(name: str = "page") -> int:
    raw = request.args.get(name, "1")
    if not raw.isdigit() or len(raw) > 6 or not 1 <= int(raw) <= MAX_PAGE:
        _refuse(
            f"console: bad {name} {raw[:20]!r}",
            _("The page number must be a whole number from 1 to %(max)d.", max=MAX_PAGE),
        )
    return int(raw)


def _printable(text: str) -> bool:
    return not any(unicodedata.category(char)[0] == "C" for char in text)


def _offline_after() -> int:
    return current_state().config.offline_after_seconds


def _catalog() -> dict[str, dict[str, Any]]:
    """The check registry and the checks the server runs on devices itself."""
    return {str(entry.get("id")): entry for entry in [*check_catalog(), *device_catalog()]}


def _titles() -> dict[str, str]:
    return {check_id: bilingual(entry.get("title")) for check_id, entry in _catalog().items()}


def _remediations() -> dict[str, str]:
    """What to do about each check, in the page's language: shown beside a failing result,
    where the person looks, not only on the check's own page."""
    return {
        check_id: bilingual(entry.get("remediation"))
        for check_id, entry in _catalog().items()
        if entry.get("remediation")
    }


def _pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page))


# --- the dashboard ------------------------------------------------------------------------


@blueprint.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    state = current_state()
    now = utcnow()
    with db_session() as db:
        compliance = store.compliance_by_group(db)
    newest = newest_report_at(state.engine)
    today = local_day(now, state.config.console_timezone)
    stale = compliance.day != today or (
        newest is not None and compliance.counted_at is not None and compliance.counted_at < newest
    )
    if stale:
        # No count today yet (a new server, or its thread has not run yet), or a report came
        # after the count: count now if due. The lease keeps this to one process, as for the
        # thread (server/fleet/jobs.py), and to one count per FRESH_SECONDS.
        stale = refresh_compliance(
            state.engine,
            now,
            interval=state.config.fleet_recount_seconds,
            zone=state.config.console_timezone,
        )
    with db_session() as db:
        if stale:
            compliance = store.compliance_by_group(db)
        counts = store.host_counts(db, state.config.offline_after_seconds)
        alerts = store.open_alerts_by_severity(db)
        device_outcomes = outcome_counts(db) if counts.devices else []
        weeks = store.weekly_compliance(db, CHART_WEEKS, today)
        platforms = store.platform_counts(db)
        isolated = count_isolated(db)
    scores = compliance.groups
    judged = [score for score in scores if score.passed + score.failed]
    overall = store.GroupScore(
        group_id=0,
        name="",
        hosts=sum(score.hosts for score in scores),
        passed=sum(score.passed for score in judged),
        failed=sum(score.failed for score in judged),
    )
    severities = list(reversed(SEVERITIES))  # critical first
    return render_template(
        "fleet/dashboard.html",
        counts=counts,
        device_outcomes=device_outcomes,
        scores=scores,
        overall=overall,
        counted_at=compliance.counted_at,
        alerts=alerts,
        severities=severities,
        alert_totals={
            "open": sum(row["open"] for row in alerts.values()),
            "acknowledged": sum(row["acknowledged"] for row in alerts.values()),
        },
        chart=compliance_chart(weeks, scores),
        platforms=platforms,
        host_platforms=store.HOST_PLATFORMS,
        isolated=isolated,
    )


# --- hosts --------------------------------------------------------------------------------


def _host_filter(db: Any) -> tuple[store.HostFilter, dict[str, str]]:
    """The filter from the query string, and the values to keep in the page's links."""
    search = request.args.get("q", "").strip()
    group_name = request.args.get("group", "")
    status = request.args.get("status", "")
    failing = request.args.get("failing", "")
    platform = request.args.get("platform", "")
    if len(search) > store.SEARCH_MAX or not _printable(search):
        _refuse(
            f"console: bad host search {search[:40]!r}",
            _("Search for at most %(n)d printable characters.", n=store.SEARCH_MAX),
        )
    group_id = None
    if group_name:
        group_id = store.group_id_by_name(db, group_name[:64]) if len(group_name) <= 64 else None
        if group_id is None:
            _refuse(f"console: unknown group {group_name[:64]!r}", _("There is no such group."))
    if status and status not in store.HOST_STATUSES:
        _refuse(
            f"console: bad host status {status[:20]!r}",
            _("The status must be online, offline, device, revoked or isolated."),
        )
    if failing and not store.CHECK_ID_PATTERN.fullmatch(failing):
        _refuse(f"console: bad check id {failing[:40]!r}", _("That is not a check id."))
    if platform and platform not in store.HOST_PLATFORMS:
        _refuse(
            f"console: bad platform {platform[:20]!r}",
            _("The platform must be one of %(names)s.", names=", ".join(store.HOST_PLATFORMS)),
        )
    sort = request.args.get("sort", "")
    if sort and sort.removeprefix("-") not in store.HOST_SORTS:
        _refuse(
            f"console: bad host sort {sort[:20]!r}",
            _("The list sorts by one of %(names)s.", names=", ".join(store.HOST_SORTS)),
        )
    kept = {
        "q": search,
        "group": group_name,
        "status": status,
        "failing": failing,
        "platform": platform,
        "sort": sort,
    }
    chosen = store.HostFilter(
        search=search,
        group_id=group_id,
        # Isolation is the isolation feature's to judge (request against the agent's report).
        status=status if status and status != "isolated" else None,
        failing_check=failing or None,
        platform=platform or None,
        agent_ids=tuple(isolated_host_ids(db)) if status == "isolated" else None,
    )
    return chosen, {name: value for name, value in kept.items() if value}


@blueprint.get("/hosts")
@login_required
def hosts() -> ResponseReturnValue:
    page = _page_number()
    offline_after = _offline_after()
    with db_session() as db:
        chosen, kept = _host_filter(db)
        total = store.count_hosts(db, chosen, offline_after)
        pages = _pages(total, HOSTS_PER_PAGE)
        if page > pages:
            abort(
                404, _("There is no page %(page)d: the list has %(pages)d.", page=page, pages=pages)
            )
        sort = kept.get("sort", "name")
        rows = store.page_hosts(
            db,
            chosen,
            offline_after,
            HOSTS_PER_PAGE,
            (page - 1) * HOSTS_PER_PAGE,
            sort=sort.removeprefix("-"),
            descending=sort.startswith("-"),
        )
        devices = device_states(db, [row.id for row in rows if row.platform == DEVICE_PLATFORM])
        isolations = isolation_of(db, [row.id for row in rows])
        addresses = store.first_addresses(db, [row.id for row in rows])
        groups = store.groups(db)
    titles = _titles()
    return render_template(
        "fleet/hosts.html",
        hosts=rows,
        devices=devices,
        isolations=isolations,
        addresses=addresses,
        sort=kept.get("sort", "name"),
        total=total,
        page=page,
        pages=pages,
        kept=kept,
        filtered=chosen.active(),
        groups=groups,
        statuses=store.HOST_STATUSES,
        platforms=store.HOST_PLATFORMS,
        checks=sorted(titles.items(), key=lambda item: item[0]),
        failing_title=titles.get(kept.get("failing", "")),
    )


def _host_or_404(db: Any, host_id: str) -> store.HostRow:
    row = store.host_row(db, host_id, _offline_after()) if len(host_id) <= AGENT_ID_MAX else None
    if row is None:
        abort(404, _("There is no such host."))
    return row


def _device_of(db: Any, row: store.HostRow | None) -> DeviceState | None:
    if row is None or row.platform != DEVICE_PLATFORM:
        return None
    return device_states(db, [row.id]).get(row.id)


def _notice() -> str | None:
    """What "Scan now" did, after its redirect: the query string carries a key only
    (``queued`` for an agent's command, ``check`` for a device check), never text."""
    if request.args.get("queued"):
        return _("A scan was requested.")
    check = request.args.get("check")
    if check == Started.STARTED:
        return _("The device check has started; reload this page in a minute to see its results.")
    if check == Started.BUSY:
        return _(
            "The device is being checked right now; reload this page in a minute to see the "
            "results."
        )
    if check == Started.QUEUED:
        return _(
            "The server is running several device checks already: this device is due, and is "
            "checked within %(seconds)d seconds.",
            seconds=current_state().config.device_sweep_seconds,
        )
    return None


def _checks_for_other_platforms(platform: str) -> set[str]:
    """The checks the registry declares only for other platforms than the host's: on the host
    page their ``not_applicable`` reads *not for this platform*. None for a device, whose
    checks are the server's own and the Linux ones run over SSH."""
    if platform == DEVICE_PLATFORM:
        return set()
    return {
        check_id
        for check_id, entry in _catalog().items()
        if entry.get("platforms") and platform not in entry["platforms"]
    }


@blueprint.get("/hosts/<host_id>")
@login_required
def host(host_id: str) -> ResponseReturnValue:
    history_page = _page_number("history")
    user: User = g.user
    with db_session() as db:
        row = _host_or_404(db, host_id)
        device = _device_of(db, row)
        device_id = device.device_id if device else None
        results = latest_results(db, host_id)
        inventory_row = inventory(db, host_id)
        changes, more_history = store.history(
            db, host_id, HISTORY_PER_PAGE, (history_page - 1) * HISTORY_PER_PAGE
        )
        oplog_count = (
            store.host_oplog_count(db, host_id, device_id) if user.role in OPLOG_ROLES else 0
        )
        isolation = isolation_of(db, [host_id]).get(host_id)
    elsewhere = _checks_for_other_platforms(row.platform)
    return render_template(
        "fleet/host.html",
        host=row,
        device=device,
        results=results,
        elsewhere=elsewhere,
        elsewhere_count=len(
            {r["check_id"] for r in results if r["status"] == "not_applicable"} & elsewhere
        ),
        inventory=inventory_row,
        inventory_inline=INVENTORY_INLINE,
        inventory_shown=INVENTORY_SHOWN,
        titles=_titles(),
        remediations=_remediations(),
        can_command=user.role in COMMAND_ROLES,
        can_read_oplog=user.role in OPLOG_ROLES,
        oplog_count=oplog_count,
        changes=changes,
        history_page=history_page,
        more_history=more_history,
        history_days=store.HISTORY_DAYS,
        notice=_notice(),
        isolation=isolation,
        isolation_done=request.args.get("isolation", ""),
    )


@blueprint.get("/hosts/<host_id>/oplog")
@roles_required(*OPLOG_ROLES)
def host_oplog(host_id: str) -> ResponseReturnValue:
    page = _page_number()
    with db_session() as db:
        row = _host_or_404(db, host_id)
        device = _device_of(db, row)
        entries, more = store.host_oplog(
            db,
            host_id,
            OPLOG_PER_PAGE,
            (page - 1) * OPLOG_PER_PAGE,
            device.device_id if device else None,
        )
    # Reading the operation log is itself recorded (POLICY.md A1), like GET /api/v1/oplog.
    record("oplog.read", target="oplog", details={"host": host_id, "page": page})
    return render_template("fleet/host_oplog.html", host=row, entries=entries, page=page, more=more)


@blueprint.post("/hosts/<host_id>/scan-now")
@login_required
def scan_now(host_id: str) -> ResponseReturnValue:
    """An agent: queue a ``scan_now`` command for its next heartbeat. A device: check it now
    (server/devices/jobs.py), as ``xunjian server device check --now --id N`` does."""
    user: User = g.user
    target = f"host:{host_id[:AGENT_ID_MAX]}"
    with db_session() as db:
        row = store.host_row(db, host_id, _offline_after()) if len(host_id) <= 36 else None
        device = _device_of(db, row)
    # console.command.create: the same action name as before the pages moved here
    # (server/oplog/hook.py ACTIONS).
    action = "console.device.check" if device else "console.command.create"
    if user.role not in COMMAND_ROLES:
        log_refusal(403, f"console user {user.name!r} ({user.role}) may not queue commands")
        record(action, outcome="refused", reason="HTTP 403", target=target)
        abort(403)
    if row is None or row.revoked:
        code = 404 if row is None else 409
        record(action, outcome="refused", reason=f"HTTP {code}", target=target)
        abort(code)
    if device is not None:
        return _check_device(user, host_id, device, target)
    with db_session() as db:
        command = queue_command(db, host_id, "scan_now", user.id)
        db.commit()
    record(action, target=target, details={"type": "scan_now", "command": command.id})
    events.info("user %s queued scan_now for host %s (command %s)", user.name, host_id, command.id)
    return redirect(url_for("fleet.host", host_id=host_id, queued=1))


def _check_device(
    user: User, host_id: str, device: DeviceState, target: str
) -> ResponseReturnValue:
    started = start_check(current_state(), device.device_id)
    if started is Started.MISSING:  # removed since the page was read
        record("console.device.check", outcome="refused", reason="HTTP 404", target=target)
        abort(404)
    record(
        "console.device.check",
        target=target,
        details={
            "type": "device_check",
            "device": device.device_id,
            "address": f"{device.address}:{device.port}",
            "started": started.value,
        },
    )
    events.info(
        "user %s asked for a check of device %d (%s:%d): %s",
        user.name,
        device.device_id,
        device.address,
        device.port,
        started.value,
    )
    return redirect(url_for("fleet.host", host_id=host_id, check=started.value))


# --- checks -------------------------------------------------------------------------------


def _check_view(entry: Mapping[str, Any] | None, check_id: str) -> dict[str, Any]:
    """A registry entry in the current language (or a bare id the registry does not know)."""
    if entry is None:
        return {"id": check_id, "title": check_id, "known": False, "rules": [], "params": {}}
    params = entry.get("params") if isinstance(entry.get("params"), dict) else {}
    return {
        "id": check_id,
        "known": True,
        "title": bilingual(entry.get("title")),
        "remediation": bilingual(entry.get("remediation")),
        "severity": entry.get("severity", ""),
        "category": entry.get("category", ""),
        "platforms": entry.get("platforms") or [],
        "rules": entry.get("rules") or [],
        "params": {
            name: {
                "default": spec.get("default") if isinstance(spec, dict) else spec,
                "description": bilingual(spec.get("description")) if isinstance(spec, dict) else "",
            }
            for name, spec in (params or {}).items()
        },
    }


@blueprint.get("/checks")
@login_required
def checks() -> ResponseReturnValue:
    catalog = _catalog()
    with db_session() as db:
        failing = store.failing_hosts_per_check(db)
    rows = [
        {**_check_view(catalog.get(check_id), check_id), "failing": failing.get(check_id, 0)}
        for check_id in sorted(set(catalog) | set(failing))
    ]
    rows.sort(key=lambda row: (-row["failing"], row["id"]))
    return render_template("fleet/checks.html", checks=rows)


@blueprint.get("/checks/<check_id>")
@login_required
def check(check_id: str) -> ResponseReturnValue:
    if not store.CHECK_ID_PATTERN.fullmatch(check_id):
        _refuse(f"console: bad check id {check_id[:40]!r}", _("That is not a check id."))
    page = _page_number()
    entry = _catalog().get(check_id)
    with db_session() as db:
        by_platform = store.hosts_per_status_and_platform(db, check_id)
        per_status = {status: sum(counts.values()) for status, counts in by_platform.items()}
        if entry is None and not per_status:
            abort(404, _("There is no such check."))
        rows, total = store.failing_hosts(
            db, check_id, FAILING_PER_PAGE, (page - 1) * FAILING_PER_PAGE
        )
    pages = _pages(total, FAILING_PER_PAGE)
    if page > pages:
        abort(404, _("There is no page %(page)d: the list has %(pages)d.", page=page, pages=pages))
    return render_template(
        "fleet/check.html",
        check=_check_view(entry, check_id),
        per_status=per_status,
        by_platform=by_platform,
        hosts=rows,
        total=total,
        page=page,
        pages=pages,
    )
