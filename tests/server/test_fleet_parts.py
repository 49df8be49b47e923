"""The fleet pages' pure parts: which searches look in the inventory's addresses, and the
chart's geometry (gaps in the weeks break the lines; no data is not zero)."""

from __future__ import annotations

import datetime

import pytest

from server.fleet.chart import HEIGHT, MAX_GROUP_LINES, compliance_chart
from server.fleet.store import GroupScore, WeekPoint, looks_like_address, week_start


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.19.", True),
        ("192.168.1.20", True),
        ("10.", True),
        ("fe80::1", True),
        ("2001:db8:", True),
        ("pc-0123", False),
        ("10", False),  # a name or id could hold digits only
        ("abc", False),
        ("10.0.x", False),
        ("1:2:3:4:5:6:7:8:9:zz", False),
        ("12345::", False),
    ],
)
def test_which_searches_look_at_addresses(text: str, expected: bool) -> None:
    assert looks_like_address(text) is expected


def test_weeks_start_on_monday() -> None:
    assert week_start(datetime.date(2026, 11, 29)) == datetime.date(2026, 11, 23)  # a Sunday
    assert week_start(datetime.date(2026, 11, 23)) == datetime.date(2026, 11, 23)


def weeks(*scores: tuple[int, int] | None) -> list[WeekPoint]:
    first = datetime.date(2026, 9, 7)
    points = []
    for index, score in enumerate(scores):
        start = first + datetime.timedelta(weeks=index)
        if score is None:
            points.append(WeekPoint(week_start=start, day=None))
        else:
            passed, failed = score
            points.append(WeekPoint(start, start, passed, failed, groups={1: (passed, failed)}))
    return points


def test_a_week_without_data_breaks_the_line_and_is_not_zero() -> None:
    chart = compliance_chart(
        weeks((9, 1), (8, 2), None, (10, 0)), [GroupScore(1, "office", 3, 10, 0)]
    )
    fleet, office = chart.lines
    assert fleet.name == "" and office.name == "office"
    assert len(fleet.segments) == 2 and len(fleet.dots) == 3
    assert [dot.label.split(": ")[1] for dot in fleet.dots] == ["90.0%", "80.0%", "100.0%"]
    # 100 % is drawn at the top of the plot, and higher scores higher.
    assert fleet.dots[2].y == chart.plot[1]
    assert fleet.dots[0].y < fleet.dots[1].y < HEIGHT
    assert not chart.empty


def test_no_data_at_all_says_so() -> None:
    chart = compliance_chart(weeks(None, None), [])
    assert chart.empty and chart.lines[0].dots == []


def test_only_the_largest_groups_get_lines() -> None:
    groups = [GroupScore(n, f"g{n}", hosts=n, passed=1, failed=0) for n in range(1, 12)]
    chart = compliance_chart(weeks((1, 0)), groups)
    drawn = [line.name for line in chart.lines[1:]]
    assert len(drawn) == MAX_GROUP_LINES and drawn[0] == "g11"
    assert chart.hidden_groups == 11 - MAX_GROUP_LINES
