"""The analytics API: performance metrics and bottleneck analysis over the built marts.

The HTTP server and Python callers use this same module; every figure follows
the definitions of docs/API.md.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from tasker_analytics.cache.encoded import Encoded, EncodedBodies, cache_key, etag_of
from tasker_analytics.cache.store import ResponseCache, open_cache
from tasker_analytics.config.settings import Settings
from tasker_analytics.core import drilldown
from tasker_analytics.core.figures import ms, rate, ratio, whole
from tasker_analytics.core.query import BottleneckQuery
from tasker_analytics.core.recommendations import recommendations
from tasker_analytics.core.schemas import (
    BlockingStep,
    Bottlenecks,
    CacheInfo,
    CriticalPathStep,
    DataQuality,
    DependencyAnalysis,
    ErrorPattern,
    HealthComponent,
    HistogramBucket,
    History,
    Performance,
    PerformanceDistribution,
    ProcessingTimes,
    SlowStep,
    SlowTask,
    StepDag,
    TaskStatistics,
    Trend,
    utc,
    utc_now,
)
from tasker_analytics.warehouse import queries
from tasker_analytics.warehouse.snapshots import BuildInfo, Snapshot, Warehouse, open_warehouse

# Set while a handler's first attempt runs: a body that is not cached raises NotCached
# instead of being computed (_fetch checks it before computing; api.admission sets it).
CACHED_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("cached_only", default=False)


class NotCached(RuntimeError):
    """A body would have to be computed, and the caller asked for cached bodies only."""


Body = TypeVar("Body", Performance, Bottlenecks, History, StepDag)

# Histogram buckets per decade of milliseconds (docs/API.md, performance_distribution).
BUCKETS_PER_DECADE = 4


def _freshness(data_as_of: datetime) -> float:
    return round((utc_now() - utc(data_as_of)).total_seconds(), 3)


_JSON = msgspec.json.Encoder()

# Built once, here: msgspec builds a struct's type information on first use, and doing
# that from several request threads at once has crashed a worker.
_DECODERS: dict[type, msgspec.msgpack.Decoder] = {
    kind: msgspec.msgpack.Decoder(kind) for kind in (Performance, Bottlenecks, History, StepDag)
}


@dataclass(frozen=True)
class Served(Generic[Body]):
    """A response body with what the HTTP layer needs: the cache outcome and an ETag."""

    body: Body
    cache: CacheInfo
    etag: str


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
        self.encoded = EncodedBodies()

    def close(self) -> None:
        self.warehouse.close()

    def _key(self, endpoint: str, parameters: dict[str, Any], build_id: str) -> str:
        ttl = self.settings.performance_cache_ttl if endpoint == "performance" else self.settings.bottlenecks_cache_ttl
        return cache_key(endpoint, parameters, build_id, ttl)

    def _fetch(
        self, endpoint: str, parameters: dict[str, Any], ttl: int, kind: type[Body], compute: Callable[[Snapshot], Body]
    ) -> tuple[Body, CacheInfo, str]:
        """The body (from the cache, or computed from one snapshot), its cache outcome and ETag."""
        build_id = self.warehouse.current_build().build_id
        key, etag = self._key(endpoint, parameters, build_id), etag_of(endpoint, parameters, build_id)
        decoder = _DECODERS[kind]

        def fresh() -> bytes:
            with self.warehouse.snapshot() as snapshot:
                return msgspec.msgpack.encode(compute(snapshot))

        if CACHED_ONLY.get():  # a handler's first attempt (admission.answer): no computing
            found, body = self.cache.lookup(key, decoder.decode) if ttl > 0 else (False, None)
            if not found:
                raise NotCached(key)
            hit = True
        else:
            body, hit = self.cache.get_or_compute(key, ttl, fresh, decoder.decode)
        info = CacheInfo(status="hit" if hit else "miss", key=key, ttl_seconds=ttl)
        return body, info, etag

    def _serve(
        self, endpoint: str, parameters: dict[str, Any], ttl: int, kind: type[Body], compute: Callable[[Snapshot], Body]
    ) -> Served[Body]:
        body, info, etag = self._fetch(endpoint, parameters, ttl, kind, compute)
        body = msgspec.structs.replace(body, freshness_seconds=_freshness(body.data_as_of), cache_info=info)
        return Served(body, info, etag)

    def _encode(
        self, endpoint: str, parameters: dict[str, Any], ttl: int, kind: type[Body], compute: Callable[[Snapshot], Body]
    ) -> Encoded:
        """Like _serve, encoded as JSON once; the hit form is kept for encoded_hit."""
        body, info, etag = self._fetch(endpoint, parameters, ttl, kind, compute)
        hit = Encoded.of(body, msgspec.structs.replace(info, status="hit"), etag)
        if ttl > 0:
            self.encoded.put(info.key, hit, ttl)
        return hit if info.status == "hit" else Encoded.of(body, info, etag)

    def encoded_hit(self, endpoint: str, parameters: dict[str, Any], build: BuildInfo | None = None) -> Encoded | None:
        """The encoded body of a cache hit for the build being served, or None, without
        blocking: no warehouse connection, no shared-cache round trip (the HTTP handlers
        call this on the event loop, after authentication, and send misses to a thread).
        `build` is the caller's `warehouse.known_build()` when it has one."""
        build = build or self.warehouse.known_build()
        if build is None:
            return None
        encoded = self.encoded.get(self._key(endpoint, parameters, build.build_id))
        if encoded is not None:
            self.cache.count(hit=True)
        return encoded

    # -- performance -------------------------------------------------------------------

    def _performance_request(self) -> tuple:
        """The performance body's endpoint, parameters, TTL, type and computation."""
        return "performance", {}, self.settings.performance_cache_ttl, Performance, self._performance

    def performance_report(self) -> Served[Performance]:
        return self._serve(*self._performance_request())

    def performance_encoded(self) -> Encoded:
        return self._encode(*self._performance_request())

    def performance_metrics(self) -> Performance:
        """The performance endpoint's body (cached like the endpoint)."""
        return self.performance_report().body

    def _performance(self, snapshot: Snapshot) -> Performance:
        overview = snapshot.query(queries.PERFORMANCE_OVERVIEW)[0]
        trends = snapshot.query(queries.PERFORMANCE_TRENDS)
        components = snapshot.query(queries.HEALTH_COMPONENTS)
        return Performance(
            system_health_score=_score(overview["system_health_score"]),
            health_status=overview["health_status"],
            health_components=[
                HealthComponent(
                    name=row["component"],
                    value=None if row["component_value"] is None else rate(row["component_value"]),
                    weight=float(row["weight"]),
                    window_hours=int(row["window_hours"]),
                    count=whole(row["item_count"]),
                    description=row["description"],
                )
                for row in components
            ],
            performance_trends={
                row["window_label"]: Trend(
                    completion_rate=rate(row["completion_rate"]),
                    error_rate=rate(row["error_rate"]),
                    avg_duration_ms=ms(row["avg_duration_ms"]),
                    created=whole(row["created_count"]),
                    settled=whole(row["settled_count"]),
                    completed=whole(row["completed_count"]),
                    failed=whole(row["failed_count"]),
                    cancelled=whole(row["cancelled_count"]),
                    resolved_manually=whole(row["resolved_manually_count"]),
                )
                for row in trends
            },
            task_statistics=TaskStatistics(
                total_tasks=whole(overview["total_tasks"]),
                completed=whole(overview["completed_count"]),
                failed=whole(overview["failed_count"]),
                retried=whole(overview["retried_count"]),
                cancelled=whole(overview["cancelled_count"]),
                resolved_manually=whole(overview["resolved_manually_count"]),
                settled=whole(overview["settled_count"]),
                completion_rate=rate(overview["completion_rate"]),
                failure_rate=rate(overview["failure_rate"]),
                retry_rate=rate(overview["retry_rate"]),
            ),
            processing_times=ProcessingTimes(
                p50=ms(overview["p50_duration_ms"]),
                p95=ms(overview["p95_duration_ms"]),
                p99=ms(overview["p99_duration_ms"]),
                avg_ms=ms(overview["avg_duration_ms"]),
                count=whole(overview["duration_count"]),
            ),
            active_tasks=whole(overview["active_tasks"]),
            namespaces=whole(overview["namespace_count"]),
            task_types=whole(overview["task_type_count"]),
            data_quality=DataQuality(negative_durations=whole(overview["negative_duration_count"])),
            data_as_of=utc(overview["data_as_of"]),
            built_at=utc(overview["built_at"]),
            build_id=overview["build_id"],
        )

    # -- the dashboard's drill-downs (core/drilldown.py) --------------------------------

    def hourly_history(self, query: BottleneckQuery) -> History:
        """The query's scope hour by hour over its period (cached like a bottleneck body)."""
        body, _, _ = self._fetch(
            "history",
            query.parameters(),
            self.settings.bottlenecks_cache_ttl,
            History,
            lambda snapshot: drilldown.hourly_history(snapshot, query),
        )
        return body

    def step_dag(self, query: BottleneckQuery) -> StepDag:
        """The step DAG of the task type the query's scope names, with its critical-path
        figures over the period (cached like a bottleneck body); empty without a task name."""
        body, _, _ = self._fetch(
            "step_dag",
            query.parameters(),
            self.settings.bottlenecks_cache_ttl,
            StepDag,
            lambda snapshot: drilldown.step_dag(snapshot, query),
        )
        return body

    def namespaces(self) -> tuple[str, set[str]]:
        """The build id and the namespaces of its data (any task type with a task in the
        build, whatever the period); read from one snapshot, not cached."""
        with self.warehouse.snapshot() as snapshot:
            rows = snapshot.query(queries.NAMESPACES)
            return snapshot.build.build_id, {row["namespace_name"] for row in rows}

    # -- bottlenecks -------------------------------------------------------------------

    def bottleneck_report(self, query: BottleneckQuery | None = None) -> Served[Bottlenecks]:
        return self._serve(*self._bottleneck_request(query or self.default_query()))

    def bottleneck_encoded(self, query: BottleneckQuery) -> Encoded:
        return self._encode(*self._bottleneck_request(query))

    def bottleneck_analysis(self, query: BottleneckQuery | None = None) -> Bottlenecks:
        """The bottleneck endpoint's body for a query (cached like the endpoint)."""
        return self.bottleneck_report(query).body

    def default_query(self) -> BottleneckQuery:
        """All task types, the default period and limit."""
        return BottleneckQuery.validated(self.settings)

    def _bottleneck_request(self, query: BottleneckQuery) -> tuple:
        """A bottleneck body's endpoint, parameters, TTL, type and computation."""
        return (
            "bottlenecks",
            query.parameters(),
            self.settings.bottlenecks_cache_ttl,
            Bottlenecks,
            lambda snapshot: self._bottlenecks(snapshot, query),
        )

    def _bottlenecks(self, snapshot: Snapshot, query: BottleneckQuery) -> Bottlenecks:
        scope, period, limit = query.scope, query.period, query.limit
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
        dependency_rows = snapshot.query(queries.CRITICAL_PATH, params)
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
            dependency_analysis=_dependency_analysis(dependency_rows, whole(summary["completed_tasks"]), limit),
            recommendations=recommendations(recommendation_rows)[:limit],
            percentiles="approximate",
            percentile_relative_error=float(summary["percentile_relative_error"]),
            data_quality=DataQuality(
                negative_durations=sum(whole(row["negative_durations"]) for row in task_rows),
                negative_step_durations=sum(whole(row["negative_durations"]) for row in step_rows),
            ),
            data_as_of=utc(as_of),
            built_at=utc(build.built_at),
            build_id=build.build_id,
        )

    @staticmethod
    def _slow_task(row: dict[str, Any]) -> SlowTask:
        settled = whole(row["execution_count"])
        return SlowTask(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            execution_count=settled,
            completed=whole(row["completed"]),
            failed=whole(row["failed"]),
            failure_rate=rate(ratio(whole(row["failed"]), settled)),
            **_figures(row),
        )

    @staticmethod
    def _slow_step(row: dict[str, Any]) -> SlowStep:
        settled = whole(row["execution_count"])
        return SlowStep(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            step_name=row["step_name"],
            execution_count=settled,
            completed=whole(row["completed"]),
            failed=whole(row["failed"]),
            retried=whole(row["retried"]),
            failure_rate=rate(ratio(whole(row["failed"]), settled)),
            retry_rate=rate(ratio(whole(row["retried"]), settled)),
            **_figures(row),
        )


