"""Spark builds: dbt on the spark target writes Parquet tables that persist from build to
build; the served relations are copied from them into a DuckDB build file (with the
analyst functions as DuckDB macros) and published like a DuckDB build."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from tasker_analytics.build.duckdb_builds import (
    builds_folder,
    finish_build_file,
    remove_partial_builds,
    removed_on_failure,
)
from tasker_analytics.build.guards import check_source_parquet
from tasker_analytics.build.project import (
    LAST_WATERMARK,
    SERVED_RELATIONS,
    BuildError,
    BuildResult,
    build_lock,
    continues,
    dbt_variables,
    run_dbt,
    state_key,
)
from tasker_analytics.config.settings import (
    PROJECT_DIR,
    Settings,
    default_source_parquet,
)

# Spark's log4j2 configuration in the project (the driver's -Dlog4j2.configurationFile).
SPARK_LOG4J2 = "spark-log4j2.properties"


def spark_table_folder(settings: Settings, relation: str) -> Path:
    """Where Spark keeps a managed table of the build schema (its Parquet files)."""
    return Path(os.path.abspath(settings.spark_dir)) / "warehouse" / f"{settings.spark_schema}.db" / relation


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def spark_parquet_files(folder: Path) -> list[str]:
    """The data files of a Spark table folder, also in partition folders
    (`<column>=<value>/`); Spark's hidden and marker files are skipped."""
    if not folder.is_dir():
        return []
    return sorted(
        str(path)
        for path in folder.rglob("*.parquet")
        if not any(part.startswith((".", "_")) for part in path.relative_to(folder).parts)
    )


def spark_parquet_scan(files: list[str]) -> str:
    """A DuckDB scan of a Spark table's Parquet files. Partition folders' values come back
    as columns (the per-execution tables' task_created_date)."""
    return "read_parquet([" + ", ".join(_sql_text(path) for path in files) + "], hive_partitioning = true)"


def spark_naive_utc(connection: duckdb.DuckDBPyConnection, scan: str) -> str:
    """The select list of every column of `scan`, timestamps as naive UTC as on every
    engine: one that arrives with a time zone is converted to UTC, whatever the local zone."""
    columns = connection.execute(f"describe select * from {scan}").fetchall()
    return ", ".join(
        f'timezone(\'UTC\', "{name}") as "{name}"' if kind == "TIMESTAMP WITH TIME ZONE" else f'"{name}"'
        for name, kind, *_ in columns
    )


def _contract_columns(manifest: Path | None, relation: str) -> list[tuple[str, str]]:
    """The columns and data types of `relation`'s model contract in dbt's manifest (empty
    when there is none)."""
    if manifest is None or not manifest.is_file():
        return []
    for node in json.loads(manifest.read_text()).get("nodes", {}).values():
        if node.get("resource_type") == "model" and (node.get("alias") or node.get("name")) == relation:
            columns = [(name, column.get("data_type")) for name, column in node.get("columns", {}).items()]
            return columns if columns and all(kind for _, kind in columns) else []
    return []


def export_spark_marts(settings: Settings, build_file: Path, manifest: Path | None = None) -> None:
    """Copy the served relations from the Spark warehouse's Parquet files into a new DuckDB
    file. Timestamps are naive UTC on every engine: one that arrives with a time zone is
    converted to UTC, whatever the local zone. A partitioned table without rows has no
    Parquet file: it is created empty from its model contract in dbt's `manifest`."""
    connection = duckdb.connect(str(build_file))
    try:
        for relation in SERVED_RELATIONS:
            folder = spark_table_folder(settings, relation)
            files = spark_parquet_files(folder)
            if not files:
                contract = _contract_columns(manifest, relation) if (folder / "_SUCCESS").exists() else []
                if not contract:
                    raise BuildError(f"the Spark build left no Parquet files for {relation} in {folder}")
                columns = ", ".join(f'"{name}" {kind}' for name, kind in contract)
                connection.execute(f'create table "{relation}" ({columns})')
                continue
            scan = spark_parquet_scan(files)
            connection.execute(f'create table "{relation}" as select {spark_naive_utc(connection, scan)} from {scan}')
        connection.execute("checkpoint")
    finally:
        connection.close()


def create_duckdb_functions(build_file: Path, env: dict[str, str], quiet: bool) -> None:
    """Create the analyst SQL functions (DuckDB macros) in a DuckDB file holding the marts,
    with the project's own macro (dbt run-operation on a profile naming that file)."""
    with tempfile.TemporaryDirectory(prefix="tasker-analytics-serving-") as profiles_dir:
        profile = {
            "tasker_analytics": {
                "target": "serving",
                "outputs": {"serving": {"type": "duckdb", "path": str(build_file), "threads": 1}},
            }
        }
        (Path(profiles_dir) / "profiles.yml").write_text(json.dumps(profile))
        serving_env = {**env, "DBT_PROFILES_DIR": profiles_dir}
        target_path = env.get("DBT_TARGET_PATH")
        if target_path:  # its own parse state, so the Spark build's is not invalidated
            serving_env["DBT_TARGET_PATH"] = str(Path(target_path) / "serving")
        completed = run_dbt(["run-operation", "create_analytics_functions"], serving_env, quiet=quiet)
        if completed.returncode != 0:
            raise BuildError(
                f"creating the SQL functions in the served DuckDB copy failed (exit {completed.returncode})\n"
                f"{completed.stdout or ''}"
            )


