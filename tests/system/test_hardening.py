"""The server tried as an attacker and as an operator would (docs/RELIABILITY.md): cache
isolation, a killed worker, a flood of uncached requests, a hung or crowded Redis, what a
body may say about the machine, a corrupt build, a taken port, and the small items."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import jwt
import msgspec
import pytest
import redis
from litestar.testing import TestClient

from helpers.figures import record_figure
from helpers.paths import HELPERS
from helpers.servers import COMMAND, free_port, running_server
from helpers.services import service_missing
from tasker_analytics.api.app import create_app
from tasker_analytics.auth.settings import AuthSettings
from tasker_analytics.auth.tokens import hash_service_token
from tasker_analytics.cache.encoded import cache_key, etag_of
from tasker_analytics.cache.store import KEY_PREFIX
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.query import SCOPE_WIDTHS

BASE = "/tasker/analytics"
PERFORMANCE = f"{BASE}/performance"
BOTTLENECKS = f"{BASE}/bottlenecks"
SECRET = "a-hardening-test-secret-of-at-least-32-bytes"


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# -- 1. cache isolation ---------------------------------------------------------------------

# The other parameters a scope value may try to spell, with short values (a version is at
# most 16 characters).
_SPELLED = {"namespace": "b", "task_name": "c", "version": "d", "period": "2", "limit": "3", "name": "c"}
_SEPARATORS = [("&", "="), ("|", "="), ("%26", "%3D"), ("&", ""), ("\n", "="), ("\x00", "=")]


def _isolation_requests(parameter: str) -> list[dict[str, str]]:
    """Requests whose parsed parameters differ, some of whose `parameter` value spells the
    others: {parameter: "a", other: value} beside {parameter: "a<sep>other<eq>value"}."""
    requests: list[dict[str, str]] = [{parameter: "a"}]
    for other, value in _SPELLED.items():
        if other in (parameter, "name") or (parameter == "task_name" and other == "name"):
            continue
        requests.append({parameter: "a", other: value})
        for separator, equals in _SEPARATORS:
            requests.append({parameter: f"a{separator}{other}{equals}{value}"})
            requests.append({parameter: f"a{separator}{other}{equals}{value}", other: value})
    return requests


def _scope_of(request: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in request.items() if name in ("namespace", "task_name", "version")}


def _isolation_pass(clients, parameter: str) -> None:
    seen_keys: dict[str, dict] = {}
    seen_etags: dict[str, dict] = {}
    served = []
    for index, request in enumerate(_isolation_requests(parameter)):
        response = clients[index % len(clients)].get(BOTTLENECKS, params=request)
        if any(ord(char) < 32 for char in request[parameter]) or len(request[parameter]) > SCOPE_WIDTHS[parameter]:
            assert response.status_code == 400, (request, response.text)
            assert response.json()["parameter"] == parameter
            continue
        assert response.status_code == 200, (request, response.text)
        body = response.json()
        assert body["scope"] == _scope_of(request), request
        key, etag = body["cache_info"]["key"], response.headers["etag"]
        assert seen_keys.setdefault(key, request) == request, f"{request} shares a key with {seen_keys[key]}"
        assert seen_etags.setdefault(etag, request) == request, f"{request} shares an ETag with {seen_etags[etag]}"
        served.append((request, etag))
    # Asked again, in the other order and by the other client: each its own hit.
    for index, (request, etag) in enumerate(reversed(served)):
        response = clients[(index + 1) % len(clients)].get(BOTTLENECKS, params=request)
        assert response.json()["scope"] == _scope_of(request) and response.headers["etag"] == etag, request
        assert response.headers["x-cache"] == "hit"
    assert len(served) > 20


@pytest.mark.parametrize("parameter", ["namespace", "task_name", "version"])
def test_a_scope_value_spelling_other_parameters_never_shares_a_key_or_an_etag(workload, parameter):
    """Two callers with their own tokens: neither's request ever fills the other's entry."""
    tokens = ["first-service-token-of-the-isolation-test", "second-service-token-of-the-isolation-test"]
    auth = AuthSettings(
        required=True, service_tokens=tuple((f"s{i}", hash_service_token(t)) for i, t in enumerate(tokens))
    )
    with TestClient(create_app(workload.settings(auth=auth))) as client:
        callers = [_Authorized(client, token) for token in tokens]
        _isolation_pass(callers, parameter)


def test_scope_isolation_holds_across_instances_sharing_redis(workload, redis_url):
    settings = workload.settings(redis_url=redis_url)
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        _isolation_pass([first, second], "task_name")


class _Authorized:
    def __init__(self, client, token: str):
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, path, params):
        return self.client.get(path, params=params, headers=self.headers)


def test_cache_keys_are_unambiguous_for_any_value():
    """At the key function itself, control characters included (the Python API takes them)."""
    values = ["a", "a&version=d", "a|version=d", "a\nversion=d", "a\x00version=d", 'a","version":"d', "a=", "=a"]
    requests: list[dict] = [{"namespace": value} for value in values]
    requests += [{"namespace": "a", "version": "d"}, {"namespace": "a", "version": "d", "period": 24}]
    requests += [{"namespace": "a", "period": "24"}, {"namespace": "a", "period": 24}]
    assert len({cache_key("bottlenecks", request, "build", 120) for request in requests}) == len(requests)
    assert len({etag_of("bottlenecks", request, "build") for request in requests}) == len(requests)
    # The TTL class and the build are part of the key; the ETag follows the build, not the TTL.
    assert cache_key("bottlenecks", {}, "b1", 120) != cache_key("bottlenecks", {}, "b1", 60)
    assert etag_of("bottlenecks", {}, "b1") != etag_of("bottlenecks", {}, "b2")
    assert etag_of("bottlenecks", {}, "b1") != etag_of("performance", {}, "b1")


# -- 2. a crashed worker --------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    completed = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in completed.stdout.split()]


def test_a_killed_worker_is_respawned_and_requests_answer_again_within_5_s(workload):
    env = {"TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path)}
    with running_server(env) as server:
        url = f"{server.base}{PERFORMANCE}"
        assert httpx.get(url, timeout=10).status_code == 200
        statuses: list[tuple[float, int]] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(timeout=2) as http:
                while not stop.is_set():
                    try:
                        statuses.append((time.monotonic(), http.get(url).status_code))
                    except httpx.HTTPError:
                        statuses.append((time.monotonic(), 0))
                        time.sleep(0.05)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        (worker,) = _children(server.process.pid)
        killed = time.monotonic()
        os.kill(worker, signal.SIGKILL)
        time.sleep(6.0)
        stop.set()
        for thread in threads:
            thread.join()
        assert server.process.poll() is None, "the server exited when its worker was killed"
        after = [(moment - killed, status) for moment, status in statuses if moment > killed]
        failed = [offset for offset, status in after if status != 200]
        assert all(offset < 5.0 for offset in failed), f"requests failed {max(failed):.1f} s after the kill"
        assert [status for offset, status in after if offset >= 5.0] and all(
            status == 200 for offset, status in after if offset >= 5.0
        )
        new_workers = _children(server.process.pid)
        assert new_workers and worker not in new_workers
    record_figure("worker SIGKILL: last failed request after the kill, s", round(max(failed, default=0.0), 2))
    record_figure("worker SIGKILL: requests failed / answered after the kill", f"{len(failed)} / {len(after)}")


# -- 3. a flood of uncached requests --------------------------------------------------------


@pytest.mark.load
def test_a_flood_of_uncached_requests_is_bounded_and_probes_stay_fast(workload):
    """64 connections asking for distinct uncached bodies for 4 s, each giving up after
    0.5 s, from another process; meanwhile liveness, readiness and a cached hit are timed."""
    env = {"TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path)}
    with running_server(env) as server:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            assert http.get(PERFORMANCE).status_code == 200  # the cached hit probed below
            bodies = []
            for period in (167, 150, 140):
                began = time.monotonic()
                assert http.get(BOTTLENECKS, params={"period": period, "limit": 49}).status_code == 200
                bodies.append(time.monotonic() - began)
            one_body = max(bodies)
            probes: dict[str, list[float]] = {"/health/live": [], "/health/ready": [], PERFORMANCE: []}
            flood = subprocess.Popen(
                [sys.executable, str(HELPERS / "flood_client.py"), server.base, "4", "64", "0.5"],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(0.5)
            while flood.poll() is None:
                for path, latencies in probes.items():
                    began = time.monotonic()
                    assert http.get(path).status_code == 200, path
                    latencies.append(time.monotonic() - began)
                time.sleep(0.02)
            outcomes = json.loads(flood.stdout.read())
            time.sleep(3.0)
            began = time.monotonic()
            late = http.get(BOTTLENECKS, params={"period": 166, "limit": 48})
            after_flood = time.monotonic() - began
    assert late.status_code == 200
    assert set(outcomes["statuses"]) <= {"200", "503", "timeout"}, outcomes["statuses"]
    assert outcomes["turned_away"], f"no request was turned away: the queue is not bounded ({outcomes['statuses']})"
    for turned_away in outcomes["turned_away"]:
        assert turned_away["body"]["error"] == "overloaded" and int(turned_away["retry_after"]) >= 1
    for path, latencies in probes.items():
        record_figure(f"flood: {path} p99 ms ({len(latencies)} probes)", round(_p99(latencies) * 1000, 1))
    record_figure("flood: responses by status", json.dumps(outcomes["statuses"], sort_keys=True))
    record_figure("flood: one body idle, ms", round(one_body * 1000, 1))
    record_figure("flood: a new uncached request 3 s after, ms", round(after_flood * 1000, 1))
    for path, latencies in probes.items():
        assert len(latencies) >= 20 and _p99(latencies) < 0.05, (path, len(latencies), _p99(latencies))
    # Abandoned requests computed nothing: the one after the flood waits for at most the
    # body that was already computing (one slot), not for a backlog.
    assert after_flood < 2 * one_body + 0.25, (after_flood, one_body)


def test_a_burst_of_identical_misses_is_one_computation_and_no_503(workload):
    """What every client does right after a new build is published: ask for the same
    bodies at once. They share one computation and none is turned away."""
    env = {"TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path), "TASKER_ANALYTICS_MAX_WAITING_MISSES": "2"}
    with running_server(env) as server:
        with httpx.Client(base_url=server.base, timeout=30) as http:
            misses_before = http.get(PERFORMANCE).json()["resource_utilization"]["cache"]["misses"]
        statuses: list[int] = []

        def ask() -> None:
            with httpx.Client(base_url=server.base, timeout=30) as http:
                statuses.append(http.get(BOTTLENECKS, params={"period": 77, "limit": 7}).status_code)

        threads = [threading.Thread(target=ask) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with httpx.Client(base_url=server.base, timeout=30) as http:
            misses_after = http.get(PERFORMANCE).json()["resource_utilization"]["cache"]["misses"]
    assert statuses == [200] * 40
    assert misses_after - misses_before == 1


# -- 4. Redis hung, crowded or garbled ------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path):
    """A Redis server of this test's own, so that it can be stopped and filled."""
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=5)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    yield process, client, f"redis://127.0.0.1:{port}/0"
    process.send_signal(signal.SIGCONT)
    process.kill()
    process.wait(timeout=10)


