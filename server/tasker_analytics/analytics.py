"""The analytics API: performance metrics and bottleneck analysis over the built marts.

The HTTP server and Python callers use this same module; every figure follows
DESIGN.md section 3 and docs/API.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from tasker_analytics import queries
from tasker_analytics.cache import ResponseCache, open_cache
from tasker_analytics.schemas import (
    Bottlenecks,
    CacheInfo,
    DataQuality,
    ErrorPattern,
    HealthComponent,
    HistogramBucket,
    Performance,
    PerformanceDistribution,
    ProcessingTimes,
    Recommendation,
    SlowStep,
    SlowTask,
    TaskStatistics,
    Trend,
)
from tasker_analytics.settings import Settings
from tasker_analytics.warehouse import BuildInfo, Snapshot, Warehouse, open_warehouse

Body = TypeVar("Body", Performance, Bottlenecks)

# Histogram buckets per decade of milliseconds (docs/API.md, performance_distribution).
BUCKETS_PER_DECADE = 4


def _ms(value: Any) -> float | None:
    """Milliseconds to 1 decimal. Rounding to 6 decimals first removes the last-bit noise
    in which engines differ (e.g. a percentile interpolated to x.05), so every engine
    serves the same figure."""
    return None if value is None else round(round(float(value), 6), 1)


def _rate(value: Any) -> float:
    return round(round(float(value or 0.0), 9), 4)


def _ratio(numerator: int, denominator: int) -> float:
    return 0.0 if denominator == 0 else numerator / denominator


def _int(value: Any) -> int:
    return int(value or 0)


def _freshness(data_as_of: datetime) -> float:
    now = datetime.now(UTC).replace(tzinfo=None)
    return round((now - data_as_of).total_seconds(), 3)


@dataclass(frozen=True)
class Served(Generic[Body]):
    """A response body with what the HTTP layer needs: the cache outcome and an ETag."""

    body: Body
    cache: CacheInfo
    etag: str


@dataclass(frozen=True)
class Scope:
    """Which task types a bottleneck analysis covers; None means all."""

    namespace: str | None = None
    task_name: str | None = None
    version: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


class Analytics:
    """Reads the marts of one warehouse, shapes the endpoint bodies and caches them.

    Every body is computed from one snapshot (one build) and cached under a key holding
    the endpoint, every scope parameter and the build id, for the endpoint's TTL.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        warehouse: Warehouse | None = None,
        cache: ResponseCache | None = None,
    ):
        self.settings = settings or Settings.from_env()
        self.warehouse = warehouse or open_warehouse(self.settings)
        self.cache = cache or open_cache(self.settings.redis_url, self.settings.cache_max_entries)

    def close(self) -> None:
        self.warehouse.close()

    def _serve(
        self, endpoint: str, parameters: dict[str, Any], ttl: int, kind: type[Body], compute: Callable[[Snapshot], Body]
    ) -> Served[Body]:
        build = self.warehouse.current_build()
        canonical = "&".join(
            f"{name}={parameters[name]}" for name in sorted(parameters) if parameters[name] is not None
        )
        key = f"{endpoint}|{build.build_id}|{canonical}"

        def fresh() -> bytes:
            with self.warehouse.snapshot() as snapshot:
                return msgspec.msgpack.encode(compute(snapshot))

        raw, hit = self.cache.get_or_compute(key, ttl, fresh)
        body = msgspec.msgpack.decode(raw, type=kind)
        info = CacheInfo(status="hit" if hit else "miss", key=key, ttl_seconds=ttl)
        body = msgspec.structs.replace(body, freshness_seconds=_freshness(body.data_as_of), cache_info=info)
        digest = hashlib.sha256(f"{endpoint}|{body.build_id}|{canonical}".encode()).hexdigest()[:32]
        return Served(body, info, f'W/"{digest}"')

    # -- performance -------------------------------------------------------------------

    def performance_report(self) -> Served[Performance]:
        return self._serve(
            "performance", {}, self.settings.performance_cache_ttl, Performance, self._performance
        )

    def performance_metrics(self) -> Performance:
        """The performance endpoint's body (cached like the endpoint)."""
        return self.performance_report().body

    def _performance(self, snapshot: Snapshot) -> Performance:
        overview = snapshot.query(queries.PERFORMANCE_OVERVIEW)[0]
        trends = snapshot.query(queries.PERFORMANCE_TRENDS)
        components = snapshot.query(queries.HEALTH_COMPONENTS)
        return Performance(
            system_health_score=round(float(overview["system_health_score"] or 0.0), 1),
            health_components=[
                HealthComponent(
                    name=row["component"],
                    value=_rate(row["component_value"]),
                    weight=float(row["weight"]),
                    window_hours=int(row["window_hours"]),
                    count=_int(row["item_count"]),
                    description=row["description"],
                )
                for row in components
            ],
            performance_trends={
                row["window_label"]: Trend(
                    completion_rate=_rate(row["completion_rate"]),
                    error_rate=_rate(row["error_rate"]),
                    avg_duration_ms=_ms(row["avg_duration_ms"]),
                    created=_int(row["created_count"]),
                    settled=_int(row["settled_count"]),
                    completed=_int(row["completed_count"]),
                    failed=_int(row["failed_count"]),
                    cancelled=_int(row["cancelled_count"]),
                    resolved_manually=_int(row["resolved_manually_count"]),
                )
                for row in trends
            },
            task_statistics=TaskStatistics(
                total_tasks=_int(overview["total_tasks"]),
                completed=_int(overview["completed_count"]),
                failed=_int(overview["failed_count"]),
                retried=_int(overview["retried_count"]),
                cancelled=_int(overview["cancelled_count"]),
                resolved_manually=_int(overview["resolved_manually_count"]),
                settled=_int(overview["settled_count"]),
                completion_rate=_rate(overview["completion_rate"]),
                failure_rate=_rate(overview["failure_rate"]),
                retry_rate=_rate(overview["retry_rate"]),
            ),
            processing_times=ProcessingTimes(
                p50=_ms(overview["p50_duration_ms"]),
                p95=_ms(overview["p95_duration_ms"]),
                p99=_ms(overview["p99_duration_ms"]),
                avg_ms=_ms(overview["avg_duration_ms"]),
                count=_int(overview["duration_count"]),
            ),
            active_tasks=_int(overview["active_tasks"]),
            namespaces=_int(overview["namespace_count"]),
            task_types=_int(overview["task_type_count"]),
            data_quality=DataQuality(negative_durations=_int(overview["negative_duration_count"])),
            data_as_of=overview["data_as_of"],
            built_at=overview["built_at"],
            build_id=overview["build_id"],
        )

    # -- bottlenecks -------------------------------------------------------------------

    def bottleneck_report(
        self, scope: Scope | None = None, period: int = 24, limit: int | None = None
    ) -> Served[Bottlenecks]:
        scope = scope or Scope()
        limit = self.settings.default_bottleneck_results if limit is None else limit
        parameters = {**scope.as_dict(), "period": period, "limit": limit}
        return self._serve(
            "bottlenecks",
            parameters,
            self.settings.bottlenecks_cache_ttl,
            Bottlenecks,
            lambda snapshot: self._bottlenecks(snapshot, scope, period, limit),
        )

    def bottleneck_analysis(
        self, scope: Scope | None = None, period: int = 24, limit: int | None = None
    ) -> Bottlenecks:
        """The bottleneck endpoint's body for a scope and period (cached like the endpoint)."""
        return self.bottleneck_report(scope, period, limit).body

    def _bottlenecks(self, snapshot: Snapshot, scope: Scope, period: int, limit: int) -> Bottlenecks:
        build: BuildInfo = snapshot.build
        as_of: datetime = build.data_as_of
        params = {
            "window_start": as_of - timedelta(hours=period),
            "as_of": as_of,
            "period": period,
            "namespace": scope.namespace,
            "task_name": scope.task_name,
            "version": scope.version,
        }
        task_rows = snapshot.query(queries.TASK_BOTTLENECKS, params)
        step_rows = snapshot.query(queries.STEP_BOTTLENECKS, params)
        error_rows = snapshot.query(queries.ERROR_PATTERNS, params)
        summary = snapshot.query(queries.DURATION_SUMMARY, params)[0]
        histogram_rows = snapshot.query(queries.DURATION_HISTOGRAM, params)
        recommendation_rows = snapshot.query(queries.RECOMMENDATIONS, params)
        steps = [self._slow_step(row) for row in step_rows]
        return Bottlenecks(
            analysis_period=f"{period} hour" if period == 1 else f"{period} hours",
            period_hours=period,
            scope=scope.as_dict(),
            slowest_tasks=_slowest([self._slow_task(row) for row in task_rows], limit),
            slowest_steps=_slowest(steps, limit),
            error_patterns=_error_patterns(error_rows)[:limit],
            performance_distribution=_distribution(summary, histogram_rows),
            recommendations=_recommendations(recommendation_rows)[:limit],
            percentiles="exact",
            data_quality=DataQuality(
                negative_durations=sum(_int(row["negative_durations"]) for row in task_rows),
                negative_step_durations=sum(_int(row["negative_durations"]) for row in step_rows),
            ),
            data_as_of=as_of,
            built_at=build.built_at,
            build_id=build.build_id,
        )

    @staticmethod
    def _slow_task(row: dict[str, Any]) -> SlowTask:
        settled = _int(row["execution_count"])
        return SlowTask(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            execution_count=settled,
            completed=_int(row["completed"]),
            failed=_int(row["failed"]),
            avg_duration_ms=_ms(row["avg_duration_ms"]),
            p95_duration_ms=_ms(row["p95_duration_ms"]),
            failure_rate=_rate(_ratio(_int(row["failed"]), settled)),
        )

    @staticmethod
    def _slow_step(row: dict[str, Any]) -> SlowStep:
        settled = _int(row["execution_count"])
        return SlowStep(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            step_name=row["step_name"],
            execution_count=settled,
            completed=_int(row["completed"]),
            failed=_int(row["failed"]),
            retried=_int(row["retried"]),
            avg_duration_ms=_ms(row["avg_duration_ms"]),
            p95_duration_ms=_ms(row["p95_duration_ms"]),
            p99_duration_ms=_ms(row["p99_duration_ms"]),
            failure_rate=_rate(_ratio(_int(row["failed"]), settled)),
            retry_rate=_rate(_ratio(_int(row["retried"]), settled)),
        )


