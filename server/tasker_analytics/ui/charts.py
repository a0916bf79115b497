"""The geometry of the dashboard's SVG charts, the duration histogram, the trend chart and
the hourly history: where every axis, grid line, bar, tick, marker and data label goes, computed in
Python from a body's figures. templates/charts.html draws them; nothing here writes
markup. Coordinates are ready for the SVG attributes: whole pixels as ints, fractional
ones as strings with one decimal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tasker_analytics.core.schemas import History, PerformanceDistribution, Trend
from tasker_analytics.ui.format import duration_label, ms, pct, short_ms

WIDTH = 640
HEIGHT = 240
EMPTY_HEIGHT = 80  # the histogram without completed tasks: a one-line message
LEFT, RIGHT, TOP, BOTTOM = 56, 64, 24, 44
PLOT_WIDTH = WIDTH - LEFT - RIGHT

Coordinate = int | float | str


def px(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True, slots=True)
class Point:
    x: Coordinate
    y: Coordinate


@dataclass(frozen=True, slots=True)
class Line:
    x1: Coordinate
    y1: Coordinate
    x2: Coordinate
    y2: Coordinate


@dataclass(frozen=True, slots=True)
class Label:
    x: Coordinate
    y: Coordinate
    text: str


@dataclass(frozen=True, slots=True)
class Tick:
    """A grid line or tick mark (None: none drawn) and its label."""

    line: Line | None
    label: Label


@dataclass(frozen=True, slots=True)
class Box:
    x: str
    y: str
    width: str
    height: str

    @classmethod
    def at(cls, x: float, bottom: float, width: float, height: float) -> Box:
        """A bar standing on `bottom` (SVG's y grows downwards)."""
        return cls(px(x), px(bottom - height), px(width), px(height))


@dataclass(frozen=True, slots=True)
class HistogramBar:
    box: Box
    count: int
    lower_ms: float
    upper_ms: float
    title: str
    label: Label | None  # the count above the bar, when the bars are wide enough for one


@dataclass(frozen=True, slots=True)
class Marker:
    """A percentile of the scope: a dashed line across the plot, its name above."""

    name: str
    value: float
    line: Line
    label: Point


@dataclass(frozen=True, slots=True)
class Histogram:
    width: int
    height: int
    count: int
    bars: tuple[HistogramBar, ...] = ()  # none: the chart is only a message, at `message`
    message: Point = Point(WIDTH / 2, 44)
    axes: tuple[Line, ...] = ()
    grid: tuple[Tick, ...] = ()  # the count axis
    ticks: tuple[Tick, ...] = ()  # the time axis
    markers: tuple[Marker, ...] = ()
    axis_title: Point = Point(LEFT + PLOT_WIDTH / 2, HEIGHT - 6)


@dataclass(frozen=True, slots=True)
class TrendTick:
    grid: Line | None
    rate: Label  # left axis: completion rate
    duration: Label  # right axis: average duration


@dataclass(frozen=True, slots=True)
class TrendBar:
    series: str  # completion_rate or avg_duration_ms
    css: str  # series-rate or series-duration
    window: str
    value: float | None
    box: Box
    title: str
    label: Label


@dataclass(frozen=True, slots=True)
class TrendGroup:
    bars: tuple[TrendBar, TrendBar]
    tick: Label


@dataclass(frozen=True, slots=True)
class LegendKey:
    swatch: Point  # a 10 × 10 square
    text: Point


@dataclass(frozen=True, slots=True)
class TrendChart:
    width: int
    height: int
    axes: tuple[Line, ...]
    ticks: tuple[TrendTick, ...]
    groups: tuple[TrendGroup, ...]
    rate_key: LegendKey
    duration_key: LegendKey


def window_hours(label: str) -> float:
    try:
        return float(label.rstrip("h"))
    except ValueError:
        return math.inf


def sorted_windows(trends: Mapping[str, Trend]) -> list[tuple[str, Trend]]:
    """The trend windows, shortest first (1h, 4h, 24h), as the chart and the table show them."""
    return sorted(trends.items(), key=lambda item: window_hours(item[0]))


def histogram(distribution: PerformanceDistribution) -> Histogram:
    """Duration histogram: one bar per log bucket (four per decade) on a log time axis,
    with the scope's p50/p95/p99 marked."""
    buckets = distribution.histogram
    if not buckets:
        return Histogram(WIDTH, EMPTY_HEIGHT, 0)
    top_y = TOP + 16  # room for the percentile labels above the bar counts
    plot_h = HEIGHT - top_y - BOTTOM
    bottom_y = top_y + plot_h
    index = [round(4 * math.log10(bucket.lower_ms)) if bucket.lower_ms > 0 else 0 for bucket in buckets]
    k_min, k_max = min(index), max(index)
    slots = k_max - k_min + 1
    slot_w = PLOT_WIDTH / slots
    top = max(bucket.count for bucket in buckets)

    grid = []
    for fraction in (0.5, 1.0):
        y = bottom_y - fraction * plot_h
        grid.append(
            Tick(Line(LEFT, px(y), LEFT + PLOT_WIDTH, px(y)), Label(LEFT - 6, px(y + 4), f"{top * fraction:,.0f}"))
        )
    grid.append(Tick(None, Label(LEFT - 6, bottom_y + 4, "0")))

    bars = []
    for k, bucket in zip(index, buckets, strict=True):
        height = max(1.0, bucket.count / top * plot_h)
        x = LEFT + (k - k_min) * slot_w + 1
        title = f"{duration_label(bucket.lower_ms)} – {duration_label(bucket.upper_ms)}: {bucket.count:,} tasks"
        label = Label(px(x + (slot_w - 2) / 2), px(bottom_y - height - 4), f"{bucket.count:,}") if slots <= 24 else None
        box = Box.at(x, bottom_y, max(1.0, slot_w - 2), height)
        bars.append(HistogramBar(box, bucket.count, bucket.lower_ms, bucket.upper_ms, title, label))

    # The time axis: decade boundaries (every boundary when the range is short).
    ticks = []
    for k in range(k_min, k_max + 2):
        if slots > 8 and k % 4:
            continue
        x = px(LEFT + (k - k_min) * slot_w)
        ticks.append(
            Tick(Line(x, bottom_y, x, bottom_y + 4), Label(x, bottom_y + 16, duration_label(round(10 ** (k / 4), 1))))
        )

    markers = []
    last_label_x, row = -math.inf, 0
    for name, value in (("p50", distribution.p50), ("p95", distribution.p95), ("p99", distribution.p99)):
        if value is None:
            continue
        position = 4 * math.log10(max(value, 1.0))
        if not k_min <= position <= k_max + 1:
            continue
        x = LEFT + (position - k_min) * slot_w
        row = row + 1 if x - last_label_x < 28 else 0  # close markers: labels one above the other
        last_label_x = x
        line = Line(px(x), top_y - 22 + 11 * row, px(x), bottom_y)
        markers.append(Marker(name, value, line, Point(px(x + 3), top_y - 24 + 11 * row)))

    return Histogram(
        WIDTH,
        HEIGHT,
        distribution.count,
        bars=tuple(bars),
        axes=(Line(LEFT, bottom_y, LEFT + PLOT_WIDTH, bottom_y), Line(LEFT, top_y, LEFT, bottom_y)),
        grid=tuple(grid),
        ticks=tuple(ticks),
        markers=tuple(markers),
    )


def _trend_bar(
    window: str, series: str, value: float | None, text: str, x: float, width: float, height: float, bottom: float
) -> TrendBar:
    """One bar of the trend chart, its value written above it."""
    css = "series-rate" if series == "completion_rate" else "series-duration"
    label = Label(px(x + width / 2), px(bottom - height - 4), text)
    return TrendBar(series, css, window, value, Box.at(x, bottom, width, height), f"{window}: {series} {text}", label)


def trend_chart(windows: list[tuple[str, Trend]]) -> TrendChart:
    """Completion rate (left axis, 0-100 %) and average duration (right axis) per window."""
    plot_h = HEIGHT - TOP - BOTTOM
    bottom_y = TOP + plot_h
    right_x = LEFT + PLOT_WIDTH
    top_ms = max((trend.avg_duration_ms or 0.0 for _, trend in windows), default=0.0) or 1.0
    group_w = PLOT_WIDTH / max(1, len(windows))
    bar_w = group_w * 0.3

    ticks = []
    for fraction in (0.0, 0.5, 1.0):
        y = bottom_y - fraction * plot_h
        ticks.append(
            TrendTick(
                Line(LEFT, px(y), right_x, px(y)) if fraction else None,
                Label(LEFT - 6, px(y + 4), f"{fraction * 100:.0f}%"),
                Label(right_x + 6, px(y + 4), short_ms(top_ms * fraction)),
            )
        )

    groups = []
    for position, (label, trend) in enumerate(windows):
        center = LEFT + group_w * (position + 0.5)
        rate, avg = trend.completion_rate, trend.avg_duration_ms
        rate_h = max(1.0, rate * plot_h) if trend.settled else 0.0
        avg_h = 0.0 if avg is None else max(1.0, avg / top_ms * plot_h)
        bars = (
            _trend_bar(label, "completion_rate", rate, pct(rate), center - bar_w - 2, bar_w, rate_h, bottom_y),
            _trend_bar(label, "avg_duration_ms", avg, ms(avg), center + 2, bar_w, avg_h, bottom_y),
        )
        groups.append(TrendGroup(bars, Label(px(center), bottom_y + 16, f"last {label} · {trend.settled:,} settled")))

    return TrendChart(
        WIDTH,
        HEIGHT,
        axes=(
            Line(LEFT, bottom_y, right_x, bottom_y),
            Line(LEFT, TOP, LEFT, bottom_y),
            Line(right_x, TOP, right_x, bottom_y),
        ),
        ticks=tuple(ticks),
        groups=tuple(groups),
        rate_key=LegendKey(Point(LEFT, HEIGHT - 14), Point(LEFT + 14, HEIGHT - 5)),
        duration_key=LegendKey(Point(LEFT + 200, HEIGHT - 14), Point(LEFT + 214, HEIGHT - 5)),
    )


@dataclass(frozen=True, slots=True)
class HourMark:
    """One hour of the history chart: its figures (the data attributes the page carries),
    its settled-count bar (None without a settled task) and its tooltip."""

    hour_end: datetime
    settled: int
    completed: int
    failed: int
    completion_rate: float
    p95_ms: float | None
    bar: Box | None
    title: str


@dataclass(frozen=True, slots=True)
class HistoryChart:
    """The scope's last `hours` hours: tasks settled per hour (bars, left axis) with the
    completion rate (line, right axis 0-100 %) above, and the p95 duration per hour (line,
    its own axis) below. Lines break where an hour has no value."""

    width: int
    height: int
    hours: tuple[HourMark, ...]
    axes: tuple[Line, ...]
    count_ticks: tuple[Tick, ...]
    rate_ticks: tuple[Tick, ...]
    p95_ticks: tuple[Tick, ...]
    time_ticks: tuple[Tick, ...]
    rate_lines: tuple[str, ...]  # SVG polyline points, one run of consecutive hours each
    p95_lines: tuple[str, ...]
    upper_title: Point
    lower_title: Point


HISTORY_HEIGHT = 360


def _runs(points: list[tuple[float, float] | None]) -> tuple[str, ...]:
    """Polyline point lists of the consecutive points that exist."""
    runs, current = [], []
    for point in [*points, None]:
        if point is None:
            if current:
                runs.append(" ".join(f"{x:.1f},{y:.1f}" for x, y in current))
            current = []
        else:
            current.append(point)
    return tuple(runs)


def history_chart(history: History) -> HistoryChart:
    hours = history.hours
    right_x = LEFT + PLOT_WIDTH
    upper_top, upper_bottom = TOP + 8, 196
    lower_top, lower_bottom = 232, HISTORY_HEIGHT - BOTTOM
    slot = PLOT_WIDTH / max(1, len(hours))
    top_count = max((hour.settled for hour in hours), default=0) or 1
    top_p95 = max((hour.p95_duration_ms or 0.0 for hour in hours), default=0.0) or 1.0
    upper_h, lower_h = upper_bottom - upper_top, lower_bottom - lower_top

    marks, rate_points, p95_points = [], [], []
    for position, hour in enumerate(hours):
        x = LEFT + position * slot
        center = x + slot / 2
        bar = None
        if hour.settled:
            bar = Box.at(x + 0.2, upper_bottom, max(0.6, slot - 0.4), max(1.0, hour.settled / top_count * upper_h))
        rate = hour.completion_rate
        # No line through an hour without a settled task: its rate 0 is over no task.
        rate_points.append((center, upper_bottom - rate * upper_h) if hour.settled else None)
        p95 = hour.p95_duration_ms
        p95_points.append(None if p95 is None else (center, lower_bottom - p95 / top_p95 * lower_h))
        end = hour.hour_end.strftime("%Y-%m-%d %H:%M")
        title = f"hour to {end} UTC: {hour.settled:,} settled, {pct(rate)} completed, p95 {ms(p95)}"
        marks.append(HourMark(hour.hour_end, hour.settled, hour.completed, hour.failed, rate, p95, bar, title))

    def left(value: float, y: float, text: str) -> Tick:
        return Tick(Line(LEFT, px(y), right_x, px(y)) if value else None, Label(LEFT - 6, px(y + 4), text))

    count_ticks = tuple(left(f, upper_bottom - f * upper_h, f"{top_count * f:,.0f}") for f in (0.0, 0.5, 1.0))
    rate_ticks = tuple(
        Tick(None, Label(right_x + 6, px(upper_bottom - f * upper_h + 4), f"{f * 100:.0f}%")) for f in (0.0, 0.5, 1.0)
    )
    p95_ticks = tuple(left(f, lower_bottom - f * lower_h, short_ms(top_p95 * f)) for f in (0.0, 0.5, 1.0))
    # A tick at each whole day back from the end (every 6 h when the period is a day or less).
    step = 24 if len(hours) > 24 else 6
    time_ticks = []
    for back in range(0, len(hours) + 1, step):
        x = right_x - back * slot
        text = "now" if back == 0 else f"-{back} h"
        time_ticks.append(
            Tick(Line(px(x), lower_bottom, px(x), lower_bottom + 4), Label(px(x), lower_bottom + 16, text))
        )

    return HistoryChart(
        WIDTH,
        HISTORY_HEIGHT,
        hours=tuple(marks),
        axes=(
            Line(LEFT, upper_bottom, right_x, upper_bottom),
            Line(LEFT, upper_top, LEFT, upper_bottom),
            Line(right_x, upper_top, right_x, upper_bottom),
            Line(LEFT, lower_bottom, right_x, lower_bottom),
            Line(LEFT, lower_top, LEFT, lower_bottom),
        ),
        count_ticks=count_ticks,
        rate_ticks=rate_ticks,
        p95_ticks=p95_ticks,
        time_ticks=tuple(time_ticks),
        rate_lines=_runs(rate_points),
        p95_lines=_runs(p95_points),
        upper_title=Point(LEFT, upper_top - 6),
        lower_title=Point(LEFT, lower_top - 6),
    )
