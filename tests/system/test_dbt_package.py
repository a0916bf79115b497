"""Tasker Analytics installed as a dbt package into a team's own project: integration_tests/
installs this repository with `local: ../`, puts its models under `+schema: tasker`,
reads the Tasker tables from where the team keeps them (vars tasker_source_database and
tasker_source_schema) and the team's own step timeouts instead of the package's seed (var
tasker_step_timeouts), and has models of its own, one over ours. Built on DuckDB and on
PostgreSQL:
- `dbt build` passes, and the on-run-end hook creates the analyst functions in the
  package's schema, reading the relations the models were built as; on PostgreSQL the
  descriptions are the tables' and columns' comments (persist_docs);
- a run of the team's model alone, before the package's models exist, passes (the hook
  leaves the functions and says why), and the var tasker_analytics_functions turns them off;
- every analyst function answers, and its figures equal the Python API's (the server's
  path) reading the same warehouse with the package's schema configured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from helpers.paths import REPOSITORY
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery
from tasker_analytics.generate.workload import generate_workload
from tasker_analytics.generate.writers import write_duckdb, write_postgres

PROJECT = REPOSITORY / "integration_tests"
DBT = str(Path(sys.executable).with_name("dbt"))
AS_OF = datetime(2026, 11, 28, 12, 0, 0)
SOURCE_SCHEMA = "tasker"
TASKS = 1500


def _dbt(args: list[str], env: dict[str, str], folder: Path) -> subprocess.CompletedProcess:
    full = {
        **os.environ,
        "DBT_PROFILES_DIR": str(PROJECT),
        "DBT_TARGET_PATH": str(folder / "target"),
        "DBT_LOG_PATH": str(folder / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **env,
    }
    return subprocess.run([DBT, *args], cwd=PROJECT, env=full, capture_output=True, text=True, timeout=600)


def _passed(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    return completed.stdout


def _vars(**values: object) -> list[str]:
    return ["--vars", json.dumps({"as_of": AS_OF.strftime("%Y-%m-%d %H:%M:%S"), **values})]


@pytest.fixture(scope="module")
def tables():
    return generate_workload(tasks=TASKS, seed=11, as_of=AS_OF)


def _the_team_project_builds(env: dict[str, str], folder: Path, source_vars: dict[str, str]) -> None:
    _passed(_dbt(["deps"], env, folder))
    alone = _passed(_dbt(["run", "-s", "team_tasker_namespaces", *_vars(**source_vars)], env, folder))
    assert "analyst SQL functions not created: not built yet" in alone
    built = _passed(_dbt(["build", *_vars(**source_vars)], env, folder))
    assert "ERROR=0" in built and "analyst SQL functions not created" not in built
    again = _passed(_dbt(["run", "-s", "team_tasker_namespaces", *_vars(**source_vars)], env, folder))
    assert "analyst SQL functions not created" not in again  # the package's models exist now
    off = _passed(
        _dbt(
            ["run", "-s", "team_tasker_namespaces", *_vars(tasker_analytics_functions=False, **source_vars)],
            env,
            folder,
        )
    )
    assert "var tasker_analytics_functions is false" in off


def _functions_equal_the_api(call, settings: Settings) -> None:
    """Each analyst function, called in the package's schema, against the Python API."""
    analytics = Analytics(settings)
    try:
        _compare(call, settings, analytics)
    finally:
        analytics.close()


def _compare(call, settings: Settings, analytics: Analytics) -> None:
    performance = analytics.performance_metrics()
    report = analytics.bottleneck_analysis(BottleneckQuery.validated(settings, period=24))

    metrics = call("function_based_analytics_metrics(null, 24)")
    assert len(metrics) == 1
    assert metrics[0]["total_tasks"] == performance.performance_trends["24h"].created > 0
    assert metrics[0]["completed"] == performance.performance_trends["24h"].completed

    tasks = call("function_based_slowest_tasks(null, 24, 10)")
    assert [(row["namespace"], row["task_name"], row["version"], row["execution_count"]) for row in tasks] == [
        (task.namespace, task.task_name, task.version, task.execution_count) for task in report.slowest_tasks
    ]

    first = report.slowest_tasks[0]
    scoped = BottleneckQuery.validated(settings, namespace=first.namespace, task_name=first.task_name, period=24)
    steps_report = analytics.bottleneck_analysis(scoped)
    steps = call(f"function_based_slowest_steps('{first.task_name}', '{first.namespace}', 24, 10)")
    assert [(row["step_name"], row["execution_count"]) for row in steps] == [
        (step.step_name, step.execution_count) for step in steps_report.slowest_steps
    ]
    assert steps

    errors = call("function_based_error_patterns(null, 24, 10)")
    assert sorted((row["error_type"], row["frequency"]) for row in errors) == sorted(
        (pattern.error_type, pattern.frequency) for pattern in report.error_patterns
    )

    distribution = call("function_based_duration_distribution(null, 24)")[0]
    assert distribution["duration_count"] == report.performance_distribution.count > 0
    assert round(distribution["p95_ms"], 1) == report.performance_distribution.p95

    paths = {
        (row["namespace"], row["task_name"], row["version"], row["step_name"]): row["on_critical_path"]
        for row in call("function_based_critical_path(null, 24)")
    }
    assert report.dependency_analysis.critical_path_steps
    for step in report.dependency_analysis.critical_path_steps:
        key = (step.namespace, step.task_name, step.version, step.step_name)
        assert paths[key] == step.on_critical_path

    history = analytics.hourly_history(BottleneckQuery.validated(settings, period=24))
    hours = {row["hour_index"]: row for row in call("function_based_hourly_history(null, 24)")}
    assert hours and [hours.get(24 - position, {}).get("settled", 0) for position in range(24)] == [
        hour.settled for hour in history.hours
    ]

    # The team's step timeouts (one second each, var tasker_step_timeouts), not the seed's.
    timeouts = [
        row
        for row in call("function_based_recommendations(null, 168)")
        if row["recommendation_type"] == "timeout_optimization"
    ]
    assert timeouts and {row["current_timeout"] for row in timeouts} == {1}

    recommendations = call("function_based_recommendations(null, 24, 10)")
    assert recommendations
    assert [row["recommendation_type"] for row in recommendations] == [advice.type for advice in report.recommendations]


