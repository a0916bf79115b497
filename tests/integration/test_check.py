"""`tasker-analytics check`: the spec's alerting job as a monitoring check. Exit codes 0 / 1 / 2,
and its figures are the JSON API's."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tasker_analytics.cli import check

PERFORMANCE = "/tasker/analytics/performance"
BOTTLENECKS = "/tasker/analytics/bottlenecks"
COMMAND = str(Path(sys.executable).with_name("tasker-analytics"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="check")
    check.add_arguments(parser)
    return parser


def _environment(warehouse: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any TASKER_ANALYTICS_* setting, pointed at `warehouse`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKER_ANALYTICS_")}
    return {**env, "TASKER_ANALYTICS_DUCKDB_PATH": str(warehouse), **extra}


@pytest.fixture
def run_check(monkeypatch, capsys, workload):
    """Run check.run in-process against the test build; returns (exit code, stdout)."""

    def run(*argv: str, warehouse: Path | None = None, **env: str) -> tuple[int, str]:
        for key in list(os.environ):
            if key.startswith("TASKER_ANALYTICS_"):
                monkeypatch.delenv(key)
        monkeypatch.setenv("TASKER_ANALYTICS_DUCKDB_PATH", str(warehouse or workload.warehouse_path))
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = check.run(_parser().parse_args(list(argv)))
        out = capsys.readouterr().out
        assert out.count("\n") == 1, out  # one line, or one JSON object on one line
        return code, out.strip()

    return run


@pytest.fixture(scope="module")
def api(workload):
    """The JSON API's figures of the same build."""
    from litestar.testing import TestClient

    from tasker_analytics.api.app import create_app

    with TestClient(create_app(workload.settings())) as client:
        performance = client.get(PERFORMANCE).json()
        bottlenecks = {
            period: client.get(BOTTLENECKS, params={"period": period, "limit": 50}).json() for period in (1, 24)
        }
    for body in bottlenecks.values():
        assert len(body["slowest_tasks"]) < 50  # so the API lists every task type
    return {"performance": performance, "bottlenecks": bottlenecks}


def _namespace_rates(bottlenecks: dict) -> dict[str, tuple[int, int, float]]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for task in bottlenecks["slowest_tasks"]:
        totals[task["namespace"]][0] += task["failed"]
        totals[task["namespace"]][1] += task["execution_count"]
    return {ns: (failed, settled, round(failed / settled, 4)) for ns, (failed, settled) in totals.items()}


def test_loose_thresholds_exit_0(run_check, api):
    performance = api["performance"]
    code, line = run_check("--min-health", "0", "--max-failure-rate", "1")
    assert code == 0
    health = performance["system_health_score"]
    rate = performance["task_statistics"]["failure_rate"]
    assert line.startswith(f"OK: health {health:g} >= 0, failure rate {rate:.4f} <= 1 (24h, ")
    assert performance["build_id"] in line


def test_json_figures_equal_the_api(run_check, api):
    performance = api["performance"]
    statistics = performance["task_statistics"]
    code, out = run_check("--min-health", "10", "--max-failure-rate", "0.9", "--json")
    assert code == 0
    assert json.loads(out) == {
        "status": "OK",
        "health": performance["system_health_score"],
        "failure_rate": statistics["failure_rate"],
        "failed": statistics["failed"],
        "settled": statistics["settled"],
        "namespace": None,
        "period_hours": 24,
        "thresholds": {"min_health": 10.0, "max_failure_rate": 0.9},
        "breaches": [],
        "data_as_of": performance["data_as_of"],
        "build_id": performance["build_id"],
    }
    assert statistics["failed"] > 0


def test_health_below_the_minimum_exits_1(run_check, api):
    health = api["performance"]["system_health_score"]
    assert health < 100
    code, line = run_check("--min-health", str(health + 0.1), "--max-failure-rate", "1")
    assert code == 1
    assert line.startswith(f"CRITICAL: health {health:g} < {health + 0.1:g}, failure rate ")
    code, out = run_check("--min-health", str(health + 0.1), "--max-failure-rate", "1", "--json")
    assert code == 1
    body = json.loads(out)
    assert body["status"] == "CRITICAL"
    assert body["breaches"] == [{"metric": "health", "value": health, "threshold": health + 0.1}]
    # The boundary is healthy: health >= the minimum.
    assert run_check("--min-health", str(health), "--max-failure-rate", "1")[0] == 0