def _slowest(rows: list, limit: int) -> list:
    """Average duration descending (none last), then the names ascending."""

    def key(row: Any) -> tuple:
        names = tuple(getattr(row, name) for name in ("namespace", "task_name", "version"))
        names += (getattr(row, "step_name", ""),)
        missing = row.avg_duration_ms is None
        return (missing, -(row.avg_duration_ms or 0.0), names)

    return sorted(rows, key=key)[:limit]


def _error_patterns(rows: list[dict[str, Any]]) -> list[ErrorPattern]:
    """Rows of function_based_error_patterns; sorted in Python so no collation decides."""
    patterns = [
        ErrorPattern(
            error_type=row["error_type"],
            frequency=_int(row["frequency"]),
            affected_steps=sorted(row["affected_steps"]),
            error_classes=sorted(row["error_classes"]),
        )
        for row in rows
    ]
    return sorted(patterns, key=lambda pattern: (-pattern.frequency, pattern.error_type))


def _distribution(
    summary: dict[str, Any], histogram_rows: list[dict[str, Any]]
) -> PerformanceDistribution:
    buckets = sorted((int(row["duration_bucket"]), _int(row["bucket_count"])) for row in histogram_rows)
    return PerformanceDistribution(
        count=_int(summary["duration_count"]),
        avg_ms=_ms(summary["avg_ms"]),
        min_ms=_ms(summary["min_ms"]),
        max_ms=_ms(summary["max_ms"]),
        p50=_ms(summary["p50"]),
        p95=_ms(summary["p95"]),
        p99=_ms(summary["p99"]),
        histogram=[
            HistogramBucket(
                lower_ms=round(10 ** (bucket / BUCKETS_PER_DECADE), 1),
                upper_ms=round(10 ** ((bucket + 1) / BUCKETS_PER_DECADE), 1),
                count=count,
            )
            for bucket, count in buckets
        ],
    )


