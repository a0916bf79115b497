"""The spark target (docs/SCALING.md): the generator writes Tasker's tables as Parquet,
`dbt build` runs the same models on Spark in local mode, the served marts are copied into a
DuckDB build file, and the same server answers with the same bodies as a DuckDB and a
PostgreSQL build of the same workload.

Spark builds are incremental like the others: a generated workload is split an hour before
the final as_of (generate.split_at), the first Spark build runs on what the source held
then, the arrivals are appended as new Parquet files, and the next Spark build continues
the first one's tables, rewriting only the days (partitions) of the tasks it recomputes.
Its tables must equal those of a full DuckDB build of the same source. The retention (3
days here) starts before midnight at the first build's as_of and after it at the second's,
so that a whole day leaves the tables and the next day loses some of its tasks.

Spark needs the `spark` extra (`pip install -e '.[spark]'`) and Java 17: without them the
Spark tests skip with the reason, and fail under CI (helpers.services.service_missing).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from litestar.testing import TestClient

from helpers.builds import BUILD_COLUMNS, STATE_RELATIONS, dbt_summary, dbt_unit_tests, rows_equal
from helpers.responses import ENGINE_QUERIES, stable_body
from helpers.services import require_spark
from helpers.workloads import GENERATED_AS_OF, drop_schemas
from tasker_analytics.api.app import create_app
from tasker_analytics.build.project import INCREMENTAL_RELATIONS, SERVED_RELATIONS, BuildError, BuildResult
from tasker_analytics.build.runner import build
from tasker_analytics.build.spark import (
    export_spark_marts,
    spark_naive_utc,
    spark_parquet_files,
    spark_parquet_scan,
    spark_table_folder,
)
from tasker_analytics.config.settings import Settings
from tasker_analytics.generate.workload import TABLE_NAMES, generate_workload
from tasker_analytics.generate.writers import split_at, write_duckdb, write_parquet, write_postgres

SPARK_TASKS = 2000
SPARK_SEED = 11
# The generator's end; the final builds' as_of half an hour before it (rows after as_of
# exist and must be ignored); the split and first build an hour before that.
SPARK_GENERATED_END = datetime(2026, 11, 28, 1, 0, 0)
SPARK_AS_OF = SPARK_GENERATED_END - timedelta(minutes=30)
SPARK_CUTOFF = SPARK_AS_OF - timedelta(hours=1)
RETENTION_DAYS = 3
# The per-execution models, partitioned by task_created_date on Spark.
PER_TASK_RELATIONS = [relation for relation in INCREMENTAL_RELATIONS if relation != "int_build_watermarks"]

# The whole module, the few tests that need no Spark (the Parquet writer, the command line) too.
pytestmark = pytest.mark.spark


@dataclass
class SplitWorkload:
    before: dict[str, pa.Table]
    arrivals: dict[str, pa.Table]
    late_tasks: set[int]


@pytest.fixture(scope="module")
def spark_workload() -> SplitWorkload:
    workload = generate_workload(tasks=SPARK_TASKS, seed=SPARK_SEED, as_of=SPARK_GENERATED_END)
    before, arrivals = split_at(workload, SPARK_CUTOFF, seed=SPARK_SEED)
    late = arrivals["tasker_workflow_step_transitions"].to_pydict()
    late_steps = {
        step
        for step, created in zip(late["workflow_step_id"], late["created_at"], strict=True)
        if created <= SPARK_CUTOFF - timedelta(hours=2)
    }
    steps = before["tasker_workflow_steps"].to_pydict()
    late_tasks = {
        task for step, task in zip(steps["workflow_step_id"], steps["task_id"], strict=True) if step in late_steps
    }
    assert late_tasks and arrivals["tasker_tasks"].num_rows > 0, "the split must hold back rows"
    return SplitWorkload(before, arrivals, late_tasks)


def append_parquet(tables: dict[str, pa.Table], folder: Path) -> None:
    """Add the rows of `tables` to the Parquet source as one new file per table, the way
    a data lake table grows."""
    for name, table in tables.items():
        if table.num_rows:
            pq.write_table(table, str(folder / name / "part-00001.parquet"))


def _env(directory: Path, **extra: str) -> dict[str, str]:
    return {
        "TASKER_ANALYTICS_RETENTION_DAYS": str(RETENTION_DAYS),
        "DBT_TARGET_PATH": str(directory / "target"),
        "DBT_LOG_PATH": str(directory / "logs"),
        **extra,
    }


def _spark_settings(directory: Path) -> Settings:
    return Settings(
        warehouse="spark", duckdb_path=directory / "served" / "tasker_analytics.duckdb", spark_dir=directory / "spark"
    )


@pytest.fixture(scope="module")
def duckdb_build(spark_workload, tmp_path_factory) -> Settings:
    """A full DuckDB build of the whole workload at the final as_of: what the incremental
    Spark build's tables must equal, model by model, and its bodies."""
    require_spark()  # only the Spark tests use it: skip before building
    directory = tmp_path_factory.mktemp("spark_duckdb")
    source = directory / "tasker_source.duckdb"
    write_duckdb(spark_workload.before, str(source))
    write_duckdb(spark_workload.arrivals, str(source), append=True)
    settings = Settings(duckdb_path=directory / "duckdb" / "tasker_analytics.duckdb")
    build(
        settings,
        source_duckdb=str(source),
        as_of=SPARK_AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env=_env(directory / "duckdb"),
    )
    return settings


