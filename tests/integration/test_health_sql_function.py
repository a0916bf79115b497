"""The analyst SQL function function_based_analytics_metrics(in_start_date, in_period) has
the window's system health score (docs/ANALYSTS.md): `success_share`,
`first_attempt_step_success`, `latency` and `system_health_score`, with the API's
definition, weights and quiet-system rule (macros/semantics/health.sql).

- The API's own window (start null, period = health_window_hours, 1 h) gives the
  performance body's score and component values, on DuckDB and on Postgres.
- Other windows (in the past, shorter and longer, one reaching past as_of) agree with the
  oracle's plain-Python recomputation from the raw tables (helpers.oracle.health), and the
  two engines agree with each other.
- An idle window and a partly idle one: tests/integration/test_quiet_health.py builds them
  and checks the function there.
"""

from __future__ import annotations

import math
import os
from datetime import timedelta

import duckdb
import psycopg
import pytest

from helpers.oracle import facts, health, load_raw
from tasker_analytics.core.figures import rate

HEALTH_COLUMNS = ("success_share", "first_attempt_step_success", "latency", "system_health_score")
# (hours before as_of where the window starts, or None for as_of - period; period in hours)
WINDOWS = [(30, 6), (100, 12), (None, 4), (None, 24), (1, 3), (200, 168)]


def duckdb_metrics(path, start, period: int) -> dict:
    with duckdb.connect(os.path.realpath(path), read_only=True) as connection:
        result = connection.execute("select * from function_based_analytics_metrics(?, ?)", [start, period])
        names = [column[0] for column in result.description]
        (row,) = result.fetchall()
    return dict(zip(names, row, strict=True))


def postgres_metrics(dsn: str, schema: str, start, period: int) -> dict:
    with psycopg.connect(dsn, row_factory=psycopg.rows.dict_row) as connection:
        (row,) = connection.execute(
            f'select * from "{schema}".function_based_analytics_metrics(cast(%s as timestamp), cast(%s as integer))',
            (start, period),
        ).fetchall()
    return row


def _as_the_api_rounds(row: dict) -> tuple:
    score = row["system_health_score"]
    return (
        None if score is None else round(score, 1),
        [None if row[name] is None else rate(row[name]) for name in HEALTH_COLUMNS[:3]],
    )


def _served(body: dict) -> tuple:
    return body["system_health_score"], [component["value"] for component in body["health_components"]]


def _close(left, right) -> bool:
    if left is None or right is None:
        return left is right
    return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9)


def test_duckdb_default_window_equals_the_api(workload, client):
    body = client.get("/tasker/analytics/performance").json()
    window_hours = body["health_components"][0]["window_hours"]
    row = duckdb_metrics(workload.warehouse_path, None, window_hours)
    assert body["system_health_score"] is not None
    assert _as_the_api_rounds(row) == _served(body)
    assert row["window_end"] == workload.as_of


@pytest.mark.postgres
def test_postgres_default_window_equals_the_api(postgres_workload, postgres_client):
    body = postgres_client.get("/tasker/analytics/performance").json()
    window_hours = body["health_components"][0]["window_hours"]
    row = postgres_metrics(postgres_workload.dsn, postgres_workload.schema, None, window_hours)
    assert body["system_health_score"] is not None
    assert _as_the_api_rounds(row) == _served(body)


@pytest.fixture(scope="module")
def oracle_facts(workload):
    return facts(load_raw(str(workload.source_path)), workload.as_of)


def _start(workload, hours_before):
    return None if hours_before is None else workload.as_of - timedelta(hours=hours_before)


@pytest.mark.parametrize(("hours_before", "period"), WINDOWS)
def test_other_windows_equal_the_oracle(workload, oracle_facts, hours_before, period):
    start = _start(workload, hours_before)
    row = duckdb_metrics(workload.warehouse_path, start, period)
    end = (start or workload.as_of - timedelta(hours=period)) + timedelta(hours=period)
    assert row["window_end"] == end
    expected = health(oracle_facts, end, window_hours=period)
    values = {component["name"]: component["value"] for component in expected["health_components"]}
    for name in HEALTH_COLUMNS[:3]:
        assert _close(row[name], values[name]), (name, row[name], values[name])
    assert _close(row["system_health_score"], expected["system_health_score"])
    assert row["settled"] == expected["health_components"][0]["count"]


def test_the_windows_are_not_all_alike(workload, oracle_facts):
    """The windows above differ in their health, so agreeing on them means something."""
    scores = {
        duckdb_metrics(workload.warehouse_path, _start(workload, h), p)["system_health_score"] for h, p in WINDOWS
    }
    assert len(scores) == len(WINDOWS)


@pytest.mark.postgres
@pytest.mark.parametrize(("hours_before", "period"), WINDOWS)
def test_postgres_windows_equal_duckdb(workload, postgres_workload, hours_before, period):
    """The Postgres build has the same generated workload (seed, size and as_of) as DuckDB's."""
    start = _start(workload, hours_before)
    on_duckdb = duckdb_metrics(workload.warehouse_path, start, period)
    on_postgres = postgres_metrics(postgres_workload.dsn, postgres_workload.schema, start, period)
    for name in (*HEALTH_COLUMNS, "settled", "completed", "window_end"):
        if isinstance(on_duckdb[name], float):
            assert _close(on_postgres[name], on_duckdb[name]), name
        else:
            assert on_postgres[name] == on_duckdb[name], name
