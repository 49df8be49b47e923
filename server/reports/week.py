"""ISO weeks (``2026-W47``) and the moments they span.

A week runs from Monday 00:00 to the next Monday 00:00 in the server's configured time zone,
``console_timezone`` in config.json (default the server's own zone, the zone the console
shows times in): a school's week begins at its own midnight, not at UTC's. The store keeps
naive UTC, so each week is turned into a [start, end) pair of naive UTC datetimes; zoneinfo
applies the zone's daylight-saving rules where it has any.

Only the standard library.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from server.config import system_timezone

WEEK_PATTERN = re.compile(r"([0-9]{4})-W([0-9]{2})")
MIN_YEAR = 2000
MAX_YEAR = 9998


class WeekError(ValueError):
    """Not an ISO week name, or a week out of range; the message says what is expected."""


def zone_of(config: object) -> ZoneInfo:
    """The configured zone of a ``ServerConfig`` (validated when config.json was loaded)."""
    return ZoneInfo(str(getattr(config, "console_timezone", "") or system_timezone()))


def _naive_utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        match = WEEK_PATTERN.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise WeekError(f"a week is written YYYY-Www, e.g. 2026-W47; got {str(text)[:20]!r}")
        year, week = int(match.group(1)), int(match.group(2))
        if not MIN_YEAR <= year <= MAX_YEAR:
            raise WeekError(f"the year of a week must be {MIN_YEAR}..{MAX_YEAR}; got {year}")
        try:
            datetime.date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise WeekError(f"{year} has no ISO week {week:02d}") from exc
        return cls(year, week)

    @classmethod
    def containing(cls, day: datetime.date) -> IsoWeek:
        year, week, _weekday = day.isocalendar()
        return cls(year, week)

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"

    @property
    def monday(self) -> datetime.date:
        return datetime.date.fromisocalendar(self.year, self.week, 1)

    def previous(self) -> IsoWeek:
        return IsoWeek.containing(self.monday - datetime.timedelta(days=7))

    def bounds(self, zone: datetime.tzinfo) -> tuple[datetime.datetime, datetime.datetime]:
        """[start, end) of the week in ``zone``, as naive UTC datetimes (the store's way)."""
        start = datetime.datetime.combine(self.monday, datetime.time(0), tzinfo=zone)
        end = datetime.datetime.combine(
            self.monday + datetime.timedelta(days=7), datetime.time(0), tzinfo=zone
        )
        return _naive_utc(start), _naive_utc(end)


def utc_offset_text(moment_utc: datetime.datetime, zone: datetime.tzinfo) -> str:
    """The zone's offset from UTC at that moment, as ``+08:00``."""
    offset = moment_utc.replace(tzinfo=datetime.UTC).astimezone(zone).utcoffset()
    minutes = int((offset or datetime.timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def last_complete_week(now_utc: datetime.datetime, zone: datetime.tzinfo) -> IsoWeek:
    """The newest week that has ended at ``now_utc`` (naive UTC): last week, in ``zone``."""
    return this_week(now_utc, zone).previous()


def this_week(now_utc: datetime.datetime, zone: datetime.tzinfo) -> IsoWeek:
    """The week running at ``now_utc`` (naive UTC), in ``zone``: its report is partial."""
    today = now_utc.replace(tzinfo=datetime.UTC).astimezone(zone).date()
    return IsoWeek.containing(today)


def is_complete(week: IsoWeek, now_utc: datetime.datetime, zone: datetime.tzinfo) -> bool:
    return week.bounds(zone)[1] <= now_utc


def has_started(week: IsoWeek, now_utc: datetime.datetime, zone: datetime.tzinfo) -> bool:
    return week.bounds(zone)[0] <= now_utc
