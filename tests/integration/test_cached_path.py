"""The cached answer path (docs/BENCHMARKS.md, "Cached answers"): a hit is sent as JSON
encoded once per key and build, with freshness_seconds filled in per request, from the
event loop and without reading the warehouse; a miss goes to a worker thread."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient

from tasker_analytics.api.app import create_app
from tasker_analytics.cache.encoded import Encoded, EncodedBodies
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery, Scope
from tasker_analytics.core.schemas import Bottlenecks, CacheInfo, Performance

PERFORMANCE = "/tasker/analytics/performance"
BOTTLENECKS = "/tasker/analytics/bottlenecks"


def _settings(workload) -> Settings:
    return workload.settings()


class _CountingSnapshots:
    """Counts the warehouse snapshots the app opens (the real warehouse still answers)."""

    def __init__(self, warehouse):
        self.warehouse = warehouse
        self.opened = 0
        self._snapshot = warehouse.snapshot

    def __call__(self):
        self.opened += 1
        return self._snapshot()


@pytest.fixture()
def served(workload):
    analytics = Analytics(_settings(workload))
    counter = _CountingSnapshots(analytics.warehouse)
    analytics.warehouse.snapshot = counter  # type: ignore[method-assign]
    with TestClient(create_app(analytics.settings, analytics)) as client:
        yield client, analytics, counter


def _without(body: dict, *names: str) -> dict:
    return {key: value for key, value in body.items() if key not in names}


def test_a_hit_is_the_miss_body_with_hit_status_and_reads_no_snapshot(served):
    client, analytics, counter = served
    params = {"namespace": "payments", "period": 36, "limit": 7}
    miss = client.get(BOTTLENECKS, params=params)
    assert miss.headers["x-cache"] == "miss" and counter.opened == 1
    store_reads = []
    read = analytics.cache.store.get
    analytics.cache.store.get = lambda key: store_reads.append(key) or read(key)  # type: ignore[method-assign]
    hits = [client.get(BOTTLENECKS, params=params) for _ in range(5)]
    assert counter.opened == 1, "a cache hit opened a warehouse snapshot"
    assert store_reads == [], "a cache hit went to the shared cache store"
    for hit in hits:
        assert hit.status_code == 200 and hit.headers["x-cache"] == "hit"
        assert hit.headers["content-type"] == "application/json"
        assert hit.headers["etag"] == miss.headers["etag"]
        # The bytes decode into the endpoint's schema, strictly.
        body = msgspec.json.decode(hit.content, type=Bottlenecks)
        assert body.cache_info.status == "hit" and body.cache_info.key == miss.json()["cache_info"]["key"]
        assert _without(hit.json(), "freshness_seconds", "cache_info") == _without(
            miss.json(), "freshness_seconds", "cache_info"
        )
        assert len(body.slowest_steps) <= 7 and {row.namespace for row in body.slowest_tasks} <= {"payments"}


def test_freshness_is_computed_per_request(served):
    client, analytics, _ = served
    client.get(BOTTLENECKS)
    before = time.time()
    body = client.get(BOTTLENECKS).json()
    after = time.time()
    as_of = datetime.fromisoformat(body["data_as_of"].replace("Z", "+00:00")).timestamp()
    assert before - as_of - 0.002 <= body["freshness_seconds"] <= after - as_of + 0.002
    assert round(body["freshness_seconds"], 3) == body["freshness_seconds"]


def test_hits_are_counted_and_the_performance_body_reports_them_live(served):
    client, analytics, counter = served
    first = client.get(PERFORMANCE).json()
    assert first["cache_info"]["status"] == "miss"
    counts = [client.get(PERFORMANCE).json()["resource_utilization"]["cache"] for _ in range(3)]
    start = first["resource_utilization"]["cache"]["hits"]
    assert [count["hits"] for count in counts] == [start + 1, start + 2, start + 3]
    assert counter.opened == 1
    body = client.get(PERFORMANCE)
    decoded = msgspec.json.decode(body.content, type=Performance)
    assert decoded.resource_utilization.warehouse.build_id == decoded.build_id
    assert decoded.resource_utilization.cache.entries >= 1


def test_the_encoded_body_equals_the_python_apis_body(workload):
    analytics = Analytics(_settings(workload))
    try:
        query = BottleneckQuery(Scope(namespace="payments"), 24, 5)
        served = analytics.bottleneck_report(query)
        encoded = analytics.bottleneck_encoded(query)
        assert encoded.status == "hit" and served.cache.status == "miss"
        decoded = msgspec.json.decode(encoded.json(), type=Bottlenecks)
        expected = msgspec.structs.replace(
            served.body,
            freshness_seconds=decoded.freshness_seconds,
            cache_info=msgspec.structs.replace(served.cache, status="hit"),
        )
        assert decoded == expected
        assert abs(decoded.freshness_seconds - served.body.freshness_seconds) < 5
    finally:
        analytics.close()


def test_a_cache_ttl_of_zero_keeps_nothing(workload):
    settings = Settings.from_env(
        {
            "TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path),
            "TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL": "0",
        }
    )
    analytics = Analytics(settings)
    counter = _CountingSnapshots(analytics.warehouse)
    analytics.warehouse.snapshot = counter  # type: ignore[method-assign]
    with TestClient(create_app(settings, analytics)) as client:
        statuses = [client.get(BOTTLENECKS).headers["x-cache"] for _ in range(3)]
    assert statuses == ["miss"] * 3 and counter.opened == 3 and len(analytics.encoded) == 0


def _encoded(size: int, build: str = "b1") -> Encoded:
    body = Bottlenecks(
        analysis_period="1 hour",
        period_hours=1,
        scope={},
        slowest_tasks=[],
        slowest_steps=[],
        error_patterns=[],
        performance_distribution=None,
        dependency_analysis=None,
        recommendations=[],
        percentiles="approximate",
        percentile_relative_error=0.0,
        data_quality=None,
        data_as_of=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
        built_at=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
        build_id=build + "x" * size,
    )
    return Encoded.of(body, CacheInfo(status="hit", key="k", ttl_seconds=60), 'W/"e"')


def test_encoded_bodies_are_bounded_by_bytes_and_expire():
    one = _encoded(1000)
    size = len(one.head) + len(one.tail)
    store = EncodedBodies(max_bytes=3 * size)
    for name in "abcd":
        store.put(name, _encoded(1000), ttl=60)
    assert len(store) == 3 and store.get("a") is None and store.get("d") is not None
    store.get("b")  # used: "c" is now the oldest
    store.put("e", _encoded(1000), ttl=60)
    assert store.get("c") is None and store.get("b") is not None
    store.put("short", _encoded(10), ttl=0)
    assert store.get("short") is None


def test_cache_hits_notice_a_published_build_within_the_recheck_time(workload, tmp_path):
    """The hit path looks at the served path at most every _DUCKDB_RECHECK_SECONDS (a
    stat per hit costs more than the rest of it under load); a newly published file is
    then no longer "known", so the next request goes to the thread and opens it."""
    import os
    import shutil

    from tasker_analytics.warehouse.snapshots import _DUCKDB_RECHECK_SECONDS, DuckDBWarehouse

    real = Path(os.path.realpath(workload.warehouse_path))
    first, second = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    shutil.copyfile(real, first)
    shutil.copyfile(real, second)
    served = tmp_path / "served.duckdb"
    served.symlink_to(first)
    warehouse = DuckDBWarehouse(served)
    try:
        build = warehouse.current_build()
        assert warehouse.known_build() == build
        link = tmp_path / "next.duckdb"
        link.symlink_to(second)
        os.replace(link, served)  # how `tasker-analytics build` publishes
        assert warehouse.known_build() == build  # trusted for the recheck time
        time.sleep(_DUCKDB_RECHECK_SECONDS + 0.05)
        assert warehouse.known_build() is None
        assert warehouse.current_build().location == str(second)  # a miss opens the new file
        assert warehouse.known_build().location == str(second)
    finally:
        warehouse.close()


class _RoutedCalls:
    """Counts the requests that reach Litestar's routed path (the app's asgi_handler)."""

    def __init__(self, app):
        self.count = 0
        self._handler = app.asgi_handler

    async def __call__(self, scope, receive, send):
        self.count += 1
        await self._handler(scope, receive, send)


def _headers(response) -> dict[str, str]:
    return {name: value for name, value in response.headers.items() if name not in {"date", "content-length"}}


def test_a_hit_is_answered_before_routing_with_the_routed_response(workload, monkeypatch):
    """TaskerAnalyticsApp answers hits itself; its response equals the routed handler's."""
    from tasker_analytics.api import app as app_module

    analytics = Analytics(_settings(workload))
    application = create_app(analytics.settings, analytics)
    routed = _RoutedCalls(application)
    application.asgi_handler = routed  # type: ignore[method-assign]
    params = {"namespace": "payments", "period": 12, "limit": 4}
    with TestClient(application) as client:
        miss = client.get(BOTTLENECKS, params=params)
        assert miss.headers["x-cache"] == "miss" and routed.count == 1
        fast = [client.get(BOTTLENECKS, params=params), client.get(PERFORMANCE), client.get(PERFORMANCE)]
        assert routed.count == 2, "only the performance miss is routed"
        assert [response.headers["x-cache"] for response in fast] == ["hit", "miss", "hit"]
        # The same requests through the routed handlers alone give the same responses.
        monkeypatch.setattr(app_module, "_HITS", {})
        slow = [client.get(BOTTLENECKS, params=params), client.get(PERFORMANCE)]
        assert routed.count == 4
    for quick, routed_response in zip([fast[0], fast[2]], slow, strict=True):
        assert quick.status_code == routed_response.status_code == 200
        assert _headers(quick) == _headers(routed_response)
        assert _without(quick.json(), "freshness_seconds", "resource_utilization") == _without(
            routed_response.json(), "freshness_seconds", "resource_utilization"
        )


