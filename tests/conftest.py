"""Shared fixtures: a generated workload built with dbt on DuckDB (and on Postgres), and
HTTP clients of the app serving those builds. They apply to every folder below:

- unit/: plain Python, no dbt build, no server process (seconds);
- integration/: the dbt builds, DuckDB and Postgres warehouses, the app in a TestClient;
- system/: real server processes, builds in subprocesses and killed ones, the browser, wrk,
  Spark, fuzzing.

What the tests share besides fixtures is the package helpers/ (`from helpers.x import ...`).

Services: a test that needs PostgreSQL skips with a reason when it does not answer,
except under CI (the CI variable set), where a missing service fails the run
(helpers.services.service_missing). Tests that need a service carry its marker
(pyproject.toml lists them: postgres, spark, browser, load), so `-m "not postgres"` leaves
them out; a test that uses the Postgres fixtures without the postgres marker is an error.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from litestar.testing import TestClient

from helpers.services import POSTGRES_DSN, REDIS_URL, service_missing
from helpers.workloads import (
    WORKLOAD_SEED,
    WORKLOAD_TASKS,
    Workload,
    build_duckdb_workload,
    build_postgres_workload,
    drop_schemas,
)
from tasker_analytics.api.app import create_app

# dbt's own data and unit tests run in the session builds on DuckDB and Postgres (test_dbt_build
# checks them), in the incremental builds and (unit tests) on Spark. The suite's other builds
# exist to be served and rebuilt, so they leave them out (a third of a small build's time).
os.environ.setdefault("DBT_EXCLUDE_RESOURCE_TYPES", "test unit_test")


def pytest_collection_modifyitems(config, items):
    """Every test that reaches PostgreSQL through the fixtures is marked postgres, so that
    `-m "not postgres"` (make test-fast) never needs it."""
    unmarked = [
        item.nodeid
        for item in items
        if "postgres_dsn" in getattr(item, "fixturenames", ()) and item.get_closest_marker("postgres") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use PostgreSQL (postgres_dsn) without @pytest.mark.postgres:\n  " + "\n  ".join(unmarked)
        )


@pytest.fixture(scope="session")
def workload(tmp_path_factory) -> Workload:
    return build_duckdb_workload(
        tmp_path_factory.mktemp("workload"), tasks=WORKLOAD_TASKS, seed=WORKLOAD_SEED, dbt_tests=True
    )


@pytest.fixture
def client(workload):
    with TestClient(create_app(workload.settings())) as test_client:
        yield test_client


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
