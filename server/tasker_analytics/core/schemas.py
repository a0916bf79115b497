"""Response shapes (msgspec Structs), so the OpenAPI schema is exact. docs/API.md explains each field."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from msgspec import UNSET, UnsetType


def utc(moment: datetime) -> datetime:
    """A warehouse timestamp (naive UTC) as an aware UTC datetime, so every timestamp the
    API serves is RFC 3339 with its offset (`...Z`)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """A timestamp written exactly as the JSON API writes it."""
    return msgspec.json.encode(utc(moment)).decode()[1:-1]


class HealthComponent(msgspec.Struct):
    name: str
    value: float | None  # null: not judged (fewer than health_min_items items in its window)
    weight: float
    window_hours: int
    count: int
    description: str


class Trend(msgspec.Struct):
    completion_rate: float
    error_rate: float
    avg_duration_ms: float | None
    created: int
    settled: int
    completed: int
    failed: int
    cancelled: int
    resolved_manually: int


class TaskStatistics(msgspec.Struct):
    total_tasks: int
    completed: int
    failed: int
    retried: int
    cancelled: int
    resolved_manually: int
    settled: int
    completion_rate: float
    failure_rate: float
    retry_rate: float


class ProcessingTimes(msgspec.Struct):
    p50: float | None
    p95: float | None
    p99: float | None
    avg_ms: float | None
    count: int


class DataQuality(msgspec.Struct, omit_defaults=True):
    negative_durations: int
    negative_step_durations: int | None = None


class CacheInfo(msgspec.Struct):
    status: str  # "hit" or "miss"
    key: str
    ttl_seconds: int


class WarehouseStatus(msgspec.Struct):
    engine: str
    location: str
    size_bytes: int | None
    build_id: str
    built_at: datetime
    build_duration_seconds: float | None


class CacheStatus(msgspec.Struct):
    backend: str
    entries: int
    hits: int
    misses: int
    hit_ratio: float


class BackgroundStatus(msgspec.Struct):
    enabled: bool
    interval_seconds: int
    running: bool = False
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_status: str | None = None
    last_duration_seconds: float | None = None
    last_log: str | None = None
    next_run_at: datetime | None = None


class ResourceUtilization(msgspec.Struct):
    warehouse: WarehouseStatus
    cache: CacheStatus
    background_jobs: BackgroundStatus


# Performance.health_status: the score is a number, or no component is judged and it is null.
HEALTH_SCORED = "scored"
HEALTH_INSUFFICIENT_DATA = "insufficient_data"


class Performance(msgspec.Struct):
    system_health_score: float | None
    health_status: str  # HEALTH_SCORED or HEALTH_INSUFFICIENT_DATA
    health_components: list[HealthComponent]
    performance_trends: dict[str, Trend]
    task_statistics: TaskStatistics
    processing_times: ProcessingTimes
    active_tasks: int
    namespaces: int
    task_types: int
    data_quality: DataQuality
    data_as_of: datetime
    built_at: datetime
    build_id: str
    freshness_seconds: float = 0.0
    cache_info: CacheInfo | None = None
    resource_utilization: ResourceUtilization | None = None


class SlowTask(msgspec.Struct):
    namespace: str
    task_name: str
    version: str
    execution_count: int
    completed: int
    failed: int
    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    failure_rate: float
    avg_queue_wait_ms: float | None
    p50_queue_wait_ms: float | None
    p95_queue_wait_ms: float | None
    p99_queue_wait_ms: float | None
    avg_run_time_ms: float | None
    p50_run_time_ms: float | None
    p95_run_time_ms: float | None
    p99_run_time_ms: float | None


class SlowStep(msgspec.Struct):
    namespace: str
    task_name: str
    version: str
    step_name: str
    execution_count: int
    completed: int
    failed: int
    retried: int
    avg_duration_ms: float | None
    p50_duration_ms: float | None
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    failure_rate: float
    retry_rate: float
    avg_queue_wait_ms: float | None
    p50_queue_wait_ms: float | None
    p95_queue_wait_ms: float | None
    p99_queue_wait_ms: float | None
    avg_run_time_ms: float | None
    p50_run_time_ms: float | None
    p95_run_time_ms: float | None
    p99_run_time_ms: float | None


class ErrorPattern(msgspec.Struct):
    error_type: str
    frequency: int
    affected_steps: list[str]
    error_classes: list[str]
    first_seen: datetime
    last_seen: datetime
    errored_steps: int
    recovered_steps: int
    retry_success_rate: float


class HourFigures(msgspec.Struct):
    """One hour of a scope's history: the tasks settled in (hour_start, hour_end]."""

    hour_start: datetime
    hour_end: datetime
    settled: int
    completed: int
    failed: int
    completion_rate: float  # completed / settled; 0 without a settled task (settled says so)
    p95_duration_ms: float | None  # of the tasks completed in the hour, from its sketch