def test_before_routing_a_cached_key_still_needs_credentials_and_valid_input(workload):
    """With a key cached, a request without a valid token gets 401 (never the body) and one
    with a bad parameter the 400 naming it: both go on to the routed path, which renders them."""
    from tasker_analytics.auth.settings import AuthSettings
    from tasker_analytics.auth.tokens import hash_service_token

    token = "a-service-token-for-the-pre-routing-test"
    settings = workload.settings(auth=AuthSettings(required=True, service_tokens=(("svc", hash_service_token(token)),)))
    application = create_app(settings)
    routed = _RoutedCalls(application)
    application.asgi_handler = routed  # type: ignore[method-assign]
    good = {"Authorization": f"Bearer {token}"}
    with TestClient(application) as client:
        for path in (BOTTLENECKS, PERFORMANCE):
            assert client.get(path, headers=good).headers["x-cache"] == "miss"
            etag = client.get(path, headers=good).headers["etag"]
            before = routed.count
            for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"If-None-Match": etag}):
                response = client.get(path, headers=headers)
                assert response.status_code == 401 and response.json()["error"] == "unauthorized"
                assert "slowest_tasks" not in response.text and "system_health_score" not in response.text
            assert routed.count == before + 3
        response = client.get(BOTTLENECKS, params={"period": "0"}, headers=good)
        assert response.status_code == 400 and response.json()["parameter"] == "period"
        response = client.get(PERFORMANCE, params={"period": "24"}, headers=good)
        assert response.status_code == 400 and response.json()["parameter"] == "period"
        response = client.get(BOTTLENECKS, headers={**good, "If-None-Match": etag})
        assert response.status_code == 200  # the performance ETag is not the bottlenecks one
        before = routed.count
        assert client.get(PERFORMANCE, headers={**good, "If-None-Match": etag}).status_code == 304
        assert routed.count == before, "a conditional hit is answered before routing"


