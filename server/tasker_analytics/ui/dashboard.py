"""The operators' dashboard: one server-rendered HTML page over the same Analytics calls as
the JSON API, and the browser session that lets a web UI authenticate with a cookie.

- `GET  /tasker/analytics/dashboard` - the page. Its scope filters are the bottleneck
  endpoint's parameters (namespace, task_name/name, version, period, limit) and answer the
  same 400 JSON for a bad value. System health, trends, task statistics and processing
  times are system-wide (the performance endpoint); the bottleneck part follows the scope.
- `POST /tasker/analytics/session` - `Authorization: Bearer <token>`, validated by the
  app's authenticator exactly like the API (401/403), answers 204 and sets the
  `SESSION_COOKIE` (HttpOnly, Secure, SameSite=Strict, Path=/tasker/analytics) for the
  token's remaining lifetime (JWT `exp` - now; 3600 s for a service token).
- `DELETE /tasker/analytics/session` - clears that cookie.

No JavaScript framework, no CDN: inline CSS, inline SVG charts, and a few lines of inline
script (allowed by a Content-Security-Policy hash) that only tidy the filter form's URL and
post a token to the session endpoint. The filter form is a plain GET form that works
without script. Every text and attribute value is escaped with `html.escape`.

`route_handlers` lists the handlers for `create_app`.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from litestar import Request, Response, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from tasker_analytics.api.access import BASE_PATH, SESSION_COOKIE, authorized_analytics, bottleneck_query
from tasker_analytics.api.admission import answer
from tasker_analytics.auth.tokens import Authenticator, AuthError
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery, Scope
from tasker_analytics.core.schemas import Bottlenecks, Performance, rfc3339

DASHBOARD_PATH = f"{BASE_PATH}/dashboard"
SESSION_PATH = f"{BASE_PATH}/session"
PERIOD_CHOICES = (1, 4, 24, 72, 168)
# Lifetime of a session made from a service token (it has no expiry of its own), and of
# a JWT session when the token carries no `exp` (TASKER_ANALYTICS_JWT_REQUIRE_EXP=false).
DEFAULT_SESSION_SECONDS = 3600
# The options of the filter form come from the slowest-task list of this period.
OPTIONS_PERIOD_HOURS = 168

# --- formatting ---------------------------------------------------------------------------


def _e(value: Any) -> str:
    """Text or attribute value, HTML-escaped (quotes too)."""
    return escape("" if value is None else str(value), quote=True)


def _raw(value: Any) -> str:
    """The figure exactly as the JSON API has it, for data-value attributes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value)


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} ms"


def _pct(rate: float | None) -> str:
    # Rates are served with 4 decimals, so 2 decimals of a percentage show them exactly.
    return "—" if rate is None else f"{rate * 100:.2f}%"


def _fig(name: str, value: Any, text: str, tag: str = "span", css: str = "") -> str:
    klass = f' class="{_e(css)}"' if css else ""
    return f'<{tag}{klass} data-figure="{_e(name)}" data-value="{_e(_raw(value))}">{_e(text)}</{tag}>'


def _duration_label(ms: float) -> str:
    if ms < 1000:
        return f"{ms:.3g} ms"
    return f"{ms / 1000:.3g} s"


def _short_ms(ms: float) -> str:
    """Axis labels: 850 ms, 12.2 s."""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _link(scope: dict[str, str], period: int) -> str:
    return f"{DASHBOARD_PATH}?{urlencode({**scope, 'period': period})}"


# --- charts -------------------------------------------------------------------------------

_SVG_WIDTH = 640
_SVG_HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 64, 24, 44


