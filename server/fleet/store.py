"""Read queries of the fleet pages. Each page costs a fixed, small number of queries whatever
the fleet's size, and each query is served by an index at 10,000 hosts (docs/PERFORMANCE.md).

Definitions the pages and docs/console.md share:

* **online**: an agent (not a device), not revoked and heard from within
  ``offline_after_seconds``; **offline**: an agent, not revoked and not heard from since (or
  never); **device**: a network device (platform ``device``, server/devices), not revoked: it
  is checked over SSH on a schedule and never heartbeats, so online and offline do not apply;
  **revoked**: its identity was revoked (agent or device).
* **compliance** of a set of hosts: of their (host, check) pairs whose latest results include a
  pass or a fail, the share with no fail. A pair fails when any of its latest results (one per
  resource) fails; results that are error, not applicable or no privilege count neither way.
  Revoked hosts are out of the fleet and count in no score and no failing-hosts figure.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    case,
    distinct,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from checks.registry import PLATFORMS
from server.alerts.models import Alert
from server.devices.models import DEVICE_PLATFORM, Device
from server.fleet.models import ComplianceDaily
from server.oplog.models import OplogEntry
from server.store.agents import hosts_per_group
from server.store.models import Agent, Group, Inventory, LatestResult, ResultState, utcnow
from server.store.queries import iso
from xunjian.core.contract import STATUSES

HOST_STATUSES = ("online", "offline", "device", "revoked", "isolated")
# The platforms a host can run, as the check registry names them (checks/registry.py): the
# hosts list's platform filter takes these and nothing else.
HOST_PLATFORMS = tuple(sorted(PLATFORMS))
SEARCH_MAX = 100
CHECK_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
# A search that can only be (part of) an IP address also looks in the inventory's addresses.
_ADDRESS_PATTERN = re.compile(r"[0-9a-fA-F:.]{2,45}")
# A host's history covers this many days back: the result history grows with every scan, and
# the page must stay cheap (docs/console.md).
HISTORY_DAYS = 30


def _failing() -> ColumnElement[bool]:
    """A latest result fails, said with the literal so that the partial failing-results index
    serves the query (server/fleet/models.py FAILING_SQL; tests/server/test_fleet.py holds
    the plans)."""
    return LatestResult.status == literal_column("'fail'")


@dataclass(frozen=True)
class HostFilter:
    """What the hosts list shows; every field already validated (server/fleet/views.py)."""

    search: str = ""
    group_id: int | None = None
    status: str | None = None
    failing_check: str | None = None
    platform: str | None = None
    # Only these hosts (the isolated ones, server/isolation), when not None.
    agent_ids: tuple[str, ...] | None = None

    def active(self) -> bool:
        return bool(
            self.search
            or self.group_id
            or self.status
            or self.failing_check
            or self.platform
            or self.agent_ids is not None
        )


def _cutoff(offline_after_seconds: int, now: datetime.datetime | None = None) -> datetime.datetime:
    return (now or utcnow()) - datetime.timedelta(seconds=offline_after_seconds)


def looks_like_address(text: str) -> bool:
    """Digits and dots (or hex and colons) that could start an IPv4 or IPv6 address."""
    if not _ADDRESS_PATTERN.fullmatch(text) or not ("." in text or ":" in text):
        return False
    if ":" not in text:
        return all(part.isdigit() or part == "" for part in text.split("."))
    head = text.rstrip(":")
    try:
        ipaddress.ip_address(head)
    except ValueError:
        return all(len(part) <= 4 for part in text.split(":"))
    return True


def _addresses_text(session: Session) -> ColumnElement[Any]:
    """The inventory's ``addresses`` list as JSON text, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return Inventory.data.op("->>", return_type=String)(literal("addresses", String))
    return func.json_extract(Inventory.data, "$.addresses", type_=String)


