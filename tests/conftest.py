"""Shared fixtures: a generated workload built with dbt on DuckDB (and on Postgres), and
HTTP clients of the app serving those builds.

Services: a test that needs PostgreSQL skips with a reason when it does not answer,
except under CI (the CI variable set), where a missing service fails the run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from litestar.testing import TestClient

from tasker_analytics.api.app import create_app
from tasker_analytics.build.postgres import postgres_build_schemas
from tasker_analytics.build.runner import build
from tasker_analytics.config.settings import PROJECT_DIR, Settings
from tasker_analytics.generate.workload import generate_workload
from tasker_analytics.generate.writers import write_duckdb, write_postgres

# The workload every server test reads: deterministic, and built with a dbt as_of 30
# minutes before the generator's end, so rows after as_of exist and must be ignored.
WORKLOAD_TASKS = 4000
WORKLOAD_SEED = 7
GENERATED_AS_OF = datetime(2026, 11, 28, 12, 0, 0)
BUILD_AS_OF = GENERATED_AS_OF - timedelta(minutes=30)
POSTGRES_DSN = os.environ.get("TASKER_ANALYTICS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

# dbt's own data and unit tests run in the session builds on DuckDB and Postgres (test_dbt_build
# checks them), in the incremental builds and (unit tests) on Spark. The suite's other builds
# exist to be served and rebuilt, so they leave them out (a third of a small build's time).
os.environ.setdefault("DBT_EXCLUDE_RESOURCE_TYPES", "test unit_test")
WITH_DBT_TESTS = {"DBT_EXCLUDE_RESOURCE_TYPES": ""}


@dataclass
class Workload:
    source_path: Path
    warehouse_path: Path
    as_of: datetime
    generated_as_of: datetime
    seed: int
    tasks: int
    build_output: str = ""
    project_dir: Path = PROJECT_DIR

    def settings(self, **overrides) -> Settings:
        return Settings(duckdb_path=self.warehouse_path, **overrides)


def build_duckdb_workload(
    directory: Path, *, tasks: int, seed: int, as_of: datetime = BUILD_AS_OF, dbt_tests: bool = False
) -> Workload:
    source = directory / "tasker_source.duckdb"
    warehouse = directory / "tasker_analytics.duckdb"
    write_duckdb(generate_workload(tasks=tasks, seed=seed, as_of=GENERATED_AS_OF), str(source))
    result = build(
        Settings(duckdb_path=warehouse),
        source_duckdb=str(source),
        as_of=as_of.isoformat(sep=" "),
        quiet=True,
        extra_env={
            "DBT_TARGET_PATH": str(directory / "target"),
            "DBT_LOG_PATH": str(directory / "logs"),
            **(WITH_DBT_TESTS if dbt_tests else {}),
        },
    )
    return Workload(source, warehouse, as_of, GENERATED_AS_OF, seed, tasks, result.output)


def service_missing(reason: str) -> None:
    """Skip locally, fail under CI, when a service a test needs does not answer."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing service fails the run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def workload(tmp_path_factory) -> Workload:
    return build_duckdb_workload(
        tmp_path_factory.mktemp("workload"), tasks=WORKLOAD_TASKS, seed=WORKLOAD_SEED, dbt_tests=True
    )


@pytest.fixture
def client(workload):
    with TestClient(create_app(workload.settings())) as test_client:
        yield test_client