PartitionFiles = dict[str, dict[date, set[str]]]


def _partition_files(settings: Settings) -> PartitionFiles:
    """The data files of each per-execution table, per task_created_date partition."""
    layout: PartitionFiles = {}
    for relation in PER_TASK_RELATIONS:
        folder = spark_table_folder(settings, relation)
        days: dict[date, set[str]] = {}
        for path in spark_parquet_files(folder):
            (partition,) = Path(path).relative_to(folder).parent.parts
            column, _, value = partition.partition("=")
            assert column == "task_created_date", path
            days.setdefault(date.fromisoformat(value), set()).add(path)
        layout[relation] = days
    return layout


@dataclass
class SparkIncremental:
    settings: Settings
    first: BuildResult
    second: BuildResult
    before: PartitionFiles
    after: PartitionFiles
    source: Path


@pytest.fixture(scope="module")
def spark_incremental(spark_workload, tmp_path_factory) -> SparkIncremental:
    """A Spark build of the source at the split, then the incremental one after the
    arrivals, on one Spark folder."""
    require_spark()
    directory = tmp_path_factory.mktemp("spark_incremental")
    source = directory / "tasker_source_parquet"
    write_parquet(spark_workload.before, str(source))
    settings = _spark_settings(directory)
    # dbt's unit tests run on Spark in the first build; its data tests check the same rows
    # as on DuckDB.
    first = build(
        settings,
        source_parquet=str(source),
        as_of=SPARK_CUTOFF.isoformat(sep=" "),
        quiet=True,
        extra_env=_env(directory, DBT_EXCLUDE_RESOURCE_TYPES="test"),
    )
    before = _partition_files(settings)
    append_parquet(spark_workload.arrivals, source)
    second = build(
        settings,
        source_parquet=str(source),
        as_of=SPARK_AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env=_env(directory),
    )
    print(
        f"\nSpark builds of {SPARK_TASKS} tasks: first (full) {first.seconds:.1f} s, "
        f"next (incremental) {second.seconds:.1f} s"
    )
    return SparkIncremental(settings, first, second, before, _partition_files(settings), source)


def test_generator_writes_the_nine_tables_as_parquet(tmp_path):
    tables = generate_workload(tasks=50, seed=3, as_of=GENERATED_AS_OF)
    write_parquet(tables, str(tmp_path))
    write_parquet(tables, str(tmp_path))  # a second write replaces each table whole
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(TABLE_NAMES)
    connection = duckdb.connect()
    for name in TABLE_NAMES:
        files = list((tmp_path / name).glob("*.parquet"))
        assert len(files) == 1, name
        scan = f"read_parquet('{files[0]}')"
        assert connection.execute(f"select count(*) from {scan}").fetchone()[0] == tables[name].num_rows
        described = connection.execute(f"describe select * from {scan}").fetchall()
        types = {row[0]: row[1] for row in described}
        assert set(types) == set(tables[name].schema.names)
        for column in ("created_at", "updated_at"):
            assert types[column] == "TIMESTAMP", (name, column, types[column])  # naive UTC, as in Tasker