def histogram_svg(distribution) -> str:
    """Duration histogram: one bar per log bucket (four per decade) on a log time axis,
    with the scope's p50/p95/p99 marked."""
    buckets = distribution.histogram
    title = "Task duration histogram (completed tasks, log buckets: four per decade)"
    if not buckets:
        return (
            f'<svg id="duration-histogram" class="chart" viewBox="0 0 {_SVG_WIDTH} 80" role="img" '
            f'data-count="0"><title>{_e(title)}</title>'
            f'<text x="{_SVG_WIDTH / 2}" y="44" class="empty" text-anchor="middle">'
            "No completed tasks in this scope and period</text></svg>"
        )
    plot_w = _SVG_WIDTH - _LEFT - _RIGHT
    top_y = _TOP + 16  # room for the percentile labels above the bar counts
    plot_h = _SVG_HEIGHT - top_y - _BOTTOM
    index = [round(4 * math.log10(bucket.lower_ms)) if bucket.lower_ms > 0 else 0 for bucket in buckets]
    k_min, k_max = min(index), max(index)
    slots = k_max - k_min + 1
    slot_w = plot_w / slots
    top = max(bucket.count for bucket in buckets)
    bottom_y = top_y + plot_h
    parts = [
        f'<svg id="duration-histogram" class="chart" viewBox="0 0 {_SVG_WIDTH} {_SVG_HEIGHT}" role="img" '
        f'data-count="{distribution.count}" data-buckets="{len(buckets)}">',
        f"<title>{_e(title)}</title>",
        f'<line class="axis" x1="{_LEFT}" y1="{bottom_y}" x2="{_LEFT + plot_w}" y2="{bottom_y}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{top_y}" x2="{_LEFT}" y2="{bottom_y}"/>',
    ]
    for fraction in (0.5, 1.0):
        y = bottom_y - fraction * plot_h
        parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_LEFT + plot_w}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_e(f'{top * fraction:,.0f}')}</text>"
        )
    parts.append(f'<text class="tick" x="{_LEFT - 6}" y="{bottom_y + 4}" text-anchor="end">0</text>')
    for k, bucket in zip(index, buckets, strict=True):
        height = max(1.0, bucket.count / top * plot_h)
        x = _LEFT + (k - k_min) * slot_w + 1
        label = f"{_duration_label(bucket.lower_ms)} – {_duration_label(bucket.upper_ms)}: {bucket.count:,} tasks"
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{bottom_y - height:.1f}" width="{max(1.0, slot_w - 2):.1f}" '
            f'height="{height:.1f}" data-count="{bucket.count}" data-lower-ms="{_e(_raw(bucket.lower_ms))}" '
            f'data-upper-ms="{_e(_raw(bucket.upper_ms))}"><title>{_e(label)}</title></rect>'
        )
        if slots <= 24:
            parts.append(
                f'<text class="bar-label" x="{x + (slot_w - 2) / 2:.1f}" y="{bottom_y - height - 4:.1f}" '
                f'text-anchor="middle">{bucket.count:,}</text>'
            )
    # The time axis: decade boundaries (every boundary when the range is short).
    for k in range(k_min, k_max + 2):
        if slots > 8 and k % 4:
            continue
        x = _LEFT + (k - k_min) * slot_w
        parts.append(f'<line class="tick-mark" x1="{x:.1f}" y1="{bottom_y}" x2="{x:.1f}" y2="{bottom_y + 4}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{bottom_y + 16}" text-anchor="middle">'
            f"{_e(_duration_label(round(10 ** (k / 4), 1)))}</text>"
        )
    last_label_x, row = -math.inf, 0
    for name, value in (("p50", distribution.p50), ("p95", distribution.p95), ("p99", distribution.p99)):
        if value is None:
            continue
        position = 4 * math.log10(max(value, 1.0))
        if not k_min <= position <= k_max + 1:
            continue
        x = _LEFT + (position - k_min) * slot_w
        row = row + 1 if x - last_label_x < 28 else 0  # close markers: labels one above the other
        last_label_x = x
        parts.append(
            f'<line class="marker" x1="{x:.1f}" y1="{top_y - 22 + 11 * row}" x2="{x:.1f}" y2="{bottom_y}" '
            f'data-percentile="{name}" data-value="{_e(_raw(value))}"/>'
            f'<text class="marker-label" x="{x + 3:.1f}" y="{top_y - 24 + 11 * row}">{name}</text>'
        )
    parts.append(
        f'<text class="axis-title" x="{_LEFT + plot_w / 2}" y="{_SVG_HEIGHT - 6}" text-anchor="middle">'
        "task duration (log scale)</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def trend_svg(performance: Performance) -> str:
    """Completion rate (left axis, 0-100 %) and average duration (right axis) per window."""
    windows = sorted(performance.performance_trends.items(), key=lambda item: _window_hours(item[0]))
    plot_w = _SVG_WIDTH - _LEFT - _RIGHT
    plot_h = _SVG_HEIGHT - _TOP - _BOTTOM
    bottom_y = _TOP + plot_h
    top_ms = max((trend.avg_duration_ms or 0.0 for _, trend in windows), default=0.0) or 1.0
    group_w = plot_w / max(1, len(windows))
    bar_w = group_w * 0.3
    parts = [
        f'<svg id="trend-chart" class="chart" viewBox="0 0 {_SVG_WIDTH} {_SVG_HEIGHT}" role="img">',
        "<title>Completion rate and average task duration per window</title>",
        f'<line class="axis" x1="{_LEFT}" y1="{bottom_y}" x2="{_LEFT + plot_w}" y2="{bottom_y}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{bottom_y}"/>',
        f'<line class="axis" x1="{_LEFT + plot_w}" y1="{_TOP}" x2="{_LEFT + plot_w}" y2="{bottom_y}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = bottom_y - fraction * plot_h
        if fraction:
            parts.append(f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_LEFT + plot_w}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick series-rate" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{fraction * 100:.0f}%</text>"
            f'<text class="tick series-duration" x="{_LEFT + plot_w + 6}" y="{y + 4:.1f}">'
            f"{_e(_short_ms(top_ms * fraction))}</text>"
        )
    for position, (label, trend) in enumerate(windows):
        center = _LEFT + group_w * (position + 0.5)
        rate_h = max(1.0, trend.completion_rate * plot_h) if trend.settled else 0.0
        avg = trend.avg_duration_ms
        avg_h = 0.0 if avg is None else max(1.0, avg / top_ms * plot_h)
        for series, x, height, value, text in (
            ("completion_rate", center - bar_w - 2, rate_h, trend.completion_rate, _pct(trend.completion_rate)),
            ("avg_duration_ms", center + 2, avg_h, avg, _ms(avg)),
        ):
            parts.append(
                f'<rect class="bar series-{"rate" if series == "completion_rate" else "duration"}" '
                f'x="{x:.1f}" y="{bottom_y - height:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                f'data-series="{series}" data-window="{_e(label)}" data-value="{_e(_raw(value))}">'
                f"<title>{_e(f'{label}: {series} {text}')}</title></rect>"
                f'<text class="bar-label" x="{x + bar_w / 2:.1f}" y="{bottom_y - height - 4:.1f}" '
                f'text-anchor="middle">{_e(text)}</text>'
            )
        parts.append(
            f'<text class="tick" x="{center:.1f}" y="{bottom_y + 16}" text-anchor="middle">'
            f"{_e(f'last {label} · {trend.settled:,} settled')}</text>"
        )
    parts.append(
        f'<rect class="legend series-rate" x="{_LEFT}" y="{_SVG_HEIGHT - 14}" width="10" height="10"/>'
        f'<text class="tick" x="{_LEFT + 14}" y="{_SVG_HEIGHT - 5}">completion rate (left axis)</text>'
        f'<rect class="legend series-duration" x="{_LEFT + 200}" y="{_SVG_HEIGHT - 14}" width="10" height="10"/>'
        f'<text class="tick" x="{_LEFT + 214}" y="{_SVG_HEIGHT - 5}">avg duration of completed tasks '
        "(right axis)</text></svg>"
    )
    return "".join(parts)


def _window_hours(label: str) -> float:
    try:
        return float(label.rstrip("h"))
    except ValueError:
        return math.inf


# --- sections -----------------------------------------------------------------------------


def _table(table_id: str, headers: Sequence[str], rows: Iterable[str], empty: str) -> str:
    rows = list(rows)
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    if not rows:
        rows = [f'<tr class="empty"><td colspan="{len(headers)}">{_e(empty)}</td></tr>']
    return (
        f'<div class="table-wrap"><table id="{_e(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _cell(field: str, value: Any, text: str, css: str = "num") -> str:
    return f'<td class="{css}" data-field="{_e(field)}" data-value="{_e(_raw(value))}">{_e(text)}</td>'


def _health_section(performance: Performance) -> str:
    score = performance.system_health_score
    level = "good" if score >= 90 else "warn" if score >= 75 else "bad"
    rows = (
        f'<tr data-component="{_e(component.name)}">'
        f'<td title="{_e(component.description)}">{_e(component.name)}</td>'
        + _cell("value", component.value, _pct(component.value))
        + _cell("weight", component.weight, f"{component.weight:g}")
        + _cell("count", component.count, _count(component.count))
        + _cell("window_hours", component.window_hours, f"{component.window_hours} h")
        + f'<td class="description">{_e(component.description)}</td></tr>'
        for component in performance.health_components
    )
    return (
        '<section class="card" id="health"><h2>System health</h2>'
        f'<p class="score {level}"><span id="health-score" data-value="{_e(_raw(score))}">{_e(score)}</span>'
        '<span class="unit">/ 100</span></p>'
        '<p class="note">100 × Σ(weight × value) / Σ(weight) over the components below.</p>'
        + _table(
            "health-components",
            ["component", "value", "weight", "count", "window", "what it measures"],
            rows,
            "no components",
        )
        + "</section>"
    )


def _overview_section(performance: Performance) -> str:
    stats = performance.task_statistics
    times = performance.processing_times
    tiles = [
        ("total_tasks", stats.total_tasks, _count(stats.total_tasks), "tasks created (24 h)"),
        ("completed", stats.completed, _count(stats.completed), "completed (24 h)"),
        ("failed", stats.failed, _count(stats.failed), "failed (24 h)"),
        ("retried", stats.retried, _count(stats.retried), "retried (24 h)"),
        ("cancelled", stats.cancelled, _count(stats.cancelled), "cancelled (24 h)"),
        ("resolved_manually", stats.resolved_manually, _count(stats.resolved_manually), "resolved manually (24 h)"),
        ("settled", stats.settled, _count(stats.settled), "settled (24 h)"),
        ("completion_rate", stats.completion_rate, _pct(stats.completion_rate), "completion rate"),
        ("failure_rate", stats.failure_rate, _pct(stats.failure_rate), "failure rate"),
        ("retry_rate", stats.retry_rate, _pct(stats.retry_rate), "retry rate"),
        ("active_tasks", performance.active_tasks, _count(performance.active_tasks), "in flight now"),
        ("namespaces", performance.namespaces, _count(performance.namespaces), "namespaces active (24 h)"),
        ("task_types", performance.task_types, _count(performance.task_types), "task types active (24 h)"),
    ]
    timing = [
        ("p50", times.p50, _ms(times.p50), "p50 duration"),
        ("p95", times.p95, _ms(times.p95), "p95 duration"),
        ("p99", times.p99, _ms(times.p99), "p99 duration"),
        ("avg_ms", times.avg_ms, _ms(times.avg_ms), "average duration"),
        ("duration_count", times.count, _count(times.count), "completed tasks timed"),
    ]

    def tile_html(items: list[tuple[str, Any, str, str]]) -> str:
        return "".join(
            f'<div class="tile">{_fig(name, value, text, css="value")}<span class="label">{_e(label)}</span></div>'
            for name, value, text, label in items
        )

    negative = performance.data_quality.negative_durations
    quality = (
        f'<p class="warning">Tasks with a negative duration (left out of every duration figure): '
        f"{_fig('negative_durations', negative, _count(negative))}</p>"
        if negative
        else ""
    )
    return (
        '<section class="card wide" id="task-statistics"><h2>Task statistics <small>last 24 h, all tasks</small></h2>'
        f'<div class="tiles">{tile_html(tiles)}</div>'
        '<h3 id="processing-times">Processing times <small>tasks completed in the last 24 h</small></h3>'
        f'<div class="tiles">{tile_html(timing)}</div>{quality}</section>'
    )


def _trends_section(performance: Performance) -> str:
    windows = sorted(performance.performance_trends.items(), key=lambda item: _window_hours(item[0]))
    rows = (
        f'<tr data-window="{_e(label)}"><th scope="row">{_e(label)}</th>'
        + _cell("completion_rate", trend.completion_rate, _pct(trend.completion_rate))
        + _cell("error_rate", trend.error_rate, _pct(trend.error_rate))
        + _cell("avg_duration_ms", trend.avg_duration_ms, _ms(trend.avg_duration_ms))
        + _cell("settled", trend.settled, _count(trend.settled))
        + _cell("completed", trend.completed, _count(trend.completed))
        + _cell("failed", trend.failed, _count(trend.failed))
        + "</tr>"
        for label, trend in windows
    )
    return (
        '<section class="card" id="trends"><h2>Performance trends</h2>'
        + trend_svg(performance)
        + _table(
            "trend-table",
            ["window", "completion rate", "error rate", "avg duration", "settled", "completed", "failed"],
            rows,
            "no windows",
        )
        + "</section>"
    )


def _task_link(namespace: str, task_name: str, version: str, period: int) -> str:
    href = _link({"namespace": namespace, "task_name": task_name, "version": version}, period)
    return (
        f'<td class="name"><a href="{_e(href)}" title="show this task type only">'
        f'{_e(namespace)} / {_e(task_name)} <span class="version">{_e(version)}</span></a></td>'
    )


def _bottleneck_section(bottlenecks: Bottlenecks) -> str:
    period = bottlenecks.period_hours
    distribution = bottlenecks.performance_distribution
    task_rows = (
        f'<tr data-namespace="{_e(task.namespace)}" data-task-name="{_e(task.task_name)}" '
        f'data-version="{_e(task.version)}">'
        + _task_link(task.namespace, task.task_name, task.version, period)
        + _cell("execution_count", task.execution_count, _count(task.execution_count))
        + _cell("completed", task.completed, _count(task.completed))
        + _cell("failed", task.failed, _count(task.failed))
        + _cell("avg_duration_ms", task.avg_duration_ms, _ms(task.avg_duration_ms))
        + _cell("p95_duration_ms", task.p95_duration_ms, _ms(task.p95_duration_ms))
        + _cell("failure_rate", task.failure_rate, _pct(task.failure_rate))
        + "</tr>"
        for task in bottlenecks.slowest_tasks
    )
    step_rows = (
        f'<tr data-namespace="{_e(step.namespace)}" data-task-name="{_e(step.task_name)}" '
        f'data-version="{_e(step.version)}" data-step="{_e(step.step_name)}">'
        + _task_link(step.namespace, step.task_name, step.version, period)
        + f'<td class="name" data-field="step_name">{_e(step.step_name)}</td>'
        + _cell("execution_count", step.execution_count, _count(step.execution_count))
        + _cell("failed", step.failed, _count(step.failed))
        + _cell("retried", step.retried, _count(step.retried))
        + _cell("avg_duration_ms", step.avg_duration_ms, _ms(step.avg_duration_ms))
        + _cell("p95_duration_ms", step.p95_duration_ms, _ms(step.p95_duration_ms))
        + _cell("p99_duration_ms", step.p99_duration_ms, _ms(step.p99_duration_ms))
        + _cell("failure_rate", step.failure_rate, _pct(step.failure_rate))
        + _cell("retry_rate", step.retry_rate, _pct(step.retry_rate))
        + "</tr>"
        for step in bottlenecks.slowest_steps
    )
    error_rows = (
        f'<tr data-error-type="{_e(pattern.error_type)}">'
        f'<td class="name" data-field="error_type">{_e(pattern.error_type)}</td>'
        + _cell("frequency", pattern.frequency, _count(pattern.frequency))
        + f'<td data-field="affected_steps">{_e(", ".join(pattern.affected_steps))}</td>'
        + f'<td data-field="error_classes">{_e(", ".join(pattern.error_classes))}</td></tr>'
        for pattern in bottlenecks.error_patterns
    )
    recommendation_rows = []
    for item in bottlenecks.recommendations:
        if item.type == "timeout_optimization":
            change = f"timeout {item.current_timeout} s → {item.suggested_timeout} s"
        else:
            change = f"up to {_ms(item.estimated_impact_ms_per_day)} a day"
        step = f" · {_e(item.step)}" if item.step else ""
        recommendation_rows.append(
            f'<tr data-type="{_e(item.type)}" data-step="{_e(item.step or "")}">'
            f'<td data-field="type"><span class="badge">{_e(item.type)}</span></td>'
            f'<td class="name">{_e(item.namespace)} / {_e(item.task_name)} '
            f'<span class="version">{_e(item.version)}</span>{step}</td>'
            f'<td data-field="change">{_e(change)}</td>'
            f'<td data-field="rationale">{_e(item.rationale)}</td></tr>'
        )
    summary = [
        ("distribution.count", distribution.count, _count(distribution.count), "completed tasks"),
        ("distribution.avg_ms", distribution.avg_ms, _ms(distribution.avg_ms), "average"),
        ("distribution.p50", distribution.p50, _ms(distribution.p50), "p50"),
        ("distribution.p95", distribution.p95, _ms(distribution.p95), "p95"),
        ("distribution.p99", distribution.p99, _ms(distribution.p99), "p99"),
        ("distribution.min_ms", distribution.min_ms, _ms(distribution.min_ms), "min"),
        ("distribution.max_ms", distribution.max_ms, _ms(distribution.max_ms), "max"),
    ]
    tiles = "".join(
        f'<div class="tile">{_fig(name, value, text, css="value")}<span class="label">{_e(label)}</span></div>'
        for name, value, text, label in summary
    )
    quality = bottlenecks.data_quality
    negative = (quality.negative_durations or 0) + (quality.negative_step_durations or 0)
    warning = (
        f'<p class="warning">Negative durations left out: {_count(quality.negative_durations)} of tasks, '
        f"{_count(quality.negative_step_durations or 0)} of steps.</p>"
        if negative
        else ""
    )
    scope_text = ", ".join(f"{key} = {value}" for key, value in bottlenecks.scope.items()) or "all task types"
    return (
        f'<section class="card wide" id="bottlenecks" data-period-hours="{period}" '
        f'data-build-id="{_e(bottlenecks.build_id)}">'
        f"<h2>Bottlenecks <small>last {_e(bottlenecks.analysis_period)} · "
        f'<span id="scope-label">{_e(scope_text)}</span></small></h2>'
        "<h3>Duration distribution <small>tasks completed in the period and scope</small></h3>"
        f'<div class="tiles">{tiles}</div>'
        + histogram_svg(distribution)
        + warning
        + "<h3>Slowest tasks</h3>"
        + _table(
            "slowest-tasks",
            ["task type", "executions", "completed", "failed", "avg", "p95", "failure rate"],
            task_rows,
            "No tasks settled in this scope and period.",
        )
        + "<h3>Slowest steps</h3>"
        + _table(
            "slowest-steps",
            ["task type", "step", "executions", "failed", "retried", "avg", "p95", "p99", "failure rate", "retry rate"],
            step_rows,
            "No steps settled in this scope and period.",
        )
        + "<h3>Error patterns</h3>"
        + _table(
            "error-patterns",
            ["error type", "events", "affected steps", "error classes"],
            error_rows,
            "No step errors in this scope and period.",
        )
        + "<h3>Recommendations</h3>"
        + _table(
            "recommendations",
            ["type", "where", "change", "rationale"],
            recommendation_rows,
            "Nothing to recommend for this scope and period.",
        )
        + "</section>"
    )


def _select(name: str, label: str, options: Sequence[tuple[str, str]], selected: str | None, any_label: str) -> str:
    values = [value for value, _ in options]
    choices = list(options)
    if selected is not None and selected not in values:
        choices.insert(0, (selected, selected))  # a value from the URL that the data lacks: keep it visible
    html = [f'<label>{_e(label)} <select name="{_e(name)}" id="filter-{_e(name)}">']
    if any_label:
        html.append(f'<option value=""{"" if selected else " selected"}>{_e(any_label)}</option>')
    for value, text in choices:
        mark = " selected" if value == selected else ""
        html.append(f'<option value="{_e(value)}"{mark}>{_e(text)}</option>')
    html.append("</select></label>")
    return "".join(html)


def _filters_section(
    catalog: Bottlenecks, scope: Scope, period: int, limit: int, settings: Settings, limit_given: bool
) -> str:
    tasks = catalog.slowest_tasks
    namespaces = sorted({task.namespace for task in tasks})
    in_namespace = [task for task in tasks if scope.namespace in (None, task.namespace)]
    task_names = sorted({task.task_name for task in in_namespace})
    versions = sorted({task.version for task in in_namespace if scope.task_name in (None, task.task_name)})
    periods = [hours for hours in PERIOD_CHOICES if hours <= settings.max_period_hours]
    if period not in periods:
        periods = sorted({*periods, period})
    period_options = [(str(hours), f"{hours} h" if hours < 24 else f"{hours} h ({hours // 24} d)") for hours in periods]
    hidden = f'<input type="hidden" name="limit" value="{limit}">' if limit_given else ""
    return (
        f'<form id="scope-form" class="filters" method="get" action="{_e(DASHBOARD_PATH)}">'
        + _select("namespace", "Namespace", [(name, name) for name in namespaces], scope.namespace, "all namespaces")
        + _select("task_name", "Task", [(name, name) for name in task_names], scope.task_name, "all tasks")
        + _select("version", "Version", [(version, version) for version in versions], scope.version, "all versions")
        + _select("period", "Period", period_options, str(period), "")
        + hidden
        + '<button type="submit" id="apply-filters">Apply</button>'
        + f'<a class="reset" href="{_e(DASHBOARD_PATH)}">reset</a></form>'
    )


def _freshness_section(performance: Performance, bottlenecks: Bottlenecks) -> str:
    builds = {performance.build_id, bottlenecks.build_id}
    as_of = performance.data_as_of.isoformat(sep=" ")
    built = performance.built_at.isoformat(sep=" ", timespec="seconds")
    age = _age(performance.freshness_seconds) + " old"
    note = "" if len(builds) == 1 else '<span class="warning"> (a new build landed between the two reads)</span>'
    return (
        '<div id="freshness" class="freshness">'
        f"data as of {_fig('data_as_of', performance.data_as_of, as_of)}"
        f" · {_fig('freshness_seconds', performance.freshness_seconds, age)}"
        f" · built {_fig('built_at', performance.built_at, built)}"
        f" · build {_fig('build_id', performance.build_id, performance.build_id)}{note}</div>"
    )


# --- page ---------------------------------------------------------------------------------

_CSS = """
:root { --fg:#1d2430; --muted:#5b6574; --line:#d8dde5; --bg:#f4f6f9; --card:#fff;
  --rate:#2f7d4f; --duration:#3a62b8; --bar:#4a78c2; --warn:#b7791f; --bad:#c0392b; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color:var(--fg); background:var(--bg); }
header { display:flex; flex-wrap:wrap; gap:8px 24px; align-items:baseline; justify-content:space-between;
  padding:14px 24px; background:#1d2430; color:#fff; }
header h1 { margin:0; font-size:20px; }
header .freshness { color:#c9d1dc; font-size:13px; }
header .freshness span { color:#fff; }
main { display:grid; grid-template-columns:repeat(auto-fit, minmax(560px, 1fr)); gap:16px; padding:16px 24px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 18px; min-width:0; }
.card.wide, .filters-card { grid-column:1 / -1; }
h2 { margin:0 0 8px; font-size:17px; } h3 { margin:16px 0 6px; font-size:15px; }
small { color:var(--muted); font-weight:normal; font-size:12px; }
.score { margin:4px 0; font-size:44px; font-weight:700; }
.score .unit { font-size:18px; color:var(--muted); margin-left:6px; }
.score.good { color:var(--rate); } .score.warn { color:var(--warn); } .score.bad { color:var(--bad); }
.note { color:var(--muted); margin:0 0 8px; font-size:12px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(150px, 1fr)); gap:8px; }
.tile { border:1px solid var(--line); border-radius:6px; padding:6px 10px; }
.tile .value { display:block; font-size:18px; font-weight:600; font-variant-numeric:tabular-nums; }
.tile .label { color:var(--muted); font-size:12px; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { padding:4px 6px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
thead th { color:var(--muted); font-weight:600; white-space:nowrap; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.description { color:var(--muted); font-size:12px; }
tr.empty td { color:var(--muted); font-style:italic; }
.version { color:var(--muted); font-size:12px; }
a { color:var(--duration); text-decoration:none; } a:hover { text-decoration:underline; }
.badge { background:#eef2f8; border-radius:4px; padding:1px 6px; font-size:12px; white-space:nowrap; }
.warning { color:var(--warn); }
.filters { display:flex; flex-wrap:wrap; gap:10px 16px; align-items:center; }
.filters select { margin-left:4px; padding:3px 4px; max-width:240px; }
.filters button { padding:4px 14px; }
svg.chart { width:100%; max-width:760px; height:auto; display:block; margin:6px 0 10px; }
svg .axis { stroke:#8a94a3; stroke-width:1; } svg .grid { stroke:#e6e9ee; stroke-width:1; }
svg .tick-mark { stroke:#8a94a3; }
svg text { font:11px system-ui, sans-serif; fill:#5b6574; }
svg .axis-title { font-size:12px; } svg .empty { font-size:14px; }
svg .bar-label { font-size:10px; fill:#1d2430; }
svg rect.bar { fill:var(--bar); } svg rect.bar:hover { fill:#2c4f8f; }
svg rect.series-rate { fill:var(--rate); } svg rect.series-duration { fill:var(--duration); }
svg text.series-rate { fill:var(--rate); } svg text.series-duration { fill:var(--duration); }
svg .marker { stroke:var(--bad); stroke-dasharray:4 3; stroke-width:1.2; }
svg .marker-label { fill:var(--bad); font-size:11px; }
.signin input { width:min(480px, 100%); padding:5px; font-family:monospace; }
#signin-error { color:var(--bad); }
"""

# Runs only to tidy the filter form's URL (empty selects are left out instead of being
# redirected away by the server) and to post a token to, or delete, the session.
_SCRIPT = """
const form = document.getElementById("scope-form");
if (form) form.addEventListener("submit", (event) => {
  event.preventDefault();
  const query = new URLSearchParams([...new FormData(form)].filter(([, value]) => value !== ""));
  location.assign(form.action + (query.size ? "?" + query : ""));
});
const signIn = document.getElementById("signin");
if (signIn) signIn.addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = signIn.elements.token.value.trim();
  const answer = await fetch(signIn.action, {method: "POST", headers: {Authorization: "Bearer " + token}});
  if (answer.ok) location.reload();
  else document.getElementById("signin-error").textContent = "refused: " + answer.status;
});
const signOut = document.getElementById("signout");
if (signOut) signOut.addEventListener("click", async () => {
  await fetch(signOut.dataset.session, {method: "DELETE"});
  location.reload();
});
"""


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_sha256(_CSS)}; script-src {_sha256(_SCRIPT)}; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def _page(title: str, header_extra: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(title)}</h1>{header_extra}</header>{body}"
        f"<script>{_SCRIPT}</script></body></html>"
    )


