"""The HTTP API's promises (docs/API.md): shapes, headers, errors."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from helpers.workloads import build_duckdb_workload
from tasker_analytics.api.app import create_app
from tasker_analytics.config.settings import Settings

PERFORMANCE = "/tasker/analytics/performance"
BOTTLENECKS = "/tasker/analytics/bottlenecks"

SPEC_PERFORMANCE_KEYS = {"system_health_score", "performance_trends", "task_statistics", "processing_times"}
SPEC_BOTTLENECK_KEYS = {
    "analysis_period",
    "scope",
    "slowest_tasks",
    "slowest_steps",
    "error_patterns",
    "recommendations",
    "performance_distribution",
}


def test_performance_has_the_spec_shape_and_real_figures(client):
    response = client.get(PERFORMANCE)
    assert response.status_code == 200
    body = response.json()
    assert SPEC_PERFORMANCE_KEYS <= body.keys()
    assert set(body["performance_trends"]) == {"1h", "4h", "24h"}
    for trend in body["performance_trends"].values():
        assert {"completion_rate", "avg_duration_ms"} <= trend.keys()
        assert 0 <= trend["completion_rate"] <= 1
    assert {"total_tasks", "completed", "failed", "retried"} <= body["task_statistics"].keys()
    assert body["task_statistics"]["total_tasks"] > 0
    assert body["task_statistics"]["completed"] > 0
    assert body["task_statistics"]["failed"] > 0
    assert body["task_statistics"]["retried"] > 0
    times = body["processing_times"]
    assert 0 < times["p50"] <= times["p95"] <= times["p99"]
    assert 0 < body["system_health_score"] <= 100
    assert [component["name"] for component in body["health_components"]] == [
        "success_share",
        "first_attempt_step_success",
        "latency",
    ]
    assert body["active_tasks"] > 0
    assert body["data_as_of"].startswith("2026-11-28T11:30:00")


def test_performance_cache_header(client):
    assert client.get(PERFORMANCE).headers["cache-control"] == "public, max-age=90"


def test_bottlenecks_has_the_spec_shape_and_real_figures(client):
    response = client.get(BOTTLENECKS)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=120"
    body = response.json()
    assert SPEC_BOTTLENECK_KEYS <= body.keys()
    assert body["analysis_period"] == "24 hours"
    assert body["scope"] == {}
    assert body["slowest_tasks"] and body["slowest_steps"] and body["error_patterns"]
    first = body["slowest_tasks"][0]
    assert {
        "task_name",
        "namespace",
        "version",
        "avg_duration_ms",
        "p95_duration_ms",
        "execution_count",
        "failure_rate",
    } <= first.keys()
    averages = [task["avg_duration_ms"] for task in body["slowest_tasks"] if task["avg_duration_ms"] is not None]
    assert averages == sorted(averages, reverse=True)
    step = body["slowest_steps"][0]
    assert {"step_name", "task_name", "avg_duration_ms", "p95_duration_ms", "retry_rate"} <= step.keys()
    pattern = body["error_patterns"][0]
    assert {"error_type", "frequency", "affected_steps"} <= pattern.keys()
    assert pattern["frequency"] > 0 and pattern["affected_steps"]
    distribution = body["performance_distribution"]
    assert sum(bucket["count"] for bucket in distribution["histogram"]) == distribution["count"] > 0


def test_bottlenecks_scope_filters_every_row(client):
    everything = client.get(BOTTLENECKS, params={"period": 168}).json()
    namespace = everything["slowest_tasks"][0]["namespace"]
    body = client.get(BOTTLENECKS, params={"namespace": namespace, "period": 168}).json()
    assert body["scope"] == {"namespace": namespace}
    assert body["slowest_tasks"] and all(task["namespace"] == namespace for task in body["slowest_tasks"])
    assert all(step["namespace"] == namespace for step in body["slowest_steps"])


def test_task_name_alias(client):
    task_name = client.get(BOTTLENECKS).json()["slowest_tasks"][0]["task_name"]
    by_name = client.get(BOTTLENECKS, params={"name": task_name}).json()
    by_task_name = client.get(BOTTLENECKS, params={"task_name": task_name}).json()
    for body in (by_name, by_task_name):
        body.pop("freshness_seconds")
        body.pop("cache_info")
    assert by_name == by_task_name
    assert by_name["scope"] == {"task_name": task_name}


def test_unknown_scope_is_empty_not_an_error(client):
    response = client.get(BOTTLENECKS, params={"namespace": "no_such_namespace"})
    assert response.status_code == 200
    body = response.json()
    assert body["slowest_tasks"] == [] and body["slowest_steps"] == [] and body["error_patterns"] == []
    assert body["performance_distribution"]["count"] == 0


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("period=0", "period"),
        ("period=-1", "period"),
        ("period=169", "period"),
        ("period=1e9", "period"),
        ("period=abc", "period"),
        ("period=", "period"),
        ("period=24.5", "period"),
        ("period=1&period=2", "period"),
        ("limit=0", "limit"),
        ("limit=51", "limit"),
        ("limit=ten", "limit"),
        ("namespace=" + "x" * 10_000, "namespace"),
        ("namespace=", "namespace"),
        ("namespace=a%00b", "namespace"),
        ("version=" + "9" * 17, "version"),
        ("task_name=a&name=b", "name"),
        ("bogus=1", "bogus"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(client, query, parameter):
    response = client.get(f"{BOTTLENECKS}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_parameter"
    assert body["parameter"] == parameter
    assert body["detail"]


def test_sql_metacharacters_are_data_not_sql(client, workload):
    response = client.get(BOTTLENECKS, params={"namespace": "'; drop table int_task_executions; --"})
    assert response.status_code == 200
    assert response.json()["slowest_tasks"] == []
    assert client.get(BOTTLENECKS).json()["slowest_tasks"]


def test_missing_warehouse_is_a_503_with_json(tmp_path):
    app = create_app(Settings(duckdb_path=tmp_path / "absent.duckdb"))
    with TestClient(app) as test_client:
        for path in (PERFORMANCE, BOTTLENECKS):
            response = test_client.get(path)
            assert response.status_code == 503
            body = response.json()
            assert body["error"] == "warehouse_unavailable" and body["timestamp"]


def test_endpoints_off_when_disabled(workload):
    with TestClient(create_app(workload.settings(enabled=False))) as test_client:
        assert test_client.get(PERFORMANCE).status_code == 404


def test_empty_database_gives_zeros_and_empty_lists(tmp_path):
    empty = build_duckdb_workload(tmp_path, tasks=0, seed=1)
    with TestClient(create_app(empty.settings())) as test_client:
        performance = test_client.get(PERFORMANCE)
        bottlenecks = test_client.get(BOTTLENECKS, params={"period": 168})
    assert performance.status_code == 200 and bottlenecks.status_code == 200
    body = performance.json()
    # No component has an item to judge: no score (docs/API.md), not a made-up 0.
    assert body["system_health_score"] is None and body["health_status"] == "insufficient_data"
    assert body["task_statistics"]["total_tasks"] == 0
    assert body["processing_times"]["count"] == 0
    assert all(trend["settled"] == 0 and trend["completion_rate"] == 0 for trend in body["performance_trends"].values())
    body = bottlenecks.json()
    assert body["slowest_tasks"] == [] and body["slowest_steps"] == []
    assert body["error_patterns"] == [] and body["recommendations"] == []
    assert body["performance_distribution"]["histogram"] == []


CONFIGURATION = {"weight", "window_hours", "period_hours", "lower_ms", "upper_ms", "count_of_buckets"}


def _figures(body):
    """Every computed number of a body, by path (configuration values left out)."""
    found = {}

    def walk(value, path):
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in CONFIGURATION | {"freshness_seconds", "cache_info", "resource_utilization"}:
                    walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[path] = value

    walk(body, "")
    return found


def test_a_different_seed_changes_the_figures(client, tmp_path, workload):
    """Nothing is hard-coded: every duration, rate and sizeable count moves with the seed;
    small counts (under 50) may coincide by chance, and a ratio at its bound (0 or 1,
    e.g. the latency component capped at 1) is not held to it either."""
    other = build_duckdb_workload(tmp_path, tasks=workload.tasks, seed=workload.seed + 1)
    with TestClient(create_app(other.settings())) as other_client:
        ours = client.get(PERFORMANCE).json()
        theirs = other_client.get(PERFORMANCE).json()
        mine, yours = _figures(ours), _figures(theirs)
        held = [
            path
            for path, value in mine.items()
            if (isinstance(value, float) and value not in (0.0, 1.0)) or value >= 50
        ]
        assert len(held) >= 20
        assert [path for path in held if mine[path] == yours.get(path)] == []

        ours = client.get(BOTTLENECKS, params={"period": 168, "limit": 50}).json()
        theirs = other_client.get(BOTTLENECKS, params={"period": 168, "limit": 50}).json()
    for key in ("slowest_tasks", "slowest_steps", "error_patterns", "recommendations"):
        assert ours[key] != theirs[key], key
    for key in ("count", "avg_ms", "max_ms"):
        assert ours["performance_distribution"][key] != theirs["performance_distribution"][key], key
    # Sketch percentiles are bucket representatives (0.5 % apart), so two workloads may
    # share one; all three alike would mean they are not computed from the data.
    percentiles = ("p50", "p95", "p99")
    assert [ours["performance_distribution"][key] for key in percentiles] != [
        theirs["performance_distribution"][key] for key in percentiles
    ]
    for task in ours["slowest_tasks"]:
        match = [
            other
            for other in theirs["slowest_tasks"]
            if (other["namespace"], other["task_name"], other["version"])
            == (task["namespace"], task["task_name"], task["version"])
        ]
        assert match and match[0]["avg_duration_ms"] != task["avg_duration_ms"]


def test_a_period_longer_than_the_history_kept_is_refused_naming_both_settings(workload):
    """With 3 days kept, 168 hours would be answered over 72 hours of history: a 400
    that names the period and both settings, from the API, the Python API and the CLI's
    query alike; 72 hours is answered."""
    from tasker_analytics.core.query import BottleneckQuery, InvalidQuery

    settings = workload.settings(retention_days=3)
    with TestClient(create_app(settings)) as client:
        refused = client.get(BOTTLENECKS, params={"period": 168})
        assert refused.status_code == 400
        body = refused.json()
        assert body["parameter"] == "period"
        assert "TASKER_ANALYTICS_RETENTION_DAYS=3" in body["detail"]
        assert "TASKER_ANALYTICS_MAX_PERIOD_HOURS=168" in body["detail"]
        assert "72" in body["detail"]
        answered = client.get(BOTTLENECKS, params={"period": 72})
        assert answered.status_code == 200 and answered.json()["period_hours"] == 72
    with pytest.raises(InvalidQuery) as error:
        BottleneckQuery.validated(settings, period=73)
    assert error.value.parameter == "period"
    assert BottleneckQuery.validated(settings, period=72).period == 72
    assert Settings(retention_days=30, max_period_hours=168).longest_period == 168


def test_retention_days_is_read_from_the_environment():
    assert Settings.from_env({"TASKER_ANALYTICS_RETENTION_DAYS": "3"}).longest_period == 72