def test_dbt_build_passes_on_spark(spark_incremental):
    for result in (spark_incremental.first, spark_incremental.second):
        summary = dbt_summary(result.output)
        assert summary["error"] == 0 and summary["skip"] == 0, summary
    # The first build ran dbt's unit tests.
    assert dbt_unit_tests(spark_incremental.first.output) >= 9


def test_spark_build_is_served_from_a_duckdb_file_with_every_served_relation(spark_incremental):
    served = spark_incremental.settings.duckdb_path
    assert served.is_symlink() and served.resolve().parent.name == "builds"
    with duckdb.connect(str(served), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("select table_name from duckdb_tables()").fetchall()}
        functions = {
            row[0]
            for row in connection.execute(
                "select function_name from duckdb_functions() where function_name like 'function_based_%'"
            ).fetchall()
        }
        as_of = connection.execute("select data_as_of from performance_overview").fetchone()[0]
    assert set(SERVED_RELATIONS) <= tables
    assert {
        "function_based_slowest_tasks",
        "function_based_slowest_steps",
        "function_based_error_patterns",
        "function_based_recommendations",
    } <= functions
    assert as_of == SPARK_AS_OF


@pytest.fixture(scope="module")
def postgres_build(spark_workload, postgres_dsn, tmp_path_factory):
    """A PostgreSQL build of the same source as duckdb_build."""
    suffix = uuid.uuid4().hex[:8]
    source_schema, schema = f"test_spark_src_{suffix}", f"test_spark_pg_{suffix}"
    write_postgres(spark_workload.before, postgres_dsn, schema=source_schema)
    write_postgres(spark_workload.arrivals, postgres_dsn, schema=source_schema, append=True)
    settings = Settings(warehouse="postgres", database_url=postgres_dsn, database_schema=schema)
    try:
        build(
            settings,
            as_of=SPARK_AS_OF.isoformat(sep=" "),
            quiet=True,
            extra_env=_env(tmp_path_factory.mktemp("spark_pg"), TASKER_SOURCE_SCHEMA=source_schema),
        )
        yield settings
    finally:
        drop_schemas(postgres_dsn, source_schema, schema)


@pytest.mark.postgres
@pytest.mark.parametrize(("path", "params"), ENGINE_QUERIES)
def test_duckdb_postgres_and_spark_bodies_are_identical(duckdb_build, spark_incremental, postgres_build, path, params):
    """The acceptance test of the three engines: one generated workload built on DuckDB and
    PostgreSQL in full, and on Spark in full and then incrementally, gives the same endpoint
    bodies, build ids and timestamps of the build aside."""
    builds = {"duckdb": duckdb_build, "postgres": postgres_build, "spark": spark_incremental.settings}
    responses = {}
    for name, settings in builds.items():
        with TestClient(create_app(settings)) as engine_client:
            responses[name] = engine_client.get(path, params=params)
    assert {name: response.status_code for name, response in responses.items()} == dict.fromkeys(builds, 200)
    assert len({response.headers["x-build-id"] for response in responses.values()}) == len(builds)
    expected = stable_body(responses["duckdb"].json())
    for name, response in responses.items():
        assert stable_body(response.json()) == expected, name


def test_spark_build_has_real_figures(spark_incremental):
    with TestClient(create_app(spark_incremental.settings)) as spark_client:
        performance = spark_client.get("/tasker/analytics/performance").json()
        bottlenecks = spark_client.get("/tasker/analytics/bottlenecks", params={"period": 168}).json()
    assert performance["task_statistics"]["total_tasks"] > 0
    assert performance["processing_times"]["p95"] > 0
    assert bottlenecks["slowest_tasks"] and bottlenecks["slowest_steps"] and bottlenecks["error_patterns"]