def _score(value: Any) -> float | None:
    """The health score to 1 decimal; None when no component is judged (docs/API.md)."""
    return None if value is None else round(float(value), 1)


def _figures(row: dict[str, Any]) -> dict[str, float | None]:
    """avg/p50/p95/p99 of duration, queue wait and run time, as the function returns them."""
    return {
        f"{stat}_{metric}_ms": ms(row[f"{stat}_{metric}_ms"])
        for metric in ("duration", "queue_wait", "run_time")
        for stat in ("avg", "p50", "p95", "p99")
    }


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
            frequency=whole(row["frequency"]),
            affected_steps=sorted(row["affected_steps"]),
            error_classes=sorted(row["error_classes"]),
            first_seen=utc(row["first_seen"]),
            last_seen=utc(row["last_seen"]),
            errored_steps=whole(row["errored_steps"]),
            recovered_steps=whole(row["recovered_steps"]),
            retry_success_rate=rate(ratio(whole(row["recovered_steps"]), whole(row["errored_steps"]))),
        )
        for row in rows
    ]
    return sorted(patterns, key=lambda pattern: (-pattern.frequency, pattern.error_type))


def _distribution(summary: dict[str, Any], histogram_rows: list[dict[str, Any]]) -> PerformanceDistribution:
    buckets = sorted((int(row["duration_bucket"]), whole(row["bucket_count"])) for row in histogram_rows)
    return PerformanceDistribution(
        count=whole(summary["duration_count"]),
        avg_ms=ms(summary["avg_ms"]),
        min_ms=ms(summary["min_ms"]),
        max_ms=ms(summary["max_ms"]),
        p50=ms(summary["p50_ms"]),
        p95=ms(summary["p95_ms"]),
        p99=ms(summary["p99_ms"]),
        histogram=[
            HistogramBucket(
                lower_ms=round(10 ** (bucket / BUCKETS_PER_DECADE), 1),
                upper_ms=round(10 ** ((bucket + 1) / BUCKETS_PER_DECADE), 1),
                count=count,
            )
            for bucket, count in buckets
        ],
    )