REDIS_URL = os.environ.get("TASKER_ANALYTICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        service_missing(f"Redis at {REDIS_URL} does not answer: {error}")
    return REDIS_URL


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    try:
        with psycopg.connect(POSTGRES_DSN, connect_timeout=3) as connection:
            connection.execute("select 1")
    except psycopg.OperationalError as error:
        service_missing(f"PostgreSQL at {POSTGRES_DSN} does not answer: {error}".strip())
    return POSTGRES_DSN


@dataclass
class PostgresBuild:
    dsn: str
    source_schema: str
    schema: str
    build_output: str = ""

    def settings(self) -> Settings:
        return Settings(warehouse="postgres", database_url=self.dsn, database_schema=self.schema)


def build_postgres_workload(
    dsn: str, *, tasks: int, seed: int, target_dir: Path, dbt_tests: bool = False
) -> PostgresBuild:
    suffix = uuid.uuid4().hex[:8]
    result = PostgresBuild(dsn, f"test_tasker_{suffix}", f"test_analytics_{suffix}")
    write_postgres(generate_workload(tasks=tasks, seed=seed, as_of=GENERATED_AS_OF), dsn, schema=result.source_schema)
    result.build_output = build(
        result.settings(),
        as_of=BUILD_AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env={
            "TASKER_SOURCE_SCHEMA": result.source_schema,
            "DBT_TARGET_PATH": str(target_dir / "target"),
            "DBT_LOG_PATH": str(target_dir / "logs"),
            **(WITH_DBT_TESTS if dbt_tests else {}),
        },
    ).output
    return result


def drop_schemas(dsn: str, *schemas: str) -> None:
    """Drop schemas, and the build schemas of an analytics schema among them."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        for schema in schemas:
            for build_schema in postgres_build_schemas(connection, schema):
                connection.execute(f'drop schema if exists "{build_schema}" cascade')
            connection.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture(scope="session")
def postgres_workload(postgres_dsn, tmp_path_factory):
    built = build_postgres_workload(
        postgres_dsn,
        tasks=WORKLOAD_TASKS,
        seed=WORKLOAD_SEED,
        target_dir=tmp_path_factory.mktemp("pg"),
        dbt_tests=True,
    )
    yield built
    drop_schemas(postgres_dsn, built.source_schema, built.schema)


@pytest.fixture
def postgres_client(postgres_workload):
    with TestClient(create_app(postgres_workload.settings())) as test_client:
        yield test_client


# The endpoint bodies that must be identical between engines (test_engines, test_spark),
# and the fields that differ between any two builds or requests.
_VOLATILE = {"freshness_seconds", "build_id", "built_at", "cache_info", "resource_utilization"}
ENGINE_QUERIES = [
    ("/tasker/analytics/performance", {}),
    ("/tasker/analytics/bottlenecks", {}),
    ("/tasker/analytics/bottlenecks", {"period": 1}),
    ("/tasker/analytics/bottlenecks", {"period": 168, "limit": 50}),
    ("/tasker/analytics/bottlenecks", {"namespace": "ecommerce", "period": 72}),
    ("/tasker/analytics/bottlenecks", {"namespace": "payments", "period": 168}),
    ("/tasker/analytics/bottlenecks", {"namespace": "no_such_namespace"}),
]


def stable_body(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in _VOLATILE}


def closed_schema(schema):
    """An OpenAPI schema with additionalProperties: false on every object that lists its
    properties, so a response with an extra key fails validation (schemas match exactly)."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            schema.setdefault("additionalProperties", False)
        for value in schema.values():
            closed_schema(value)
    elif isinstance(schema, list):
        for value in schema:
            closed_schema(value)
    return schema


# -- a real server process (granian), for what only a real server shows --------------------

COMMAND = str(Path(sys.executable).with_name("tasker-analytics"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerProcess:
    process: subprocess.Popen
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.process.stdout.read() if self.process.stdout and self.process.poll() is not None else ""


@contextmanager
def running_server(env: dict[str, str], *arguments: str, ready_seconds: float = 60) -> Iterator[ServerProcess]:
    """`tasker-analytics serve` on a free port with `env` over this environment, once
    /health/live answers; stopped (the whole process group) on exit."""
    port = free_port()
    process = subprocess.Popen(
        [COMMAND, "serve", "--port", str(port), *arguments],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = ServerProcess(process, port)
    try:
        deadline = time.monotonic() + ready_seconds
        while True:
            assert process.poll() is None, f"the server exited: {process.stdout.read()}"
            try:
                with urllib.request.urlopen(f"{server.base}/health/live", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the server did not answer within {ready_seconds} s"
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def record_figure(name: str, value: float | int | str) -> None:
    """Keep a figure a test measured, for docs/RELIABILITY.md: appended as a JSON line to
    the file TASKER_ANALYTICS_RECORD_FIGURES names (`make reliability`), else dropped."""
    path = os.environ.get("TASKER_ANALYTICS_RECORD_FIGURES")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"figure": name, "value": value}) + "\n")
