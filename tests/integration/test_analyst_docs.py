"""Every SQL example of docs/ANALYSTS.md runs as written on DuckDB and on Postgres, and
the ones that restate an API figure agree with it."""

from __future__ import annotations

import os

import duckdb
import psycopg
import pytest

from helpers.doc_blocks import code_blocks

# The same blocks tests/system/test_documented_commands.py runs beside a running server,
# on the connection the guide opens.
EXAMPLES = [block.text for block in code_blocks("docs/ANALYSTS.md") if block.language == "sql"]


def test_there_are_examples():
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("sql", EXAMPLES)
def test_example_runs_on_duckdb(workload, sql):
    connection = duckdb.connect(os.path.realpath(workload.warehouse_path), read_only=True)
    try:
        rows = connection.execute(sql).fetchall()
    finally:
        connection.close()
    assert isinstance(rows, list)


@pytest.mark.postgres
@pytest.mark.parametrize("sql", EXAMPLES)
def test_example_runs_on_postgres(postgres_workload, sql):
    with psycopg.connect(postgres_workload.dsn) as connection:
        connection.execute(f'set search_path to "{postgres_workload.schema}"')
        rows = connection.execute(sql).fetchall()
    assert isinstance(rows, list)


def test_the_weekly_example_matches_the_api(workload, client):
    sql = next(example for example in EXAMPLES if "interval '7 days'" in example)
    connection = duckdb.connect(os.path.realpath(workload.warehouse_path), read_only=True)
    try:
        rows = connection.execute(sql).fetchall()
    finally:
        connection.close()
    assert rows
    body = client.get("/tasker/analytics/bottlenecks", params={"period": 168, "limit": 50}).json()
    completed = {(t["namespace"], t["task_name"], t["version"]) for t in body["slowest_tasks"] if t["completed"]}
    assert {row[:3] for row in rows} == completed
