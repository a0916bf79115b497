"""Run the dbt project (`dbt build`) and publish the result atomically.

- DuckDB: every build writes a new file `builds/<stamp>.duckdb` beside the served path;
  when it succeeds, the served path (a symlink) is replaced by one pointing at it, in
  one atomic rename. A failed build leaves the previous build serving.
- Spark: `dbt build` on the spark target writes the models as Parquet tables in the Spark
  warehouse (which persist from build to build); the served relations are then copied
  from those Parquet files into a new DuckDB build file (with the analyst SQL functions
  as DuckDB macros), published exactly like a DuckDB build. The server never needs a
  Spark session.
- PostgreSQL: every build gets its own schema `<schema>__b<stamp>`; when it succeeds,
  one transaction points `<schema>.build_pointer` at it and recreates the views in
  `<schema>` (the stable names analysts query) over its marts. The server reads the
  pointer at the start of each snapshot and queries that build's schema, so a reader
  never sees two builds; the oldest build schemas beyond TASKER_ANALYTICS_KEEP_BUILDS go.
One build runs at a time per warehouse (a lock file beside the served path or in the
project's data folder).

Incremental builds: the new build starts from a copy of the served build's incremental
models (the DuckDB file, or those tables copied into the new schema; on Spark, the
previous Spark build's tables, in place), and dbt recomputes only the tasks touched since
(macros/incremental.sql). It starts empty (a full refresh) when asked to, when there is
no served build (on Spark: no complete previous build on the Spark folder and schema),
when that build came from other project files, settings or source (the state key), or
when as_of would go back in time.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import duckdb
import psycopg

from tasker_analytics.config.settings import (
    PROJECT_DIR,
    Settings,
    SettingsError,
    default_source_duckdb,
    default_source_parquet,
    retention_days,
)
from tasker_analytics.warehouse.snapshots import build_sidecar


class BuildError(RuntimeError):
    pass


@dataclass
class BuildResult:
    target: str
    seconds: float
    output: str
    location: str
    incremental: bool = False


# The incremental models (materialized='incremental'), copied from the served build into
# a new one so that dbt updates them in place of rebuilding them.
INCREMENTAL_RELATIONS = (
    "int_build_watermarks",
    "int_task_executions",
    "int_step_executions",
    "int_error_events",
    "int_task_dag_edges",
    "int_task_critical_paths",
)
# Environment the models read that changes what the incremental tables hold.
_STATE_ENVIRONMENT = ("TASKER_ANALYTICS_RETENTION_DAYS", "TASKER_SOURCE_SCHEMA")


def state_key(env: dict[str, str], source: str) -> str:
    """What a build's incremental tables depend on besides the source rows: the project's
    models, macros, seeds and settings, the environment they read and the source's
    location. A build continues the served one only when the keys are equal."""
    digest = hashlib.sha256()
    for folder in ("models", "macros", "seeds"):
        for path in sorted((PROJECT_DIR / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update((PROJECT_DIR / "dbt_project.yml").read_bytes())
    for name in _STATE_ENVIRONMENT:
        digest.update(f"{name}={env.get(name, '')}\0".encode())
    digest.update(source.encode())
    return digest.hexdigest()[:32]


def _lookback_hours() -> int:
    """The project's var incremental_lookback_hours (dbt_project.yml)."""
    match = re.search(r"^\s+incremental_lookback_hours:\s*(\d+)", (PROJECT_DIR / "dbt_project.yml").read_text(), re.M)
    return int(match.group(1)) if match else 1


def _variables(key: str, previous: datetime | None) -> dict[str, str]:
    """The dbt vars of a build: its state key and, when it continues a build, the `where`
    of the source checks (the data tests on the Tasker tables and their staging models):
    the rows created since that build's as_of less the lookback, the rows the models look
    at again. A full build checks every row."""
    variables = {"state_key": key}
    if previous is not None:
        since = previous - timedelta(hours=_lookback_hours())
        variables["checks_where"] = f"created_at > cast('{since.isoformat(sep=' ')}' as timestamp)"
    return variables