def test_a_hung_redis_never_stalls_a_request(workload, private_redis):
    process, _, url = private_redis
    with TestClient(create_app(workload.settings(redis_url=url))) as client:
        assert client.get(PERFORMANCE).status_code == 200
        assert client.get(PERFORMANCE).headers["x-cache"] == "hit"
        process.send_signal(signal.SIGSTOP)
        try:
            time.sleep(1.2)  # past the entry count's reuse, so a hit would count again
            latencies = []
            for _ in range(10):
                began = time.monotonic()
                assert client.get(PERFORMANCE).status_code == 200
                assert client.get("/health/live").status_code == 200
                latencies.append(time.monotonic() - began)
                time.sleep(0.15)
            record_figure("Redis stopped: hit + liveness, slowest of 10, ms", round(max(latencies) * 1000, 1))
            assert max(latencies) < 0.1, latencies
            began = time.monotonic()
            miss = client.get(BOTTLENECKS, params={"period": 5})
            record_figure("Redis stopped: an uncached body, ms", round((time.monotonic() - began) * 1000, 1))
            assert miss.status_code == 200 and time.monotonic() - began < 2.0, time.monotonic() - began
            # Redis down: the fallback in memory still caches.
            assert client.get(BOTTLENECKS, params={"period": 5}).json()["cache_info"]["status"] == "hit"
        finally:
            process.send_signal(signal.SIGCONT)