def render_dashboard(
    performance: Performance,
    bottlenecks: Bottlenecks,
    catalog: Bottlenecks,
    scope: Scope,
    period: int,
    limit: int,
    settings: Settings,
    limit_given: bool = False,
) -> str:
    """The whole page; every figure comes from the given bodies as the JSON API serves them."""
    sign_out = (
        f'<button type="button" id="signout" data-session="{_e(SESSION_PATH)}">sign out</button>'
        if settings.auth.required
        else ""
    )
    body = (
        "<main>"
        '<section class="card filters-card" id="filters"><h2>Scope <small>filters the bottleneck '
        "analysis; system health, trends and task statistics cover every task</small></h2>"
        + _filters_section(catalog, scope, period, limit, settings, limit_given)
        + "</section>"
        + _health_section(performance)
        + _trends_section(performance)
        + _overview_section(performance)
        + _bottleneck_section(bottlenecks)
        + "</main>"
    )
    return _page("Tasker Analytics", _freshness_section(performance, bottlenecks) + sign_out, body)


def render_sign_in(error: AuthError, permission: str) -> str:
    if error.status == 403:
        message = f"The token is valid but does not grant the permission {permission}."
    else:
        message = "Sign in with a bearer token (a JWT or a service token) to see the dashboard."
    body = (
        '<main><section class="card wide" id="signin-card"><h2>Authentication required</h2>'
        f'<p id="auth-message">{_e(message)}</p>'
        f'<p class="note">{_e(error.detail)}</p>'
        f'<form id="signin" class="signin" method="post" action="{_e(SESSION_PATH)}">'
        '<label>Token <input type="password" name="token" autocomplete="off" required></label> '
        '<button type="submit">Sign in</button> <span id="signin-error"></span></form>'
        '<p class="note">The token is kept in an HttpOnly cookie for its remaining lifetime '
        f"(POST {_e(SESSION_PATH)} with Authorization: Bearer &lt;token&gt;).</p>"
        "</section></main>"
    )
    return _page("Tasker Analytics", "", body)


