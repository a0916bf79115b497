"""The operators' machine-facing endpoints: a Prometheus scrape target and the flat JSON a
Grafana JSON panel reads (the spec's "Grafana Dashboard Integration").

Both serve the figures of the JSON API unchanged: they call `Analytics.performance_metrics()`
and `Analytics.bottleneck_analysis(...)`, which are cached like the HTTP endpoints, and take
every figure from one build (when a build is published between the two reads, they read
again). `route_handlers` is what `create_app` serves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import msgspec
from litestar import Request, Response, get
from litestar.openapi import ResponseSpec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from tasker_analytics.api.access import BASE_PATH, authorized_analytics, cached_headers, check_known
from tasker_analytics.api.admission import answer
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery, Scope
from tasker_analytics.core.schemas import BackgroundStatus, Bottlenecks, ErrorBody, Performance, utc_now

PREFIX = "tasker_analytics"
# The analysis period of the Prometheus series built from the bottleneck analysis, and
# the one of the Grafana bottleneck summary (the spec calls bottleneck_analysis(period: 1)).
METRICS_PERIOD_HOURS = 24
GRAFANA_PERIOD_HOURS = 1
# How often to read again when a build is published between the two reads of one response.
_BUILD_RETRIES = 3

_RESPONSES = {
    400: ResponseSpec(data_container=ErrorBody, description="A query parameter (none is accepted)"),
    401: ResponseSpec(data_container=ErrorBody, description="Missing or invalid credentials (auth on)"),
    403: ResponseSpec(data_container=ErrorBody, description="A valid token without the permission"),
    503: ResponseSpec(data_container=ErrorBody, description="Warehouse unreachable or not built"),
}


class GrafanaMetrics(msgspec.Struct):
    """The spec's analytics_metrics and bottleneck_summary in one flat object."""

    system_health: float | None  # null when no health component is judged (health_status)
    completion_rate: float | None  # 1 h trend
    avg_duration: float | None  # 1 h trend, mean task duration in ms
    p95_duration: float | None  # 24 h processing_times p95, ms
    slowest_task_duration: float | None  # avg_duration_ms of the first slowest task, 1 h
    error_count: int  # sum of the error pattern frequencies, 1 h
    recommendation_count: int  # 1 h
    timestamp: int  # unix seconds when the response was made
    data_as_of: datetime
    build_id: str


def _reports(analytics: Analytics, period: int) -> tuple[Performance, Bottlenecks]:
    """The performance body and the all-scope bottleneck body for `period`, of one build."""
    limit = analytics.settings.max_bottleneck_results
    for _ in range(_BUILD_RETRIES):
        performance = analytics.performance_metrics()
        bottlenecks = analytics.bottleneck_analysis(BottleneckQuery(Scope(), period, limit))
        if performance.build_id == bottlenecks.build_id:
            break
    return performance, bottlenecks


def _headers(settings: Settings, ttl: int, performance: Performance) -> dict[str, str]:
    return cached_headers(settings.auth.required, ttl, performance.built_at, performance.build_id)