def test_failure_rate_above_the_maximum_exits_1(run_check, api):
    rate = api["performance"]["task_statistics"]["failure_rate"]
    assert rate > 0.0001
    code, out = run_check("--min-health", "0", "--max-failure-rate", str(rate - 0.0001), "--json")
    assert code == 1
    body = json.loads(out)
    assert body["status"] == "CRITICAL"
    assert body["breaches"] == [{"metric": "failure_rate", "value": rate, "threshold": rate - 0.0001}]
    code, line = run_check("--min-health", "0", "--max-failure-rate", str(rate - 0.0001))
    assert code == 1 and line.startswith("CRITICAL: ") and f"failure rate {rate:.4f} > " in line
    # The boundary is healthy: rate <= the maximum.
    assert run_check("--min-health", "0", "--max-failure-rate", str(rate))[0] == 0


def test_both_breaches_are_listed(run_check, api):
    code, out = run_check("--min-health", "100", "--max-failure-rate", "0", "--json")
    assert code == 1
    assert [breach["metric"] for breach in json.loads(out)["breaches"]] == ["health", "failure_rate"]


def test_a_namespace_over_its_threshold_exits_1(run_check, api):
    global_rate = api["performance"]["task_statistics"]["failure_rate"]
    rates = _namespace_rates(api["bottlenecks"][24])
    namespace, (failed, settled, rate) = max(rates.items(), key=lambda item: item[1][2])
    assert rate > global_rate  # so the namespace scope decides the outcome below
    threshold = round((rate + global_rate) / 2, 4)
    assert run_check("--min-health", "0", "--max-failure-rate", str(threshold))[0] == 0
    code, out = run_check("--min-health", "0", "--max-failure-rate", str(threshold), "--namespace", namespace, "--json")
    assert code == 1
    body = json.loads(out)
    assert (body["failed"], body["settled"], body["failure_rate"]) == (failed, settled, rate)
    assert body["namespace"] == namespace and body["period_hours"] == 24
    assert body["breaches"] == [{"metric": "failure_rate", "value": rate, "threshold": threshold}]
    code, line = run_check("--min-health", "0", "--max-failure-rate", str(threshold), "--namespace", namespace)
    assert code == 1 and f"(namespace {namespace}, 24h, {failed}/{settled} tasks failed" in line


def test_a_namespace_over_a_shorter_period(run_check, api):
    rates = _namespace_rates(api["bottlenecks"][1])
    assert rates
    for namespace, (failed, settled, rate) in rates.items():
        code, out = run_check(
            "--min-health", "0", "--max-failure-rate", "1", "--namespace", namespace, "--period", "1", "--json"
        )
        body = json.loads(out)
        assert code == 0
        assert (body["failed"], body["settled"], body["failure_rate"], body["period_hours"]) == (
            failed,
            settled,
            rate,
            1,
        )
        assert body["build_id"] == api["bottlenecks"][1]["build_id"]


def test_the_period_path_agrees_with_task_statistics(run_check, api):
    """--period 24 without a namespace sums the bottleneck rows; it equals the 24 h task statistics."""
    statistics = api["performance"]["task_statistics"]
    code, out = run_check("--min-health", "0", "--max-failure-rate", "1", "--period", "24", "--json")
    body = json.loads(out)
    assert code == 0
    assert (body["failed"], body["settled"], body["failure_rate"]) == (
        statistics["failed"],
        statistics["settled"],
        statistics["failure_rate"],
    )


def test_an_unknown_namespace_exits_2_naming_it(run_check):
    """Not a quiet 0 % failure rate: a namespace the build's data lacks is an error
    (tests/integration/test_quiet_health.py has the rest of this edge)."""
    code, out = run_check("--min-health", "0", "--max-failure-rate", "0", "--namespace", "no_such_namespace", "--json")
    assert code == 2
    body = json.loads(out)
    assert body["status"] == "UNKNOWN" and "'no_such_namespace' does not exist" in body["error"]


def test_a_missing_warehouse_exits_2(run_check, tmp_path):
    missing = tmp_path / "missing.duckdb"
    code, line = run_check(warehouse=missing)
    assert code == 2
    assert line.startswith(f"UNKNOWN: analytics database {missing} does not exist")
    code, out = run_check("--json", warehouse=missing)
    body = json.loads(out)
    assert code == 2 and body["status"] == "UNKNOWN" and str(missing) in body["error"]


def test_a_file_that_is_not_a_build_exits_2(run_check, tmp_path):
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"not a database" * 100)
    code, line = run_check(warehouse=garbage)
    assert code == 2 and line.startswith("UNKNOWN: ")


def test_an_unreachable_postgres_exits_2(run_check):
    code, line = run_check(
        TASKER_ANALYTICS_WAREHOUSE="postgres", TASKER_ANALYTICS_DATABASE_URL="postgresql://postgres@127.0.0.1:1/none"
    )
    assert code == 2 and line.startswith("UNKNOWN: warehouse unreachable")


