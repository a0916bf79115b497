"""The analyst SQL functions, created by the build, return the HTTP API's figures for the
same scope and period, on DuckDB and on Postgres."""

from __future__ import annotations

import os

import duckdb
import psycopg
import pytest

from tasker_analytics.core.figures import ms as _ms
from tasker_analytics.core.figures import rate as _rate
from tasker_analytics.core.schemas import rfc3339


def _stamp(value) -> str:
    return rfc3339(value)


SCOPES = [
    {"period": 24},
    {"period": 1},
    {"period": 168},
    {"period": 72, "namespace": "payments"},
    {"period": 168, "namespace": "ecommerce", "task_name": "process_order"},
    {"period": 168, "namespace": "ecommerce", "task_name": "process_order", "version": "1.1.0"},
    {"period": 48, "version": "1.0.0"},
]


class DuckDBCaller:
    def __init__(self, path):
        self.connection = duckdb.connect(os.path.realpath(path), read_only=True)

    def rows(self, function: str, *arguments) -> list[dict]:
        placeholders = ", ".join("?" for _ in arguments)
        result = self.connection.execute(f"select * from {function}({placeholders})", list(arguments))
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


class PostgresCaller:
    def __init__(self, dsn, schema):
        self.connection = psycopg.connect(dsn, row_factory=psycopg.rows.dict_row)
        self.schema = schema

    def rows(self, function: str, *arguments) -> list[dict]:
        types = {int: "integer", str: "text", type(None): "text"}
        casts = ", ".join(f"cast(%s as {types[type(argument)]})" for argument in arguments)
        if function == "function_based_analytics_metrics":
            casts = "cast(%s as timestamp), cast(%s as integer)"
        return self.connection.execute(f'select * from "{self.schema}".{function}({casts})', arguments).fetchall()


EXTRA = {"negative_durations", "duration_count"}  # function columns the API reports elsewhere


def _api_keys(row: dict) -> dict:
    return {key: value for key, value in row.items() if key not in EXTRA}


RATES = {"failure_rate", "retry_rate", "retry_success_rate", "queue_share", "share", "ratio", "critical_path_share"}


def _rounded(row: dict) -> dict:
    """A function row with the API's rounding: durations to 0.1 ms, rates to 4 decimals."""
    return {
        key: _ms(value) if key.endswith("_ms") else _rate(value) if key in RATES and value is not None else value
        for key, value in _api_keys(row).items()
    }


def _tasks(rows):
    return sorted((_rounded(row) for row in rows), key=lambda row: (row["namespace"], row["task_name"], row["version"]))


def _steps(rows):
    return sorted(
        (_rounded(row) for row in rows),
        key=lambda row: (row["namespace"], row["task_name"], row["version"], row["step_name"]),
    )


