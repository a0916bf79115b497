"""The Prometheus scrape target and the shipped alert rules (deploy/prometheus/), checked by
Prometheus' own tools rather than by our reading of its conventions:
- `promtool check metrics` on a real scrape: no problem (base units, no `quantile` label
  outside a summary);
- `promtool check rules` and `promtool test rules`: the rules parse, and each alert fires
  in its firing case and stays quiet in its quiet case;
- a real Prometheus scrapes a running server (background builds on) with the rules loaded:
  every rule evaluates without error, every series an alert reads was scraped, and every
  panel query of the shipped Grafana dashboard (deploy/grafana/, built with Grafana's typed
  SDK) returns data.

promtool and prometheus come with Debian's `prometheus` package (.ci/run installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time

import httpx
import yaml

from helpers.paths import REPOSITORY
from helpers.servers import free_port, running_server, wait_for
from helpers.services import service_missing
from helpers.workloads import build_duckdb_workload

DASHBOARD = REPOSITORY / "deploy" / "grafana" / "tasker-analytics.json"
RULES = REPOSITORY / "deploy" / "prometheus" / "tasker-analytics-alerts.yml"
RULE_TESTS = REPOSITORY / "deploy" / "prometheus" / "tasker-analytics-alerts.test.yml"
METRICS = "/tasker/analytics/metrics"
SERIES = re.compile(r"\btasker_analytics_[a-z0-9_]+")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        service_missing(f"{name} is not installed (Debian package `prometheus`)")
    return path


def _alerts() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_the_scrape_passes_promtool_check_metrics(client):
    promtool = _tool("promtool")
    scrape = client.get(METRICS)
    assert scrape.status_code == 200 and "tasker_analytics_task_duration_distribution_seconds_bucket" in scrape.text
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=scrape.text, capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0 and checked.stdout.strip() == "", checked.stdout + checked.stderr
    # The conventions promtool does not check: no millisecond series is left.
    assert "milliseconds" not in scrape.text


def test_the_alert_rules_pass_promtool_check_and_their_unit_tests():
    promtool = _tool("promtool")
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in checked.stdout
    tested = subprocess.run(
        [promtool, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent, capture_output=True, text=True, timeout=120
    )
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr
    # Every alert has a firing case and a quiet case in the unit tests.
    cases = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    checks = [check for case in cases for check in case.get("alert_rule_test", [])]
    for alert in _alerts():
        mine = [check for check in checks if check["alertname"] == alert["alert"]]
        assert any(check["exp_alerts"] for check in mine), f"{alert['alert']} never fires in the unit tests"
        assert any(not check["exp_alerts"] for check in mine), f"{alert['alert']} is never quiet in the unit tests"


def _query(prometheus: str, expression: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _wait_for(what: str, check, seconds: float = 90):
    return wait_for(what, check, seconds)


def test_a_real_prometheus_scrapes_the_server_and_evaluates_every_alert(tmp_path):
    prometheus_binary = _tool("prometheus")
    workload = build_duckdb_workload(tmp_path / "workload", tasks=400, seed=5)
    env = {
        "TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path),
        "TASKER_SOURCE_DUCKDB_PATH": str(workload.source_path),
        # Background builds, so that their series are scraped too (one runs within seconds).
        "TASKER_ANALYTICS_BACKGROUND_AGGREGATION": "true",
        "TASKER_ANALYTICS_AGGREGATION_INTERVAL": "5",
    }
    with running_server(env) as server:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [
                        {
                            "job_name": "tasker-analytics",
                            "metrics_path": METRICS,
                            "static_configs": [{"targets": [f"127.0.0.1:{server.port}"]}],
                        }
                    ],
                }
            )
        )
        process = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        prometheus = f"http://127.0.0.1:{port}"
        try:
            _wait_for("Prometheus to be ready", lambda: _ready(prometheus, process))
            _wait_for("a scrape with a build", lambda: _query(prometheus, "tasker_analytics_build_info"))
            _wait_for(
                "a finished background build",
                lambda: _query(prometheus, "tasker_analytics_background_build_last_success"),
                seconds=120,
            )
            # Every rule has been evaluated, without an error.
            rules = _wait_for("every rule evaluated", lambda: _evaluated_rules(prometheus))
            assert {rule["name"] for rule in rules} == {alert["alert"] for alert in _alerts()}
            for rule in rules:
                assert rule["health"] == "ok", rule
            # Every Grafana panel's query returns data over the run (the variables at "All"),
            # and the variables' label queries find values.
            for title, expr in _panel_queries():
                assert _query_range(prometheus, expr), f"panel {title!r}: no data for {expr}"
            for label in ("namespace", "task_name"):
                values = httpx.get(
                    f"{prometheus}/api/v1/label/{label}/values",
                    params={"match[]": "tasker_analytics_task_type_executions"},
                    timeout=10,
                ).json()["data"]
                assert values, label
            # Every series an alert reads was scraped at some point of the run.
            read = {name for alert in _alerts() for name in SERIES.findall(alert["expr"])}
            assert len(read) >= 6, read
            for name in sorted(read):
                assert _query(prometheus, f"count_over_time({name}[10m])"), f"{name} was never scraped"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _panel_queries() -> list[tuple[str, str]]:
    """Each panel's PromQL in the shipped dashboard, with its variables at "All" (`.*`)."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [
        (panel["title"], target["expr"].replace("$namespace", ".*").replace("$task_name", ".*"))
        for panel in panels
        for target in panel.get("targets", [])
    ]


def _query_range(prometheus: str, expression: str) -> list[dict]:
    end = time.time()
    answer = httpx.get(
        f"{prometheus}/api/v1/query_range",
        params={"query": expression, "start": end - 600, "end": end, "step": "1s"},
        timeout=10,
    ).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_the_grafana_dashboard_is_built_by_the_sdk_and_up_to_date():
    """deploy/grafana/tasker-analytics.json is what deploy/grafana/dashboard.py builds with
    Grafana's typed SDK; it has a Prometheus data source variable and the two filters, and
    every panel reads that data source."""
    script = REPOSITORY / "deploy" / "grafana" / "dashboard.py"
    checked = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    board = json.loads(DASHBOARD.read_text())
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"namespace", "task_name"} <= set(variables)
    queries = _panel_queries()
    assert len(queries) >= 12
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert target["refId"], panel["title"]
    scoped = [expr for _, expr in queries if "task_type_" in expr]
    raw = [target["expr"] for panel in board["panels"] for target in panel.get("targets", [])]
    assert scoped and all('namespace=~"$namespace"' in expr for expr in raw if "task_type_" in expr)


def _ready(prometheus: str, process: subprocess.Popen) -> bool:
    assert process.poll() is None, f"prometheus exited: {process.stderr.read() if process.stderr else ''}"
    try:
        return httpx.get(f"{prometheus}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _evaluated_rules(prometheus: str) -> list[dict] | None:
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    if rules and all(not rule["lastEvaluation"].startswith("0001") for rule in rules):
        return rules
    return None


def test_the_docs_name_the_rule_files_and_every_alert():
    """docs/OPERATORS.md names the files operators load and each alert in them."""
    text = (REPOSITORY / "docs" / "OPERATORS.md").read_text()
    for path in (RULES, RULE_TESTS, DASHBOARD):
        assert str(path.relative_to(REPOSITORY)) in text
    for alert in _alerts():
        assert alert["alert"] in text