def _search_condition(session: Session, text: str) -> ColumnElement[bool]:
    lowered = text.lower()
    matches: list[ColumnElement[bool]] = [
        func.lower(Agent.hostname).contains(lowered, autoescape=True),
        Agent.id.startswith(lowered, autoescape=True),
    ]
    # A device's address (IP or host name) is in the devices table, not in an inventory.
    matches.append(
        Agent.id.in_(
            select(Device.agent_id).where(
                func.lower(Device.address).startswith(lowered, autoescape=True)
            )
        )
    )
    if looks_like_address(text):
        # Inside the JSON text an address starts right after a quote: "10.1.2.3/24".
        pattern = '"' + lowered
        matches.append(
            Agent.id.in_(
                select(Inventory.agent_id).where(
                    _addresses_text(session).contains(pattern, autoescape=True)
                )
            )
        )
    return or_(*matches)


def _conditions(
    session: Session, chosen: HostFilter, offline_after_seconds: int
) -> list[ColumnElement[bool]]:
    cutoff = _cutoff(offline_after_seconds)
    conditions: list[ColumnElement[bool]] = []
    if chosen.search:
        conditions.append(_search_condition(session, chosen.search))
    if chosen.group_id is not None:
        conditions.append(Agent.group_id == chosen.group_id)
    if chosen.status == "online":
        conditions += [
            Agent.revoked_at.is_(None),
            Agent.last_seen >= cutoff,
            Agent.platform != DEVICE_PLATFORM,
        ]
    elif chosen.status == "offline":
        conditions += [
            Agent.revoked_at.is_(None),
            or_(Agent.last_seen.is_(None), Agent.last_seen < cutoff),
            Agent.platform != DEVICE_PLATFORM,
        ]
    elif chosen.status == "device":
        conditions += [Agent.revoked_at.is_(None), Agent.platform == DEVICE_PLATFORM]
    elif chosen.status == "revoked":
        conditions.append(Agent.revoked_at.is_not(None))
    if chosen.platform:
        conditions.append(Agent.platform == chosen.platform)
    if chosen.agent_ids is not None:
        conditions.append(Agent.id.in_(chosen.agent_ids))
    if chosen.failing_check:
        conditions += [
            Agent.revoked_at.is_(None),
            Agent.id.in_(
                select(LatestResult.agent_id).where(
                    _failing(), LatestResult.check_id == chosen.failing_check
                )
            ),
        ]
    return conditions


def count_hosts(session: Session, chosen: HostFilter, offline_after_seconds: int) -> int:
    query = select(func.count()).select_from(Agent)
    conditions = _conditions(session, chosen, offline_after_seconds)
    if conditions:
        query = query.where(*conditions)
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class HostRow:
    """A host as the hosts list, a host's page, the REST API and ``agent list`` show it."""

    id: str
    hostname: str
    group: str
    os: str
    platform: str
    last_seen: datetime.datetime | None
    revoked: bool
    online: bool
    failing: int
    # The OS's release and build as the host's newest scan said ("22H2", "19045.2130").
    os_version: str = ""
    os_build: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hostname": self.hostname,
            "group": self.group,
            "os": self.os,
            "os_version": self.os_version,
            "os_build": self.os_build,
            "platform": self.platform,
            "online": self.online,
            "last_seen": iso(self.last_seen),
            "revoked": self.revoked,
            "failing": self.failing,
        }


# What a host's ``failing`` counts: its failing checks (the console's figure, docs/console.md)
# or its failing latest results, one per resource (the REST API's, server/fleet/schemas.py).
Failing = Literal["checks", "results"]


def _failing_counts(
    session: Session, agent_ids: Sequence[str], failing: Failing = "checks"
) -> dict[str, int]:
    if not agent_ids:
        return {}
    # The console counts failing checks, not failing results: a check failing for three
    # accounts is one failed (host, check) pair, as compliance counts it (docs/console.md).
    counted = func.count()
    if failing == "checks":
        counted = func.count(func.distinct(LatestResult.check_id))
    rows = session.execute(
        select(LatestResult.agent_id, counted)
        .where(LatestResult.agent_id.in_(agent_ids), _failing())
        .group_by(LatestResult.agent_id)
    ).all()
    return {agent_id: int(count) for agent_id, count in rows}


