"""Checks that keep a bad build from being published or from failing obscurely: the
retention setting, an --as-of before every task, a build with no settled task over a
busy served one, and one-line messages for file-system failures."""

from __future__ import annotations

import errno
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg

from tasker_analytics.build.project import BuildError
from tasker_analytics.config.settings import (
    Settings,
    SettingsError,
    retention_days,
)

# A new build with no settled task in its statistics window (24 h) is not published over a
# served build that holds at least this many tasks settled inside that same window: the
# new build should have seen them, so its source almost certainly points at the wrong
# place. An idle system publishes: the served build's tasks have aged out of the window.
EMPTY_GUARD_SETTLED = 50


_WINDOW = "select settled_count, data_as_of, statistics_window_hours from {schema}performance_overview"


_SETTLED_SINCE = "select count(*) from {schema}int_task_executions where is_settled and settled_at > {since}"


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def file_error(error: OSError, variable: str) -> str:
    """One line for a file-system failure of a build, naming the variable that places it."""
    where = Path(error.filename).name if error.filename else "a build file"
    if error.errno == errno.ENOSPC:
        cause = f"the disk is full (No space left on device) writing {where}"
    else:
        cause = f"{error.strerror or type(error).__name__} on {where}"
    return f"{cause}: free space or move the builds with {variable}; the served build is unchanged"


def check_retention(env: dict[str, str]) -> None:
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


def check_source_duckdb(source: Path, env: dict[str, str], as_of: str | None) -> None:
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


def check_source_parquet(source: Path, as_of: str | None) -> None:
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


def check_source_postgres(database_url: str, schema: str, as_of: str | None) -> None:
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


def refuse_empty(build_file: Path, served: Path) -> None:
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


def refuse_empty_postgres(settings: Settings, build_schema: str) -> None:
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
