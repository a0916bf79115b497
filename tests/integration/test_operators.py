"""The operators' endpoints (spec: Alerting and Grafana Dashboard Integration): the Prometheus
scrape target and the Grafana JSON serve exactly the JSON API's figures."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime

import msgspec
import pytest
from jsonschema import Draft202012Validator
from litestar.testing import TestClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from helpers.responses import closed_schema
from tasker_analytics.api import metrics as operators
from tasker_analytics.api.app import create_app
from tasker_analytics.auth.settings import AuthSettings
from tasker_analytics.auth.tokens import hash_service_token
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery

PERFORMANCE = "/tasker/analytics/performance"
BOTTLENECKS = "/tasker/analytics/bottlenecks"
METRICS = "/tasker/analytics/metrics"
GRAFANA = "/tasker/analytics/grafana"
SERVICE_TOKEN = "service-token-for-the-prometheus-scraper"
AGES = {"tasker_analytics_build_age_seconds", "tasker_analytics_data_age_seconds"}
GRAFANA_KEYS = {
    "system_health",
    "completion_rate",
    "avg_duration",
    "p95_duration",
    "slowest_task_duration",
    "error_count",
    "recommendation_count",
    "timestamp",
    "data_as_of",
    "build_id",
}


def operators_app(settings):
    """create_app plus the operators' handlers (registered unless create_app serves them already)."""
    app = create_app(settings)
    served = {route.path for route in app.routes}
    for handler in operators.route_handlers:
        if not handler.paths <= served:
            app.register(handler)
    return app


@pytest.fixture
def ops(workload):
    with TestClient(operators_app(workload.settings())) as test_client:
        yield test_client