def spark_build_marker(settings: Settings) -> Path:
    """Present while the Spark tables of the build schema are those of a complete build:
    removed when a build starts, written when its tables are all written and exported. A
    build after a failed one starts empty."""
    return Path(os.path.abspath(settings.spark_dir)) / f".{settings.spark_schema}.complete"


def _spark_previous(settings: Settings, key: str, as_of: str | None) -> datetime | None:
    """The as_of of the build whose tables the Spark warehouse holds, when the new build may
    continue it in place; None when it must start empty."""
    if not spark_build_marker(settings).exists():
        return None
    files = spark_parquet_files(spark_table_folder(settings, "int_build_watermarks"))
    if not files:
        return None
    try:
        with duckdb.connect() as connection:
            previous = connection.execute(LAST_WATERMARK.format(relation=spark_parquet_scan(files))).fetchone()
    except duckdb.Error:
        return None
    if previous is not None and previous[1] is not None and previous[1].tzinfo is not None:
        previous = (previous[0], previous[1].astimezone(UTC).replace(tzinfo=None))
    if not continues(previous, key, as_of):
        return None
    return previous[1]


def build_spark(
    settings: Settings,
    env: dict[str, str],
    source_parquet: str | None,
    as_of: str | None,
    quiet: bool,
    full_refresh: bool,
    allow_empty: bool,
) -> BuildResult:
    started = time.monotonic()
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
        raise BuildError("the spark warehouse needs the spark extra: pip install -e '.[spark]' (docs/SCALING.md)")
    if not env.get("JAVA_HOME") and shutil.which("java") is None:
        raise BuildError("the spark warehouse needs Java 17: no `java` on the PATH and JAVA_HOME is not set")
    served = Path(os.path.abspath(settings.duckdb_path))
    source = Path(source_parquet).resolve() if source_parquet else default_source_parquet(env)
    if not source.is_dir():
        raise BuildError(
            f"Tasker source folder {source} does not exist: run `tasker-analytics generate --parquet {source}` first"
        )
    spark_dir = Path(os.path.abspath(settings.spark_dir))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    build_file = builds_folder(served) / f"{stamp}-{os.getpid()}.duckdb"
    build_file.parent.mkdir(parents=True, exist_ok=True)
    spark_dir.mkdir(parents=True, exist_ok=True)
    env["TASKER_ANALYTICS_TARGET"] = "spark"
    env["TASKER_ANALYTICS_SPARK_DIR"] = str(spark_dir)
    env["TASKER_ANALYTICS_SPARK_SCHEMA"] = settings.spark_schema
    env["TASKER_SOURCE_PARQUET_DIR"] = str(source)
    # Spark's logging (profiles.example.yml): warnings, less those every build repeats.
    env.setdefault("TASKER_ANALYTICS_SPARK_LOG4J2", str(PROJECT_DIR / SPARK_LOG4J2))
    key = state_key(env, f"spark:{source}")
    marker = spark_build_marker(settings)
    check_source_parquet(source, as_of)
    places = "TASKER_ANALYTICS_DUCKDB_PATH or TASKER_ANALYTICS_SPARK_DIR"
    waited = 0.0
    with build_lock(served.with_name(f".{served.name}.lock")) as lock, removed_on_failure(build_file, places):
        waited += lock.waited
        remove_partial_builds(served)
        # The Derby metastore admits one Spark process at a time.
        with build_lock(spark_dir / ".spark.lock") as spark_lock:
            waited += spark_lock.waited
            # The previous Spark build's tables are continued in place (insert_overwrite
            # of the touched days, macros/incremental/incremental.sql), or replaced by a full refresh.
            previous = None if full_refresh else _spark_previous(settings, key, as_of)
            incremental = previous is not None
            marker.unlink(missing_ok=True)
            completed = run_dbt(
                ["build"] if incremental else ["build", "--full-refresh"],
                env,
                as_of=as_of,
                quiet=quiet,
                variables=dbt_variables(key, previous),
            )
            if completed.returncode != 0:
                raise BuildError(f"dbt build failed on spark (exit {completed.returncode})\n{completed.stdout or ''}")
            target = Path(env.get("DBT_TARGET_PATH") or PROJECT_DIR / "target")
            export_spark_marts(settings, build_file, (PROJECT_DIR / target) / "manifest.json")
            marker.write_text(json.dumps({"state_key": key, "build_file": str(build_file)}))
        create_duckdb_functions(build_file, env, quiet)
        # The build's own time leaves out the waits for other builds.
        finish_build_file(served, build_file, started + waited, incremental, settings.keep_builds, allow_empty)
    seconds = time.monotonic() - started - waited
    return BuildResult("spark", seconds, completed.stdout or "", str(build_file), incremental, waited)