def test_a_spark_build_without_its_source_folder_says_how_to_make_one(tmp_path):
    require_spark()  # without the extra, the build says so first
    settings = Settings(warehouse="spark", duckdb_path=tmp_path / "a.duckdb", spark_dir=tmp_path / "spark")
    with pytest.raises(BuildError, match="generate --parquet"):
        build(settings, source_parquet=str(tmp_path / "missing"))
    assert not Path(tmp_path / "a.duckdb").exists()


def test_generate_takes_one_target(tmp_path, capsys):
    from tasker_analytics.cli.main import main

    code = main(["generate", "--tasks", "5", "--duckdb", str(tmp_path / "a.duckdb"), "--parquet", str(tmp_path / "p")])
    assert code == 2
    assert "mutually exclusive" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
    assert main(["generate", "--tasks", "5", "--no-progress", "--parquet", str(tmp_path / "p")]) == 0
    assert sorted(path.name for path in (tmp_path / "p").iterdir()) == sorted(TABLE_NAMES)


def test_spark_incremental_build_equals_a_full_refresh(spark_incremental, duckdb_build, spark_workload):
    """The incremental Spark build's tables equal those of a full build of the same source
    at the same as_of, every model's, and it rewrote only some partitions. The full build is
    DuckDB's: the engines compute the same rows (a full Spark build as well, which the first
    Spark build is at its own as_of), and one Spark build fewer keeps the suite's time."""
    assert not spark_incremental.first.incremental and spark_incremental.second.incremental
    schema_folder = spark_table_folder(spark_incremental.settings, "x").parent
    relations = sorted(
        path.name
        for path in schema_folder.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_")) and path.name not in STATE_RELATIONS
    )
    assert set(SERVED_RELATIONS) | set(PER_TASK_RELATIONS) <= set(relations)
    connection = duckdb.connect()
    connection.execute(f"attach '{duckdb_build.duckdb_path.resolve()}' as full_build (read_only)")
    full_tables = {
        row[0]
        for row in connection.execute(
            "select table_name from duckdb_tables() where database_name = 'full_build'"
        ).fetchall()
    }
    assert set(relations) <= full_tables, set(relations) - full_tables

    def scan(settings: Settings, relation: str) -> str:
        files = spark_parquet_files(spark_table_folder(settings, relation))
        assert files, (settings.spark_dir, relation)
        return spark_parquet_scan(files)

    differing = []
    for relation in relations:
        spark = scan(spark_incremental.settings, relation)
        spark_columns = {row[0] for row in connection.execute(f"describe select * from {spark}").fetchall()}
        columns = [
            row[0]
            for row in connection.execute(
                "select column_name from duckdb_columns() where database_name = 'full_build' and table_name = ? "
                "order by column_index",
                [relation],
            ).fetchall()
            if row[0] not in BUILD_COLUMNS
        ]
        assert set(columns) <= spark_columns, (relation, set(columns) - spark_columns)
        select = ", ".join(f'"{column}"' for column in columns)
        full = connection.execute(f"select {select} from full_build.main.{relation}").fetchall()
        # Timestamps as naive UTC, as the served copy of a Spark build has them.
        incremental = connection.execute(
            f"select {select} from (select {spark_naive_utc(connection, spark)} from {spark})"
        ).fetchall()
        if not rows_equal(incremental, full):
            differing.append(relation)
    assert differing == []

    # What the incremental build recomputed: every task created on a day of a touched task.
    touched = {
        row[0]
        for row in connection.execute(
            f"select task_id from {scan(spark_incremental.settings, 'int_touched_tasks')}"
        ).fetchall()
    }
    source_tasks = f"read_parquet('{spark_incremental.source / 'tasker_tasks'}/*.parquet')"
    created = dict(connection.execute(f"select task_id, created_at from {source_tasks}").fetchall())
    touched_days = {created[task].date() for task in touched}
    assert touched == {task for task, at in created.items() if at.date() in touched_days}
    assert spark_workload.late_tasks <= touched
    total = connection.execute(
        f"select count(*) from {scan(spark_incremental.settings, 'int_task_executions')}"
    ).fetchone()[0]
    assert 0 < len(touched) < total / 2, (len(touched), total)

    # Which partitions it rewrote: the touched days and the day the retention now starts in
    # (some of its tasks left, some stay); the day before, whose tasks all left, is gone.
    # The other days keep the first build's files.
    first_start, start = (moment - timedelta(days=RETENTION_DAYS) for moment in (SPARK_CUTOFF, SPARK_AS_OF))
    left_day, boundary_day = first_start.date(), start.date()
    midnight = datetime.combine(boundary_day, datetime.min.time())
    assert left_day < boundary_day and not {left_day, boundary_day} & touched_days
    assert any(first_start < at < midnight for at in created.values()), "the first build must keep tasks of left_day"
    assert any(midnight <= at <= start for at in created.values()), "tasks of boundary_day must leave"
    assert any(start < at and at.date() == boundary_day for at in created.values()), "and some must stay"
    report = {}
    for relation in PER_TASK_RELATIONS:
        before, after = spark_incremental.before[relation], spark_incremental.after[relation]
        kept = {day for day in before.keys() & after.keys() if before[day] == after[day]}
        rewritten = set(after) - kept
        dropped = set(before) - set(after)
        report[relation] = {
            "kept": sorted(map(str, kept)),
            "rewritten": sorted(map(str, rewritten)),
            "dropped": sorted(map(str, dropped)),
        }
        assert left_day not in after, relation
        assert dropped <= {left_day}, relation
        assert rewritten <= touched_days | {boundary_day}, relation
        assert not kept & touched_days, relation
    executions = report["int_task_executions"]
    assert executions["dropped"] == [str(left_day)] and str(boundary_day) in executions["rewritten"], report
    assert executions["kept"], report
    per_day = dict(
        connection.execute(
            f"select task_created_date, count(*) from {scan(spark_incremental.settings, 'int_task_executions')} "
            "group by task_created_date"
        ).fetchall()
    )
    rewritten_rows = sum(count for day, count in per_day.items() if str(day) in executions["rewritten"])
    assert rewritten_rows < total
    print(
        f"\nincremental Spark build: {len(touched)} tasks recomputed, {rewritten_rows} of {total} task rows "
        f"rewritten; partitions: {json.dumps(report)}"
    )


