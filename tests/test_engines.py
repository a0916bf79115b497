"""The same workload built on DuckDB and on PostgreSQL gives identical endpoint bodies."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.postgres

VOLATILE = {"freshness_seconds", "build_id", "built_at", "cache_info", "resource_utilization"}
QUERIES = [
    ("/tasker/analytics/performance", {}),
    ("/tasker/analytics/bottlenecks", {}),
    ("/tasker/analytics/bottlenecks", {"period": 1}),
    ("/tasker/analytics/bottlenecks", {"period": 168, "limit": 50}),
    ("/tasker/analytics/bottlenecks", {"namespace": "ecommerce", "period": 72}),
    ("/tasker/analytics/bottlenecks", {"namespace": "payments", "period": 168}),
    ("/tasker/analytics/bottlenecks", {"namespace": "no_such_namespace"}),
]


def _stable(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in VOLATILE}


@pytest.mark.parametrize(("path", "params"), QUERIES)
def test_duckdb_and_postgres_bodies_are_identical(client, postgres_client, path, params):
    duckdb_response = client.get(path, params=params)
    postgres_response = postgres_client.get(path, params=params)
    assert duckdb_response.status_code == postgres_response.status_code == 200
    assert _stable(postgres_response.json()) == _stable(duckdb_response.json())


def test_postgres_build_has_real_figures(postgres_client):
    body = postgres_client.get("/tasker/analytics/performance").json()
    assert body["task_statistics"]["total_tasks"] > 0
    assert body["processing_times"]["p95"] > 0
