"""Serving like production (docs/API.md, Headers, caching and auth): cache headers, ETag/304, a cache keyed
by build and scope, publishing builds without a restart, probes, resource utilization."""

from __future__ import annotations

import json
import threading
import time
from email.utils import parsedate_to_datetime

import pytest
from litestar.testing import TestClient

from tasker_analytics.api.app import create_app
from tasker_analytics.build.project import BuildError
from tasker_analytics.build.runner import build
from tasker_analytics.cache.store import MemoryStore, RedisStore, ResponseCache
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery

PERFORMANCE = "/tasker/analytics/performance"
BOTTLENECKS = "/tasker/analytics/bottlenecks"


def test_cache_control_max_age_values(client):
    assert client.get(PERFORMANCE).headers["cache-control"] == "public, max-age=90"
    assert client.get(BOTTLENECKS).headers["cache-control"] == "public, max-age=120"


def test_ttls_are_configurable(workload):
    settings = Settings.from_env(
        {
            "TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path),
            "TASKER_ANALYTICS_CACHE_TTL": "30",
            "TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL": "45",
        }
    )
    with TestClient(create_app(settings)) as test_client:
        assert test_client.get(PERFORMANCE).headers["cache-control"] == "public, max-age=30"
        response = test_client.get(BOTTLENECKS)
        assert response.headers["cache-control"] == "public, max-age=45"
        assert response.json()["cache_info"]["ttl_seconds"] == 45


def test_second_request_is_a_cache_hit_with_the_same_body(client):
    first = client.get(BOTTLENECKS, params={"namespace": "payments", "period": 48})
    second = client.get(BOTTLENECKS, params={"namespace": "payments", "period": 48})
    assert first.json()["cache_info"]["status"] == "miss"
    assert second.json()["cache_info"]["status"] == "hit"
    assert second.headers["x-cache"] == "hit"
    key = second.json()["cache_info"]["key"]
    parameters = {"limit": 10, "namespace": "payments", "period": 48}
    assert json.loads(key)[1:] == ["bottlenecks", second.json()["build_id"], 120, parameters]
    strip = lambda body: {k: v for k, v in body.items() if k not in {"cache_info", "freshness_seconds"}}  # noqa: E731
    assert strip(first.json()) == strip(second.json())


def test_scopes_never_collide(client):
    payments = client.get(BOTTLENECKS, params={"namespace": "payments"}).json()
    ecommerce = client.get(BOTTLENECKS, params={"namespace": "ecommerce"}).json()
    assert {task["namespace"] for task in payments["slowest_tasks"]} == {"payments"}
    assert {task["namespace"] for task in ecommerce["slowest_tasks"]} == {"ecommerce"}
    assert payments["cache_info"]["key"] != ecommerce["cache_info"]["key"]


def test_etag_changes_exactly_with_the_parameters(client):
    tag = lambda **params: client.get(BOTTLENECKS, params=params).headers["etag"]  # noqa: E731
    assert tag(period=24) == tag(period=24) == tag()
    assert tag(name="process_order") == tag(task_name="process_order")
    tags = {tag(), tag(period=12), tag(limit=5), tag(namespace="payments"), tag(version="1.0.0")}
    assert len(tags) == 5
    assert client.get(PERFORMANCE).headers["etag"] not in tags


def test_if_none_match_gives_304_with_an_empty_body(client):
    first = client.get(PERFORMANCE)
    etag = first.headers["etag"]
    second = client.get(PERFORMANCE, headers={"If-None-Match": etag})
    assert second.status_code == 304
    assert second.content == b""
    assert second.headers["etag"] == etag
    assert second.headers["cache-control"] == "public, max-age=90"
    assert client.get(PERFORMANCE, headers={"If-None-Match": '"something-else"'}).status_code == 200
    assert client.get(PERFORMANCE, headers={"If-None-Match": f'"x", {etag}'}).status_code == 304


def test_last_modified_is_the_build_time_and_the_build_id_is_a_header(client):
    response = client.get(PERFORMANCE)
    body = response.json()
    assert response.headers["x-build-id"] == body["build_id"]
    modified = parsedate_to_datetime(response.headers["last-modified"]).replace(tzinfo=None)
    built = body["built_at"][:19]
    assert modified.isoformat() == built


def test_resource_utilization(client, workload):
    client.get(PERFORMANCE)
    body = client.get(PERFORMANCE).json()
    resources = body["resource_utilization"]
    assert resources["warehouse"]["engine"] == "duckdb"
    assert resources["warehouse"]["build_id"] == body["build_id"]
    assert resources["warehouse"]["size_bytes"] > 0
    assert resources["warehouse"]["build_duration_seconds"] > 0
    assert resources["cache"]["backend"] == "memory"
    assert resources["cache"]["hits"] >= 1 and resources["cache"]["entries"] >= 1
    assert 0 < resources["cache"]["hit_ratio"] <= 1
    assert resources["background_jobs"]["enabled"] is False