def _check(caller, http):
    for scope in SCOPES:
        ns, name, version, hours = scope.get("namespace"), scope.get("task_name"), scope.get("version"), scope["period"]
        body = http.get("/tasker/analytics/bottlenecks", params={**scope, "limit": 50}).json()
        tasks = caller.rows("function_based_slowest_tasks", ns, hours, 50, name, version)
        assert _tasks(tasks) == _tasks(body["slowest_tasks"]), scope
        steps = caller.rows("function_based_slowest_steps", name, ns, hours, 50, version)
        assert _steps(steps) == _steps(body["slowest_steps"]), scope
        top = caller.rows("function_based_slowest_tasks", ns, hours, 3, name, version)
        assert len(top) == min(3, len(body["slowest_tasks"])), scope
        patterns = caller.rows("function_based_error_patterns", ns, hours, 50, name, version)
        assert {
            (
                p["error_type"],
                p["frequency"],
                tuple(sorted(p["affected_steps"])),
                tuple(sorted(p["error_classes"])),
                _stamp(p["first_seen"]),
                _stamp(p["last_seen"]),
                p["errored_steps"],
                p["recovered_steps"],
                _rate(p["retry_success_rate"]),
            )
            for p in patterns
        } == {
            (
                p["error_type"],
                p["frequency"],
                tuple(p["affected_steps"]),
                tuple(p["error_classes"]),
                p["first_seen"],
                p["last_seen"],
                p["errored_steps"],
                p["recovered_steps"],
                p["retry_success_rate"],
            )
            for p in body["error_patterns"]
        }, scope
        paths = caller.rows("function_based_critical_path", ns, hours, 100000, name, version)
        dependency = body["dependency_analysis"]
        assert (
            sum({(r["namespace"], r["task_name"], r["version"]): r["tasks_analyzed"] for r in paths}.values())
            == (dependency["tasks_analyzed"])
        ), scope
        on_path = sorted(
            (
                (
                    r["namespace"],
                    r["task_name"],
                    r["version"],
                    r["step_name"],
                    r["on_critical_path"],
                    _ms(r["critical_path_ms"]),
                    _rate(r["critical_path_share"]),
                )
                for r in paths
                if r["on_critical_path"] > 0
            ),
            key=lambda item: (-item[5], item[:4]),
        )
        assert on_path[:50] == [tuple(r.values()) for r in dependency["critical_path_steps"]], scope
        advice = caller.rows("function_based_recommendations", ns, hours, 50, name, version)
        assert sorted(
            (
                r["recommendation_type"],
                r["pattern"],
                r["namespace"],
                r["task_name"],
                r["version"],
                r["step"],
                r["error_type"],
                _ms(r["estimated_impact_ms_per_day"]),
                r["current_timeout"],
                r["suggested_timeout"],
            )
            for r in advice
        ) == sorted(
            (
                r["type"],
                r.get("pattern"),
                r["namespace"],
                r["task_name"],
                r["version"],
                r["step"],
                r.get("error_type"),
                r["estimated_impact_ms_per_day"],
                r.get("current_timeout"),
                r.get("suggested_timeout"),
            )
            for r in body["recommendations"]
        ), scope
        for served in body["recommendations"]:
            (row,) = [
                r
                for r in advice
                if (
                    r["recommendation_type"],
                    r["pattern"],
                    r["namespace"],
                    r["task_name"],
                    r["version"],
                    r["step"],
                    r["error_type"],
                )
                == (
                    served["type"],
                    served.get("pattern"),
                    served["namespace"],
                    served["task_name"],
                    served["version"],
                    served["step"],
                    served.get("error_type"),
                )
            ]
            assert {key: _rounded(row)[key] for key in served["evidence"]} == served["evidence"], scope
        assert all(row["rationale"] for row in advice)
    performance = http.get("/tasker/analytics/performance").json()
    (metrics,) = caller.rows("function_based_analytics_metrics", None, 24)
    statistics, times = performance["task_statistics"], performance["processing_times"]
    assert {
        key: metrics[key]
        for key in ("total_tasks", "completed", "failed", "retried", "cancelled", "resolved_manually", "settled")
    } == {
        key: statistics[key]
        for key in ("total_tasks", "completed", "failed", "retried", "cancelled", "resolved_manually", "settled")
    }
    assert _rate(metrics["completion_rate"]) == statistics["completion_rate"]
    assert _rate(metrics["failure_rate"]) == statistics["failure_rate"]
    assert [_ms(metrics[key]) for key in ("p50_duration_ms", "p95_duration_ms", "p99_duration_ms")] == [
        times["p50"],
        times["p95"],
        times["p99"],
    ]
    assert metrics["active_tasks"] == performance["active_tasks"]


def test_duckdb_functions_equal_the_api(workload, client):
    caller = DuckDBCaller(workload.warehouse_path)
    try:
        _check(caller, client)
    finally:
        caller.connection.close()


@pytest.mark.postgres
def test_postgres_functions_equal_the_api(postgres_workload, postgres_client):
    caller = PostgresCaller(postgres_workload.dsn, postgres_workload.schema)
    try:
        _check(caller, postgres_client)
    finally:
        caller.connection.close()


def test_a_window_from_a_start_date(workload, client):
    caller = DuckDBCaller(workload.warehouse_path)
    try:
        (whole,) = caller.rows("function_based_analytics_metrics", None, 24)
        (started,) = caller.rows("function_based_analytics_metrics", whole["window_start"], 24)
        (earlier,) = caller.rows("function_based_analytics_metrics", whole["window_start"], 12)
    finally:
        caller.connection.close()
    assert started == whole
    assert earlier["window_end"] < whole["window_end"] and earlier["total_tasks"] < whole["total_tasks"]
