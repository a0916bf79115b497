"""The Python API's errors name the argument the caller gave: `hours` for slowest_tasks and
slowest_steps, `period` for bottleneck_analysis (the HTTP API's name). Arguments are
checked before the warehouse is read, so no build is needed."""

from __future__ import annotations

import pytest

import tasker_analytics
from tasker_analytics.core.query import InvalidQuery


@pytest.fixture
def python_api(monkeypatch, tmp_path):
    monkeypatch.setenv("TASKER_ANALYTICS_DUCKDB_PATH", str(tmp_path / "never_built.duckdb"))
    monkeypatch.setenv("TASKER_ANALYTICS_RETENTION_DAYS", "3")  # 72 hours of history
    tasker_analytics.reset()
    yield tasker_analytics
    tasker_analytics.reset()


@pytest.mark.parametrize("function", ["slowest_tasks", "slowest_steps"])
@pytest.mark.parametrize(
    ("hours", "detail"),
    [
        (0, "hours must be a whole number from 1 to 168"),
        ("24", "hours must be a whole number from 1 to 168"),
        (100, "hours 100 is longer than the history the builds keep"),
    ],
)
def test_the_hours_wrappers_name_hours(python_api, function, hours, detail):
    with pytest.raises(InvalidQuery) as raised:
        getattr(python_api, function)(task_name="x", hours=hours)
    assert raised.value.parameter == "hours"
    assert str(raised.value).startswith(detail) and raised.value.detail.startswith(detail)
    assert "period" not in str(raised.value), "the caller gave no argument named period"
    assert isinstance(raised.value, ValueError)


def test_the_hours_wrappers_keep_the_other_arguments_names(python_api):
    with pytest.raises(InvalidQuery) as raised:
        python_api.slowest_steps(task_name="x", hours=24, limit=0)
    assert raised.value.parameter == "limit"
    with pytest.raises(InvalidQuery) as raised:
        python_api.slowest_tasks(namespace="", hours=24)
    assert raised.value.parameter == "namespace"


def test_bottleneck_analysis_names_period(python_api):
    with pytest.raises(InvalidQuery) as raised:
        python_api.bottleneck_analysis(task_name="x", period=0)
    assert raised.value.parameter == "period"
    assert str(raised.value) == "period must be a whole number from 1 to 168"
