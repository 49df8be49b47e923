"""One week's report data from the store: the hosts, the result rows (failures first) and the
summaries, with the rows streamed to a spool file so 10,000 hosts x 40 checks never sit in
memory at once.

What "its results" means for a week (docs/reports.md):

* A host is in the week's report when it was enrolled before the week ended (or sent a report
  dated in the week) and was not revoked before the week began (or sent a report dated in it).
* For each (host, check, resource) that the host reported during the week, the row holds the
  LAST result observed in the week (status, severity, message, evidence, rules), when it was
  first and last observed, how many times it was observed and how many of those failed.
  "Observed" is the report's own ``created_at``, so a report that waited in a PC's spool counts
  for the week it was made in, not the week it arrived.
* A host that sent no report dated in the week gets one row with status ``no_report``.
* Rows are ordered failures first: fail, error, no_report, no_privilege, pass, not_applicable;
  then by severity (critical first), group, hostname, host id, check id and resource.
* Evidence is the result's evidence as compact JSON with sorted keys, cut to
  ``EVIDENCE_LIMIT`` characters (``evidence_truncated`` says so).

Two queries: the hosts (small), then one over the result states (issue 15: one row per value
a result had, not one per report, server/store/models.py ``ResultState``) that overlap the
week. How often a state was seen in the week is the number of the host's counted full scans
in both; the states of one (host, check, resource) are then summed (counts, first and last
time), and the row shows the state in force at the last time, found through the index on
(agent_id, check_id, resource, observed_at); the database sorts them. Reports and states
removed by retention (server/jobs) make the weeks before it unreproducible, and only those.
"""

from __future__ import annotations

import contextlib
import datetime
import marshal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import DateTime, Engine, bindparam, text

from server.reports.week import IsoWeek, utc_offset_text
from server.sites.store import statuses
from server.store.models import utcnow

REPORT_FORMAT = "xunjian-weekly-report"
REPORT_VERSION = 1
EVIDENCE_LIMIT = 2000
NO_REPORT = "no_report"
# Failures first. no_report sits after the failures: a host that said nothing is an auditor's
# concern before any pass is.
STATUS_RANK = {"fail": 0, "error": 1, NO_REPORT: 2, "no_privilege": 3, "pass": 4}
OTHER_RANK = 5
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
COLUMNS = (
    "status",
    "severity",
    "group",
    "hostname",
    "host_id",
    "check_id",
    "resource",
    "rules",
    "message",
    "evidence",
    "evidence_truncated",
    "first_seen",
    "last_seen",
    "times_seen",
    "times_failed",
)
FETCH_BATCH = 5000


def _rank_sql(column: str, ranks: dict[str, int], other: int) -> str:
    cases = " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in ranks.items())
    return f"CASE {column} {cases} ELSE {other} END"


_HOSTS_SQL = text(
    """
    SELECT a.id, a.hostname, g.name AS group_name, a.platform, a.os, a.os_version,
           a.os_build, a.enrolled_at,
           a.revoked_at, a.last_seen, w.reports, w.first_report, w.last_report
    FROM agents a
    JOIN groups g ON g.id = a.group_id
    LEFT JOIN (
        SELECT agent_id, COUNT(*) AS reports, MIN(created_at) AS first_report,
               MAX(created_at) AS last_report
        FROM reports
        WHERE created_at >= :start AND created_at < :end
        GROUP BY agent_id
    ) w ON w.agent_id = a.id
    WHERE (a.enrolled_at < :end OR w.reports IS NOT NULL)
      AND (a.revoked_at IS NULL OR a.revoked_at >= :start OR w.reports IS NOT NULL)
    ORDER BY g.name, a.hostname, a.id
    """
).bindparams(bindparam("start", type_=DateTime()), bindparam("end", type_=DateTime()))

# A state's reports in the week: the host's counted full scans (``reports.in_states``) in
# both the week and the state's span [observed_at, ended_at). Most states span the whole week
# (nothing changed), and then the host's week (counted once per host) answers; only a state
# that began or ended inside the week counts its own reports.
_IN_SPAN = (
    "FROM reports p WHERE p.agent_id = s.agent_id AND p.in_states "
    "AND p.created_at >= :start AND p.created_at < :end AND p.created_at >= s.observed_at "
    "AND (s.ended_at IS NULL OR p.created_at < s.ended_at)"
)
_WHOLE = "s.observed_at <= h.first_at AND (s.ended_at IS NULL OR s.ended_at > h.last_at)"

