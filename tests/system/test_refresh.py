"""Refresh while serving: rebuilds under load with no failed request and no response
mixing two builds; background aggregation rebuilds on its own."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from litestar.testing import TestClient

from helpers.workloads import build_duckdb_workload, build_postgres_workload, drop_schemas
from tasker_analytics.api.app import create_app
from tasker_analytics.build.runner import build
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery

VOLATILE = {"freshness_seconds", "cache_info", "resource_utilization"}
REQUESTS = [
    ("/tasker/analytics/performance", {}),
    ("/tasker/analytics/bottlenecks", {}),
    ("/tasker/analytics/bottlenecks", {"period": 168}),
    ("/tasker/analytics/bottlenecks", {"namespace": "payments", "period": 72}),
    ("/tasker/analytics/bottlenecks", {"namespace": "ecommerce", "task_name": "process_order", "limit": 3}),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stable(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in VOLATILE}


def _expected(build_file: Path, path: str, params: dict) -> dict:
    analytics = Analytics(Settings(duckdb_path=build_file, performance_cache_ttl=0, bottlenecks_cache_ttl=0))
    try:
        if path.endswith("performance"):
            body = analytics.performance_metrics()
        else:
            body = analytics.bottleneck_analysis(BottleneckQuery.validated(analytics.settings, **params))
    finally:
        analytics.close()
    return _stable(_to_json(body))


def _to_json(body) -> dict:
    import msgspec

    return msgspec.json.decode(msgspec.json.encode(body))


@pytest.mark.load
def test_three_rebuilds_under_load_fail_nothing_and_never_mix_builds(tmp_path):
    workload = build_duckdb_workload(tmp_path, tasks=2000, seed=11)
    port = _free_port()
    env = {
        **os.environ,
        "TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path),
        "TASKER_ANALYTICS_KEEP_BUILDS": "10",
        "TASKER_ANALYTICS_WORKERS": "2",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("tasker-analytics")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    responses: list[tuple[str, dict, int, str | None, dict | None]] = []
    failures: list[str] = []
    stop = threading.Event()

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=10) as http:
            while not stop.is_set():
                path, params = rng.choice(REQUESTS)
                try:
                    response = http.get(path, params=params)
                    body = response.json()
                    responses.append((path, params, response.status_code, response.headers.get("x-build-id"), body))
                except Exception as error:  # every failure counts
                    failures.append(f"{path} {params}: {error!r}")

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not become ready"
            time.sleep(0.3)
        threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        as_ofs = ["2026-11-28 10:00:00", "2026-11-28 10:30:00", "2026-11-28 11:00:00"]
        for index, as_of in enumerate(as_ofs):
            build(
                workload.settings(keep_builds=10),
                source_duckdb=str(workload.source_path),
                as_of=as_of,
                quiet=True,
                extra_env={"DBT_TARGET_PATH": str(tmp_path / f"target-{index}")},
            )
            time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

    assert failures == []
    assert len(responses) > 100
    assert [r for r in responses if r[2] != 200] == []
    assert all(header == body["build_id"] for _, _, _, header, body in responses)

    builds = {}
    for build_file in (tmp_path / "builds").glob("*.duckdb"):
        analytics = Analytics(Settings(duckdb_path=build_file))
        builds[analytics.warehouse.current_build().build_id] = build_file
        analytics.close()
    seen = {body["build_id"] for *_, body in responses}
    assert len(seen) >= 3, seen  # the first build, at least one rebuild, and the last
    assert seen <= builds.keys()
    expected_cache = {}
    for path, params, _, build_id, body in responses:
        key = (build_id, path, tuple(sorted(params.items())))
        if key not in expected_cache:
            expected_cache[key] = _expected(builds[build_id], path, params)
        assert _stable(body) == expected_cache[key], key
    last = max(builds, key=lambda build_id: builds[build_id].name)
    assert responses[-1][3] == last or responses[-1][4]["data_as_of"].startswith("2026-11-28T11:00:00")


def test_background_aggregation_rebuilds_and_reports(tmp_path, monkeypatch):
    workload = build_duckdb_workload(tmp_path, tasks=300, seed=12)
    monkeypatch.setenv("TASKER_ANALYTICS_DUCKDB_PATH", str(workload.warehouse_path))
    monkeypatch.setenv("TASKER_SOURCE_DUCKDB_PATH", str(workload.source_path))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "background-target"))
    settings = workload.settings(background_aggregation=True, aggregation_interval_seconds=1)
    with TestClient(create_app(settings)) as test_client:
        first = test_client.get("/tasker/analytics/performance").json()
        deadline = time.monotonic() + 180
        while True:
            jobs = test_client.get("/tasker/analytics/performance").json()["resource_utilization"]["background_jobs"]
            if jobs["last_status"] is not None and not jobs["running"]:
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(0.5)
        latest = test_client.get("/tasker/analytics/performance").json()
    assert jobs["enabled"] is True and jobs["interval_seconds"] == 1
    assert jobs["last_status"] == "succeeded", Path(jobs["last_log"]).read_text()[-3000:]
    assert jobs["last_duration_seconds"] > 0
    assert "Done. PASS=" in Path(jobs["last_log"]).read_text()
    assert latest["build_id"] != first["build_id"]


@pytest.mark.postgres
@pytest.mark.load
def test_postgres_rebuilds_under_load_fail_nothing_and_never_mix_builds(postgres_dsn, tmp_path):
    postgres_workload = build_postgres_workload(postgres_dsn, tasks=1500, seed=13, target_dir=tmp_path)
    try:
        _hammer_postgres_during_rebuilds(postgres_workload, tmp_path)
    finally:
        drop_schemas(postgres_dsn, postgres_workload.source_schema, postgres_workload.schema)


def _hammer_postgres_during_rebuilds(postgres_workload, tmp_path) -> None:
    settings = postgres_workload.settings()
    responses: list[tuple[str, dict, int, dict]] = []
    failures: list[str] = []
    stop = threading.Event()
    with TestClient(create_app(settings)) as test_client:

        def hammer(seed: int) -> None:
            rng = random.Random(seed)
            while not stop.is_set():
                path, params = rng.choice(REQUESTS)
                try:
                    response = test_client.get(path, params=params)
                    responses.append((path, params, response.status_code, response.json()))
                except Exception as error:  # every failure counts
                    failures.append(f"{path} {params}: {error!r}")

        threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(3)]
        for thread in threads:
            thread.start()
        try:
            # Two publishes: the fixture's build and the first one are read under load (the
            # load stops when the second is published; `last` below reads that one).
            for index, as_of in enumerate(["2026-11-28 10:30:00", "2026-11-28 11:00:00"]):
                build(
                    settings,
                    as_of=as_of,
                    quiet=True,
                    extra_env={
                        "TASKER_SOURCE_SCHEMA": postgres_workload.source_schema,
                        "DBT_TARGET_PATH": str(tmp_path / f"target-{index}"),
                    },
                )
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        time.sleep(1.5)  # the server trusts the build id it read for up to a second
        last = test_client.get("/tasker/analytics/performance").json()

    assert failures == []
    assert len(responses) > 50
    assert [(path, status, body) for path, _, status, body in responses if status != 200] == []
    # Every response is whole from one build: same build id, same body (the cache may have
    # served it or not; both must agree).
    by_key: dict[tuple, dict] = {}
    for path, params, _, body in responses:
        key = (body["build_id"], path, tuple(sorted(params.items())))
        assert by_key.setdefault(key, _stable(body)) == _stable(body), key
    as_of_by_build = {body["build_id"]: body["data_as_of"] for *_, body in responses}
    assert len(as_of_by_build) >= 2
    assert len(set(as_of_by_build.values())) == len(as_of_by_build)  # one as_of per build, never mixed
    assert last["data_as_of"].startswith("2026-11-28T11:00:00")
