"""The Python API: the README's examples run as written, with the HTTP API's figures."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import msgspec
import pytest

import tasker_analytics
from tasker_analytics.config.settings import PROJECT_DIR


@pytest.fixture
def python_api(workload, monkeypatch):
    monkeypatch.setenv("TASKER_ANALYTICS_DUCKDB_PATH", str(workload.warehouse_path))
    tasker_analytics.reset()
    yield tasker_analytics
    tasker_analytics.reset()


def _json(value):
    return msgspec.json.decode(msgspec.json.encode(value))


def test_readme_examples_run_as_written(python_api):
    readme = Path(PROJECT_DIR / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks
    for block in blocks:
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(block, "README.md", "exec"), {})  # noqa: S102 - the README's own code
        assert "System health:" in output.getvalue()
        assert re.search(r"\w+: [\d.]+ms \(\d+ runs\)", output.getvalue())


def test_same_figures_as_the_http_api(python_api, client):
    volatile = {"freshness_seconds", "cache_info", "resource_utilization"}
    http = {k: v for k, v in client.get("/tasker/analytics/performance").json().items() if k not in volatile}
    python = {k: v for k, v in _json(python_api.performance_metrics()).items() if k not in volatile}
    assert python == http
    http = client.get("/tasker/analytics/bottlenecks", params={"namespace": "payments", "period": 48}).json()
    python = _json(python_api.bottleneck_analysis(namespace="payments", period=48))
    assert {k: v for k, v in python.items() if k not in volatile} == {
        k: v for k, v in http.items() if k not in volatile
    }
    assert _json(python_api.slowest_tasks(namespace="payments", hours=48)) == http["slowest_tasks"]
    assert _json(python_api.slowest_steps(namespace="payments", hours=48)) == http["slowest_steps"]


def test_cached_with_the_endpoint_ttl(python_api):
    first = python_api.bottleneck_analysis(period=3)
    second = python_api.bottleneck_analysis(period=3)
    assert first.cache_info.status == "miss" and second.cache_info.status == "hit"
    assert second.cache_info.ttl_seconds == 120


@pytest.mark.parametrize(
    ("arguments", "name"),
    [({"period": 0}, "period"), ({"period": 169}, "period"), ({"limit": 0}, "limit"), ({"period": "24"}, "period")],
)
def test_bad_arguments_name_the_parameter(python_api, arguments, name):
    with pytest.raises(ValueError, match=name):
        python_api.bottleneck_analysis(**arguments)