class History(msgspec.Struct):
    """A scope's tasks hour by hour over the last `period_hours` before data_as_of
    (function_based_hourly_history); every hour is there, empty ones with zeros."""

    period_hours: int
    scope: dict[str, str]
    hours: list[HourFigures]
    data_as_of: datetime
    build_id: str


class DagStep(msgspec.Struct):
    """A step of a task type's DAG: on the critical path of how many of the tasks analyzed."""

    name: str
    on_critical_path: int
    critical_path_share: float  # of the type's critical-path time
    critical: bool  # on the critical path of at least half the tasks analyzed


class DagEdge(msgspec.Struct):
    parent: str
    child: str
    task_count: int  # tasks of the type with this edge


class StepDag(msgspec.Struct):
    """A task type's steps and their dependencies (task_type_step_edges) with the
    critical-path figures of its tasks settled complete in the period; no steps when the
    scope names no task type or the type has no dependency in the period."""

    namespace: str | None
    task_name: str | None
    version: str | None
    tasks_analyzed: int
    steps: list[DagStep]
    edges: list[DagEdge]
    build_id: str


class HistogramBucket(msgspec.Struct):
    lower_ms: float
    upper_ms: float
    count: int


class PerformanceDistribution(msgspec.Struct):
    count: int
    avg_ms: float | None
    min_ms: float | None
    max_ms: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    histogram: list[HistogramBucket]


class CriticalPathStep(msgspec.Struct):
    namespace: str
    task_name: str
    version: str
    step_name: str
    on_critical_path: int
    critical_path_ms: float
    share: float


class BlockingStep(msgspec.Struct):
    namespace: str
    task_name: str
    version: str
    step_name: str
    dependents_blocked: int
    blocked_wait_ms: float


class DependencyAnalysis(msgspec.Struct):
    tasks_analyzed: int
    critical_path_steps: list[CriticalPathStep]
    blocking_steps: list[BlockingStep]


class Evidence(msgspec.Struct, omit_defaults=True):
    """The numbers a recommendation rests on; which ones depends on its rule (docs/API.md).
    A rule's fields are always present (null when there is no figure); others are absent."""

    p95_ms: float | None | UnsetType = UNSET
    p99_ms: float | None | UnsetType = UNSET
    timeout_ms: float | None | UnsetType = UNSET
    completed: int | None | UnsetType = UNSET
    over_timeout: int | None | UnsetType = UNSET
    errored_steps: int | None | UnsetType = UNSET
    recovered_steps: int | None | UnsetType = UNSET
    retry_success_rate: float | None | UnsetType = UNSET
    avg_duration_ms: float | None | UnsetType = UNSET
    execution_count: int | None | UnsetType = UNSET
    retried: int | None | UnsetType = UNSET
    retry_rate: float | None | UnsetType = UNSET
    retried_completed: int | None | UnsetType = UNSET
    avg_retried_ms: float | None | UnsetType = UNSET
    avg_first_attempt_ms: float | None | UnsetType = UNSET
    avg_queue_wait_ms: float | None | UnsetType = UNSET
    avg_run_time_ms: float | None | UnsetType = UNSET
    p95_queue_wait_ms: float | None | UnsetType = UNSET
    queue_share: float | None | UnsetType = UNSET
    tasks_analyzed: int | None | UnsetType = UNSET
    on_critical_path: int | None | UnsetType = UNSET
    critical_path_ms: float | None | UnsetType = UNSET
    share: float | None | UnsetType = UNSET
    baseline_p95_ms: float | None | UnsetType = UNSET
    ratio: float | None | UnsetType = UNSET
    baseline_completed: int | None | UnsetType = UNSET
    avg_ms: float | None | UnsetType = UNSET
    baseline_avg_ms: float | None | UnsetType = UNSET
    previous_version: str | None | UnsetType = UNSET


class Recommendation(msgspec.Struct, omit_defaults=True):
    type: str
    namespace: str
    task_name: str
    version: str
    step: str | None
    rationale: str
    estimated_impact_ms_per_day: float
    evidence: Evidence
    pattern: str | None = None
    error_type: str | None = None
    current_timeout: int | None = None
    suggested_timeout: int | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None


class Bottlenecks(msgspec.Struct):
    analysis_period: str
    period_hours: int
    scope: dict[str, str]
    slowest_tasks: list[SlowTask]
    slowest_steps: list[SlowStep]
    error_patterns: list[ErrorPattern]
    performance_distribution: PerformanceDistribution
    dependency_analysis: DependencyAnalysis
    recommendations: list[Recommendation]
    percentiles: str
    percentile_relative_error: float | None
    data_quality: DataQuality
    data_as_of: datetime
    built_at: datetime
    build_id: str
    freshness_seconds: float = 0.0
    cache_info: CacheInfo | None = None


class ErrorBody(msgspec.Struct, omit_defaults=True):
    error: str
    detail: str
    parameter: str | None = None
    timestamp: datetime | None = None