class _AnalyticsCollector(Collector):
    """The series of one scrape, built from the two bodies (docs/API.md explains each figure)."""

    def __init__(
        self,
        performance: Performance,
        bottlenecks: Bottlenecks,
        now: datetime,
        background: BackgroundStatus | None = None,
    ):
        self.performance = performance
        self.bottlenecks = bottlenecks
        self.now = now
        self.background = background

    def collect(self) -> Iterator[GaugeMetricFamily]:
        performance, bottlenecks = self.performance, self.bottlenecks

        def gauge(name: str, documentation: str, labels: list[str] | None = None, value=None) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value, labels=labels)

        # Not judged (too few items in the window: docs/API.md): no sample, never a made-up 0;
        # alert on it with absent(tasker_analytics_system_health_score).
        yield gauge(
            "system_health_score",
            "System health score (0-100); no sample when no component is judged",
            value=performance.system_health_score,
        )

        components = gauge(
            "health_component", "Value (0-1) of a health score component; no sample when not judged", ["component"]
        )
        for component in performance.health_components:
            if component.value is not None:
                components.add_metric([component.name], component.value)
        yield components

        windows = performance.performance_trends
        completion = gauge("completion_rate", "Completed / settled tasks in the window", ["window"])
        errors = gauge("error_rate", "Failed / settled tasks in the window", ["window"])
        durations = gauge("avg_task_duration_seconds", "Mean duration of the tasks completed in the window", ["window"])
        for window, trend in windows.items():
            completion.add_metric([window], trend.completion_rate)
            errors.add_metric([window], trend.error_rate)
            if trend.avg_duration_ms is not None:
                durations.add_metric([window], _seconds(trend.avg_duration_ms))
        yield from (completion, errors, durations)

        statistics = performance.task_statistics
        tasks = gauge("tasks", "Tasks in the last 24 h: created (total) and settled by outcome", ["outcome"])
        for outcome, count in (
            ("total", statistics.total_tasks),
            ("completed", statistics.completed),
            ("failed", statistics.failed),
            ("retried", statistics.retried),
            ("cancelled", statistics.cancelled),
            ("resolved_manually", statistics.resolved_manually),
        ):
            tasks.add_metric([outcome], count)
        yield tasks

        # Percentiles of a window, not of the process's lifetime: gauges, one per percentile
        # (a `quantile` label belongs to summaries only).
        times = performance.processing_times
        for name, value in (("p50", times.p50), ("p95", times.p95), ("p99", times.p99)):
            yield gauge(
                f"task_duration_{name}_seconds",
                f"{name} duration of the tasks completed in the last 24 h",
                value=None if value is None else _seconds(value),
            )

        yield gauge("active_tasks", "Tasks in flight (not settled) at data_as_of", value=performance.active_tasks)

        labels = ["namespace", "task_name", "version"]
        period = f"the last {bottlenecks.period_hours} h"
        average = gauge("task_type_avg_duration_seconds", f"Mean duration of completed tasks, {period}", labels)
        p95 = gauge("task_type_duration_p95_seconds", f"p95 duration of completed tasks, {period}", labels)
        executions = gauge("task_type_executions", f"Tasks settled in {period}", labels)
        failure = gauge("task_type_failure_rate", f"Failed / settled tasks, {period}", labels)
        for task in bottlenecks.slowest_tasks:
            names = [task.namespace, task.task_name, task.version]
            if task.avg_duration_ms is not None:
                average.add_metric(names, _seconds(task.avg_duration_ms))
            if task.p95_duration_ms is not None:
                p95.add_metric(names, _seconds(task.p95_duration_ms))
            executions.add_metric(names, task.execution_count)
            failure.add_metric(names, task.failure_rate)
        yield from (average, p95, executions, failure)

        yield _duration_distribution(bottlenecks)

        error_events = gauge("error_events", f"Step error events by error type, {period}", ["error_type"])
        for pattern in bottlenecks.error_patterns:
            error_events.add_metric([pattern.error_type], pattern.frequency)
        yield error_events

        build_age = round((self.now - performance.built_at).total_seconds(), 3)
        yield gauge("build_age_seconds", "Seconds since the served build was made", value=build_age)
        freshness = performance.freshness_seconds
        yield gauge("data_age_seconds", "Seconds since data_as_of of the served build", value=freshness)
        info = gauge("build_info", "The served build (value 1)", ["build_id"])
        info.add_metric([performance.build_id], 1)
        yield info
        if self.background is not None:
            yield from _background_series(self.background, gauge)


def _background_series(status: BackgroundStatus, gauge) -> Iterator[GaugeMetricFamily]:
    """The server's background builds (TASKER_ANALYTICS_BACKGROUND_AGGREGATION): whether they
    run, their interval, and how the last one ended (no sample before the first)."""
    yield gauge("background_builds_enabled", "1 when the server rebuilds in the background", value=int(status.enabled))
    yield gauge(
        "background_build_interval_seconds",
        "Seconds between background builds",
        value=status.interval_seconds if status.enabled else None,
    )
    finished = status.last_status
    yield gauge(
        "background_build_last_success",
        "1 when the last background build succeeded, 0 when it failed",
        value=None if finished is None else int(finished.startswith("succeeded")),
    )
    yield gauge(
        "background_build_last_duration_seconds",
        "Wall time of the last background build",
        value=status.last_duration_seconds,
    )