def test_hits_stay_fast_with_many_foreign_keys_in_redis_and_count_only_ours(workload, private_redis):
    _, direct, url = private_redis
    for start in range(0, 200_000, 20_000):  # someone else's keys in the same database
        direct.mset({f"someone-else:{number}": b"x" for number in range(start, start + 20_000)})
    assert direct.dbsize() == 200_000
    with TestClient(create_app(workload.settings(redis_url=url))) as client:
        for period in (1, 2, 3):
            assert client.get(BOTTLENECKS, params={"period": period}).status_code == 200
        assert client.get(PERFORMANCE).status_code == 200
        latencies, entries = [], []
        for _ in range(30):
            began = time.monotonic()
            response = client.get(PERFORMANCE)
            latencies.append(time.monotonic() - began)
            entries.append(response.json()["resource_utilization"]["cache"]["entries"])
            time.sleep(0.1)
    record_figure("200k foreign Redis keys: slowest of 30 hits, ms", round(max(latencies) * 1000, 1))
    assert max(latencies) < 0.05, sorted(latencies)[-3:]
    assert entries[-1] == 4, entries  # three bottleneck bodies and the performance body


def test_a_cached_value_that_does_not_decode_is_a_miss_and_is_overwritten(workload, private_redis):
    _, direct, url = private_redis
    settings = workload.settings(redis_url=url)
    with TestClient(create_app(settings)) as client:
        build_id = client.get(PERFORMANCE).json()["build_id"]
        garbage = [b"\xc1not msgpack", msgspec.msgpack.encode({"unexpected": "shape"}), b""]
        for period, value in enumerate(garbage, start=9):
            key = cache_key("bottlenecks", {"period": period, "limit": 10}, build_id, settings.bottlenecks_cache_ttl)
            direct.set(KEY_PREFIX + key, value, ex=60)
            response = client.get(BOTTLENECKS, params={"period": period})
            assert response.status_code == 200 and response.json()["cache_info"]["status"] == "miss"
            assert response.json()["period_hours"] == period
            stored = direct.get(KEY_PREFIX + key)
            assert stored != value and msgspec.msgpack.decode(stored)["period_hours"] == period