def _rows(
    session: Session, query: Select[Any], offline_after_seconds: int, failing: Failing = "checks"
) -> list[HostRow]:
    """Hosts of a page; their failing counts in one more query over those hosts only (a join
    with an aggregate over every host would cost the whole table on each page)."""
    rows = session.execute(query).all()
    counts = _failing_counts(session, [row.id for row in rows], failing)
    cutoff = _cutoff(offline_after_seconds)
    return [
        HostRow(
            id=row.id,
            hostname=row.hostname,
            group=row.group,
            os=row.os,
            os_version=row.os_version,
            os_build=row.os_build,
            platform=row.platform,
            last_seen=row.last_seen,
            revoked=row.revoked_at is not None,
            # A device's last_seen is its last check (intake sets it): never "online".
            online=row.revoked_at is None
            and row.platform != DEVICE_PLATFORM
            and row.last_seen is not None
            and row.last_seen >= cutoff,
            failing=counts.get(row.id, 0),
        )
        for row in rows
    ]


def _host_columns() -> Select[Any]:
    return select(
        Agent.id,
        Agent.hostname,
        Group.name.label("group"),
        Agent.os,
        Agent.os_version,
        Agent.os_build,
        Agent.platform,
        Agent.last_seen,
        Agent.revoked_at,
    ).join(Group, Group.id == Agent.group_id)


# The hosts list's sortable columns (``?sort=KEY``, ``-KEY`` for descending). Each ends with
# the id, so equal values page stably.
HOST_SORTS = ("name", "seen", "group", "os", "failing")


def _failing_column() -> ColumnElement[Any]:
    """A host's failing checks, per row: read only for the page's ordering, through the
    latest results' index on agent_id."""
    return (
        select(func.count(func.distinct(LatestResult.check_id)))
        .where(LatestResult.agent_id == Agent.id, _failing())
        .scalar_subquery()
    )


def _sort_keys(sort: str, descending: bool) -> list[Any]:
    def way(column: Any) -> Any:
        return column.desc() if descending else column.asc()

    if sort == "seen":
        # Never seen sorts as the oldest contact, on either database.
        seen = (
            Agent.last_seen.desc().nulls_last()
            if descending
            else Agent.last_seen.asc().nulls_first()
        )
        return [seen, Agent.hostname, Agent.id]
    if sort == "group":
        return [way(Group.name), Agent.hostname, Agent.id]
    if sort == "os":
        return [way(Agent.platform), way(Agent.os), way(Agent.os_version), Agent.hostname, Agent.id]
    if sort == "failing":
        return [way(_failing_column()), Agent.hostname, Agent.id]
    return [way(Agent.hostname), way(Agent.id)]


def page_hosts(
    session: Session,
    chosen: HostFilter,
    offline_after_seconds: int,
    limit: int,
    offset: int,
    sort: str = "name",
    descending: bool = False,
    failing: Failing = "checks",
) -> list[HostRow]:
    """One page of the hosts list, by host name (then id, so equal names page stably), or by
    another of HOST_SORTS."""
    query = _host_columns()
    conditions = _conditions(session, chosen, offline_after_seconds)
    if conditions:
        query = query.where(*conditions)
    query = query.order_by(*_sort_keys(sort, descending)).limit(limit).offset(offset)
    return _rows(session, query, offline_after_seconds, failing)


def first_addresses(session: Session, agent_ids: Sequence[str]) -> dict[str, str]:
    """Each host's first IPv4 address (else IPv6) outside loopback, from its newest inventory,
    without the prefix length: what tells two PCs of one name apart in a list."""
    if not agent_ids:
        return {}
    found: dict[str, str] = {}
    rows = session.execute(
        select(Inventory.agent_id, Inventory.data).where(Inventory.agent_id.in_(agent_ids))
    ).all()
    for agent_id, data in rows:
        interfaces = data.get("addresses") if isinstance(data, dict) else None
        candidates: list[str] = []
        for family in ("ipv4", "ipv6"):
            for interface in interfaces if isinstance(interfaces, list) else []:
                values = interface.get(family) if isinstance(interface, dict) else None
                candidates += [str(v) for v in values or [] if isinstance(v, str)]
        for candidate in candidates:
            address = candidate.split("/", 1)[0]
            try:
                parsed = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                continue
            if not (parsed.is_loopback or parsed.is_link_local):
                found[agent_id] = address
                break
    return found


def host_row(
    session: Session, agent_id: str, offline_after_seconds: int, failing: Failing = "checks"
) -> HostRow | None:
    query = _host_columns().where(Agent.id == agent_id)
    rows = _rows(session, query, offline_after_seconds, failing)
    return rows[0] if rows else None


