"""The same workload built on DuckDB and on PostgreSQL gives identical endpoint bodies."""

from __future__ import annotations

import pytest

from helpers.responses import ENGINE_QUERIES, stable_body

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize(("path", "params"), ENGINE_QUERIES)
def test_duckdb_and_postgres_bodies_are_identical(client, postgres_client, path, params):
    duckdb_response = client.get(path, params=params)
    postgres_response = postgres_client.get(path, params=params)
    assert duckdb_response.status_code == postgres_response.status_code == 200
    assert stable_body(postgres_response.json()) == stable_body(duckdb_response.json())


def test_postgres_build_has_real_figures(postgres_client):
    body = postgres_client.get("/tasker/analytics/performance").json()
    assert body["task_statistics"]["total_tasks"] > 0
    assert body["processing_times"]["p95"] > 0


def test_the_server_reads_from_the_read_replica(postgres_workload):
    from litestar.testing import TestClient

    from tasker_analytics.api.app import create_app
    from tasker_analytics.config.settings import Settings

    settings = Settings(
        warehouse="postgres",
        database_url="postgresql://postgres@127.0.0.1:1/unreachable_primary",
        read_replica_url=postgres_workload.dsn,
        database_schema=postgres_workload.schema,
    )
    with TestClient(create_app(settings)) as test_client:
        response = test_client.get("/tasker/analytics/performance")
    assert response.status_code == 200
    assert response.json()["resource_utilization"]["warehouse"]["engine"] == "postgres"


def test_postgres_down_is_a_503_with_json():
    from litestar.testing import TestClient

    from tasker_analytics.api.app import create_app
    from tasker_analytics.config.settings import Settings

    settings = Settings(warehouse="postgres", database_url="postgresql://postgres@127.0.0.1:1/nothing_here")
    with TestClient(create_app(settings)) as test_client:
        response = test_client.get("/tasker/analytics/bottlenecks")
    assert response.status_code == 503
    assert response.json()["error"] == "warehouse_unavailable" and response.json()["timestamp"]