def test_the_package_in_a_team_duckdb_project(tables, tmp_path):
    source = tmp_path / "tasker_prod.duckdb"
    write_duckdb(tables, str(source), schema=SOURCE_SCHEMA)
    warehouse = tmp_path / "team_warehouse.duckdb"
    env = {
        "TASKER_TEAM_TARGET": "duckdb",
        "TASKER_TEAM_DUCKDB_PATH": str(warehouse),
        "TASKER_TEAM_SOURCE_DUCKDB_PATH": str(source),
    }
    _the_team_project_builds(env, tmp_path, {})

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        schemas = connection.execute(
            "select distinct schema_name from duckdb_functions() where function_name like 'function_based_%'"
        ).fetchall()
        assert schemas == [("main_tasker",)]
        assert connection.execute("select count(*) from main.team_task_type_health").fetchone()[0] > 0

        def call(function: str) -> list[dict]:
            result = connection.execute(f"select * from main_tasker.{function}")
            columns = [column[0] for column in result.description]
            return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

        # The Python API (the server's path) over the team's warehouse, schema configured.
        _functions_equal_the_api(call, Settings(duckdb_path=warehouse, duckdb_schema="main_tasker"))


@pytest.mark.postgres
def test_the_package_in_a_team_postgres_project(tables, tmp_path, postgres_dsn):
    import psycopg
    from psycopg.rows import dict_row

    suffix = os.urandom(4).hex()
    source_schema, team_schema = f"team_tasker_{suffix}", f"team_analytics_{suffix}"
    package_schema = f"{team_schema}_tasker"
    write_postgres(tables, postgres_dsn, schema=source_schema)
    with psycopg.connect(postgres_dsn) as connection:
        database = connection.info.dbname
    info = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    env = {
        "TASKER_TEAM_TARGET": "postgres",
        "TASKER_TEAM_PG_HOST": str(info.get("host", "127.0.0.1")),
        "TASKER_TEAM_PG_PORT": str(info.get("port", "5432")),
        "TASKER_TEAM_PG_USER": str(info.get("user", "postgres")),
        "TASKER_TEAM_PG_PASSWORD": str(info.get("password", "")),
        "TASKER_TEAM_PG_DATABASE": database,
        "TASKER_TEAM_PG_SCHEMA": team_schema,
    }
    try:
        _the_team_project_builds(
            env, tmp_path, {"tasker_source_database": database, "tasker_source_schema": source_schema}
        )
        with psycopg.connect(postgres_dsn, row_factory=dict_row) as connection:
            schemas = connection.execute(
                "select distinct n.nspname from pg_proc as p join pg_namespace as n on n.oid = p.pronamespace "
                "where p.proname like 'function\\_based\\_%%' and n.nspname like %s",
                (f"%{suffix}%",),
            ).fetchall()
            assert [row["nspname"] for row in schemas] == [package_schema]
            # persist_docs: the descriptions are the tables' and columns' comments.
            comment = connection.execute(
                "select obj_description(to_regclass(%s), 'pg_class') as table_comment, "
                "col_description(to_regclass(%s), 1) as column_comment",
                (f'"{package_schema}".performance_overview',) * 2,
            ).fetchone()
            assert comment["table_comment"] and comment["column_comment"]

            def call(function: str) -> list[dict]:
                return connection.execute(f'select * from "{package_schema}".{function}').fetchall()

            settings = Settings(warehouse="postgres", database_url=postgres_dsn, database_schema=package_schema)
            _functions_equal_the_api(call, settings)
    finally:
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            for schema in (source_schema, team_schema, package_schema):
                connection.execute(f'drop schema if exists "{schema}" cascade')
        shutil.rmtree(tmp_path / "target", ignore_errors=True)
