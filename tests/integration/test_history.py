"""The scope's history hour by hour (Analytics.hourly_history, the SQL function
function_based_hourly_history, the dashboard's "Hour by hour" chart) against a plain-Python
recomputation from the per-execution table: per hour (as_of - i h, as_of - (i - 1) h], the
tasks settled in it, completed and failed, the completion rate, and the p95 of the
completed durations as the documented sketch gives it."""

from __future__ import annotations

import re
from datetime import timedelta

import duckdb
import psycopg
import pytest
from litestar.testing import TestClient

from helpers.oracle import sketch_percentile
from tasker_analytics.api.app import create_app
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery
from tasker_analytics.core.schemas import utc

HOURS = 168
SETTLED = ("complete", "error", "cancelled", "resolved_manually")


def _expected(rows: list[tuple], as_of, namespace: str | None) -> list[dict]:
    """Per hour, oldest first, from (namespace, final_state, settled_at, duration_ms,
    has_negative_duration) rows of int_task_executions."""
    as_of = as_of.replace(tzinfo=None)
    hours = []
    for index in range(HOURS, 0, -1):
        end = as_of - timedelta(hours=index - 1)
        start = end - timedelta(hours=1)
        inside = [
            row
            for row in rows
            if row[1] in SETTLED and row[2] is not None and start < row[2] <= end and namespace in (None, row[0])
        ]
        completed = [row for row in inside if row[1] == "complete"]
        durations = [row[3] for row in completed if row[3] is not None and not row[4]]
        p95 = sketch_percentile(durations, 0.95)
        hours.append(
            {
                "hour_end": end,
                "settled": len(inside),
                "completed": len(completed),
                "failed": sum(1 for row in inside if row[1] == "error"),
                "completion_rate": round(len(completed) / len(inside), 4) if inside else 0.0,
                "p95": None if p95 is None else round(p95, 1),
            }
        )
    return hours


def _served(history) -> list[dict]:
    return [
        {
            "hour_end": hour.hour_end.replace(tzinfo=None),
            "settled": hour.settled,
            "completed": hour.completed,
            "failed": hour.failed,
            "completion_rate": hour.completion_rate,
            "p95": hour.p95_duration_ms,
        }
        for hour in history.hours
    ]


def _check(served: list[dict], expected: list[dict]) -> None:
    assert len(served) == len(expected) == HOURS
    assert sum(hour["settled"] for hour in expected) > 100
    for got, want in zip(served, expected, strict=True):
        assert {k: v for k, v in got.items() if k != "p95"} == {k: v for k, v in want.items() if k != "p95"}
        if want["p95"] is None:
            assert got["p95"] is None, got
        else:  # the same estimator, served to 1 decimal
            assert got["p95"] == pytest.approx(want["p95"], rel=1e-9, abs=0.1), (got, want)


def _history(settings, **scope):
    """Analytics.hourly_history of the scope over HOURS."""
    analytics = Analytics(settings)
    try:
        return analytics.hourly_history(BottleneckQuery.validated(settings, period=HOURS, **scope))
    finally:
        analytics.close()


QUERY = "select namespace_name, final_state, settled_at, duration_ms, has_negative_duration from int_task_executions"


@pytest.mark.parametrize("namespace", [None, "payments"])
def test_hourly_history_equals_the_per_execution_rows(workload, namespace):
    settings = workload.settings()
    history = _history(settings, namespace=namespace)
    with duckdb.connect(str(workload.warehouse_path), read_only=True) as connection:
        rows = connection.execute(QUERY).fetchall()
    assert history.scope == ({} if namespace is None else {"namespace": namespace})
    assert history.hours[-1].hour_end == utc(history.data_as_of)
    _check(_served(history), _expected(rows, history.data_as_of, namespace))


@pytest.mark.postgres
def test_hourly_history_on_postgres_equals_the_per_execution_rows(postgres_workload):
    settings = postgres_workload.settings()
    history = _history(settings)
    with psycopg.connect(postgres_workload.dsn) as connection:
        rows = connection.execute(QUERY.replace("from ", f'from "{postgres_workload.schema}".')).fetchall()
    _check(_served(history), _expected(rows, history.data_as_of, None))


def test_the_dashboard_draws_every_hour_with_its_figures(workload):
    settings = workload.settings()
    history = _history(settings, namespace="payments")
    with TestClient(create_app(settings)) as client:
        page = client.get("/tasker/analytics/dashboard", params={"namespace": "payments"}).text
    bars = re.findall(r'<rect class="bar series-settled"[^>]*>', page)
    with_tasks = [hour for hour in history.hours if hour.settled]
    assert len(bars) == len(with_tasks) > 20
    for bar, hour in zip(bars, with_tasks, strict=True):
        assert f'data-settled="{hour.settled}"' in bar
        assert f'data-completion-rate="{hour.completion_rate}"' in bar
        expected_p95 = "null" if hour.p95_duration_ms is None else str(hour.p95_duration_ms)
        assert f'data-p95-ms="{expected_p95}"' in bar
    assert '<svg id="history-chart"' in page and 'data-hours="168"' in page
