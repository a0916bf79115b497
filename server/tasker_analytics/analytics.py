"""The analytics API: performance metrics and bottleneck analysis over the built marts.

The HTTP server and Python callers use this same module; every figure follows
the definitions of docs/API.md.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import msgspec

from tasker_analytics import queries
from tasker_analytics.admission import CACHED_ONLY, NotCached
from tasker_analytics.cache import ResponseCache, open_cache
from tasker_analytics.schemas import (
    BlockingStep,
    Bottlenecks,
    CacheInfo,
    CriticalPathStep,
    DataQuality,
    DependencyAnalysis,
    ErrorPattern,
    Evidence,
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
    utc,
    utc_now,
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
    return round((utc_now() - utc(data_as_of)).total_seconds(), 3)


_JSON = msgspec.json.Encoder()

# Built once, here: msgspec builds a struct's type information on first use, and doing
# that from several request threads at once has crashed a worker.
_DECODERS: dict[type, msgspec.msgpack.Decoder] = {
    kind: msgspec.msgpack.Decoder(kind) for kind in (Performance, Bottlenecks)
}


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


def bottleneck_parameters(scope: Scope, period: int, limit: int) -> dict[str, Any]:
    """What a bottleneck body depends on besides the build: its cache key's parameters."""
    return {**scope.as_dict(), "period": period, "limit": limit}


# The layout of cached values: a cache shared by servers of two versions (Redis) never
# hands one the other's bodies. Raise it when a body's fields change.
CACHE_FORMAT = 2


def cache_key(endpoint: str, parameters: dict[str, Any], build_id: str, ttl: int) -> str:
    """The cache key of a body: a JSON array of everything the body depends on: the cache
    format, the endpoint, the build, the TTL class (servers sharing a Redis cache with
    different TTLs keep apart) and the parsed parameters as a JSON object with sorted
    names, so no value can spell another parameter or a separator. Not the caller: every
    authorized caller gets the same body, and authentication runs before any lookup."""
    named = {name: parameters[name] for name in sorted(parameters) if parameters[name] is not None}
    return _JSON.encode([CACHE_FORMAT, endpoint, build_id, ttl, named]).decode()


def etag_of(endpoint: str, parameters: dict[str, Any], build_id: str) -> str:
    """The weak ETag of a body: a hash of its cache key less the TTL class."""
    named = {name: parameters[name] for name in sorted(parameters) if parameters[name] is not None}
    digest = hashlib.sha256(_JSON.encode([CACHE_FORMAT, endpoint, build_id, named])).hexdigest()
    return f'W/"{digest[:32]}"'


# A freshness no body holds: an encoded body is split where it stands.
_FRESHNESS_MARK = -1.2345678901234567e-300
_NULL_RESOURCES = b'"resource_utilization":null}'


@dataclass
class Encoded:
    """A body encoded as JSON once, with the one field that changes per request,
    freshness_seconds, left open: `head + freshness + tail`."""

    head: bytes
    tail: bytes
    data_as_of: float  # epoch seconds
    etag: str
    build_id: str
    built_at: datetime
    status: str  # the cache outcome it carries: hit or miss
    # Encoded response headers per (ttl, private), made once by the HTTP layer.
    headers: dict[tuple[int, bool], list[tuple[bytes, bytes]]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, body: Body, info: CacheInfo, etag: str) -> Encoded:
        marked = msgspec.structs.replace(body, freshness_seconds=_FRESHNESS_MARK, cache_info=info)
        head, mark, tail = _JSON.encode(marked).partition(_JSON.encode(_FRESHNESS_MARK))
        assert mark, "the freshness mark is in the encoded body"
        as_of = utc(body.data_as_of)
        return cls(head, tail, as_of.timestamp(), etag, body.build_id, utc(body.built_at), info.status)

    def json(self, resource_utilization: bytes | None = None) -> bytes:
        """The body at this moment; a performance body gets its resource_utilization."""
        freshness = _JSON.encode(round(time.time() - self.data_as_of, 3))
        tail = self.tail
        if resource_utilization is not None and tail.endswith(_NULL_RESOURCES):
            tail = tail[: -len(_NULL_RESOURCES)] + b'"resource_utilization":' + resource_utilization + b"}"
        return self.head + freshness + tail