# -- 5. nothing internal in a body; 6. a corrupt build -------------------------------------


def _assert_nothing_internal(text: str, *secrets: str) -> None:
    for secret in ("/tmp", "/work", "/home", "/root", "checksum", "block at location", *secrets):
        assert secret not in text, (secret, text)


def test_bodies_name_files_and_builds_never_paths_or_hosts(workload, tmp_path):
    with TestClient(create_app(workload.settings())) as client:
        warehouse = client.get(PERFORMANCE).json()["resource_utilization"]["warehouse"]
    assert "/" not in warehouse["location"] and warehouse["location"].endswith(".duckdb")
    missing = tmp_path / "nowhere" / "analytics.duckdb"
    with TestClient(create_app(Settings(duckdb_path=missing))) as client:
        for path in (PERFORMANCE, BOTTLENECKS, "/health/ready"):
            response = client.get(path)
            assert response.status_code == 503
            _assert_nothing_internal(response.text, str(tmp_path))
            assert "analytics.duckdb" in response.json()["detail"]
    unreachable = Settings(warehouse="postgres", database_url="postgresql://analyst:pw@127.0.0.1:1/tasker")
    with TestClient(create_app(unreachable)) as client:
        for path in (PERFORMANCE, BOTTLENECKS, "/health/ready"):
            response = client.get(path)
            assert response.status_code == 503
            _assert_nothing_internal(response.text, "127.0.0.1", "port 1", "analyst", "pw@")


