"""The spark target (docs/SCALING.md): the generator writes Tasker's tables as Parquet,
`dbt build` runs the same models on Spark in local mode, the served marts are copied into a
DuckDB build file, and the same server answers with the same bodies as a DuckDB build of the
same workload.

Spark needs the `spark` extra (`pip install -e '.[spark]'`) and Java 17: without them the
Spark tests skip with the reason, and fail under CI (conftest.service_missing).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from litestar.testing import TestClient

from conftest import (
    BUILD_AS_OF,
    ENGINE_QUERIES,
    GENERATED_AS_OF,
    build_duckdb_workload,
    service_missing,
    stable_body,
)
from tasker_analytics.app import create_app
from tasker_analytics.build import SERVED_RELATIONS, build
from tasker_analytics.generate import TABLE_NAMES, generate_workload, write_parquet
from tasker_analytics.settings import Settings
from tasker_analytics.warehouse import build_sidecar

SPARK_TASKS = 300
SPARK_SEED = 11


def _require_spark() -> None:
    for module in ("pyspark", "dbt.adapters.spark"):
        if importlib.util.find_spec(module) is None:
            service_missing(f"{module} is not installed: pip install -e '.[spark]' (docs/SCALING.md)")
    java = shutil.which("java")
    if java is None:
        service_missing("Spark needs Java 17 and `java` is not on the PATH")
    version = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    if not any(f'version "{major}' in version for major in ("17", "21")):
        service_missing(f"Spark 4 needs Java 17 or 21, found: {version.splitlines()[:1]}")


@dataclass
class SparkBuild:
    settings: Settings
    seconds: float
    duckdb_settings: Settings
    duckdb_seconds: float
    output: str


@pytest.fixture(scope="module")
def spark_build(tmp_path_factory) -> SparkBuild:
    _require_spark()
    directory = tmp_path_factory.mktemp("spark")
    duckdb_workload = build_duckdb_workload(directory / "duckdb", tasks=SPARK_TASKS, seed=SPARK_SEED)
    duckdb_seconds = json.loads(build_sidecar(duckdb_workload.warehouse_path.resolve()).read_text())["build_seconds"]
    source = directory / "tasker_source_parquet"
    write_parquet(generate_workload(tasks=SPARK_TASKS, seed=SPARK_SEED, as_of=GENERATED_AS_OF), str(source))
    settings = Settings(
        warehouse="spark",
        duckdb_path=directory / "served" / "tasker_analytics.duckdb",
        spark_dir=directory / "spark",
    )
    result = build(
        settings,
        source_parquet=str(source),
        as_of=BUILD_AS_OF.isoformat(sep=" "),
        quiet=True,
        # dbt's unit tests run on Spark; its data tests check the same rows as on DuckDB.
        extra_env={
            "DBT_TARGET_PATH": str(directory / "target"),
            "DBT_LOG_PATH": str(directory / "logs"),
            "DBT_EXCLUDE_RESOURCE_TYPES": "test",
        },
    )
    print(f"\nbuild of {SPARK_TASKS} tasks: DuckDB {duckdb_seconds:.1f} s, Spark {result.seconds:.1f} s")
    return SparkBuild(settings, result.seconds, duckdb_workload.settings(), duckdb_seconds, result.output)


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


def test_dbt_build_passes_on_spark(spark_build):
    assert "Completed successfully" in spark_build.output
    assert "ERROR=0" in spark_build.output


def test_spark_build_is_served_from_a_duckdb_file_with_every_served_relation(spark_build):
    served = spark_build.settings.duckdb_path
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
    assert {"function_based_slowest_tasks", "function_based_slowest_steps", "function_based_error_patterns",
            "function_based_recommendations"} <= functions
    assert as_of == BUILD_AS_OF


@pytest.mark.parametrize(("path", "params"), ENGINE_QUERIES)
def test_spark_and_duckdb_bodies_are_identical(spark_build, path, params):
    with TestClient(create_app(spark_build.duckdb_settings)) as duckdb_client:
        expected = duckdb_client.get(path, params=params)
    with TestClient(create_app(spark_build.settings)) as spark_client:
        got = spark_client.get(path, params=params)
    assert expected.status_code == got.status_code == 200
    assert got.headers["x-build-id"] != expected.headers["x-build-id"]
    assert stable_body(got.json()) == stable_body(expected.json())


def test_spark_build_has_real_figures(spark_build):
    with TestClient(create_app(spark_build.settings)) as spark_client:
        performance = spark_client.get("/tasker/analytics/performance").json()
        bottlenecks = spark_client.get("/tasker/analytics/bottlenecks", params={"period": 168}).json()
    assert performance["task_statistics"]["total_tasks"] > 0
    assert performance["processing_times"]["p95"] > 0
    assert bottlenecks["slowest_tasks"] and bottlenecks["slowest_steps"] and bottlenecks["error_patterns"]


def test_a_spark_build_without_its_source_folder_says_how_to_make_one(tmp_path):
    from tasker_analytics.build import BuildError

    _require_spark()  # without the extra, the build says so first
    settings = Settings(warehouse="spark", duckdb_path=tmp_path / "a.duckdb", spark_dir=tmp_path / "spark")
    with pytest.raises(BuildError, match="generate --parquet"):
        build(settings, source_parquet=str(tmp_path / "missing"))
    assert not Path(tmp_path / "a.duckdb").exists()


def test_generate_takes_one_target(tmp_path, capsys):
    from tasker_analytics.cli import main

    code = main(["generate", "--tasks", "5", "--duckdb", str(tmp_path / "a.duckdb"), "--parquet", str(tmp_path / "p")])
    assert code == 2
    assert "mutually exclusive" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
    assert main(["generate", "--tasks", "5", "--no-progress", "--parquet", str(tmp_path / "p")]) == 0
    assert sorted(path.name for path in (tmp_path / "p").iterdir()) == sorted(TABLE_NAMES)