def _continues(previous: tuple | None, key: str, as_of: str | None) -> bool:
    """Whether a build with `key` and `as_of` may continue the build whose last watermark
    row is `previous` (its state key and as_of)."""
    if previous is None or previous[0] != key:
        return False
    return as_of is None or datetime.fromisoformat(as_of) >= previous[1]


_LAST_WATERMARK = "select state_key, as_of from {relation} order by build_seq desc limit 1"


def _dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dbt")
    if found is None:
        raise BuildError("dbt is not installed in this environment")
    return found


def postgres_environment(database_url: str) -> dict[str, str]:
    """The profile's TASKER_ANALYTICS_PG_* variables for a postgresql:// URL."""
    url = urlparse(database_url)
    if url.scheme not in {"postgres", "postgresql"}:
        raise BuildError(f"TASKER_ANALYTICS_DATABASE_URL must be a postgresql:// URL, got {database_url!r}")
    env = {
        "TASKER_ANALYTICS_PG_HOST": url.hostname or "127.0.0.1",
        "TASKER_ANALYTICS_PG_PORT": str(url.port or 5432),
        "TASKER_ANALYTICS_PG_USER": unquote(url.username or "postgres"),
        "TASKER_ANALYTICS_PG_PASSWORD": unquote(url.password or ""),
    }
    if url.path.strip("/"):
        env["TASKER_ANALYTICS_PG_DATABASE"] = url.path.strip("/")
    return env


def run_dbt(
    arguments: list[str],
    env: dict[str, str],
    *,
    as_of: str | None = None,
    quiet: bool = False,
    variables: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="tasker-analytics-profiles-") as profiles_dir:
        profiles = env.get("DBT_PROFILES_DIR")
        if not profiles:
            shutil.copy(PROJECT_DIR / "profiles.example.yml", Path(profiles_dir) / "profiles.yml")
            profiles = profiles_dir
        command = [_dbt_executable(), *arguments, "--project-dir", str(PROJECT_DIR), "--profiles-dir", profiles]
        variables = {**(variables or {}), **({"as_of": as_of} if as_of else {})}
        if variables:
            command += ["--vars", json.dumps(variables)]
        return subprocess.run(
            command,
            cwd=PROJECT_DIR,
            env=env,
            text=True,
            check=False,
            stdout=subprocess.PIPE if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
        )


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """One build at a time for the warehouse behind `path` (across processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def builds_folder(served: Path) -> Path:
    return served.parent / "builds"


def publish_duckdb(served: Path, build_file: Path, keep: int) -> None:
    """Point the served path at `build_file` in one atomic rename; drop old builds."""
    link = served.with_name(f".{served.name}.link-{os.getpid()}")
    link.unlink(missing_ok=True)
    os.symlink(os.path.relpath(build_file, served.parent), link)
    os.replace(link, served)
    builds = sorted(complete_builds(served), key=lambda item: item.name, reverse=True)
    for old in builds[max(keep, 1) :]:
        if old.resolve() != build_file.resolve():
            _remove_build(old)


def complete_builds(served: Path) -> list[Path]:
    """The build files beside `served` that a build finished: its sidecar is written only
    after dbt succeeded, just before the publish."""
    return [path for path in builds_folder(served).glob("*.duckdb") if build_sidecar(path).exists()]


def _remove_build(build_file: Path) -> None:
    for leftover in (build_file, build_file.with_name(build_file.name + ".wal"), build_sidecar(build_file)):
        leftover.unlink(missing_ok=True)


def remove_partial_builds(served: Path) -> list[Path]:
    """Remove what killed builds left in `builds/` (a build file without its sidecar, a
    lone write-ahead log, a spill folder), never the served build. Run under the build
    lock, so no build is writing them. Returns the files removed."""
    folder = builds_folder(served)
    if not folder.is_dir():
        return []
    serving = served.resolve() if served.exists() else None
    removed = []
    for path in sorted(folder.iterdir()):
        if path.suffix == ".duckdb" and not build_sidecar(path).exists() and path.resolve() != serving:
            _remove_build(path)
            removed.append(path)
        elif path.name.endswith(".duckdb.wal") and not path.with_name(path.name[: -len(".wal")]).exists():
            path.unlink(missing_ok=True)
            removed.append(path)
        elif path.name.endswith(".duckdb.json") and not path.with_name(path.name[: -len(".json")]).exists():
            path.unlink(missing_ok=True)
            removed.append(path)
        elif path.name.endswith(".tmp") and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


# The relations the server and analysts read from a build (views of the same names in
# the stable schema point at the current build's).
SERVED_RELATIONS = (
    "performance_overview",
    "performance_trends",
    "health_components",
    "int_task_executions",
    "int_step_executions",
    "int_error_events",
    "task_hourly_rollup",
    "step_hourly_rollup",
    "task_duration_sketches",
    "step_duration_sketches",
    "task_sketch_keys",
    "task_sketch_spans",
    "step_sketch_keys",
    "step_sketch_spans",
    "task_duration_histogram",
    "error_hourly_rollup",
    "error_step_outcomes",
    "step_dependency_rollup",
    "task_version_history",
    "step_timeouts",
    "error_taxonomy",
)


def postgres_build_schemas(connection: psycopg.Connection, schema: str) -> list[str]:
    """The build schemas of `schema`, newest first."""
    rows = connection.execute(
        "select schema_name from information_schema.schemata where schema_name like %s",
        (schema.replace("_", r"\_") + r"\_\_b%",),
    ).fetchall()
    return sorted((row[0] for row in rows), reverse=True)


def _copy_functions(connection: psycopg.Connection, build_schema: str, schema: str) -> None:
    """Recreate the build's analyst SQL functions in the stable schema (they keep reading
    the build's tables, so a call is whole from one build)."""
    rows = connection.execute(
        "select p.proname, pg_get_functiondef(p.oid) from pg_proc as p "
        "join pg_namespace as n on n.oid = p.pronamespace "
        "where n.nspname = %s and p.proname like 'function\\_based\\_%%'",
        (build_schema,),
    ).fetchall()
    for name, definition in rows:
        connection.execute(f'drop function if exists "{schema}"."{name}"')
        header = re.compile(r"FUNCTION\s+\S+?\." + re.escape(name) + r"\(")
        connection.execute(header.sub(f'FUNCTION "{schema}".{name}(', definition, count=1))