class EncodedBodies:
    """The hit form of recently served bodies, per cache key, in this process: a key holds
    the build id, so an entry never goes stale within its TTL. Bounded by total bytes."""

    def __init__(self, max_bytes: int = 16 * 1024 * 1024):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[float, Encoded]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def _size(encoded: Encoded) -> int:
        return len(encoded.head) + len(encoded.tail)

    def get(self, key: str) -> Encoded | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.monotonic():
                self._bytes -= self._size(self._items.pop(key)[1])
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: str, encoded: Encoded, ttl: int) -> None:
        with self._lock:
            previous = self._items.pop(key, None)
            if previous is not None:
                self._bytes -= self._size(previous[1])
            self._items[key] = (time.monotonic() + ttl, encoded)
            self._bytes += self._size(encoded)
            while self._bytes > self.max_bytes and len(self._items) > 1:
                self._bytes -= self._size(self._items.popitem(last=False)[1][1])

    def __len__(self) -> int:
        return len(self._items)


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
            data_as_of=utc(overview["data_as_of"]),
            built_at=utc(overview["built_at"]),
            build_id=overview["build_id"],
        )

    # -- bottlenecks -------------------------------------------------------------------

    def bottleneck_report(
        self, scope: Scope | None = None, period: int = 24, limit: int | None = None
    ) -> Served[Bottlenecks]:
        return self._serve(*self._bottleneck_request(scope, period, limit))

    def bottleneck_encoded(self, scope: Scope, period: int = 24, limit: int | None = None) -> Encoded:
        return self._encode(*self._bottleneck_request(scope, period, limit))

    def _bottleneck_request(self, scope: Scope | None, period: int, limit: int | None) -> tuple:
        """A bottleneck body's endpoint, parameters, TTL, type and computation."""
        scope = scope or Scope()
        limit = self.settings.default_bottleneck_results if limit is None else limit
        return (
            "bottlenecks",
            bottleneck_parameters(scope, period, limit),
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
            dependency_analysis=_dependency_analysis(dependency_rows, _int(summary["completed_tasks"]), limit),
            recommendations=_recommendations(recommendation_rows)[:limit],
            percentiles="approximate",
            percentile_relative_error=float(summary["percentile_relative_error"]),
            data_quality=DataQuality(
                negative_durations=sum(_int(row["negative_durations"]) for row in task_rows),
                negative_step_durations=sum(_int(row["negative_durations"]) for row in step_rows),
            ),
            data_as_of=utc(as_of),
            built_at=utc(build.built_at),
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
            failure_rate=_rate(_ratio(_int(row["failed"]), settled)),
            **_figures(row),
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
            failure_rate=_rate(_ratio(_int(row["failed"]), settled)),
            retry_rate=_rate(_ratio(_int(row["retried"]), settled)),
            **_figures(row),
        )


def _figures(row: dict[str, Any]) -> dict[str, float | None]:
    """avg/p50/p95/p99 of duration, queue wait and run time, as the function returns them."""
    return {
        f"{stat}_{metric}_ms": _ms(row[f"{stat}_{metric}_ms"])
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
            frequency=_int(row["frequency"]),
            affected_steps=sorted(row["affected_steps"]),
            error_classes=sorted(row["error_classes"]),
            first_seen=utc(row["first_seen"]),
            last_seen=utc(row["last_seen"]),
            errored_steps=_int(row["errored_steps"]),
            recovered_steps=_int(row["recovered_steps"]),
            retry_success_rate=_rate(_ratio(_int(row["recovered_steps"]), _int(row["errored_steps"]))),
        )
        for row in rows
    ]
    return sorted(patterns, key=lambda pattern: (-pattern.frequency, pattern.error_type))


def _distribution(summary: dict[str, Any], histogram_rows: list[dict[str, Any]]) -> PerformanceDistribution:
    buckets = sorted((int(row["duration_bucket"]), _int(row["bucket_count"])) for row in histogram_rows)
    return PerformanceDistribution(
        count=_int(summary["duration_count"]),
        avg_ms=_ms(summary["avg_ms"]),
        min_ms=_ms(summary["min_ms"]),
        max_ms=_ms(summary["max_ms"]),
        p50=_ms(summary["p50_ms"]),
        p95=_ms(summary["p95_ms"]),
        p99=_ms(summary["p99_ms"]),
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
            on_critical_path=_int(row["on_critical_path"]),
            critical_path_ms=_ms(row["critical_path_ms"]) or 0.0,
            share=_rate(row["critical_path_share"]),
        )
        for row in rows
        if _int(row["on_critical_path"]) > 0
    ]
    gating = [
        BlockingStep(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            step_name=row["step_name"],
            dependents_blocked=_int(row["dependents_blocked"]),
            blocked_wait_ms=_ms(row["blocked_wait_ms"]) or 0.0,
        )
        for row in rows
        if _int(row["dependents_blocked"]) > 0
    ]
    return DependencyAnalysis(
        tasks_analyzed=completed,
        critical_path_steps=sorted(on_path, key=lambda item: (-item.critical_path_ms, _names(item)))[:limit],
        blocking_steps=sorted(gating, key=lambda item: (-item.blocked_wait_ms, _names(item)))[:limit],
    )