def list_hosts(
    session: Session, offline_after_seconds: int, limit: int, offset: int
) -> tuple[list[HostRow], int]:
    """Every host, a page of them and their number, for the REST API and ``agent list``:
    ``failing`` counts failing results there."""
    everyone = HostFilter()
    rows = page_hosts(session, everyone, offline_after_seconds, limit, offset, failing="results")
    return rows, count_hosts(session, everyone, offline_after_seconds)


def get_host(session: Session, agent_id: str, offline_after_seconds: int) -> HostRow | None:
    """One host as the REST API shows it (``failing``: failing results)."""
    return host_row(session, agent_id, offline_after_seconds, "results")


# --- the dashboard ------------------------------------------------------------------------


@dataclass(frozen=True)
class HostCounts:
    online: int
    offline: int
    revoked: int
    devices: int  # not revoked; in neither online nor offline

    @property
    def total(self) -> int:
        return self.online + self.offline + self.revoked + self.devices


def host_counts(session: Session, offline_after_seconds: int) -> HostCounts:
    cutoff = _cutoff(offline_after_seconds)
    revoked = Agent.revoked_at.is_not(None)
    device = and_(Agent.revoked_at.is_(None), Agent.platform == DEVICE_PLATFORM)
    online = and_(
        Agent.revoked_at.is_(None), Agent.platform != DEVICE_PLATFORM, Agent.last_seen >= cutoff
    )
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((revoked, 1), else_=0)), 0),
            func.coalesce(func.sum(case((online, 1), else_=0)), 0),
            func.coalesce(func.sum(case((device, 1), else_=0)), 0),
        ).select_from(Agent)
    ).one()
    total, revoked_count, online_count, device_count = (int(value) for value in row)
    return HostCounts(
        online=online_count,
        offline=total - revoked_count - online_count - device_count,
        revoked=revoked_count,
        devices=device_count,
    )


def platform_counts(session: Session) -> list[tuple[str, int]]:
    """Hosts (not revoked, devices apart) per platform, most first: what the fleet runs."""
    rows = session.execute(
        select(Agent.platform, func.count())
        .where(Agent.revoked_at.is_(None), Agent.platform != DEVICE_PLATFORM)
        .group_by(Agent.platform)
    ).all()
    return sorted(((str(name), int(count)) for name, count in rows), key=lambda r: (-r[1], r[0]))


@dataclass(frozen=True)
class GroupScore:
    group_id: int
    name: str
    hosts: int
    passed: int
    failed: int

    @property
    def score(self) -> float | None:
        """Share of judged (host, check) pairs that pass, 0..1; None when nothing was judged."""
        judged = self.passed + self.failed
        return None if judged == 0 else self.passed / judged

    @property
    def percent(self) -> str:
        score = self.score
        return "-" if score is None else f"{score * 100:.1f}%"


def compliance_select() -> Select[Any]:
    """Per group: hosts (not revoked), passed pairs, failed pairs. The snapshot stores exactly
    this, so the chart and the table mean the same thing."""
    pairs = (
        select(
            LatestResult.agent_id.label("agent_id"),
            func.max(case((LatestResult.status == "fail", 1), else_=0)).label("failed"),
        )
        .where(LatestResult.status.in_(("pass", "fail")))
        .group_by(LatestResult.agent_id, LatestResult.check_id)
        .subquery()
    )
    per_agent = (
        select(
            pairs.c.agent_id,
            func.count().label("pairs"),
            func.sum(pairs.c.failed).label("failed"),
        )
        .group_by(pairs.c.agent_id)
        .subquery()
    )
    return (
        select(
            Group.id.label("group_id"),
            Group.name.label("name"),
            func.count(Agent.id).label("hosts"),
            func.coalesce(func.sum(per_agent.c.pairs - per_agent.c.failed), 0).label("passed"),
            func.coalesce(func.sum(per_agent.c.failed), 0).label("failed"),
        )
        .select_from(Group)
        .outerjoin(Agent, and_(Agent.group_id == Group.id, Agent.revoked_at.is_(None)))
        .outerjoin(per_agent, per_agent.c.agent_id == Agent.id)
        .group_by(Group.id, Group.name)
    )