def _html_headers(settings: Settings) -> dict[str, str]:
    return {
        # The page can hold scoped data: never shared caches; nothing stored when auth is on.
        "Cache-Control": "no-store" if settings.auth.required else f"private, max-age={settings.performance_cache_ttl}",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


# --- handlers -----------------------------------------------------------------------------


@get(DASHBOARD_PATH, include_in_schema=False)
async def dashboard(request: Request) -> Response:
    """The operators' dashboard (HTML)."""
    return await answer(request, ("dashboard", request.scope.get("query_string", b"")), _dashboard, request)


def _dashboard(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    try:
        analytics: Analytics = authorized_analytics(request)
    except AuthError as error:
        headers = {**_html_headers(settings), "Cache-Control": "no-store"}
        if error.status == 401:
            headers["WWW-Authenticate"] = request.app.state.authenticator.www_authenticate(error)
        return Response(
            render_sign_in(error, settings.auth.permission),
            status_code=error.status,
            media_type="text/html",
            headers=headers,
        )
    # A plain GET form sends its empty selects ("all"): redirect to the URL without them.
    items = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if any(value == "" for _, value in items):
        kept = [(name, value) for name, value in items if value != ""]
        return Redirect(DASHBOARD_PATH + (f"?{urlencode(kept)}" if kept else ""), status_code=303)
    query = bottleneck_query(request, settings)  # InvalidQuery -> the 400 JSON
    scope, period, limit = query.scope, query.period, query.limit
    performance = analytics.performance_metrics()
    bottlenecks = analytics.bottleneck_analysis(query)
    catalog = analytics.bottleneck_analysis(
        BottleneckQuery(Scope(), min(OPTIONS_PERIOD_HOURS, settings.max_period_hours), settings.max_bottleneck_results)
    )
    page = render_dashboard(
        performance, bottlenecks, catalog, scope, period, limit, settings, limit_given="limit" in request.query_params
    )
    headers = {**_html_headers(settings), "X-Build-Id": bottlenecks.build_id}
    return Response(page, media_type="text/html", headers=headers)


def _cookie(value: str, max_age: int) -> str:
    return f"{SESSION_COOKIE}={value}; Max-Age={max_age}; Path={BASE_PATH}; HttpOnly; Secure; SameSite=Strict"


def session_lifetime(token: str, kind: str, now: float | None = None) -> int:
    """Seconds a session cookie lives: the JWT's remaining lifetime, else DEFAULT_SESSION_SECONDS."""
    if kind != "jwt":
        return DEFAULT_SESSION_SECONDS
    try:
        # Already verified by the authenticator; read again only for `exp`.
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return 0
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        return DEFAULT_SESSION_SECONDS
    return max(0, int(expires - (time.time() if now is None else now)))


@post(SESSION_PATH, sync_to_thread=False, status_code=204, include_in_schema=False)
def create_session(request: Request) -> Response[None]:
    """Trade `Authorization: Bearer <token>` for an HttpOnly session cookie holding it."""
    settings: Settings = request.app.state.settings
    if not settings.enabled:
        raise NotFoundException()
    authenticator: Authenticator = request.app.state.authenticator
    if authenticator.settings.required and "access_token" in request.query_params:
        raise AuthError(401, "tokens are accepted in the Authorization header only", "invalid_request")
    header = request.headers.get("authorization")
    principal = authenticator.authenticate(header)  # AuthError -> 401/403, no cookie
    headers = {"Cache-Control": "no-store"}
    if principal is not None and header is not None:
        token = header.strip().partition(" ")[2].strip()
        headers["Set-Cookie"] = _cookie(token, session_lifetime(token, principal.kind))
    return Response(None, status_code=204, headers=headers)


@delete(SESSION_PATH, sync_to_thread=False, status_code=204, include_in_schema=False)
def delete_session(request: Request) -> Response[None]:
    """Sign out: the browser drops the session cookie."""
    if not request.app.state.settings.enabled:
        raise NotFoundException()
    headers = {
        "Cache-Control": "no-store",
        "Set-Cookie": _cookie("", 0) + "; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    }
    return Response(None, status_code=204, headers=headers)


route_handlers: list = [dashboard, create_session, delete_session]