def publish_postgres(database_url: str, schema: str, build_schema: str, keep: int) -> None:
    """Point `<schema>.build_pointer` and the stable views at `build_schema`; drop old builds."""
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        with connection.transaction():
            connection.execute(f'create schema if not exists "{schema}"')
            connection.execute(
                f'create table if not exists "{schema}".build_pointer '
                "(build_schema text not null, published_at timestamp not null)"
            )
            connection.execute(f'delete from "{schema}".build_pointer')
            connection.execute(
                f"insert into \"{schema}\".build_pointer values (%s, now() at time zone 'utc')", (build_schema,)
            )
            for relation in SERVED_RELATIONS:
                connection.execute(f'drop view if exists "{schema}"."{relation}"')
                connection.execute(
                    f'create view "{schema}"."{relation}" as select * from "{build_schema}"."{relation}"'
                )
            _copy_functions(connection, build_schema, schema)
        complete = [name for name in postgres_build_schemas(connection, schema) if _is_complete(connection, name)]
        for old in complete[max(keep, 1) :]:
            if old != build_schema:
                with connection.transaction():
                    connection.execute(f'drop schema if exists "{old}" cascade')


# A table each Postgres build schema gets once dbt succeeded, just before it is published:
# a build schema without it is what a killed build left.
COMPLETE_MARKER = "build_complete"


def _is_complete(connection: psycopg.Connection, build_schema: str) -> bool:
    row = connection.execute(
        "select 1 from information_schema.tables where table_schema = %s and table_name = %s",
        (build_schema, COMPLETE_MARKER),
    ).fetchone()
    return row is not None


def _mark_complete(database_url: str, build_schema: str) -> None:
    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as connection:
        connection.execute(
            f'create table "{build_schema}"."{COMPLETE_MARKER}" as select now() at time zone \'utc\' as completed_at'
        )