@dataclass(frozen=True)
class Compliance:
    groups: list[GroupScore]
    day: datetime.date | None  # the day of the newest counts; None: never counted
    counted_at: datetime.datetime | None


def compliance_by_group(session: Session) -> Compliance:
    """Every group's newest counts (server/fleet/jobs.py keeps today's at most
    REFRESH_SECONDS old), their day and when they were counted; a group without counts that
    day shows none."""
    newest = session.scalar(select(func.max(ComplianceDaily.day)))
    rows = session.execute(
        select(
            Group.id,
            Group.name,
            ComplianceDaily.hosts,
            ComplianceDaily.passed,
            ComplianceDaily.failed,
            ComplianceDaily.taken_at,
        )
        .outerjoin(
            ComplianceDaily,
            and_(ComplianceDaily.group_id == Group.id, ComplianceDaily.day == newest),
        )
        .order_by(Group.name)
    ).all()
    # Hosts per group are counted live (one small GROUP BY): the cards above the table are,
    # and a PC enrolled since the last count must not read as "0 hosts" beside "2 online".
    hosts = hosts_per_group(session)
    scores = [
        GroupScore(
            group_id=row.id,
            name=row.name,
            hosts=int(hosts.get(row.id, 0)),
            passed=int(row.passed or 0),
            failed=int(row.failed or 0),
        )
        for row in rows
    ]
    taken = [row.taken_at for row in rows if row.taken_at is not None]
    return Compliance(groups=scores, day=newest, counted_at=max(taken) if taken else None)


def open_alerts_by_severity(session: Session) -> dict[str, dict[str, int]]:
    """{severity: {"open": n, "acknowledged": n}} over alerts not resolved."""
    rows = session.execute(
        select(
            Alert.severity,
            case((Alert.acknowledged_at.is_(None), "open"), else_="acknowledged"),
            func.count(),
        )
        .where(Alert.resolved_at.is_(None))
        .group_by(Alert.severity, Alert.acknowledged_at.is_(None))
    ).all()
    counts: dict[str, dict[str, int]] = {}
    for severity, state, count in rows:
        counts.setdefault(severity, {"open": 0, "acknowledged": 0})[state] += int(count)
    return counts


@dataclass(frozen=True)
class WeekPoint:
    week_start: datetime.date
    day: datetime.date | None  # the snapshot the week shows (its last one); None: no data
    passed: int = 0
    failed: int = 0
    groups: dict[int, tuple[int, int]] = field(default_factory=dict)  # group id: (pass, fail)

    @property
    def score(self) -> float | None:
        judged = self.passed + self.failed
        return None if self.day is None or judged == 0 else self.passed / judged

    def group_score(self, group_id: int) -> float | None:
        passed, failed = self.groups.get(group_id, (0, 0))
        return None if passed + failed == 0 else passed / (passed + failed)


def week_start(day: datetime.date) -> datetime.date:
    return day - datetime.timedelta(days=day.weekday())  # Monday


def weekly_compliance(
    session: Session, weeks: int, today: datetime.date | None = None
) -> list[WeekPoint]:
    """The last ``weeks`` weeks (Monday to Sunday, days in ``console_timezone``), oldest first;
    each week shows its newest daily snapshot. Weeks without one have ``day=None``: no data,
    not zero."""
    today = today or utcnow().date()
    first = week_start(today) - datetime.timedelta(weeks=weeks - 1)
    rows = session.execute(
        select(
            ComplianceDaily.day,
            ComplianceDaily.group_id,
            ComplianceDaily.passed,
            ComplianceDaily.failed,
        ).where(ComplianceDaily.day >= first, ComplianceDaily.day <= today)
    ).all()
    newest: dict[datetime.date, datetime.date] = {}
    for row in rows:
        start = week_start(row.day)
        if row.day > newest.get(start, datetime.date.min):
            newest[start] = row.day
    points: list[WeekPoint] = []
    for index in range(weeks):
        start = first + datetime.timedelta(weeks=index)
        day = newest.get(start)
        groups = {
            row.group_id: (int(row.passed), int(row.failed)) for row in rows if row.day == day
        }
        points.append(
            WeekPoint(
                week_start=start,
                day=day,
                passed=sum(passed for passed, _ in groups.values()),
                failed=sum(failed for _, failed in groups.values()),
                groups=groups,
            )
        )
    return points