# The evidence of each recommendation rule (docs/API.md, recommendations), keyed by
# (type, pattern): the columns of function_based_recommendations it rests on.
EVIDENCE: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("timeout_optimization", None): ("p95_ms", "p99_ms", "timeout_ms", "completed", "over_timeout"),
    ("retry_policy", "futile_retries"): ("errored_steps", "recovered_steps", "retry_success_rate", "avg_duration_ms"),
    ("retry_policy", "first_attempt_failures"): (
        "execution_count",
        "retried",
        "retry_rate",
        "retried_completed",
        "retry_success_rate",
        "avg_retried_ms",
        "avg_first_attempt_ms",
    ),
    ("capacity", None): ("completed", "avg_queue_wait_ms", "avg_run_time_ms", "p95_queue_wait_ms", "queue_share"),
    ("critical_path", None): ("tasks_analyzed", "on_critical_path", "critical_path_ms", "share"),
    ("regression", "baseline"): (
        "p95_ms",
        "baseline_p95_ms",
        "ratio",
        "completed",
        "baseline_completed",
        "avg_ms",
        "baseline_avg_ms",
    ),
    ("regression", "previous_version"): (
        "p95_ms",
        "baseline_p95_ms",
        "ratio",
        "completed",
        "baseline_completed",
        "avg_ms",
        "baseline_avg_ms",
        "previous_version",
    ),
}
_RATES = frozenset({"retry_success_rate", "retry_rate", "queue_share", "share", "ratio"})
_COUNTS = frozenset(
    {
        "completed",
        "over_timeout",
        "errored_steps",
        "recovered_steps",
        "execution_count",
        "retried",
        "retried_completed",
        "tasks_analyzed",
        "on_critical_path",
        "baseline_completed",
    }
)


def _evidence_value(name: str, value: Any) -> float | int | str | None:
    if value is None or name == "previous_version":
        return value
    if name in _COUNTS:
        return _int(value)
    if name in _RATES:
        return _rate(value)
    return _ms(value)


def _seconds(ms: float | None) -> str:
    return f"{(ms or 0.0) / 1000:.1f}s"


def _percent(rate: float | None) -> str:
    return f"{100 * (rate or 0.0):.1f}%"


def _rationale(kind: str, pattern: str | None, target: dict[str, Any], e: dict[str, Any], timeout: int | None) -> str:
    """The sentence of a recommendation, worded from its (rounded) evidence so that the
    numbers it quotes are the evidence fields (docs/API.md, rationale sentences)."""
    if kind == "timeout_optimization":
        return (
            f"p95 {_seconds(e['p95_ms'])} and p99 {_seconds(e['p99_ms'])} against a {timeout}s timeout; "
            f"{e['over_timeout']} of {e['completed']} completed executions ran longer"
        )
    if pattern == "futile_retries":
        return (
            f"{e['recovered_steps']} of {e['errored_steps']} steps that failed with {target['error_type']} "
            f"later completed ({_percent(e['retry_success_rate'])}); retrying rarely helps"
        )
    if pattern == "first_attempt_failures":
        return (
            f"{e['retried']} of {e['execution_count']} executions ({_percent(e['retry_rate'])}) needed a retry "
            f"and {e['retried_completed']} of those completed ({_percent(e['retry_success_rate'])}); "
            "first attempts fail often"
        )
    if kind == "capacity":
        return (
            f"tasks waited {_seconds(e['avg_queue_wait_ms'])} in queue on average against "
            f"{_seconds(e['avg_run_time_ms'])} of run time ({_percent(e['queue_share'])} queued) over "
            f"{e['completed']} completed tasks"
        )
    if kind == "critical_path":
        return (
            f"{target['step']} makes up {_percent(e['share'])} of critical-path time, on the critical path of "
            f"{e['on_critical_path']} of {e['tasks_analyzed']} tasks"
        )
    if pattern == "baseline":
        return (
            f"p95 rose to {_seconds(e['p95_ms'])} from {_seconds(e['baseline_p95_ms'])} over the previous 7 days "
            f"({e['ratio']:.2f}x) across {e['completed']} completed tasks"
        )
    return (
        f"p95 of version {target['version']} is {_seconds(e['p95_ms'])} against {_seconds(e['baseline_p95_ms'])} "
        f"for version {e['previous_version']} ({e['ratio']:.2f}x)"
    )


def _recommendations(rows: list[dict[str, Any]]) -> list[Recommendation]:
    """Rows of function_based_recommendations (the rules live in SQL, dbt vars
    recommendation_*), ranked by estimated impact in Python so no collation decides."""
    found: list[Recommendation] = []
    for row in rows:
        kind, pattern = row["recommendation_type"], row["pattern"]
        target = dict(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            step=row["step"],
            error_type=row["error_type"],
        )
        evidence = {name: _evidence_value(name, row[name]) for name in EVIDENCE[(kind, pattern)]}
        timeout = None if row["current_timeout"] is None else int(row["current_timeout"])
        extra: dict[str, Any] = {}
        if kind == "timeout_optimization":
            extra = dict(
                current_timeout=timeout,
                suggested_timeout=int(row["suggested_timeout"]),
                p95_ms=evidence["p95_ms"],
                p99_ms=evidence["p99_ms"],
            )
        found.append(
            Recommendation(
                type=kind,
                pattern=pattern,
                **target,
                evidence=Evidence(**evidence),
                estimated_impact_ms_per_day=_ms(row["estimated_impact_ms_per_day"]) or 0.0,
                rationale=_rationale(kind, pattern, target, evidence, timeout),
                **extra,
            )
        )

    def rank(item: Recommendation) -> tuple:
        names = (item.namespace, item.task_name, item.version, item.step or "", item.error_type or "")
        return (-item.estimated_impact_ms_per_day, item.type, names, item.pattern or "")

    return sorted(found, key=rank)