_ROWS_SQL = text(
    f"""
    WITH host_week AS (
        SELECT agent_id, COUNT(*) AS scans, MIN(created_at) AS first_at,
               MAX(created_at) AS last_at
        FROM reports
        WHERE in_states AND created_at >= :start AND created_at < :end
        GROUP BY agent_id
    ),
    spans AS (
        SELECT s.id, s.agent_id, s.check_id, s.resource, s.status,
               CASE WHEN {_WHOLE} THEN h.scans ELSE (SELECT COUNT(*) {_IN_SPAN}) END AS seen,
               CASE WHEN {_WHOLE} THEN h.first_at
                    ELSE (SELECT MIN(p.created_at) {_IN_SPAN}) END AS first_seen,
               CASE WHEN {_WHOLE} THEN h.last_at
                    ELSE (SELECT MAX(p.created_at) {_IN_SPAN}) END AS last_seen
        FROM result_states s
        JOIN host_week h ON h.agent_id = s.agent_id
        WHERE NOT s.apart AND s.observed_at < :end
          AND (s.ended_at IS NULL OR s.ended_at > :start)
        UNION ALL
        SELECT s.id, s.agent_id, s.check_id, s.resource, s.status, 1, s.observed_at,
               s.observed_at
        FROM result_states s
        WHERE s.apart AND s.observed_at >= :start AND s.observed_at < :end
    ),
    week AS (
        SELECT agent_id, check_id, resource, SUM(seen) AS times_seen,
               SUM(CASE WHEN status = 'fail' THEN seen ELSE 0 END) AS times_failed,
               MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen
        FROM spans
        WHERE seen > 0
        GROUP BY agent_id, check_id, resource
    )
    SELECT w.agent_id, r.check_id, r.resource, r.status, r.severity, CAST(r.rules AS TEXT),
           r.message, CAST(r.evidence AS TEXT), w.first_seen, w.last_seen, w.times_seen,
           w.times_failed, CAST(r.said AS TEXT)
    FROM week w
    JOIN result_states r ON r.id = (
        SELECT MAX(x.id) FROM result_states x
        WHERE x.agent_id = w.agent_id AND x.check_id = w.check_id
          AND x.resource = w.resource AND x.observed_at <= w.last_seen
          AND (x.ended_at IS NULL OR x.ended_at > w.last_seen
               OR (x.apart AND x.observed_at = w.last_seen))
    )
    JOIN agents a ON a.id = w.agent_id
    JOIN groups g ON g.id = a.group_id
    ORDER BY {_rank_sql("r.status", STATUS_RANK, OTHER_RANK)},
             {_rank_sql("r.severity", SEVERITY_RANK, len(SEVERITY_RANK))},
             g.name, a.hostname, w.agent_id, r.check_id, r.resource
    """
).bindparams(bindparam("start", type_=DateTime()), bindparam("end", type_=DateTime()))