# --- checks -------------------------------------------------------------------------------


def _revoked_ids() -> Select[Any]:
    # As IN (subquery): both databases then walk the few revoked agents and probe the
    # (agent, status) index, where a join would start from the many failing rows.
    return select(Agent.id).where(Agent.revoked_at.is_not(None))


def failing_hosts_per_check(session: Session) -> dict[str, int]:
    """{check id: hosts (not revoked) with at least one failing latest result}.

    Counted over every host from the failing-results index alone, then the revoked
    hosts' share taken off: a join with the agents table for every failing row would cost
    more than the count itself."""
    counts = {
        check_id: int(count)
        for check_id, count in session.execute(
            select(LatestResult.check_id, func.count(distinct(LatestResult.agent_id)))
            .where(_failing())
            .group_by(LatestResult.check_id)
        )
    }
    if session.get_bind().dialect.name == "postgresql":
        # PostgreSQL would hash-join every failing row to the agents; LATERAL makes it start
        # from the few revoked agents and probe the (agent, status) index for each.
        theirs = (
            select(LatestResult.check_id, LatestResult.agent_id)
            .where(LatestResult.agent_id == Agent.id, _failing())
            .lateral()
        )
        revoked_query = (
            select(theirs.c.check_id, func.count(distinct(theirs.c.agent_id)))
            .select_from(Agent)
            .join(theirs, true())
            .where(Agent.revoked_at.is_not(None))
            .group_by(theirs.c.check_id)
        )
    else:
        revoked_query = (
            select(LatestResult.check_id, func.count(distinct(LatestResult.agent_id)))
            .where(_failing(), LatestResult.agent_id.in_(_revoked_ids()))
            .group_by(LatestResult.check_id)
        )
    revoked = session.execute(revoked_query)
    for check_id, count in revoked:
        counts[check_id] -= int(count)
    return {check_id: count for check_id, count in counts.items() if count > 0}


def hosts_per_status_and_platform(session: Session, check_id: str) -> dict[str, dict[str, int]]:
    """{status: {platform: hosts (not revoked)}} for one check: a host has one platform, so the
    platforms of a status add up to its hosts, and a check that is not for a platform shows
    that platform's hosts under not_applicable. Every status is counted, so no index by check
    serves it (the one there is holds failures only): at 10,000 hosts SQLite walks the agents
    and finds each one's results by the primary key (45-60 ms, against 14 ms with the full
    index that cost every first report half its writes), PostgreSQL reads the table in
    parallel (about 55 ms; docs/PERFORMANCE.md, "Report intake")."""
    rows = session.execute(
        select(LatestResult.status, Agent.platform, func.count(distinct(LatestResult.agent_id)))
        .join(Agent, Agent.id == LatestResult.agent_id)
        .where(
            LatestResult.check_id == check_id,
            LatestResult.status.in_(STATUSES),
            Agent.revoked_at.is_(None),
        )
        .group_by(LatestResult.status, Agent.platform)
    ).all()
    found: dict[str, dict[str, int]] = {}
    for status, platform, count in rows:
        found.setdefault(status, {})[platform] = int(count)
    return found


@dataclass(frozen=True)
class FailingHost:
    id: str
    hostname: str
    group: str
    platform: str
    resources: int  # failing latest results (one per resource)
    message: str  # one of them, to show what is wrong
    observed_at: datetime.datetime


