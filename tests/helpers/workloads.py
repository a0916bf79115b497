"""The generated workloads the tests build with dbt: the session workload's parameters, a
build on DuckDB or on Postgres, and dropping the Postgres schemas a build made."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from tasker_analytics.build.postgres import postgres_build_schemas
from tasker_analytics.build.runner import build
from tasker_analytics.config.settings import PROJECT_DIR, Settings
from tasker_analytics.generate.workload import generate_workload
from tasker_analytics.generate.writers import write_duckdb, write_postgres

# The workload every server test reads: deterministic, and built with a dbt as_of 30
# minutes before the generator's end, so rows after as_of exist and must be ignored.
WORKLOAD_TASKS = 4000
WORKLOAD_SEED = 7
GENERATED_AS_OF = datetime(2026, 11, 28, 12, 0, 0)
BUILD_AS_OF = GENERATED_AS_OF - timedelta(minutes=30)

# tests/conftest.py leaves dbt's data and unit tests out of the suite's builds
# (DBT_EXCLUDE_RESOURCE_TYPES); a build given these variables runs them.
WITH_DBT_TESTS = {"DBT_EXCLUDE_RESOURCE_TYPES": ""}


@dataclass
class Workload:
    source_path: Path
    warehouse_path: Path
    as_of: datetime
    generated_as_of: datetime
    seed: int
    tasks: int
    build_output: str = ""
    project_dir: Path = PROJECT_DIR

    def settings(self, **overrides) -> Settings:
        return Settings(duckdb_path=self.warehouse_path, **overrides)


def build_duckdb_workload(
    directory: Path, *, tasks: int, seed: int, as_of: datetime = BUILD_AS_OF, dbt_tests: bool = False
) -> Workload:
    source = directory / "tasker_source.duckdb"
    warehouse = directory / "tasker_analytics.duckdb"
    write_duckdb(generate_workload(tasks=tasks, seed=seed, as_of=GENERATED_AS_OF), str(source))
    result = build(
        Settings(duckdb_path=warehouse),
        source_duckdb=str(source),
        as_of=as_of.isoformat(sep=" "),
        quiet=True,
        extra_env={
            "DBT_TARGET_PATH": str(directory / "target"),
            "DBT_LOG_PATH": str(directory / "logs"),
            **(WITH_DBT_TESTS if dbt_tests else {}),
        },
    )
    return Workload(source, warehouse, as_of, GENERATED_AS_OF, seed, tasks, result.output)


@dataclass
class PostgresBuild:
    dsn: str
    source_schema: str
    schema: str
    build_output: str = ""

    def settings(self) -> Settings:
        return Settings(warehouse="postgres", database_url=self.dsn, database_schema=self.schema)


def build_postgres_workload(
    dsn: str, *, tasks: int, seed: int, target_dir: Path, dbt_tests: bool = False
) -> PostgresBuild:
    suffix = uuid.uuid4().hex[:8]
    result = PostgresBuild(dsn, f"test_tasker_{suffix}", f"test_analytics_{suffix}")
    write_postgres(generate_workload(tasks=tasks, seed=seed, as_of=GENERATED_AS_OF), dsn, schema=result.source_schema)
    result.build_output = build(
        result.settings(),
        as_of=BUILD_AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env={
            "TASKER_SOURCE_SCHEMA": result.source_schema,
            "DBT_TARGET_PATH": str(target_dir / "target"),
            "DBT_LOG_PATH": str(target_dir / "logs"),
            **(WITH_DBT_TESTS if dbt_tests else {}),
        },
    ).output
    return result


def drop_schemas(dsn: str, *schemas: str) -> None:
    """Drop schemas, and the build schemas of an analytics schema among them."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        for schema in schemas:
            for build_schema in postgres_build_schemas(connection, schema):
                connection.execute(f'drop schema if exists "{build_schema}" cascade')
            connection.execute(f'drop schema if exists "{schema}" cascade')