def iso_time(value: Any) -> str | None:
    """A stored time as ``2026-11-20T10:00:00Z`` (seconds). SQLite hands raw text
    (``2026-11-20 10:00:00.000000``) to a text() query; PostgreSQL a datetime."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw = str(value)
    return f"{raw[:10]}T{raw[11:19]}Z"


def canonical_evidence(raw: Any) -> tuple[str, bool]:
    """Evidence as compact JSON with sorted keys, at most EVIDENCE_LIMIT characters."""
    if raw is None:
        return "{}", False
    try:
        value = orjson.loads(raw) if isinstance(raw, (str, bytes)) else raw
        encoded = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, TypeError):
        encoded = str(raw)
    if len(encoded) > EVIDENCE_LIMIT:
        return encoded[:EVIDENCE_LIMIT], True
    return encoded, False


def _rules_text(raw: Any) -> str:
    if raw is None:
        return ""
    try:
        value = orjson.loads(raw) if isinstance(raw, (str, bytes)) else raw
    except orjson.JSONDecodeError:
        return str(raw)
    return ",".join(str(rule) for rule in value) if isinstance(value, list) else str(value)


@dataclass
class HostEntry:
    id: str
    hostname: str
    group: str
    platform: str  # as the host's newest scan said (windows for a scanned Windows volume)
    os: str
    os_version: str
    os_build: str
    enrolled_at: str | None
    revoked_at: str | None
    last_contact: str | None
    reports: int
    first_report: str | None
    last_report: str | None
    counts: dict[str, int] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)  # judged check id: it failed

    @property
    def reported(self) -> bool:
        return self.reports > 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hostname": self.hostname,
            "group": self.group,
            "platform": self.platform,
            "os": self.os,
            "os_version": self.os_version,
            "os_build": self.os_build,
            "enrolled_at": self.enrolled_at,
            "revoked_at": self.revoked_at,
            "last_contact": self.last_contact,
            "reported": self.reported,
            "reports": self.reports,
            "first_report": self.first_report,
            "last_report": self.last_report,
            **status_counts(self.counts, self.checks_passed, self.checks_failed),
        }

    @property
    def checks_failed(self) -> int:
        return sum(1 for failed in self.checks.values() if failed)

    @property
    def checks_passed(self) -> int:
        return len(self.checks) - self.checks_failed


def status_counts(counts: dict[str, int], checks_passed: int, checks_failed: int) -> dict[str, Any]:
    """The counters a host, a group and the whole report carry. Compliance is the console's
    (docs/console.md, "Compliance"): the share of judged (host, check) pairs that pass, a
    pair failing when any of its resources' last result in the week fails; error,
    no_privilege and not_applicable count neither way. ``passed`` and ``failed`` count
    result rows (one per resource)."""
    judged = checks_passed + checks_failed
    return {
        "results": sum(count for name, count in counts.items() if name != NO_REPORT),
        "passed": counts.get("pass", 0),
        "failed": counts.get("fail", 0),
        "errors": counts.get("error", 0),
        "no_privilege": counts.get("no_privilege", 0),
        "not_applicable": counts.get("not_applicable", 0),
        "checks_passed": checks_passed,
        "checks_failed": checks_failed,
        "compliance_percent": None if judged == 0 else round(100.0 * checks_passed / judged, 1),
    }


def _summary(hosts: list[HostEntry]) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for host in hosts:
        for name, count in host.counts.items():
            totals[name] = totals.get(name, 0) + count
    reporting = sum(1 for host in hosts if host.reported)
    return {
        "hosts": len(hosts),
        "hosts_reporting": reporting,
        "hosts_silent": len(hosts) - reporting,
        **status_counts(
            totals,
            sum(host.checks_passed for host in hosts),
            sum(host.checks_failed for host in hosts),
        ),
    }


def _host_order(host: HostEntry) -> tuple[Any, ...]:
    """Hosts with failures first (most first), then silent hosts, then the rest."""
    failed = host.counts.get("fail", 0)
    band = 0 if failed else (1 if not host.reported else 2)
    return (band, -failed, host.group, host.hostname, host.id)


@dataclass
class WeekData:
    """Everything a format writer needs; the rows wait in ``spool`` (marshal records)."""

    week: IsoWeek
    meta: dict[str, Any]
    hosts: list[HostEntry]
    row_count: int
    spool: Path

    @property
    def summary(self) -> dict[str, Any]:
        return _summary(self.hosts)

    def groups(self) -> list[dict[str, Any]]:
        by_group: dict[str, list[HostEntry]] = {}
        for host in self.hosts:
            by_group.setdefault(host.group, []).append(host)
        return [{"group": name, **_summary(members)} for name, members in sorted(by_group.items())]

    def ordered_hosts(self) -> list[HostEntry]:
        return sorted(self.hosts, key=_host_order)

    def rows(self) -> Iterator[tuple[Any, ...]]:
        with self.spool.open("rb") as handle:
            for _ in range(self.row_count):
                yield marshal.load(handle)


def _no_report_row(host: HostEntry) -> tuple[Any, ...]:
    contact = host.last_contact or "never"
    return (
        NO_REPORT,
        "",
        host.group,
        host.hostname,
        host.id,
        "",
        "",
        "",
        f"no report dated in this week was received (last contact: {contact})",
        "{}",
        False,
        None,
        None,
        0,
        0,
    )


def _load_hosts(connection: Any, start: datetime.datetime, end: datetime.datetime) -> list:
    hosts = []
    for row in connection.execute(_HOSTS_SQL, {"start": start, "end": end}):
        hosts.append(
            HostEntry(
                id=row.id,
                hostname=row.hostname,
                group=row.group_name,
                platform=row.platform,
                os=row.os,
                os_version=row.os_version,
                os_build=row.os_build,
                enrolled_at=iso_time(row.enrolled_at),
                revoked_at=iso_time(row.revoked_at),
                last_contact=iso_time(row.last_seen),
                reports=int(row.reports or 0),
                first_report=iso_time(row.first_report),
                last_report=iso_time(row.last_report),
            )
        )
    return hosts


def collect_week(
    engine: Engine,
    week: IsoWeek,
    zone: datetime.tzinfo,
    spool_dir: Path,
    generated_by: str,
    now: datetime.datetime | None = None,
) -> WeekData:
    """Read the week from the store; the rows go to a spool file in ``spool_dir`` (the caller
    owns the folder and removes it)."""
    start, end = week.bounds(zone)
    moment = now or utcnow()
    spool = Path(tempfile.mkstemp(prefix="weekly-", suffix=".rows", dir=spool_dir)[1])
    with engine.connect() as connection, spool.open("wb") as out:
        hosts = _load_hosts(connection, start, end)
        by_id = {host.id: host for host in hosts}
        silent = [host for host in hosts if not host.reported]
        count = 0
        silent_written = False

        def write_silent() -> int:
            for host in silent:
                host.counts[NO_REPORT] = 1
                marshal.dump(_no_report_row(host), out)
            return len(silent)

        streamed = connection.execution_options(stream_results=True, yield_per=FETCH_BATCH)
        result = streamed.execute(_ROWS_SQL, {"start": start, "end": end})
        with contextlib.closing(result):
            for row in result:
                (agent_id, check_id, resource, status, severity, rules, message, evidence) = row[:8]
                if not silent_written and STATUS_RANK.get(status, OTHER_RANK) >= 2:
                    count += write_silent()
                    silent_written = True
                host = by_id.get(agent_id)
                if host is None:  # enrolled after the host list was read: next time
                    continue
                host.counts[status] = host.counts.get(status, 0) + 1
                if status in ("pass", "fail"):
                    host.checks[check_id] = host.checks.get(check_id, False) or status == "fail"
                evidence_text, truncated = canonical_evidence(evidence)
                marshal.dump(
                    (
                        status,
                        severity,
                        host.group,
                        host.hostname,
                        agent_id,
                        check_id,
                        resource,
                        _rules_text(rules),
                        message,
                        evidence_text,
                        truncated,
                        iso_time(row[8]),
                        iso_time(row[9]),
                        int(row[10]),
                        int(row[11] or 0),
                        # Past COLUMNS: the sentence's id and parameters (JSON text or None),
                        # for the readable forms only; the signed JSON leaves it out.
                        row[12],
                    ),
                    out,
                )
                count += 1
        if not silent_written:
            count += write_silent()
    meta = {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "week": str(week),
        "period": {
            "start": iso_time(start),
            "end": iso_time(end),
            "timezone": str(zone),
            "utc_offset": utc_offset_text(start, zone),
        },
        "complete": end <= moment,
        "generated_at": iso_time(moment),
        "generated_by": generated_by,
        # POLICY.md E13: each site's newest crawl in the week (server/sites). The key sorts
        # before "rows", so the signed JSON's layout (verify.py) is unchanged.
        "e13_sites": e13_sites(engine, start, end),
    }
    return WeekData(week=week, meta=meta, hosts=hosts, row_count=count, spool=spool)


def e13_sites(
    engine: Engine, start: datetime.datetime, end: datetime.datetime
) -> list[dict[str, Any]]:
    """Each site's E13 status from its newest crawl finished in the week: ``pass`` without
    broken links, ``fail`` with, ``not_crawled`` when none finished in the week."""
    return [
        {
            "site": site.name,
            "start_url": site.start_url,
            "status": site.status,
            "crawled_at": iso_time(site.crawled_at),
            "pages": site.pages,
            "broken_links": site.broken,
        }
        for site in statuses(engine, start, end)
    ]


def open_spool_dir(parent: Path | None = None) -> contextlib.AbstractContextManager[str]:
    """A private temporary folder for a report's spool and output files."""
    return tempfile.TemporaryDirectory(prefix="xunjian-report-", dir=parent)