def _names(row: Any) -> tuple[str, str, str, str]:
    return (row.namespace, row.task_name, row.version, row.step_name)


def _dependency_analysis(rows: list[dict[str, Any]], completed: int, limit: int) -> DependencyAnalysis:
    """Rows of function_based_critical_path, split into the two lists of docs/API.md;
    `completed` (tasks settled complete in the scope and period) is tasks_analyzed."""
    on_path = [
        CriticalPathStep(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            step_name=row["step_name"],
            on_critical_path=whole(row["on_critical_path"]),
            critical_path_ms=ms(row["critical_path_ms"]) or 0.0,
            share=rate(row["critical_path_share"]),
        )
        for row in rows
        if whole(row["on_critical_path"]) > 0
    ]
    gating = [
        BlockingStep(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            step_name=row["step_name"],
            dependents_blocked=whole(row["dependents_blocked"]),
            blocked_wait_ms=ms(row["blocked_wait_ms"]) or 0.0,
        )
        for row in rows
        if whole(row["dependents_blocked"]) > 0
    ]
    return DependencyAnalysis(
        tasks_analyzed=completed,
        critical_path_steps=sorted(on_path, key=lambda item: (-item.critical_path_ms, _names(item)))[:limit],
        blocking_steps=sorted(gating, key=lambda item: (-item.blocked_wait_ms, _names(item)))[:limit],
    )