def test_probes(client, tmp_path):
    assert client.get("/health/live").status_code == 200
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["build_id"]
    with TestClient(create_app(Settings(duckdb_path=tmp_path / "none.duckdb"))) as empty:
        assert empty.get("/health/live").status_code == 200
        assert empty.get("/health/ready").status_code == 503


def test_a_new_build_is_picked_up_without_a_restart_and_changes_the_etag(tmp_path):
    from helpers.workloads import build_duckdb_workload

    workload = build_duckdb_workload(tmp_path, tasks=500, seed=3)
    with TestClient(create_app(workload.settings())) as test_client:
        before = test_client.get(BOTTLENECKS)
        assert test_client.get(BOTTLENECKS).json()["cache_info"]["status"] == "hit"
        build(
            workload.settings(),
            source_duckdb=str(workload.source_path),
            as_of="2026-11-28 11:00:00",
            quiet=True,
            extra_env={"DBT_TARGET_PATH": str(tmp_path / "target2")},
        )
        after = test_client.get(BOTTLENECKS)
        assert after.json()["build_id"] != before.json()["build_id"]
        assert after.json()["data_as_of"].startswith("2026-11-28T11:00:00")
        assert after.json()["cache_info"]["status"] == "miss"
        assert after.headers["etag"] != before.headers["etag"]
        stale = test_client.get(BOTTLENECKS, headers={"If-None-Match": before.headers["etag"]})
        assert stale.status_code == 200


def test_a_failed_build_leaves_the_previous_one_serving(tmp_path):
    from helpers.workloads import build_duckdb_workload

    workload = build_duckdb_workload(tmp_path, tasks=300, seed=4)
    broken_source = tmp_path / "broken.duckdb"
    import duckdb

    duckdb.connect(str(broken_source)).close()  # a database without the Tasker tables
    with TestClient(create_app(workload.settings())) as test_client:
        before = test_client.get(PERFORMANCE).json()["build_id"]
        with pytest.raises(BuildError):
            build(
                workload.settings(),
                source_duckdb=str(broken_source),
                quiet=True,
                extra_env={"DBT_TARGET_PATH": str(tmp_path / "target3")},
            )
        response = test_client.get(PERFORMANCE)
        assert response.status_code == 200 and response.json()["build_id"] == before
    assert len(list((tmp_path / "builds").glob("*.duckdb"))) == 1


def test_concurrent_misses_compute_once():
    cache = ResponseCache(MemoryStore())
    calls = []

    def compute() -> bytes:
        calls.append(1)
        time.sleep(0.2)
        return b"value"

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_compute("k", 60, compute))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert sorted(hit for _, hit in results) == [False] + [True] * 7
    assert all(value == b"value" for value, _ in results)


def test_redis_cache_is_shared_between_two_app_instances(workload, redis_url):
    settings = workload.settings(redis_url=redis_url)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        params = {"period": 7, "limit": 3, "version": "1.0.0"}
        a = first.get(BOTTLENECKS, params=params).json()
        b = second.get(BOTTLENECKS, params=params).json()
    assert a["cache_info"]["status"] in {"miss", "hit"}
    assert b["cache_info"]["status"] == "hit"
    assert a["cache_info"]["key"] == b["cache_info"]["key"]
    assert a["slowest_tasks"] == b["slowest_tasks"]


def test_redis_concurrent_misses_compute_once_across_instances(redis_url):
    key = f"test-single-flight-{time.time_ns()}"
    caches = [ResponseCache(RedisStore(redis_url)) for _ in range(4)]
    calls = []

    def compute() -> bytes:
        calls.append(1)
        time.sleep(0.3)
        return b"shared"

    results = []
    threads = [
        threading.Thread(target=lambda cache=cache: results.append(cache.get_or_compute(key, 30, compute)))
        for cache in caches
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and all(value == b"shared" for value, _ in results)


def test_a_value_stored_just_before_the_lock_is_taken_is_not_computed_again(redis_url):
    """The race a loaded machine hits: the worker holding a key's Redis lock stores the
    value and lets go between another worker's last look and its acquire. The other worker
    then holds the lock, and must find the value rather than compute it a second time."""
    key = f"test-lock-race-{time.time_ns()}"

    class HolderFinishesFirst(RedisStore):
        def acquire(self, name: str) -> bool:
            self.set(name, b"stored by the holder", 30)  # the holder's set, then its release
            return super().acquire(name)

    store = HolderFinishesFirst(redis_url)
    calls = []
    value, hit = ResponseCache(store).get_or_compute(key, 30, lambda: calls.append(1) or b"computed again")
    assert (value, hit, calls) == (b"stored by the holder", True, [])
    assert store.acquire(key), "the lock was released"


def test_python_api_is_cached_like_the_endpoint(workload):
    analytics = Analytics(workload.settings())
    try:
        first = analytics.bottleneck_analysis(BottleneckQuery(period=5))
        second = analytics.bottleneck_analysis(BottleneckQuery(period=5))
    finally:
        analytics.close()
    assert first.cache_info.status == "miss" and second.cache_info.status == "hit"
    assert first.slowest_steps == second.slowest_steps
