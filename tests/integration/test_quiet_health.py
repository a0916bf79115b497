"""A quiet system's health (docs/API.md, "System health score"): a health component with
fewer than `health_min_items` (default 1) items in its window is not judged (null), the
score is the weighted mean of the judged ones, and with none judged the score is null and
`health_status` is `insufficient_data`, never a made-up 0 that reads as an outage.

Two builds of this module:
- `quiet`: a generated workload built with as_of two hours after its last event, so the
  last hour is idle while the 24 h statistics still hold settled tasks;
- `partial`: hand-built rows (helpers.fixture_tasks) whose last hour holds two settled
  steps (one on its first attempt, one retried) of a task still running, and no settled
  task: only first_attempt_step_success is judged, worked out by hand below.

Both are checked against the figures worked out here and the oracle's plain-Python
recomputation (helpers.oracle.performance), through the API, the dashboard, the
Prometheus and Grafana views and `tasker-analytics check` (exit 3, NO_DATA). The check's
other edge: a --namespace the build does not have is an error naming it (exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from litestar.testing import TestClient

from helpers.fixture_tasks import Step, TaskerFixture, fail, ok
from helpers.oracle import HEALTH_COMPONENTS, SCORE_ABS_TOL, load_raw, performance
from helpers.workloads import GENERATED_AS_OF, build_duckdb_workload
from tasker_analytics.api.app import create_app
from tasker_analytics.build.runner import build
from tasker_analytics.cli import check
from tasker_analytics.config.settings import Settings

PERFORMANCE = "/tasker/analytics/performance"
METRICS = "/tasker/analytics/metrics"
GRAFANA = "/tasker/analytics/grafana"
DASHBOARD = "/tasker/analytics/dashboard"
COMMAND = str(Path(sys.executable).with_name("tasker-analytics"))

# The quiet build: as_of two hours after the generator's last event.
QUIET_AS_OF = GENERATED_AS_OF + timedelta(hours=2)
# The hand-built build's as_of.
PARTIAL_AS_OF = datetime(2026, 1, 10, 12, 0, 0)


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    return build_duckdb_workload(tmp_path_factory.mktemp("quiet"), tasks=600, seed=5, as_of=QUIET_AS_OF)


@pytest.fixture(scope="module")
def quiet_client(quiet):
    with TestClient(create_app(quiet.settings())) as client:
        yield client


@pytest.fixture(scope="module")
def quiet_body(quiet_client) -> dict:
    response = quiet_client.get(PERFORMANCE)
    assert response.status_code == 200, response.text
    return response.json()


def _partial_tables() -> TaskerFixture:
    """Task 1 settles complete three hours before as_of (the latency baseline). Task 2 is
    created 20 minutes before as_of: step a completes on its first attempt, step b fails
    once and completes on its second, both within a few seconds; step c needs both and
    runs for three hours, so at as_of task 2 is in flight. The last hour: 0 settled tasks,
    2 settled steps (1 on its first attempt), 0 completed durations."""
    fixture = TaskerFixture()
    orders = fixture.task_type("shop", "order", "1.0.0")
    fixture.add_task(orders, PARTIAL_AS_OF - timedelta(hours=3), 100, [Step("a", [ok(1000)])])
    fixture.add_task(
        orders,
        PARTIAL_AS_OF - timedelta(minutes=20),
        100,
        [
            Step("a", [ok(1000)]),
            Step("b", [fail(500, "Net::ReadTimeout"), ok(700)]),
            Step("c", [ok(3 * 3600 * 1000)]),
        ],
        edges=[("a", "c"), ("b", "c")],
    )
    return fixture


@pytest.fixture(scope="module")
def partial(tmp_path_factory):
    directory = tmp_path_factory.mktemp("partial")
    source = directory / "tasker_source.duckdb"
    _partial_tables().write(str(source))
    settings = Settings(duckdb_path=directory / "tasker_analytics.duckdb")
    build(
        settings,
        source_duckdb=str(source),
        as_of=PARTIAL_AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env={"DBT_TARGET_PATH": str(directory / "target"), "DBT_LOG_PATH": str(directory / "logs")},
    )
    return source, settings


@pytest.fixture
def run_check(monkeypatch, capsys):
    """check.run in-process against a build; returns (exit code, stdout)."""

    def run(warehouse: Path, *argv: str) -> tuple[int, str]:
        for key in list(os.environ):
            if key.startswith("TASKER_ANALYTICS_"):
                monkeypatch.delenv(key)
        monkeypatch.setenv("TASKER_ANALYTICS_DUCKDB_PATH", str(warehouse))
        parser = argparse.ArgumentParser(prog="check")
        check.add_arguments(parser)
        capsys.readouterr()
        code = check.run(parser.parse_args(list(argv)))
        out = capsys.readouterr().out
        assert out.count("\n") == 1, out
        return code, out.strip()

    return run


# --- an idle hour ---------------------------------------------------------------------------


def test_an_idle_hour_has_no_health_score(quiet_body):
    assert quiet_body["system_health_score"] is None
    assert quiet_body["health_status"] == "insufficient_data"
    assert [c["name"] for c in quiet_body["health_components"]] == list(HEALTH_COMPONENTS)
    for component in quiet_body["health_components"]:
        assert component["value"] is None and component["count"] == 0, component
    # The idle hour is the point: the day before it has data, which the body still serves.
    assert quiet_body["performance_trends"]["1h"]["settled"] == 0
    assert quiet_body["task_statistics"]["settled"] > 0


def test_the_oracle_agrees_on_the_idle_hour(quiet, quiet_body):
    oracle = performance(load_raw(str(quiet.source_path)), QUIET_AS_OF)
    assert oracle["system_health_score"] is None
    assert oracle["health_status"] == quiet_body["health_status"] == "insufficient_data"
    assert [(c["name"], c["value"], c["count"]) for c in oracle["health_components"]] == [
        (c["name"], c["value"], c["count"]) for c in quiet_body["health_components"]
    ]
    assert oracle["task_statistics"]["settled"] == quiet_body["task_statistics"]["settled"]


def test_the_mart_says_so_too(quiet):
    with duckdb.connect(os.path.realpath(quiet.warehouse_path), read_only=True) as connection:
        score, status = connection.execute(
            "select system_health_score, health_status from performance_overview"
        ).fetchone()
        values = connection.execute("select component_value from health_components").fetchall()
    assert (score, status) == (None, "insufficient_data")
    assert values == [(None,)] * 3


def test_prometheus_leaves_the_score_out(quiet_client, quiet_body):
    text = quiet_client.get(METRICS).text
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert not [line for line in samples if line.startswith("tasker_analytics_system_health_score")]
    assert not [line for line in samples if line.startswith("tasker_analytics_health_component")]
    # The rest of the scrape is there: the 24 h figures of the same build.
    settled = quiet_body["task_statistics"]["completed"]
    assert f'tasker_analytics_tasks{{outcome="completed"}} {float(settled)}' in samples


def test_grafana_says_null(quiet_client):
    body = quiet_client.get(GRAFANA).json()
    assert body["system_health"] is None


def test_the_dashboard_says_not_enough_data(quiet_client):
    page = quiet_client.get(DASHBOARD)
    assert page.status_code == 200
    assert 'id="health" data-status="insufficient_data"' in page.text
    assert '<span id="health-score" data-value="null">not enough data</span>' in page.text
    assert page.text.count('data-field="value" data-value="null">not judged</td>') == 3
    assert "/ 100" not in page.text


def test_check_exits_3_no_data(run_check, quiet, quiet_body):
    statistics = quiet_body["task_statistics"]
    code, out = run_check(quiet.warehouse_path, "--json")
    assert code == check.NO_DATA == 3
    body = json.loads(out)
    assert body["status"] == "NO_DATA"
    assert body["health"] is None
    assert (body["failure_rate"], body["failed"], body["settled"]) == (
        statistics["failure_rate"],
        statistics["failed"],
        statistics["settled"],
    )
    assert body["breaches"] == []
    code, line = run_check(quiet.warehouse_path)
    assert code == 3
    assert line.startswith(
        f"NO_DATA: health not judged (too few items in its 1h window), "
        f"failure rate {statistics['failure_rate']:.4f} <= 0.05 (24h, "
    )


def test_a_breach_still_exits_1(run_check, quiet, quiet_body):
    """A judged figure over its threshold is CRITICAL whatever else could not be judged."""
    rate = quiet_body["task_statistics"]["failure_rate"]
    assert rate > 0
    code, out = run_check(quiet.warehouse_path, "--max-failure-rate", "0", "--json")
    assert code == 1
    body = json.loads(out)
    assert body["status"] == "CRITICAL" and body["health"] is None
    assert body["breaches"] == [{"metric": "failure_rate", "value": rate, "threshold": 0.0}]


def test_a_period_without_settled_tasks_is_not_judged(run_check, quiet, quiet_body):
    """A namespace of the build with no task settled in the period: no failure rate to judge."""
    with duckdb.connect(os.path.realpath(quiet.warehouse_path), read_only=True) as connection:
        namespace = connection.execute("select min(namespace_name) from task_version_history").fetchone()[0]
    code, out = run_check(
        quiet.warehouse_path, "--namespace", namespace, "--period", "1", "--min-health", "0", "--json"
    )
    body = json.loads(out)
    assert code == 3 and body["status"] == "NO_DATA"
    assert (body["failure_rate"], body["failed"], body["settled"]) == (None, 0, 0)
    code, line = run_check(quiet.warehouse_path, "--namespace", namespace, "--period", "1")
    assert code == 3
    assert "failure rate not judged (no settled task)" in line and f"(namespace {namespace}, 1h, 0/0 " in line


def test_tasker_analytics_check_exits_3(quiet):
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKER_ANALYTICS_")}
    env["TASKER_ANALYTICS_DUCKDB_PATH"] = str(quiet.warehouse_path)
    result = subprocess.run([COMMAND, "check"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("NO_DATA: health not judged")


# --- a namespace the build does not have ----------------------------------------------------


def test_an_unknown_namespace_exits_2_naming_it(run_check, quiet):
    code, line = run_check(quiet.warehouse_path, "--namespace", "nosuch")
    assert code == check.UNKNOWN == 2
    assert line.startswith("UNKNOWN: --namespace 'nosuch' does not exist in the served build's data")
    code, out = run_check(quiet.warehouse_path, "--namespace", "nosuch", "--period", "168", "--json")
    body = json.loads(out)
    assert code == 2 and body["status"] == "UNKNOWN" and "'nosuch'" in body["error"]
    with duckdb.connect(os.path.realpath(quiet.warehouse_path), read_only=True) as connection:
        namespaces = sorted(
            row[0] for row in connection.execute("select namespace_name from task_version_history").fetchall()
        )
    assert f"its namespaces: {', '.join(sorted(set(namespaces)))})" in body["error"]


def test_tasker_analytics_check_names_the_unknown_namespace(quiet):
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKER_ANALYTICS_")}
    env["TASKER_ANALYTICS_DUCKDB_PATH"] = str(quiet.warehouse_path)
    result = subprocess.run(
        [COMMAND, "check", "--namespace", "nosuch", "--min-health", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout.startswith("UNKNOWN: --namespace 'nosuch' does not exist")


# --- a partly idle hour ---------------------------------------------------------------------

# By hand (_partial_tables): success_share and latency have no item in the last hour, so
# they are not judged; first_attempt_step_success = 1 of the 2 steps settled = 0.5, and the
# score is its value alone: 100 x 0.3 x 0.5 / 0.3 = 50.0 (counting the other two as 0, as
# before, gave 100 x 0.3 x 0.5 / 1.0 = 15.0).
PARTIAL_COMPONENTS = [("success_share", None, 0), ("first_attempt_step_success", 0.5, 2), ("latency", None, 0)]
PARTIAL_SCORE = 50.0


def test_a_partly_idle_hour_scores_the_judged_components(partial):
    source, settings = partial
    with TestClient(create_app(settings)) as client:
        body = client.get(PERFORMANCE).json()
    assert [(c["name"], c["value"], c["count"]) for c in body["health_components"]] == PARTIAL_COMPONENTS
    assert body["system_health_score"] == PARTIAL_SCORE
    assert body["health_status"] == "scored"
    assert body["active_tasks"] == 1

    oracle = performance(load_raw(str(source)), PARTIAL_AS_OF)
    assert [(c["name"], c["value"], c["count"]) for c in oracle["health_components"]] == PARTIAL_COMPONENTS
    assert abs(oracle["system_health_score"] - PARTIAL_SCORE) < SCORE_ABS_TOL
    assert oracle["health_status"] == "scored"


def test_a_partly_idle_hour_is_judged_by_check(run_check, partial):
    _, settings = partial
    code, out = run_check(settings.duckdb_path, "--min-health", "60", "--json")
    body = json.loads(out)
    assert body["health"] == PARTIAL_SCORE
    # Health breaches; the 24 h failure rate is judged (task 1 settled complete): CRITICAL.
    assert code == 1 and body["breaches"] == [{"metric": "health", "value": 50.0, "threshold": 60.0}]
    assert (body["failure_rate"], body["settled"]) == (0.0, 1)
    assert run_check(settings.duckdb_path, "--min-health", "50")[0] == 0


# --- the analyst SQL function over the same windows -----------------------------------------


def _window_health(warehouse: Path, period: int) -> dict:
    with duckdb.connect(os.path.realpath(warehouse), read_only=True) as connection:
        result = connection.execute("select * from function_based_analytics_metrics(null, ?)", [period])
        names = [column[0] for column in result.description]
        row = dict(zip(names, result.fetchone(), strict=True))
    return {
        name: row[name] for name in ("success_share", "first_attempt_step_success", "latency", "system_health_score")
    }


def test_the_sql_function_follows_the_quiet_rule(quiet, partial):
    assert _window_health(quiet.warehouse_path, 1) == dict.fromkeys(
        ("success_share", "first_attempt_step_success", "latency", "system_health_score")
    )
    _, settings = partial
    assert _window_health(settings.duckdb_path, 1) == {
        "success_share": None,
        "first_attempt_step_success": 0.5,
        "latency": None,
        "system_health_score": PARTIAL_SCORE,
    }