def test_an_empty_partitioned_spark_table_is_served_empty_with_its_contract_columns(workload, tmp_path):
    """Spark writes no Parquet file for a partitioned table without rows (int_error_events of
    a workload without errors): the export creates it empty from the model contract, with
    the columns and types a DuckDB build has."""
    settings = Settings(warehouse="spark", duckdb_path=tmp_path / "served.duckdb", spark_dir=tmp_path / "spark")
    with duckdb.connect(str(workload.warehouse_path.resolve()), read_only=True) as built:
        expected = built.execute("describe int_error_events").fetchall()
        for relation in SERVED_RELATIONS:
            folder = spark_table_folder(settings, relation)
            folder.mkdir(parents=True)
            (folder / "_SUCCESS").touch()
            if relation != "int_error_events":
                built.execute(f"copy {relation} to '{folder / 'part-00000.parquet'}' (format parquet)")
    with pytest.raises(BuildError, match="no Parquet files for int_error_events"):
        export_spark_marts(settings, tmp_path / "without_manifest.duckdb")
    manifest = workload.source_path.parent / "target" / "manifest.json"
    export_spark_marts(settings, tmp_path / "exported.duckdb", manifest)
    with duckdb.connect(str(tmp_path / "exported.duckdb"), read_only=True) as exported:
        assert exported.execute("select count(*) from int_error_events").fetchone()[0] == 0
        assert [row[:2] for row in exported.execute("describe int_error_events").fetchall()] == [
            row[:2] for row in expected
        ]
        assert exported.execute("select count(*) from int_task_executions").fetchone()[0] > 0
