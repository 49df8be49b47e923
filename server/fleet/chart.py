"""The dashboard's chart of compliance per week, as numbers for an inline SVG (no script: the
console's CSP allows none inline, and the chart needs none). Colours are SVG presentation
attributes, which the CSP does not treat as inline style."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from server.fleet.store import GroupScore, WeekPoint

WIDTH = 720
HEIGHT = 260
LEFT = 44
RIGHT = 12
TOP = 12
BOTTOM = 30
# Distinct on white and for the common colour blindnesses (Okabe-Ito), the fleet line black.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999")
MAX_GROUP_LINES = len(PALETTE)


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str  # the tooltip: week and value


@dataclass(frozen=True)
class Line:
    name: str  # a group name; "" for the whole fleet
    colour: str
    segments: list[str]  # "x,y x,y ..." runs of consecutive weeks with data
    dots: list[Dot]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    lines: list[Line]
    x_labels: list[tuple[float, str]]
    y_labels: list[tuple[float, str]]
    plot: tuple[int, int, int, int]  # left, top, right, bottom
    empty: bool
    hidden_groups: int = 0
    weeks: list[str] = field(default_factory=list)


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * index / (count - 1) if count > 1 else span / 2)


def _y(score: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - score)


def _line(name: str, colour: str, weeks: Sequence[WeekPoint], values: list[float | None]) -> Line:
    segments: list[str] = []
    dots: list[Dot] = []
    run: list[str] = []
    for index, value in enumerate(values):
        if value is None:
            if run:
                segments.append(" ".join(run))
            run = []
            continue
        x, y = round(_x(index, len(values)), 1), round(_y(value), 1)
        run.append(f"{x},{y}")
        dots.append(Dot(x, y, f"{weeks[index].week_start.isoformat()}: {value * 100:.1f}%"))
    if run:
        segments.append(" ".join(run))
    return Line(name=name, colour=colour, segments=segments, dots=dots)


def compliance_chart(weeks: Sequence[WeekPoint], groups: Sequence[GroupScore]) -> Chart:
    """One line for the fleet and one per group (the largest ``MAX_GROUP_LINES``)."""
    shown = sorted((g for g in groups if g.hosts), key=lambda g: (-g.hosts, g.name))
    lines = [_line("", "#1f2328", weeks, [week.score for week in weeks])]
    for colour, group in zip(PALETTE, shown[:MAX_GROUP_LINES], strict=False):
        values = [week.group_score(group.group_id) if week.day else None for week in weeks]
        lines.append(_line(group.name, colour, weeks, values))
    step = max(1, len(weeks) // 6)
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        lines=lines,
        x_labels=[
            (round(_x(index, len(weeks)), 1), week.week_start.strftime("%m-%d"))
            for index, week in enumerate(weeks)
            if index % step == 0 or index == len(weeks) - 1
        ],
        y_labels=[(round(_y(value / 100), 1), f"{value}%") for value in (0, 25, 50, 75, 100)],
        plot=(LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM),
        empty=all(week.score is None for week in weeks),
        hidden_groups=max(0, len(shown) - MAX_GROUP_LINES),
        weeks=[week.week_start.isoformat() for week in weeks],
    )
