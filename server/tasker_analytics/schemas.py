"""Response shapes (msgspec Structs), so the OpenAPI schema is exact. docs/API.md explains each field."""

from __future__ import annotations

from datetime import datetime

import msgspec


class HealthComponent(msgspec.Struct):
    name: str
    value: float
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


class Performance(msgspec.Struct):
    system_health_score: float
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
    p95_duration_ms: float | None
    failure_rate: float


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
    p95_duration_ms: float | None
    p99_duration_ms: float | None
    failure_rate: float
    retry_rate: float


class ErrorPattern(msgspec.Struct):
    error_type: str
    frequency: int
    affected_steps: list[str]
    error_classes: list[str]


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


class Recommendation(msgspec.Struct, omit_defaults=True):
    type: str
    namespace: str
    task_name: str
    version: str
    step: str
    rationale: str
    current_timeout: int | None = None
    suggested_timeout: int | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    retry_rate: float | None = None
    execution_count: int | None = None


class Bottlenecks(msgspec.Struct):
    analysis_period: str
    period_hours: int
    scope: dict[str, str]
    slowest_tasks: list[SlowTask]
    slowest_steps: list[SlowStep]
    error_patterns: list[ErrorPattern]
    performance_distribution: PerformanceDistribution
    recommendations: list[Recommendation]
    percentiles: str
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