@pytest.mark.parametrize(
    ("path", "params"),
    [(PERFORMANCE, {}), (BOTTLENECKS, {"namespace": "payments", "period": 13})],
)
def test_a_miss_authenticates_parses_and_looks_up_once(workload, monkeypatch, path, params):
    """The pass before routing and the routed handler share one authentication, one parse
    of the query string and one lookup of the encoded bodies; so does a refused request.
    A query string already accepted under the same settings is not parsed again."""
    import tasker_analytics.api.access as access
    from tasker_analytics.auth.settings import AuthSettings
    from tasker_analytics.auth.tokens import Authenticator, hash_service_token

    token = "a-service-token-that-is-long-enough-0123456789"
    auth = AuthSettings(required=True, service_tokens=(("dashboards", hash_service_token(token)),))
    settings = workload.settings(auth=auth)
    calls = {"authenticate": 0, "parse": 0, "lookup": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(Authenticator, "authenticate", counted("authenticate", Authenticator.authenticate))
    monkeypatch.setattr(access, "query_values", counted("parse", access.query_values))
    monkeypatch.setattr(Analytics, "encoded_hit", counted("lookup", Analytics.encoded_hit))
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {token}"}

        def sent(**kwargs):
            before = dict(calls)
            response = client.get(path, **kwargs)
            return response, {name: calls[name] - before[name] for name in calls}

        # The first request of a process looks nothing up until a build is known.
        miss, counted_calls = sent(params=params, headers=headers)
        assert miss.status_code == 200 and miss.headers["x-cache"] == "miss"
        assert counted_calls["authenticate"] == 1 and counted_calls["parse"] == 1 and counted_calls["lookup"] <= 1
        hit, counted_calls = sent(params=params, headers=headers)
        assert hit.status_code == 200 and hit.headers["x-cache"] == "hit"
        # The same query string under the same settings was parsed by the miss.
        assert counted_calls == {"authenticate": 1, "parse": 0, "lookup": 1}
        bad, counted_calls = sent(params={**params, "bogus": "1"}, headers=headers)
        assert bad.status_code == 400 and bad.json()["parameter"] == "bogus"
        assert counted_calls == {"authenticate": 1, "parse": 1, "lookup": 0}
        refused, counted_calls = sent(params=params, headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401
        assert counted_calls == {"authenticate": 1, "parse": 0, "lookup": 0}