def remove_partial_postgres_builds(database_url: str, schema: str) -> list[str]:
    """Drop the build schemas of `schema` that no build completed (a killed build's), never
    the served one. Run under the build lock. Returns the schemas dropped."""
    dropped = []
    with psycopg.connect(database_url, connect_timeout=5, autocommit=True) as connection:
        try:
            served = connection.execute(f'select build_schema from "{schema}".build_pointer').fetchone()
        except psycopg.errors.UndefinedTable:
            served = None
        for name in postgres_build_schemas(connection, schema):
            if (served is None or name != served[0]) and not _is_complete(connection, name):
                connection.execute(f'drop schema if exists "{name}" cascade')
                dropped.append(name)
    return dropped


def _base_env(extra_env: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, **(extra_env or {})}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def _seed_postgres(database_url: str, schema: str, build_schema: str, key: str, as_of: str | None) -> datetime | None:
    """Copy the served build's incremental tables into `build_schema` when the new build may
    continue it; returns the as_of of the build it continues, or None."""
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        try:
            with connection.transaction():
                served = connection.execute(f'select build_schema from "{schema}".build_pointer').fetchone()
                previous = (
                    served
                    and connection.execute(
                        _LAST_WATERMARK.format(relation=f'"{served[0]}".int_build_watermarks')
                    ).fetchone()
                )
        except psycopg.errors.UndefinedTable:
            return None
        if not _continues(previous, key, as_of):
            return None
        try:
            with connection.transaction():
                connection.execute(f'create schema "{build_schema}"')
                for relation in INCREMENTAL_RELATIONS:
                    connection.execute(
                        f'create table "{build_schema}"."{relation}" (like "{served[0]}"."{relation}" including all)'
                    )
                    connection.execute(
                        f'insert into "{build_schema}"."{relation}" select * from "{served[0]}"."{relation}"'
                    )
                    # Statistics for the planner: dbt's incremental run joins and deletes on it.
                    connection.execute(f'analyze "{build_schema}"."{relation}"')
        except psycopg.errors.UndefinedTable:
            return None
    return previous[1]


def _build_postgres(
    settings: Settings, env: dict[str, str], as_of: str | None, quiet: bool, full_refresh: bool, allow_empty: bool
) -> BuildResult:
    try:
        return _build_postgres_schema(settings, env, as_of, quiet, full_refresh, allow_empty)
    except psycopg.OperationalError as error:
        raise BuildError(
            f"cannot reach the Postgres warehouse ({type(error).__name__}: {_first_line(error)}): "
            "check TASKER_ANALYTICS_DATABASE_URL; the served build is unchanged"
        ) from None


def _build_postgres_schema(
    settings: Settings, env: dict[str, str], as_of: str | None, quiet: bool, full_refresh: bool, allow_empty: bool
) -> BuildResult:
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    build_schema = f"{settings.database_schema}__b{stamp}"
    env.update(postgres_environment(settings.database_url))
    env["TASKER_ANALYTICS_TARGET"] = "postgres"
    env["TASKER_ANALYTICS_PG_SCHEMA"] = build_schema
    key = state_key(env, f"postgres:{env.get('TASKER_SOURCE_SCHEMA', '')}")
    lock = PROJECT_DIR / "data" / f".build-postgres-{settings.database_schema}.lock"
    _check_source_postgres(settings.database_url, env.get("TASKER_SOURCE_SCHEMA") or "public", as_of)
    with build_lock(lock):
        remove_partial_postgres_builds(settings.database_url, settings.database_schema)
        previous = (
            None
            if full_refresh
            else _seed_postgres(settings.database_url, settings.database_schema, build_schema, key, as_of)
        )
        incremental = previous is not None
        completed = run_dbt(["build"], env, as_of=as_of, quiet=quiet, variables=_variables(key, previous))
        failure = None
        if completed.returncode != 0:
            output = completed.stdout or ""
            failure = BuildError(f"dbt build failed on postgres (exit {completed.returncode})\n{output}")
        elif not allow_empty:
            try:
                _refuse_empty_postgres(settings, build_schema)
            except BuildError as refused:
                failure = refused
        if failure is not None:
            with psycopg.connect(settings.database_url, connect_timeout=5, autocommit=True) as connection:
                connection.execute(f'drop schema if exists "{build_schema}" cascade')
            raise failure
        _mark_complete(settings.database_url, build_schema)
        publish_postgres(settings.database_url, settings.database_schema, build_schema, settings.keep_builds)
    return BuildResult("postgres", time.monotonic() - started, completed.stdout or "", build_schema, incremental)