def test_bad_settings_exit_2(run_check):
    code, line = run_check(TASKER_ANALYTICS_WAREHOUSE="oracle")
    assert code == 2 and "TASKER_ANALYTICS_WAREHOUSE" in line and line.startswith("UNKNOWN: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["--min-health", "150"],
        ["--min-health", "-1"],
        ["--min-health", "nan"],
        ["--max-failure-rate", "-0.1"],
        ["--max-failure-rate", "1.5"],
        ["--max-failure-rate", "five"],
        ["--period", "0"],
        ["--period", "1.5"],
        ["--unknown"],
    ],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_health": 150.0}, "--min-health"),
        ({"max_failure_rate": -0.5}, "--max-failure-rate"),
        ({"period": 169}, "--period"),
        ({"namespace": ""}, "--namespace"),
        ({"namespace": "x" * 65}, "--namespace"),
        ({"namespace": "bad\nname"}, "--namespace"),
    ],
)
def test_bad_values_given_to_run_exit_2(run_check, monkeypatch, capsys, workload, changes, message):
    monkeypatch.setenv("TASKER_ANALYTICS_DUCKDB_PATH", str(workload.warehouse_path))
    args = _parser().parse_args([])
    for key, value in changes.items():
        setattr(args, key, value)
    capsys.readouterr()
    assert check.run(args) == 2
    assert capsys.readouterr().out.startswith(f"UNKNOWN: {message}")


def test_period_above_the_configured_maximum_exits_2(run_check):
    code, line = run_check("--period", "48", TASKER_ANALYTICS_MAX_PERIOD_HOURS="24")
    assert code == 2 and line.startswith("UNKNOWN: --period must be a whole number from 1 to 24")


def _subprocess(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_module_runs_as_a_command(workload, api, tmp_path):
    command = [sys.executable, "-m", "tasker_analytics.cli.check"]
    env = _environment(workload.warehouse_path)
    healthy = _subprocess([*command, "--min-health", "0", "--max-failure-rate", "1", "--json"], env)
    assert healthy.returncode == 0, healthy.stderr
    body = json.loads(healthy.stdout)
    assert body["health"] == api["performance"]["system_health_score"]
    assert body["build_id"] == api["performance"]["build_id"]
    critical = _subprocess([*command, "--min-health", "100", "--max-failure-rate", "1"], env)
    assert critical.returncode == 1 and critical.stdout.startswith("CRITICAL: ")
    missing = _subprocess(command, _environment(tmp_path / "missing.duckdb"))
    assert missing.returncode == 2 and missing.stdout.startswith("UNKNOWN: ")
    bad = _subprocess([*command, "--min-health", "150"], env)
    assert bad.returncode == 2 and "--min-health" in bad.stderr and bad.stdout == ""


def test_tasker_analytics_check(workload, api, tmp_path):
    env = _environment(workload.warehouse_path)
    healthy = _subprocess([COMMAND, "check", "--min-health", "0", "--max-failure-rate", "1", "--json"], env)
    assert healthy.returncode == 0, healthy.stderr
    body = json.loads(healthy.stdout)
    assert body["health"] == api["performance"]["system_health_score"]
    assert body["failure_rate"] == api["performance"]["task_statistics"]["failure_rate"]
    critical = _subprocess([COMMAND, "check", "--min-health", "100"], env)
    assert critical.returncode == 1 and critical.stdout.startswith("CRITICAL: health ")
    missing = _subprocess([COMMAND, "check"], _environment(tmp_path / "missing.duckdb"))
    assert missing.returncode == 2 and missing.stdout.startswith("UNKNOWN: ")
    bad = _subprocess([COMMAND, "check", "--max-failure-rate", "-1"], env)
    assert bad.returncode == 2 and "--max-failure-rate" in bad.stderr


@pytest.mark.postgres
def test_check_reads_a_postgres_warehouse(postgres_workload, postgres_client, tmp_path):
    performance = postgres_client.get(PERFORMANCE).json()
    env = _environment(
        tmp_path / "unused.duckdb",
        TASKER_ANALYTICS_WAREHOUSE="postgres",
        TASKER_ANALYTICS_DATABASE_URL=postgres_workload.dsn,
        TASKER_ANALYTICS_PG_SCHEMA=postgres_workload.schema,
    )
    result = _subprocess([sys.executable, "-m", "tasker_analytics.cli.check", "--min-health", "0", "--json"], env)
    body = json.loads(result.stdout)
    assert body["health"] == performance["system_health_score"]
    assert body["failure_rate"] == performance["task_statistics"]["failure_rate"]
    assert body["build_id"] == performance["build_id"]
    assert result.returncode == (0 if body["failure_rate"] <= 0.05 else 1)