def failing_hosts(
    session: Session, check_id: str, limit: int, offset: int
) -> tuple[list[FailingHost], int]:
    """Hosts (not revoked) whose latest result for ``check_id`` fails, by name; and their count."""
    where = (
        LatestResult.check_id == check_id,
        _failing(),
        Agent.revoked_at.is_(None),
    )
    total = session.scalar(
        select(func.count(distinct(LatestResult.agent_id))).where(
            LatestResult.check_id == check_id,
            _failing(),
            LatestResult.agent_id.not_in(_revoked_ids()),
        )
    )
    rows = session.execute(
        select(
            Agent.id,
            Agent.hostname,
            Group.name.label("group"),
            Agent.platform,
            func.count().label("resources"),
            func.min(LatestResult.message).label("message"),
            func.max(LatestResult.observed_at).label("observed_at"),
        )
        .join(Agent, Agent.id == LatestResult.agent_id)
        .join(Group, Group.id == Agent.group_id)
        .where(*where)
        .group_by(Agent.id, Agent.hostname, Group.name, Agent.platform)
        .order_by(Agent.hostname, Agent.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [
        FailingHost(
            id=row.id,
            hostname=row.hostname,
            group=row.group,
            platform=row.platform,
            resources=int(row.resources),
            message=row.message,
            observed_at=row.observed_at,
        )
        for row in rows
    ], int(total or 0)


# --- a host's history and operation log ---------------------------------------------------


@dataclass(frozen=True)
class Change:
    observed_at: datetime.datetime
    check_id: str
    resource: str
    status: str
    previous: str | None  # None: the first result seen for this check and resource
    message: str


def history(
    session: Session,
    agent_id: str,
    limit: int,
    offset: int,
    now: datetime.datetime | None = None,
) -> tuple[list[Change], bool]:
    """Changes of status of the host's results in the last ``HISTORY_DAYS`` days, newest
    first: a row per result whose status differs from the previous one for the same check and
    resource (or that is the first one in the window). Returns (changes, more pages)."""
    since = (now or utcnow()) - datetime.timedelta(days=HISTORY_DAYS)
    previous = (
        func.lag(ResultState.status)
        .over(
            partition_by=(ResultState.check_id, ResultState.resource),
            order_by=(ResultState.observed_at, ResultState.id),
        )
        .label("previous")
    )
    ordered = (
        select(
            ResultState.observed_at,
            ResultState.check_id,
            ResultState.resource,
            ResultState.status,
            ResultState.message,
            previous,
        )
        .where(
            ResultState.agent_id == agent_id,
            # A state is a run of reports: one that began before the window and lasted into
            # it is part of the window's history.
            or_(
                ResultState.observed_at >= since,
                ResultState.ended_at.is_(None),
                ResultState.ended_at > since,
            ),
        )
        .subquery()
    )
    rows = session.execute(
        select(ordered)
        .where(or_(ordered.c.previous.is_(None), ordered.c.previous != ordered.c.status))
        .order_by(ordered.c.observed_at.desc(), ordered.c.check_id, ordered.c.resource)
        .limit(limit + 1)
        .offset(offset)
    ).all()
    changes = [
        Change(
            observed_at=row.observed_at,
            check_id=row.check_id,
            resource=row.resource,
            status=row.status,
            previous=row.previous,
            message=row.message,
        )
        for row in rows[:limit]
    ]
    return changes, len(rows) > limit


def host_targets(agent_id: str, device_id: int | None = None) -> tuple[str, ...]:
    """The operation log targets that name this host: "agent:<id>" (enrollment, agent events)
    and "host:<id>" (requests on /hosts/<host_id>/..., from the console and the API); for a
    device also "device:<n>" (added, checked, its found password viewed, from the Devices
    page, the API and the command line)."""
    targets = (f"agent:{agent_id}", f"host:{agent_id}")
    return targets if device_id is None else (*targets, f"device:{device_id}")


def host_oplog(
    session: Session, agent_id: str, limit: int, offset: int, device_id: int | None = None
) -> tuple[list[OplogEntry], bool]:
    """The host's operation log entries, newest first; (entries, more pages)."""
    rows = session.scalars(
        select(OplogEntry)
        .where(OplogEntry.target.in_(host_targets(agent_id, device_id)))
        .order_by(OplogEntry.seq.desc())
        .limit(limit + 1)
        .offset(offset)
    ).all()
    return list(rows[:limit]), len(rows) > limit


def host_oplog_count(session: Session, agent_id: str, device_id: int | None = None) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OplogEntry)
            .where(OplogEntry.target.in_(host_targets(agent_id, device_id)))
        )
        or 0
    )


def groups(session: Session) -> list[tuple[int, str]]:
    return [
        (row.id, row.name)
        for row in session.execute(select(Group.id, Group.name).order_by(Group.name))
    ]


def group_id_by_name(session: Session, name: str) -> int | None:
    return session.scalar(select(Group.id).where(Group.name == name))