def _samples(text: str) -> dict[tuple[str, frozenset], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        # Window figures are gauges; the duration distribution is a gauge histogram
        # (TYPE histogram in the text format, with _gcount and _gsum gauges).
        assert family.type == ("histogram" if family.name.endswith("distribution_seconds") else "gauge"), family.name
        assert family.documentation, family.name
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, key
            samples[key] = sample.value
    return samples


def _series(name: str, value, **labels) -> tuple[tuple[str, frozenset], float]:
    return (f"tasker_analytics_{name}", frozenset(labels.items())), value


def _seconds(milliseconds: float) -> float:
    return round(milliseconds / 1000, 4)


def _expected(performance: dict, bottlenecks: dict) -> dict:
    """Every series the scrape must hold, computed from the JSON API's bodies: durations in
    seconds (Prometheus' base unit), percentiles as one gauge each."""
    series = [_series("system_health_score", performance["system_health_score"])]
    series += [_series("health_component", c["value"], component=c["name"]) for c in performance["health_components"]]
    for window, trend in performance["performance_trends"].items():
        series.append(_series("completion_rate", trend["completion_rate"], window=window))
        series.append(_series("error_rate", trend["error_rate"], window=window))
        if trend["avg_duration_ms"] is not None:
            series.append(_series("avg_task_duration_seconds", _seconds(trend["avg_duration_ms"]), window=window))
    statistics = performance["task_statistics"]
    series += [
        _series("tasks", statistics[key], outcome=outcome)
        for outcome, key in [
            ("total", "total_tasks"),
            ("completed", "completed"),
            ("failed", "failed"),
            ("retried", "retried"),
            ("cancelled", "cancelled"),
            ("resolved_manually", "resolved_manually"),
        ]
    ]
    times = performance["processing_times"]
    series += [
        _series(f"task_duration_{key}_seconds", _seconds(times[key])) for key in ("p50", "p95", "p99") if times[key]
    ]
    series.append(_series("active_tasks", performance["active_tasks"]))
    for task in bottlenecks["slowest_tasks"]:
        names = {"namespace": task["namespace"], "task_name": task["task_name"], "version": task["version"]}
        if task["avg_duration_ms"] is not None:
            series.append(_series("task_type_avg_duration_seconds", _seconds(task["avg_duration_ms"]), **names))
        if task["p95_duration_ms"] is not None:
            series.append(_series("task_type_duration_p95_seconds", _seconds(task["p95_duration_ms"]), **names))
        series.append(_series("task_type_executions", task["execution_count"], **names))
        series.append(_series("task_type_failure_rate", task["failure_rate"], **names))
    series += [
        _series("error_events", pattern["frequency"], error_type=pattern["error_type"])
        for pattern in bottlenecks["error_patterns"]
    ]
    series.append(_series("build_info", 1, build_id=performance["build_id"]))
    # The duration histogram, cumulative at each bucket's upper edge.
    distribution, below = bottlenecks["performance_distribution"], 0
    for bucket in distribution["histogram"]:
        below += bucket["count"]
        series.append(_series("task_duration_distribution_seconds_bucket", below, le=str(_seconds(bucket["upper_ms"]))))
    count = distribution["count"]
    series.append(_series("task_duration_distribution_seconds_bucket", count, le="+Inf"))
    series.append(_series("task_duration_distribution_seconds_gcount", count))
    series.append(_series("task_duration_distribution_seconds_gsum", _seconds(distribution["avg_ms"] * count)))
    # The background builds, as the performance body reports them.
    background = performance["resource_utilization"]["background_jobs"]
    series.append(_series("background_builds_enabled", int(background["enabled"])))
    if background["enabled"]:
        series.append(_series("background_build_interval_seconds", background["interval_seconds"]))
    if background["last_status"] is not None:
        series.append(_series("background_build_last_success", int(background["last_status"].startswith("succeeded"))))
    if background["last_duration_seconds"] is not None:
        series.append(_series("background_build_last_duration_seconds", background["last_duration_seconds"]))
    return dict(series)


def test_metrics_equal_the_json_api(ops):
    performance = ops.get(PERFORMANCE).json()
    bottlenecks = ops.get(BOTTLENECKS, params={"period": 24, "limit": 50}).json()
    response = ops.get(METRICS)
    assert response.status_code == 200
    samples = _samples(response.text)
    expected = _expected(performance, bottlenecks)
    # The figures are real and every family is there.
    names = {name for name, _ in expected}
    assert len(names) == 20, sorted(names)
    assert {name for name, _ in samples} == names | AGES
    assert performance["task_statistics"]["failed"] > 0 and bottlenecks["slowest_tasks"]
    assert bottlenecks["error_patterns"] and len(bottlenecks["slowest_tasks"]) < 50
    assert {key: value for key, value in samples.items() if key[0] not in AGES} == expected
    assert samples[("tasker_analytics_build_info", frozenset({("build_id", response.headers["x-build-id"])}))] == 1


def test_metric_ages_are_the_build_and_data_ages(ops):
    performance = ops.get(PERFORMANCE).json()
    samples = _samples(ops.get(METRICS).text)
    now = datetime.now(UTC)
    built_at = datetime.fromisoformat(performance["built_at"])
    build_age = samples[("tasker_analytics_build_age_seconds", frozenset())]
    data_age = samples[("tasker_analytics_data_age_seconds", frozenset())]
    assert abs(build_age - (now - built_at).total_seconds()) < 5
    assert abs(data_age - performance["freshness_seconds"]) < 5
    # The workload's data_as_of lies in the past of its build (a fixed 2026 date).
    assert abs(data_age - (now - datetime.fromisoformat(performance["data_as_of"])).total_seconds()) < 5


def test_metrics_headers(ops):
    response = ops.get(METRICS)
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert response.headers["cache-control"] == "public, max-age=90"
    assert "vary" not in response.headers
    assert response.headers["x-build-id"] == ops.get(PERFORMANCE).json()["build_id"]


def test_cache_headers_follow_the_settings(workload):
    settings = workload.settings(performance_cache_ttl=30, bottlenecks_cache_ttl=45)
    with TestClient(operators_app(settings)) as test_client:
        assert test_client.get(METRICS).headers["cache-control"] == "public, max-age=30"
        assert test_client.get(GRAFANA).headers["cache-control"] == "public, max-age=30"
    settings = workload.settings(performance_cache_ttl=200, bottlenecks_cache_ttl=45)
    with TestClient(operators_app(settings)) as test_client:
        assert test_client.get(METRICS).headers["cache-control"] == "public, max-age=200"
        assert test_client.get(GRAFANA).headers["cache-control"] == "public, max-age=45"


@pytest.mark.parametrize("path", [METRICS, GRAFANA])
def test_unknown_parameters_answer_400(ops, path):
    response = ops.get(path, params={"period": 24})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_parameter" and body["parameter"] == "period"


@pytest.mark.parametrize("path", [METRICS, GRAFANA])
def test_auth_runs_first_and_makes_the_answer_private(workload, path):
    auth = AuthSettings(required=True, service_tokens=(("prometheus", hash_service_token(SERVICE_TOKEN)),))
    with TestClient(operators_app(workload.settings(auth=auth))) as test_client:
        assert test_client.get(path).status_code == 401
        assert test_client.get(path, params={"unknown": 1}).status_code == 401
        assert test_client.get(path, headers={"Authorization": "Bearer wrong-token"}).status_code == 401
        response = test_client.get(path, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "private, max-age=90"
        assert response.headers["vary"] == "Authorization, Cookie"


@pytest.mark.parametrize("path", [METRICS, GRAFANA])
def test_disabled_endpoints_answer_404(workload, path):
    with TestClient(operators_app(workload.settings(enabled=False))) as test_client:
        assert test_client.get(path).status_code == 404


@pytest.mark.parametrize("path", [METRICS, GRAFANA])
def test_missing_warehouse_answers_503(tmp_path, path):
    from tasker_analytics.config.settings import Settings

    with TestClient(operators_app(Settings(duckdb_path=tmp_path / "missing.duckdb"))) as test_client:
        response = test_client.get(path)
        assert response.status_code == 503
        assert response.json()["error"] == "warehouse_unavailable"


def test_grafana_equals_the_json_api(ops):
    performance = ops.get(PERFORMANCE).json()
    hour = ops.get(BOTTLENECKS, params={"period": 1, "limit": 50}).json()
    before = int(time.time())
    response = ops.get(GRAFANA)
    after = int(time.time())
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=90"
    body = response.json()
    assert set(body) == GRAFANA_KEYS
    # Real figures, so that equality below says something.
    assert hour["slowest_tasks"] and hour["error_patterns"]
    assert performance["performance_trends"]["1h"]["avg_duration_ms"] is not None
    assert body == {
        "system_health": performance["system_health_score"],
        "completion_rate": performance["performance_trends"]["1h"]["completion_rate"],
        "avg_duration": performance["performance_trends"]["1h"]["avg_duration_ms"],
        "p95_duration": performance["processing_times"]["p95"],
        "slowest_task_duration": hour["slowest_tasks"][0]["avg_duration_ms"],
        "error_count": sum(pattern["frequency"] for pattern in hour["error_patterns"]),
        "recommendation_count": len(hour["recommendations"]),
        "timestamp": body["timestamp"],
        "data_as_of": performance["data_as_of"],
        "build_id": performance["build_id"],
    }
    assert isinstance(body["timestamp"], int) and before <= body["timestamp"] <= after
    assert body["error_count"] > 0


def test_openapi_describes_both_endpoints_exactly(ops):
    openapi = ops.get("/schema/openapi.json").json()
    metrics = openapi["paths"][METRICS]["get"]["responses"]
    assert set(metrics) >= {"200", "400", "401", "403", "503"}
    assert list(metrics["200"]["content"]) == [CONTENT_TYPE_LATEST]
    grafana = openapi["paths"][GRAFANA]["get"]["responses"]
    assert set(grafana) >= {"200", "400", "401", "403", "503"}
    schema = copy.deepcopy(grafana["200"]["content"]["application/json"]["schema"])
    schema["components"] = closed_schema(copy.deepcopy(openapi["components"]))
    validator = Draft202012Validator(schema)
    body = ops.get(GRAFANA).json()
    assert list(validator.iter_errors(body)) == []
    broken = {**body, "extra": 1}
    del broken["error_count"]
    messages = [error.message for error in validator.iter_errors(broken)]
    assert any("extra" in message for message in messages) and any("error_count" in message for message in messages)


def _bodies(workload):
    """The performance body and the 24 h all-scope bottleneck body the scrape is made of."""
    analytics = Analytics(workload.settings())
    try:
        return analytics.performance_metrics(), analytics.bottleneck_analysis(BottleneckQuery(period=24, limit=50))
    finally:
        analytics.close()


def test_a_window_without_completed_tasks_has_no_duration_series(workload):
    performance, bottlenecks = _bodies(workload)
    trends = dict(performance.performance_trends)
    trends["1h"] = msgspec.structs.replace(trends["1h"], avg_duration_ms=None)
    times = msgspec.structs.replace(performance.processing_times, p99=None)
    tasks = [msgspec.structs.replace(bottlenecks.slowest_tasks[0], avg_duration_ms=None, p95_duration_ms=None)]
    performance = msgspec.structs.replace(performance, performance_trends=trends, processing_times=times)
    bottlenecks = msgspec.structs.replace(bottlenecks, slowest_tasks=tasks)
    collector = operators._AnalyticsCollector(performance, bottlenecks, datetime.now(UTC))
    families = {family.name: family for family in collector.collect()}
    averages = families["tasker_analytics_avg_task_duration_seconds"].samples
    assert [sample.labels["window"] for sample in averages] == ["4h", "24h"]
    assert len(families["tasker_analytics_completion_rate"].samples) == 3
    assert len(families["tasker_analytics_task_duration_p95_seconds"].samples) == 1
    assert families["tasker_analytics_task_duration_p99_seconds"].samples == []
    assert families["tasker_analytics_task_type_avg_duration_seconds"].samples == []
    assert families["tasker_analytics_task_type_duration_p95_seconds"].samples == []
    assert len(families["tasker_analytics_task_type_executions"].samples) == 1


class _Switching:
    """An Analytics whose build changes between the first two reads."""

    def __init__(self, performance, bottlenecks, settings):
        self.settings = settings
        self.performances = [performance, msgspec.structs.replace(performance, build_id="new")]
        self.bottlenecks = [msgspec.structs.replace(bottlenecks, build_id="new")] * 2
        self.calls = 0

    def performance_metrics(self):
        self.calls += 1
        return self.performances[min(self.calls, 2) - 1]

    def bottleneck_analysis(self, query):
        return self.bottlenecks[min(self.calls, 2) - 1]


def test_every_figure_comes_from_one_build(workload):
    analytics = Analytics(workload.settings())
    try:
        performance = analytics.performance_metrics()
        bottlenecks = analytics.bottleneck_analysis(BottleneckQuery(period=24, limit=50))
    finally:
        analytics.close()
    switching = _Switching(performance, bottlenecks, workload.settings())
    first, second = operators._reports(switching, 24)
    assert switching.calls == 2
    assert first.build_id == second.build_id == "new"


@pytest.mark.postgres
def test_metrics_on_postgres_equal_the_json_api(postgres_workload):
    with TestClient(operators_app(postgres_workload.settings())) as test_client:
        performance = test_client.get(PERFORMANCE).json()
        bottlenecks = test_client.get(BOTTLENECKS, params={"period": 24, "limit": 50}).json()
        samples = _samples(test_client.get(METRICS).text)
    assert {key: value for key, value in samples.items() if key[0] not in AGES} == _expected(performance, bottlenecks)


def test_background_builds_are_series_and_a_failed_one_is_0(workload):
    """With background builds on, the scrape says so, with their interval and how the last
    one ended: 0 for a failure (TaskerAnalyticsBuildFailing fires on it), 1 for a success."""
    from tasker_analytics.core.schemas import BackgroundStatus

    performance, bottlenecks = _bodies(workload)

    def values(status):
        collector = operators._AnalyticsCollector(performance, bottlenecks, datetime.now(UTC), status)
        return {
            family.name.removeprefix("tasker_analytics_"): [sample.value for sample in family.samples]
            for family in collector.collect()
            if "background" in family.name
        }

    failed = BackgroundStatus(
        enabled=True, interval_seconds=60, last_status="failed (exit 2)", last_duration_seconds=3.5
    )
    assert values(failed) == {
        "background_builds_enabled": [1],
        "background_build_interval_seconds": [60],
        "background_build_last_success": [0],
        "background_build_last_duration_seconds": [3.5],
    }
    succeeded = BackgroundStatus(enabled=True, interval_seconds=60, last_status="succeeded", last_duration_seconds=2.0)
    assert values(succeeded)["background_build_last_success"] == [1]
    off = BackgroundStatus(enabled=False, interval_seconds=900)
    assert values(off) == {
        "background_builds_enabled": [0],
        "background_build_interval_seconds": [],
        "background_build_last_success": [],
        "background_build_last_duration_seconds": [],
    }