def _seed_duckdb(served: Path, build_file: Path, key: str, as_of: str | None) -> datetime | None:
    """Start `build_file` as a copy of the served build when the new build may continue it;
    returns the as_of of the build it continues, or None."""
    if not served.exists():
        return None
    previous_file = served.resolve()
    try:
        with duckdb.connect(str(previous_file), read_only=True) as connection:
            previous = connection.execute(_LAST_WATERMARK.format(relation="int_build_watermarks")).fetchone()
    except duckdb.Error:
        return None
    if not _continues(previous, key, as_of):
        return None
    shutil.copyfile(previous_file, build_file)
    return previous[1]


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
            previous = connection.execute(_LAST_WATERMARK.format(relation=spark_parquet_scan(files))).fetchone()
    except duckdb.Error:
        return None
    if previous is not None and previous[1] is not None and previous[1].tzinfo is not None:
        previous = (previous[0], previous[1].astimezone(UTC).replace(tzinfo=None))
    if not _continues(previous, key, as_of):
        return None
    return previous[1]


def _build_spark(
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
    key = state_key(env, f"spark:{source}")
    marker = spark_build_marker(settings)
    _check_source_parquet(source, as_of)
    with build_lock(served.with_name(f".{served.name}.lock")):
        try:
            remove_partial_builds(served)
            # The Derby metastore admits one Spark process at a time.
            with build_lock(spark_dir / ".spark.lock"):
                # The previous Spark build's tables are continued in place (insert_overwrite
                # of the touched days, macros/incremental.sql), or replaced by a full refresh.
                previous = None if full_refresh else _spark_previous(settings, key, as_of)
                incremental = previous is not None
                marker.unlink(missing_ok=True)
                completed = run_dbt(
                    ["build"] if incremental else ["build", "--full-refresh"],
                    env,
                    as_of=as_of,
                    quiet=quiet,
                    variables=_variables(key, previous),
                )
                if completed.returncode != 0:
                    raise BuildError(
                        f"dbt build failed on spark (exit {completed.returncode})\n{completed.stdout or ''}"
                    )
                target = Path(env.get("DBT_TARGET_PATH") or PROJECT_DIR / "target")
                export_spark_marts(settings, build_file, (PROJECT_DIR / target) / "manifest.json")
                marker.write_text(json.dumps({"state_key": key, "build_file": str(build_file)}))
            create_duckdb_functions(build_file, env, quiet)
            if not allow_empty:
                _refuse_empty(build_file, served)
            seconds = time.monotonic() - started
            build_sidecar(build_file).write_text(
                json.dumps({"build_seconds": round(seconds, 3), "incremental": incremental})
            )
            publish_duckdb(served, build_file, settings.keep_builds)
        except OSError as error:
            _remove_build(build_file)
            raise BuildError(_file_error(error, "TASKER_ANALYTICS_DUCKDB_PATH or TASKER_ANALYTICS_SPARK_DIR")) from None
        except BaseException:
            _remove_build(build_file)
            raise
    return BuildResult("spark", time.monotonic() - started, completed.stdout or "", str(build_file), incremental)


def _build_duckdb(
    settings: Settings,
    env: dict[str, str],
    source_duckdb: str | None,
    as_of: str | None,
    quiet: bool,
    full_refresh: bool,
    allow_empty: bool,
) -> BuildResult:
    started = time.monotonic()
    served = Path(os.path.abspath(settings.duckdb_path))
    source = Path(source_duckdb).resolve() if source_duckdb else default_source_duckdb(env)
    if not source.exists():
        raise BuildError(f"Tasker source database {source} does not exist: run `tasker-analytics generate` first")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    build_file = builds_folder(served) / f"{stamp}-{os.getpid()}.duckdb"
    build_file.parent.mkdir(parents=True, exist_ok=True)
    env["TASKER_ANALYTICS_TARGET"] = "duckdb"
    env["TASKER_ANALYTICS_DUCKDB_PATH"] = str(build_file)
    env["TASKER_SOURCE_DUCKDB_PATH"] = str(source)
    key = state_key(env, f"duckdb:{source}")
    _check_source_duckdb(source, env, as_of)
    with build_lock(served.with_name(f".{served.name}.lock")):
        try:
            remove_partial_builds(served)
            previous = None if full_refresh else _seed_duckdb(served, build_file, key, as_of)
            incremental = previous is not None
            completed = run_dbt(["build"], env, as_of=as_of, quiet=quiet, variables=_variables(key, previous))
            if completed.returncode != 0:
                raise BuildError(f"dbt build failed on duckdb (exit {completed.returncode})\n{completed.stdout or ''}")
            if not allow_empty:
                _refuse_empty(build_file, served)
            seconds = time.monotonic() - started
            build_sidecar(build_file).write_text(
                json.dumps({"build_seconds": round(seconds, 3), "incremental": incremental})
            )
            publish_duckdb(served, build_file, settings.keep_builds)
        except OSError as error:
            _remove_build(build_file)
            raise BuildError(_file_error(error, "TASKER_ANALYTICS_DUCKDB_PATH")) from None
        except BaseException:
            _remove_build(build_file)
            raise
    return BuildResult("duckdb", time.monotonic() - started, completed.stdout or "", str(build_file), incremental)


def build(
    settings: Settings,
    *,
    source_duckdb: str | None = None,
    source_parquet: str | None = None,
    as_of: str | None = None,
    quiet: bool = False,
    extra_env: dict[str, str] | None = None,
    full_refresh: bool = False,
    allow_empty: bool = False,
) -> BuildResult:
    """`dbt build` for the configured warehouse, then publish; raises BuildError on failure
    (one line naming the cause and the variable to look at, for every expected failure),
    leaving the served build as it was. Continues the served build incrementally when it
    can, unless `full_refresh`. A build with no settled task in the statistics window is
    not published over a served build with EMPTY_GUARD_SETTLED or more, unless `allow_empty`."""
    env = _base_env(extra_env)
    _check_retention(env)
    if settings.warehouse == "postgres":
        return _build_postgres(settings, env, as_of, quiet, full_refresh, allow_empty)
    if settings.warehouse == "spark":
        return _build_spark(settings, env, source_parquet, as_of, quiet, full_refresh, allow_empty)
    return _build_duckdb(settings, env, source_duckdb, as_of, quiet, full_refresh, allow_empty)


# A new build with no settled task in its statistics window (24 h) is not published over a
# served build that holds at least this many tasks settled inside that same window: the
# new build should have seen them, so its source almost certainly points at the wrong
# place. An idle system publishes: the served build's tasks have aged out of the window.
EMPTY_GUARD_SETTLED = 50
_WINDOW = "select settled_count, data_as_of, statistics_window_hours from {schema}performance_overview"
_SETTLED_SINCE = "select count(*) from {schema}int_task_executions where is_settled and settled_at > {since}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _file_error(error: OSError, variable: str) -> str:
    """One line for a file-system failure of a build, naming the variable that places it."""
    where = Path(error.filename).name if error.filename else "a build file"
    if error.errno == errno.ENOSPC:
        cause = f"the disk is full (No space left on device) writing {where}"
    else:
        cause = f"{error.strerror or type(error).__name__} on {where}"
    return f"{cause}: free space or move the builds with {variable}; the served build is unchanged"


def _check_retention(env: dict[str, str]) -> None:
    try:
        retention_days(env)
    except SettingsError as error:
        raise BuildError(str(error)) from None


def _refuse_as_of(as_of: str, count: int, first: Any) -> None:
    """BuildError when the source has tasks but none created at or before `as_of` (an empty
    source, a fresh Tasker installation, builds as it is)."""
    if not count and first is not None:
        raise BuildError(
            f"--as-of {as_of} leaves no data: no Tasker task was created at or before it "
            f"(the first task was created at {first})"
        )


_FIRST_TASK = "select count(*) filter (where created_at <= {as_of}), min(created_at) from {relation}"


def _check_source_duckdb(source: Path, env: dict[str, str], as_of: str | None) -> None:
    """BuildError when `as_of` is before every task of the source (checked only for an
    explicit --as-of; an unreadable source is left for dbt to report)."""
    if as_of is None:
        return
    schema = env.get("TASKER_SOURCE_SCHEMA") or "public"
    try:
        with duckdb.connect(str(source), read_only=True) as connection:
            count, first = connection.execute(
                _FIRST_TASK.format(as_of="cast($as_of as timestamp)", relation=f'"{schema}".tasker_tasks'),
                {"as_of": as_of},
            ).fetchone()
    except duckdb.Error:
        return
    _refuse_as_of(as_of, count, first)


def _check_source_parquet(source: Path, as_of: str | None) -> None:
    files = [str(path) for path in (source / "tasker_tasks").rglob("*.parquet")] if as_of is not None else []
    if not files:
        return
    try:
        with duckdb.connect() as connection:
            count, first = connection.execute(
                _FIRST_TASK.format(as_of="cast($as_of as timestamp)", relation="read_parquet($files)"),
                {"as_of": as_of, "files": files},
            ).fetchone()
    except duckdb.Error:
        return
    _refuse_as_of(as_of, count, first)


def _check_source_postgres(database_url: str, schema: str, as_of: str | None) -> None:
    if as_of is None:
        return
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        try:
            count, first = connection.execute(
                _FIRST_TASK.format(as_of="cast(%(as_of)s as timestamp)", relation=f'"{schema}".tasker_tasks'),
                {"as_of": as_of},
            ).fetchone()
        except psycopg.errors.UndefinedTable:
            return
    _refuse_as_of(as_of, count, first)


def _window_duckdb(path: Path) -> tuple[int, datetime, int] | None:
    """The new build's settled count, as_of and statistics window hours."""
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            row = connection.execute(_WINDOW.format(schema="")).fetchone()
    except duckdb.Error:
        return None
    return None if row is None else (int(row[0] or 0), row[1], int(row[2]))


def _refuse_empty(build_file: Path, served: Path) -> None:
    window = _window_duckdb(build_file)
    if window is None or window[0] != 0 or not served.exists():
        return
    since = window[1] - timedelta(hours=window[2])
    try:
        with duckdb.connect(str(served.resolve()), read_only=True) as connection:
            row = connection.execute(_SETTLED_SINCE.format(schema="", since="$since"), {"since": since}).fetchone()
    except duckdb.Error:
        return
    _refuse_over(int(row[0] or 0))


def _refuse_over(expected: int) -> None:
    if expected >= EMPTY_GUARD_SETTLED:
        raise BuildError(
            f"the new build has no settled task in its statistics window, where the served build has "
            f"{expected}: not published (check the source, TASKER_SOURCE_SCHEMA and --as-of; "
            "--allow-empty publishes it anyway)"
        )


def _refuse_empty_postgres(settings: Settings, build_schema: str) -> None:
    with psycopg.connect(settings.database_url, connect_timeout=5) as connection:
        row = connection.execute(_WINDOW.format(schema=f'"{build_schema}".')).fetchone()
        if row is None or int(row[0] or 0) != 0:
            return
        since = row[1] - timedelta(hours=int(row[2]))
        try:
            pointer = f'select build_schema from "{settings.database_schema}".build_pointer'
            served = connection.execute(pointer).fetchone()
        except psycopg.errors.UndefinedTable:
            return
        if served is None:
            return
        counted = connection.execute(
            _SETTLED_SINCE.format(schema=f'"{served[0]}".', since="%(since)s"), {"since": since}
        ).fetchone()
    _refuse_over(int(counted[0] or 0))
