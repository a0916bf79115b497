"""Incremental builds equal a full refresh, on DuckDB and on PostgreSQL.

A generated workload is split an hour before its end (generate.split_at): the source
first holds what existed then, and the build at that time starts empty. The hour's
activity is then appended (new tasks, later transitions of running ones, and late
transitions created hours earlier that arrive with new ids), and the next build continues
the served one. Its tables must equal those of a full refresh over the same source, the
tasks it recomputed must be few, and the retention window (3 days here, so that tasks
leave it within the hour) must hold in both.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from helpers.builds import BUILD_COLUMNS, STATE_RELATIONS, rows_equal
from helpers.workloads import WITH_DBT_TESTS, drop_schemas
from tasker_analytics.build.project import INCREMENTAL_RELATIONS
from tasker_analytics.build.runner import build
from tasker_analytics.config.settings import Settings
from tasker_analytics.generate.workload import generate_workload
from tasker_analytics.generate.writers import split_at, write_duckdb, write_postgres

TASKS = 1500
SEED = 11
END = datetime(2026, 11, 28, 12, 0, 0)
CUTOFF = END - timedelta(hours=1)
RETENTION_DAYS = 3


@pytest.fixture(scope="module")
def split_workload():
    before, arrivals = split_at(generate_workload(tasks=TASKS, seed=SEED, as_of=END), CUTOFF, seed=SEED)
    late = arrivals["tasker_workflow_step_transitions"].to_pydict()
    late_steps = {
        step
        for step, created in zip(late["workflow_step_id"], late["created_at"], strict=True)
        if created <= CUTOFF - timedelta(hours=2)
    }
    assert late_steps, "the split must hold back late step transitions"
    assert arrivals["tasker_tasks"].num_rows > 0
    steps = before["tasker_workflow_steps"].to_pydict()
    late_tasks = {
        task
        for step, task, created in zip(steps["workflow_step_id"], steps["task_id"], steps["created_at"], strict=True)
        if step in late_steps and created > END - timedelta(days=RETENTION_DAYS)
    }
    return before, arrivals, late_tasks


def _env(target_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "TASKER_ANALYTICS_RETENTION_DAYS": str(RETENTION_DAYS),
        "DBT_TARGET_PATH": str(target_dir / "target"),
        "DBT_LOG_PATH": str(target_dir / "logs"),
        **WITH_DBT_TESTS,
        **extra,
    }


def _compare(fetch, relations: list[str]) -> list[str]:
    """The relations whose rows differ between the incremental and the full build."""
    differing = []
    for relation in relations:
        incremental, full = fetch(relation, "incremental"), fetch(relation, "full")
        if not rows_equal(incremental, full):
            differing.append(relation)
    return differing


def test_duckdb_incremental_equals_full_refresh(split_workload, tmp_path):
    before, arrivals, late_tasks = split_workload
    source = tmp_path / "tasker_source.duckdb"
    write_duckdb(before, str(source))
    served = {name: tmp_path / name / "tasker_analytics.duckdb" for name in ("incremental", "full")}

    first = build(
        Settings(duckdb_path=served["incremental"]),
        source_duckdb=str(source),
        as_of=CUTOFF.isoformat(sep=" "),
        quiet=True,
        extra_env=_env(tmp_path / "incremental"),
    )
    assert not first.incremental
    write_duckdb(arrivals, str(source), append=True)
    second = build(
        Settings(duckdb_path=served["incremental"]),
        source_duckdb=str(source),
        as_of=END.isoformat(sep=" "),
        quiet=True,
        extra_env=_env(tmp_path / "incremental"),
    )
    full = build(
        Settings(duckdb_path=served["full"]),
        source_duckdb=str(source),
        as_of=END.isoformat(sep=" "),
        quiet=True,
        extra_env=_env(tmp_path / "full"),
    )
    assert second.incremental and not full.incremental

    connection = duckdb.connect()
    for name, path in served.items():
        connection.execute(f"attach '{path.resolve()}' as \"{name}\" (read_only)")
    relations = [
        row[0]
        for row in connection.execute(
            "select table_name from duckdb_tables() where database_name = 'full' and schema_name = 'main' "
            "order by table_name"
        ).fetchall()
        if row[0] not in STATE_RELATIONS
    ]
    assert {"int_task_executions", "int_step_executions", "task_hourly_rollup"} <= set(relations)

    def fetch(relation: str, build_name: str) -> list[tuple]:
        columns = [
            row[0]
            for row in connection.execute(
                "select column_name from duckdb_columns() where database_name = ? and table_name = ? "
                "order by column_index",
                ["full", relation],
            ).fetchall()
            if row[0] not in BUILD_COLUMNS
        ]
        select = ", ".join(f'"{column}"' for column in columns)
        return connection.execute(f'select {select} from "{build_name}".main.{relation}').fetchall()

    assert _compare(fetch, relations) == []
    _check_touched_and_retention(
        lambda sql: connection.execute(sql.format(schema="incremental.main")).fetchall(), late_tasks
    )


def _check_touched_and_retention(query, late_tasks: set[int]) -> None:
    """The incremental build recomputed few tasks, among them those of the late
    transitions, and kept only the retention window."""
    touched = {row[0] for row in query("select task_id from {schema}.int_touched_tasks")}
    executions = query("select count(*), min(created_at) from {schema}.int_task_executions")[0]
    assert 0 < len(touched) < executions[0] / 4, (len(touched), executions[0])
    assert late_tasks and late_tasks <= touched
    assert executions[1] > END - timedelta(days=RETENTION_DAYS)
    watermarks = query("select build_seq from {schema}.int_build_watermarks order by build_seq")
    assert [row[0] for row in watermarks] == [1, 2]


@pytest.fixture
def postgres_split_schemas(postgres_dsn):
    suffix = uuid.uuid4().hex[:8]
    schemas = {name: f"test_inc_{name}_{suffix}" for name in ("source", "incremental", "full")}
    yield schemas
    drop_schemas(postgres_dsn, *schemas.values())


@pytest.mark.postgres
def test_postgres_incremental_equals_full_refresh(split_workload, postgres_dsn, postgres_split_schemas, tmp_path):
    before, arrivals, late_tasks = split_workload
    schemas = postgres_split_schemas
    write_postgres(before, postgres_dsn, schema=schemas["source"])

    def settings(name: str) -> Settings:
        return Settings(warehouse="postgres", database_url=postgres_dsn, database_schema=schemas[name])

    def run(name: str, as_of: datetime):
        return build(
            settings(name),
            as_of=as_of.isoformat(sep=" "),
            quiet=True,
            extra_env=_env(tmp_path / name, TASKER_SOURCE_SCHEMA=schemas["source"]),
        )

    assert not run("incremental", CUTOFF).incremental
    write_postgres(arrivals, postgres_dsn, schema=schemas["source"], append=True)
    second, full = run("incremental", END), run("full", END)
    assert second.incremental and not full.incremental

    with psycopg.connect(postgres_dsn) as connection:
        build_schema = {
            name: connection.execute(f'select build_schema from "{schemas[name]}".build_pointer').fetchone()[0]
            for name in ("incremental", "full")
        }
        relations = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = %s "
                "and table_type = 'BASE TABLE' order by table_name",
                (build_schema["full"],),
            ).fetchall()
            if row[0] not in STATE_RELATIONS
        ]
        assert set(INCREMENTAL_RELATIONS) - STATE_RELATIONS <= set(relations)

        def fetch(relation: str, build_name: str) -> list[tuple]:
            columns = [
                row[0]
                for row in connection.execute(
                    "select column_name from information_schema.columns where table_schema = %s "
                    "and table_name = %s order by ordinal_position",
                    (build_schema["full"], relation),
                ).fetchall()
                if row[0] not in BUILD_COLUMNS
            ]
            select = ", ".join(f'"{column}"' for column in columns)
            return connection.execute(f'select {select} from "{build_schema[build_name]}"."{relation}"').fetchall()

        assert _compare(fetch, relations) == []
        incremental_schema = f'"{build_schema["incremental"]}"'
        _check_touched_and_retention(
            lambda sql: connection.execute(sql.format(schema=incremental_schema)).fetchall(), late_tasks
        )
