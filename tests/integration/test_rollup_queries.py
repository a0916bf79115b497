"""The bottleneck analysis reads rollups only: the statements it runs name no
per-execution model, the functions they call read none, and a warehouse whose
per-execution tables are gone still answers with the same figures."""

from __future__ import annotations

import re
import shutil

import duckdb
import pytest
from litestar.testing import TestClient

from tasker_analytics.api.app import create_app
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery, Scope
from tasker_analytics.warehouse import snapshots as warehouse_module

PER_EXECUTION = (
    "int_task_executions",
    "int_step_executions",
    "int_error_events",
    "int_task_critical_paths",
    "int_task_dag_edges",
    "int_task_states",
    "int_step_states",
    "stg_tasker__",
)
BOTTLENECK_FUNCTIONS = (
    "function_based_slowest_tasks",
    "function_based_slowest_steps",
    "function_based_error_patterns",
    "function_based_critical_path",
    "function_based_duration_distribution",
    "function_based_recommendations",
)


def _recorded_statements(monkeypatch, workload, scope: Scope, period: int) -> list[str]:
    statements: list[str] = []
    original = warehouse_module._DuckDBSnapshot.query

    def record(self, sql, params=None):
        statements.append(sql)
        return original(self, sql, params)

    monkeypatch.setattr(warehouse_module._DuckDBSnapshot, "query", record)
    analytics = Analytics(workload.settings())
    try:
        analytics.bottleneck_analysis(BottleneckQuery(scope, period, 50))
    finally:
        analytics.close()
    return statements


@pytest.mark.parametrize(
    ("scope", "period"),
    [
        (Scope(), 24),
        (Scope(namespace="ecommerce"), 168),
        (Scope("ecommerce", "process_order", "1.1.0"), 7),
    ],
)
def test_the_bottleneck_statements_name_rollups_and_functions_only(monkeypatch, workload, scope, period):
    statements = _recorded_statements(monkeypatch, workload, scope, period)
    print("\n\n".join(statements))  # `pytest -s` shows the statements the endpoint runs
    # The build's identity (one row of performance_overview), then seven statements that
    # call the bottleneck functions or read the histogram rollup.
    assert len(statements) == 8
    allowed = set(BOTTLENECK_FUNCTIONS) | {"task_duration_histogram", "performance_overview"}
    for sql in statements:
        assert not [name for name in PER_EXECUTION if name in sql], sql
        named = set(re.findall(r"\{schema\}\.(\w+)", sql))
        assert named and named <= allowed, sql


def test_the_functions_read_rollups_only(workload):
    connection = duckdb.connect(str(workload.warehouse_path.resolve()), read_only=True)
    try:
        definitions = dict(
            connection.execute(
                "select function_name, macro_definition from duckdb_functions() "
                "where function_name like 'function_based_%' and function_type = 'table_macro'"
            ).fetchall()
        )
    finally:
        connection.close()
    for name in BOTTLENECK_FUNCTIONS:
        body = definitions[name].lower()
        assert not [table for table in PER_EXECUTION if table in body], name
        assert "rollup" in body or "sketches" in body or "function_based_" in body, name


def test_without_the_per_execution_tables_the_figures_stay(workload, client, tmp_path):
    stripped = tmp_path / "rollups_only.duckdb"
    shutil.copyfile(workload.warehouse_path.resolve(), stripped)
    connection = duckdb.connect(str(stripped))
    try:
        for name, kind in connection.execute(
            "select table_name, table_type from information_schema.tables where table_schema = 'main'"
        ).fetchall():
            if name.startswith(("int_", "stg_")):
                connection.execute(f'drop {"view" if kind == "VIEW" else "table"} "{name}" cascade')
        left = {
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
    finally:
        connection.close()
    assert not [name for name in left if name.startswith(("int_", "stg_"))]
    params = {"period": 72, "namespace": "ecommerce", "limit": 50}
    expected = client.get("/tasker/analytics/bottlenecks", params=params).json()
    with TestClient(create_app(Settings(duckdb_path=stripped))) as other:
        response = other.get("/tasker/analytics/bottlenecks", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    for key in (
        "slowest_tasks",
        "slowest_steps",
        "error_patterns",
        "performance_distribution",
        "dependency_analysis",
        "recommendations",
    ):
        assert body[key] == expected[key], key
