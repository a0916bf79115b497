"""The geometry of the dashboard's two SVG charts, the duration histogram and the trend
chart: where every axis, grid line, bar, tick, marker and data label goes, computed in
Python from a body's figures. templates/charts.html draws them; nothing here writes
markup. Coordinates are ready for the SVG attributes: whole pixels as ints, fractional
ones as strings with one decimal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from tasker_analytics.core.schemas import PerformanceDistribution, Trend
from tasker_analytics.ui.format import duration_label, ms, pct, short_ms

WIDTH = 640
HEIGHT = 240
EMPTY_HEIGHT = 80  # the histogram without completed tasks: a one-line message
LEFT, RIGHT, TOP, BOTTOM = 56, 64, 24, 44
PLOT_WIDTH = WIDTH - LEFT - RIGHT

Coordinate = int | float | str


def _px(value: float) -> str:
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
        return cls(_px(x), _px(bottom - height), _px(width), _px(height))


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
            Tick(Line(LEFT, _px(y), LEFT + PLOT_WIDTH, _px(y)), Label(LEFT - 6, _px(y + 4), f"{top * fraction:,.0f}"))
        )
    grid.append(Tick(None, Label(LEFT - 6, bottom_y + 4, "0")))

    bars = []
    for k, bucket in zip(index, buckets, strict=True):
        height = max(1.0, bucket.count / top * plot_h)
        x = LEFT + (k - k_min) * slot_w + 1
        title = f"{duration_label(bucket.lower_ms)} – {duration_label(bucket.upper_ms)}: {bucket.count:,} tasks"
        label = (
            Label(_px(x + (slot_w - 2) / 2), _px(bottom_y - height - 4), f"{bucket.count:,}") if slots <= 24 else None
        )
        box = Box.at(x, bottom_y, max(1.0, slot_w - 2), height)
        bars.append(HistogramBar(box, bucket.count, bucket.lower_ms, bucket.upper_ms, title, label))

    # The time axis: decade boundaries (every boundary when the range is short).
    ticks = []
    for k in range(k_min, k_max + 2):
        if slots > 8 and k % 4:
            continue
        x = _px(LEFT + (k - k_min) * slot_w)
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
        line = Line(_px(x), top_y - 22 + 11 * row, _px(x), bottom_y)
        markers.append(Marker(name, value, line, Point(_px(x + 3), top_y - 24 + 11 * row)))

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
    label = Label(_px(x + width / 2), _px(bottom - height - 4), text)
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
                Line(LEFT, _px(y), right_x, _px(y)) if fraction else None,
                Label(LEFT - 6, _px(y + 4), f"{fraction * 100:.0f}%"),
                Label(right_x + 6, _px(y + 4), short_ms(top_ms * fraction)),
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
        groups.append(TrendGroup(bars, Label(_px(center), bottom_y + 16, f"last {label} · {trend.settled:,} settled")))

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
