"""History of each monitor: raw results for ``monitor_raw_retention_days``, hourly and daily
roll-ups for a year, uptime percentages and the 24-hour series the console draws.

Roll-ups and purges run in the scheduler of every server process, but each happens once: the
job's row in ``monitor_jobs`` (``rollup:hour:2026-11-23T10``, ``rollup:day:2026-11-23``,
``purge:2026-11-23``) is INSERTed in the same transaction as the work, and a second process's
INSERT finds it (ON CONFLICT DO NOTHING, rowcount 0) and rolls its own work back.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, case, delete, func, select, update
from sqlalchemy.orm import Session

from server.monitors.models import MonitorAggregate, MonitorJob, MonitorResult
from server.store.engine import conflict_insert
from server.store.models import utcnow

HOUR = datetime.timedelta(hours=1)
DAY = datetime.timedelta(days=1)
LOOKBACK_HOURS = 48
SETTLE = datetime.timedelta(minutes=2)  # an hour is rolled up this long after it ended
AGGREGATE_DAYS = 366


def floor_hour(moment: datetime.datetime) -> datetime.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _claim(connection: Connection, name: str, now: datetime.datetime, outcome: str = "") -> bool:
    insert = conflict_insert(connection)
    claimed = connection.execute(
        insert(MonitorJob)
        .values(name=name, done_at=now, outcome=outcome[:500])
        .on_conflict_do_nothing(index_elements=["name"])
        .execution_options(preserve_rowcount=True)  # else -1 on psycopg
    ).rowcount
    return claimed == 1


def claim_job(engine: Engine, name: str, outcome: str = "") -> bool:
    """Claim a once-only job on its own (the daily digest). True for the one process that
    wins."""
    with engine.begin() as connection:
        return _claim(connection, name, utcnow(), outcome)


def set_outcome(engine: Engine, name: str, outcome: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(MonitorJob).where(MonitorJob.name == name).values(outcome=outcome[:500])
        )


def _hour_name(start: datetime.datetime) -> str:
    return f"rollup:hour:{start:%Y-%m-%dT%H}"


def _day_name(day: datetime.date) -> str:
    return f"rollup:day:{day:%Y-%m-%d}"


def _done(engine: Engine, names: Sequence[str]) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(select(MonitorJob.name).where(MonitorJob.name.in_(names))))


def roll_up(engine: Engine, now: datetime.datetime | None = None) -> int:
    """Roll up every settled hour (and day) of the last two days not rolled up yet; returns
    how many jobs this process did."""
    now = now or utcnow()
    last = floor_hour(now - SETTLE) - HOUR
    hours = [last - HOUR * n for n in range(LOOKBACK_HOURS)]
    days = sorted({hour.date() for hour in hours})
    done = _done(engine, [_hour_name(h) for h in hours] + [_day_name(d) for d in days])
    did = 0
    for start in sorted(hours):
        if _hour_name(start) not in done:
            did += _roll_hour(engine, start, now)
            done.add(_hour_name(start))  # by this process or, just now, by another
    for day in days:
        midnight = datetime.datetime.combine(day, datetime.time())
        if midnight + DAY > last + HOUR:
            continue  # the day is not over (or its last hour is not rolled up yet)
        complete = all(_hour_name(midnight + HOUR * n) in done for n in range(24)) or (
            # Older than the look-back: only the hours we can see must be done.
            midnight < hours[-1]
        )
        if complete and _day_name(day) not in done and _roll_day(engine, day, now):
            did += 1
    return did


def _store_rollup(
    connection: Connection, period: str, start: datetime.datetime, rows: Sequence[Row[Any]]
) -> None:
    """Keep one period's figures per monitor, ``rows`` of (monitor, probes, ups, ms total,
    ms max); a period rolled up already by another process is left as it is."""
    if not rows:
        return
    connection.execute(
        conflict_insert(connection)(MonitorAggregate).on_conflict_do_nothing(
            index_elements=["monitor_id", "period", "start"]
        ),
        [
            {
                "monitor_id": monitor_id,
                "period": period,
                "start": start,
                "probes": int(probes),
                "ups": int(ups or 0),
                "ms_total": int(total),
                "ms_max": int(top),
            }
            for monitor_id, probes, ups, total, top in rows
        ],
    )


def _roll_hour(engine: Engine, start: datetime.datetime, now: datetime.datetime) -> bool:
    with engine.begin() as connection:
        if not _claim(connection, _hour_name(start), now):
            return False
        rows = connection.execute(
            select(
                MonitorResult.monitor_id,
                func.count(),
                func.sum(case((MonitorResult.ok, 1), else_=0)),
                func.coalesce(func.sum(MonitorResult.ms), 0),
                func.coalesce(func.max(MonitorResult.ms), 0),
            )
            .where(MonitorResult.at >= start, MonitorResult.at < start + HOUR)
            .group_by(MonitorResult.monitor_id)
        ).all()
        _store_rollup(connection, "hour", start, rows)
    return True


def _roll_day(engine: Engine, day: datetime.date, now: datetime.datetime) -> bool:
    midnight = datetime.datetime.combine(day, datetime.time())
    with engine.begin() as connection:
        if not _claim(connection, _day_name(day), now):
            return False
        rows = connection.execute(
            select(
                MonitorAggregate.monitor_id,
                func.sum(MonitorAggregate.probes),
                func.sum(MonitorAggregate.ups),
                func.sum(MonitorAggregate.ms_total),
                func.max(MonitorAggregate.ms_max),
            )
            .where(
                MonitorAggregate.period == "hour",
                MonitorAggregate.start >= midnight,
                MonitorAggregate.start < midnight + DAY,
            )
            .group_by(MonitorAggregate.monitor_id)
        ).all()
        _store_rollup(connection, "day", midnight, rows)
    return True


def purge(engine: Engine, raw_days: int, now: datetime.datetime | None = None) -> bool:
    """Once a day: raw results older than ``raw_days``, aggregates and job rows older than a
    year. True for the process that did it."""
    now = now or utcnow()
    with engine.begin() as connection:
        if not _claim(connection, f"purge:{now:%Y-%m-%d}", now):
            return False
        connection.execute(delete(MonitorResult).where(MonitorResult.at < now - DAY * raw_days))
        connection.execute(
            delete(MonitorAggregate).where(MonitorAggregate.start < now - DAY * AGGREGATE_DAYS)
        )
        connection.execute(
            delete(MonitorJob).where(MonitorJob.done_at < now - DAY * AGGREGATE_DAYS)
        )
    return True


def _rolled_until(connection: Connection, now: datetime.datetime) -> datetime.datetime:
    """The end of the newest rolled-up hour: aggregates cover before it, raw rows after."""
    newest = connection.scalar(
        select(func.max(MonitorJob.name)).where(MonitorJob.name.like("rollup:hour:%"))
    )
    if not newest:
        return datetime.datetime(1970, 1, 1)
    start = datetime.datetime.strptime(newest.removeprefix("rollup:hour:"), "%Y-%m-%dT%H")
    return min(start + HOUR, floor_hour(now))


@dataclass(frozen=True)
class Uptime:
    probes: int
    ups: int

    @property
    def percent(self) -> float | None:
        return None if not self.probes else 100.0 * self.ups / self.probes


def uptimes(
    engine: Engine,
    monitor_ids: Sequence[int],
    windows: Sequence[datetime.timedelta],
    now: datetime.datetime | None = None,
) -> dict[int, list[Uptime]]:
    """Uptime of each monitor over each window ending now: hourly aggregates for the rolled-up
    hours, raw results for the time after them."""
    now = now or utcnow()
    found: dict[int, list[Uptime]] = {monitor_id: [] for monitor_id in monitor_ids}
    if not monitor_ids:
        return found
    with engine.connect() as connection:
        cut = _rolled_until(connection, now)
        for window in windows:
            since = now - window
            totals: dict[int, list[int]] = {monitor_id: [0, 0] for monitor_id in monitor_ids}
            if since < cut:
                for monitor_id, probes, ups in connection.execute(
                    select(
                        MonitorAggregate.monitor_id,
                        func.sum(MonitorAggregate.probes),
                        func.sum(MonitorAggregate.ups),
                    )
                    .where(
                        MonitorAggregate.monitor_id.in_(monitor_ids),
                        MonitorAggregate.period == "hour",
                        MonitorAggregate.start >= floor_hour(since),
                        MonitorAggregate.start < cut,
                    )
                    .group_by(MonitorAggregate.monitor_id)
                ):
                    totals[monitor_id][0] += int(probes)
                    totals[monitor_id][1] += int(ups)
            for monitor_id, probes, ups in connection.execute(
                select(
                    MonitorResult.monitor_id,
                    func.count(),
                    func.sum(case((MonitorResult.ok, 1), else_=0)),
                )
                .where(
                    MonitorResult.monitor_id.in_(monitor_ids),
                    MonitorResult.at >= max(since, cut),
                )
                .group_by(MonitorResult.monitor_id)
            ):
                totals[monitor_id][0] += int(probes)
                totals[monitor_id][1] += int(ups or 0)
            for monitor_id, (probes, ups) in totals.items():
                found[monitor_id].append(Uptime(probes, ups))
    return found


@dataclass(frozen=True)
class Bucket:
    start: datetime.datetime
    probes: int
    ups: int
    ms_avg: int | None


def series(
    engine: Engine,
    monitor_ids: Sequence[int],
    now: datetime.datetime | None = None,
    span: datetime.timedelta = DAY,
    buckets: int = 48,
) -> dict[int, list[Bucket]]:
    """Raw results of the last ``span`` in ``buckets`` equal slices, per monitor (the
    console's small chart)."""
    now = now or utcnow()
    since = now - span
    width = span / buckets
    raw: dict[int, list[list[int]]] = {
        monitor_id: [[0, 0, 0, 0] for _ in range(buckets)] for monitor_id in monitor_ids
    }
    if monitor_ids:
        with engine.connect() as connection:
            for monitor_id, at, ok, ms in connection.execute(
                select(
                    MonitorResult.monitor_id, MonitorResult.at, MonitorResult.ok, MonitorResult.ms
                ).where(MonitorResult.monitor_id.in_(monitor_ids), MonitorResult.at >= since)
            ):
                index = min(int((at - since) / width), buckets - 1)
                cell = raw[monitor_id][index]
                cell[0] += 1
                cell[1] += 1 if ok else 0
                if ms is not None:
                    cell[2] += ms
                    cell[3] += 1
    return {
        monitor_id: [
            Bucket(
                since + width * index,
                probes,
                ups,
                None if not counted else int(total / counted),
            )
            for index, (probes, ups, total, counted) in enumerate(cells)
        ]
        for monitor_id, cells in raw.items()
    }


def recent_results(
    engine: Engine, monitor_id: int, limit: int, offset: int
) -> tuple[list[MonitorResult], int]:
    with Session(engine) as session:
        total = session.scalar(
            select(func.count())
            .select_from(MonitorResult)
            .where(MonitorResult.monitor_id == monitor_id)
        )
        rows = list(
            session.scalars(
                select(MonitorResult)
                .where(MonitorResult.monitor_id == monitor_id)
                .order_by(MonitorResult.id.desc())
                .limit(limit)
                .offset(offset)
            )
        )
    return rows, int(total or 0)


def aggregates(
    engine: Engine, monitor_id: int, period: str, since: datetime.datetime
) -> list[MonitorAggregate]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(MonitorAggregate)
                .where(
                    MonitorAggregate.monitor_id == monitor_id,
                    MonitorAggregate.period == period,
                    MonitorAggregate.start >= since,
                )
                .order_by(MonitorAggregate.start)
            )
        )