def _seconds(milliseconds: float) -> float:
    """A duration of the JSON API (ms, 1 decimal) in Prometheus' base unit."""
    return round(milliseconds / 1000, 4)


def _duration_distribution(bottlenecks: Bottlenecks) -> GaugeHistogramMetricFamily:
    """The bottleneck body's duration histogram (4 buckets per decade) as a gauge histogram:
    cumulative counts at each bucket's upper edge (a duration equal to an edge counts in
    the bucket above it), the total at +Inf, and the sum of the durations. A gauge
    histogram, not a histogram: the window moves, so its counts go down as well as up."""
    distribution = bottlenecks.performance_distribution
    family = GaugeHistogramMetricFamily(
        f"{PREFIX}_task_duration_distribution_seconds",
        f"Durations of the tasks completed in the last {bottlenecks.period_hours} h",
    )
    cumulative, buckets = 0, []
    for bucket in distribution.histogram:
        cumulative += bucket.count
        buckets.append((repr(_seconds(bucket.upper_ms)), float(cumulative)))
    buckets.append(("+Inf", float(distribution.count)))
    total = 0.0 if distribution.avg_ms is None else _seconds(distribution.avg_ms * distribution.count)
    family.add_metric([], buckets, gsum_value=total)
    return family


@get(f"{BASE_PATH}/metrics", media_type=CONTENT_TYPE_LATEST, responses=_RESPONSES)
async def prometheus_metrics(request: Request) -> Response[str]:
    """Prometheus text exposition of the performance figures and the 24 h bottleneck analysis."""
    return await answer(request, "metrics", _prometheus_metrics, request)


def _prometheus_metrics(request: Request) -> Response[str]:
    analytics = authorized_analytics(request)
    check_known(request, set())
    performance, bottlenecks = _reports(analytics, METRICS_PERIOD_HOURS)
    registry = CollectorRegistry(auto_describe=False)
    background = request.app.state.aggregator.status()
    registry.register(_AnalyticsCollector(performance, bottlenecks, utc_now(), background))
    settings = analytics.settings
    headers = _headers(settings, settings.performance_cache_ttl, performance)
    # Given as a header too: from media_type alone Litestar appends a second charset to text/*.
    headers["Content-Type"] = CONTENT_TYPE_LATEST
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST, headers=headers)


@get(f"{BASE_PATH}/grafana", responses=_RESPONSES)
async def grafana_metrics(request: Request) -> Response[GrafanaMetrics]:
    """Flat JSON for a Grafana panel: health, 1 h trend, 24 h p95 and the 1 h bottleneck summary."""
    return await answer(request, "grafana", _grafana_metrics, request)


def _grafana_metrics(request: Request) -> Response[GrafanaMetrics]:
    analytics = authorized_analytics(request)
    check_known(request, set())
    performance, bottlenecks = _reports(analytics, GRAFANA_PERIOD_HOURS)
    hour = performance.performance_trends.get("1h")
    slowest = bottlenecks.slowest_tasks
    body = GrafanaMetrics(
        system_health=performance.system_health_score,
        completion_rate=hour.completion_rate if hour else None,
        avg_duration=hour.avg_duration_ms if hour else None,
        p95_duration=performance.processing_times.p95,
        slowest_task_duration=slowest[0].avg_duration_ms if slowest else None,
        error_count=sum(pattern.frequency for pattern in bottlenecks.error_patterns),
        recommendation_count=len(bottlenecks.recommendations),
        timestamp=int(time.time()),
        data_as_of=performance.data_as_of,
        build_id=performance.build_id,
    )
    settings = analytics.settings
    ttl = min(settings.performance_cache_ttl, settings.bottlenecks_cache_ttl)
    return Response(body, headers=_headers(settings, ttl, performance))


route_handlers: list = [prometheus_metrics, grafana_metrics]