def _recommendations(rows: list[dict[str, Any]]) -> list[Recommendation]:
    """Rows of function_based_recommendations (the rules live in SQL, dbt vars
    recommendation_*). The rationale is worded here from the same numbers, so every
    engine serves the same sentence."""
    found: list[tuple[tuple, Recommendation]] = []
    for row in rows:
        target = dict(namespace=row["namespace"], task_name=row["task_name"], version=row["version"], step=row["step"])
        names = tuple(target.values())
        if row["recommendation_type"] == "timeout_optimization":
            p95, p99 = float(row["p95_ms"]), float(row["p99_ms"])
            found.append((
                ("timeout_optimization", -p95, names),
                Recommendation(
                    type="timeout_optimization",
                    **target,
                    current_timeout=int(row["current_timeout"]),
                    suggested_timeout=int(row["suggested_timeout"]),
                    p95_ms=_ms(p95),
                    p99_ms=_ms(p99),
                    rationale=(
                        f"95th percentile execution time is {p95 / 1000:.1f}s against a "
                        f"{row['current_timeout']}s timeout (p99 {p99 / 1000:.1f}s)"
                    ),
                ),
            ))
        else:
            retry_rate, settled = float(row["retry_rate"]), _int(row["execution_count"])
            found.append((
                ("retry_policy", -retry_rate, names),
                Recommendation(
                    type="retry_policy",
                    **target,
                    retry_rate=_rate(retry_rate),
                    execution_count=settled,
                    rationale=(
                        f"{_int(row['retried'])} of {settled} executions "
                        f"({retry_rate:.1%}) needed more than one attempt"
                    ),
                ),
            ))
    return [recommendation for _, recommendation in sorted(found, key=lambda item: item[0])]