def _corrupt_copy(workload, directory: Path) -> Path:
    """A copy of the session build with most of its data blocks overwritten (the header
    and the catalog at the start stay readable, so the file opens)."""
    copy = directory / "corrupt-build.duckdb"
    shutil.copyfile(workload.warehouse_path.resolve(), copy)
    size = copy.stat().st_size
    with open(copy, "r+b") as handle:
        for offset in range(size // 4, size * 9 // 10, 4096):
            handle.seek(offset + 64)
            handle.write(b"\xa5" * 256)
    return copy


def test_a_corrupt_build_is_a_503_everywhere_naming_it(workload, tmp_path):
    copy = _corrupt_copy(workload, tmp_path)
    with TestClient(create_app(Settings(duckdb_path=copy))) as client:
        build_id = client.get("/health/ready").json().get("build_id")
        statuses = [client.get(BOTTLENECKS, params={"period": period}).status_code for period in (168, 24, 1)]
        assert 500 not in statuses and 503 in statuses, statuses
        for path in (BOTTLENECKS, PERFORMANCE, "/health/ready", f"{BASE}/metrics"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            detail = response.json()["detail"]
            assert "corrupt" in detail and copy.name in detail, detail
            assert build_id is None or build_id in detail
            _assert_nothing_internal(response.text, str(tmp_path))


# -- 7. a port in use -----------------------------------------------------------------------


def test_a_second_server_on_a_taken_port_refuses_to_start(workload):
    env = {"TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path)}
    with running_server(env) as server:
        completed = subprocess.run(
            [COMMAND, "serve", "--port", str(server.port)],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert completed.returncode == 2, completed
        assert f"port {server.port}" in completed.stderr and "in use" in completed.stderr
        assert "Traceback" not in completed.stderr


# -- 9. smaller items -----------------------------------------------------------------------


def test_head_answers_like_get_without_a_body(client):
    for path in (
        "/health/live",
        "/health/ready",
        PERFORMANCE,
        f"{BOTTLENECKS}?period=3",
        f"{BASE}/metrics",
        f"{BASE}/dashboard",
        "/schema/openapi.json",
    ):
        get, head = client.get(path), client.head(path)
        assert head.status_code == get.status_code == 200, (path, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
    assert client.head(f"{BOTTLENECKS}?period=abc").status_code == 400


def _token(**claims) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": "x", "exp": now + 600, "permissions": ["tasker.analytics:index"], **claims}, SECRET, "HS256"
    )


def test_time_claims_that_are_not_numbers_are_refused(workload):
    settings = workload.settings(auth=AuthSettings(required=True, jwt_secret=SECRET))
    now = int(time.time())
    with TestClient(create_app(settings)) as client:
        assert client.get(PERFORMANCE, headers={"Authorization": f"Bearer {_token()}"}).status_code == 200
        for claim, value in (("exp", str(now + 600)), ("nbf", str(now - 10)), ("iat", str(now)), ("exp", True)):
            response = client.get(PERFORMANCE, headers={"Authorization": f"Bearer {_token(**{claim: value})}"})
            assert response.status_code == 401, (claim, value)
            assert claim in response.json()["detail"]


def test_short_service_tokens_are_refused(workload):
    short = "short-token-of-31-characters-xx"
    assert len(short) == 31
    completed = subprocess.run([COMMAND, "hash-token", short], capture_output=True, text=True, check=False)
    assert completed.returncode == 2 and "at least 32 characters" in completed.stderr
    settings = workload.settings(auth=AuthSettings(required=True, service_tokens=(("s", hash_service_token(short)),)))
    with TestClient(create_app(settings)) as client:
        assert client.get(PERFORMANCE, headers={"Authorization": f"Bearer {short}"}).status_code == 401


def test_hash_token_reads_the_token_from_standard_input():
    token = "a-service-token-read-from-standard-input"
    completed = subprocess.run([COMMAND, "hash-token"], input=token + "\n", capture_output=True, text=True, check=False)
    assert completed.returncode == 0 and completed.stdout.strip() == hash_service_token(token)


def test_responses_authenticated_by_the_session_cookie_vary_on_cookie(workload):
    settings = workload.settings(auth=AuthSettings(required=True, jwt_secret=SECRET))
    with TestClient(create_app(settings), base_url="https://testserver.local") as client:
        assert client.post(f"{BASE}/session", headers={"Authorization": f"Bearer {_token()}"}).status_code == 204
        for path in (PERFORMANCE, BOTTLENECKS, f"{BASE}/metrics", f"{BASE}/grafana"):
            response = client.get(path)
            assert response.status_code == 200, path
            vary = {part.strip().lower() for part in response.headers["vary"].split(",")}
            assert {"cookie", "authorization"} <= vary, (path, vary)


def test_the_openapi_pages_load_no_third_party_script(client):
    response = client.get("/schema")
    assert response.status_code == 200 and response.json()["openapi"].startswith("3.")
    assert client.get("/schema/openapi.json").json() == response.json()
    for page in ("/schema/redoc", "/schema/swagger", "/schema/elements", "/schema/rapidoc"):
        assert client.get(page).status_code == 404, page
    assert b"<script" not in response.content
