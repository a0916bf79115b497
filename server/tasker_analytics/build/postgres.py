"""PostgreSQL builds: each its own schema `<schema>__b<stamp>`, published by pointing
`<schema>.build_pointer` and the stable views at it in one transaction; a schema without
the completion marker is what a killed build left."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import psycopg

from tasker_analytics.build.guards import check_source_postgres, first_line, refuse_empty_postgres
from tasker_analytics.build.project import (
    INCREMENTAL_RELATIONS,
    LAST_WATERMARK,
    SERVED_RELATIONS,
    BuildError,
    BuildResult,
    build_lock,
    continues,
    dbt_variables,
    postgres_environment,
    run_dbt,
    state_key,
)
from tasker_analytics.config.settings import (
    PROJECT_DIR,
    Settings,
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


def _pointer_has_seconds(connection: psycopg.Connection, schema: str) -> bool:
    row = connection.execute(
        "select 1 from information_schema.columns "
        "where table_schema = %s and table_name = 'build_pointer' and column_name = 'build_seconds'",
        (schema,),
    ).fetchone()
    return row is not None


def publish_postgres(
    database_url: str, schema: str, build_schema: str, keep: int, build_seconds: float | None = None
) -> None:
    """Point `<schema>.build_pointer` and the stable views at `build_schema`, recording how
    long its build took (the performance body's resource_utilization); drop old builds."""
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        with connection.transaction():
            connection.execute(f'create schema if not exists "{schema}"')
            connection.execute(
                f'create table if not exists "{schema}".build_pointer '
                "(build_schema text not null, published_at timestamp not null, build_seconds double precision)"
            )
            if not _pointer_has_seconds(connection, schema):  # a pointer table of an earlier release
                connection.execute(f'alter table "{schema}".build_pointer add column build_seconds double precision')
            connection.execute(f'delete from "{schema}".build_pointer')
            connection.execute(
                f'insert into "{schema}".build_pointer (build_schema, published_at, build_seconds) '
                "values (%s, now() at time zone 'utc', %s)",
                (build_schema, None if build_seconds is None else round(build_seconds, 3)),
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
                        LAST_WATERMARK.format(relation=f'"{served[0]}".int_build_watermarks')
                    ).fetchone()
                )
        except psycopg.errors.UndefinedTable:
            return None
        if not continues(previous, key, as_of):
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


def build_postgres(
    settings: Settings, env: dict[str, str], as_of: str | None, quiet: bool, full_refresh: bool, allow_empty: bool
) -> BuildResult:
    try:
        return _build_postgres_schema(settings, env, as_of, quiet, full_refresh, allow_empty)
    except psycopg.OperationalError as error:
        raise BuildError(
            f"cannot reach the Postgres warehouse ({type(error).__name__}: {first_line(error)}): "
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
    # The profile's schema dbt writes (profiles.example.yml); the served schema's variable
    # too, for a profile copied before the two were told apart.
    env["TASKER_ANALYTICS_DBT_PG_SCHEMA"] = build_schema
    env["TASKER_ANALYTICS_PG_SCHEMA"] = build_schema
    key = state_key(env, f"postgres:{env.get('TASKER_SOURCE_SCHEMA', '')}")
    lock = PROJECT_DIR / "data" / f".build-postgres-{settings.database_schema}.lock"
    check_source_postgres(settings.database_url, env.get("TASKER_SOURCE_SCHEMA") or "public", as_of)
    with build_lock(lock) as held:
        started += held.waited  # the build's own time leaves out the wait for another build
        remove_partial_postgres_builds(settings.database_url, settings.database_schema)
        previous = (
            None
            if full_refresh
            else _seed_postgres(settings.database_url, settings.database_schema, build_schema, key, as_of)
        )
        incremental = previous is not None
        completed = run_dbt(["build"], env, as_of=as_of, quiet=quiet, variables=dbt_variables(key, previous))
        failure = None
        if completed.returncode != 0:
            output = completed.stdout or ""
            failure = BuildError(f"dbt build failed on postgres (exit {completed.returncode})\n{output}")
        elif not allow_empty:
            try:
                refuse_empty_postgres(settings, build_schema)
            except BuildError as refused:
                failure = refused
        if failure is not None:
            with psycopg.connect(settings.database_url, connect_timeout=5, autocommit=True) as connection:
                connection.execute(f'drop schema if exists "{build_schema}" cascade')
            raise failure
        # Measured where a DuckDB build records its duration: dbt and the checks done, before the publish.
        seconds = time.monotonic() - started
        _mark_complete(settings.database_url, build_schema)
        publish_postgres(settings.database_url, settings.database_schema, build_schema, settings.keep_builds, seconds)
    seconds = time.monotonic() - started
    return BuildResult("postgres", seconds, completed.stdout or "", build_schema, incremental, held.waited)
