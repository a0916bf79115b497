"""Builds leave nothing half-made: partial builds of a killed build are cleaned at the next
build's start and never counted; every expected failure is one line naming the cause and
the variable, a non-zero exit, and the previous build still served."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import psycopg
import pytest

from helpers.servers import COMMAND
from helpers.services import service_missing
from helpers.workloads import BUILD_AS_OF, build_duckdb_workload, build_postgres_workload, drop_schemas
from tasker_analytics.build.duckdb_builds import builds_folder, complete_builds
from tasker_analytics.build.postgres import postgres_build_schemas
from tasker_analytics.build.runner import build
from tasker_analytics.config.settings import Settings
from tasker_analytics.warehouse.snapshots import build_sidecar


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return build_duckdb_workload(tmp_path_factory.mktemp("failures"), tasks=600, seed=3)


def _env(workload, served: Path | None = None, **extra: str) -> dict[str, str]:
    directory = workload.warehouse_path.parent
    return {
        **os.environ,
        "TASKER_ANALYTICS_DUCKDB_PATH": str(served or workload.warehouse_path),
        "TASKER_SOURCE_DUCKDB_PATH": str(workload.source_path),
        "DBT_TARGET_PATH": str(directory / "target-cli"),
        "DBT_LOG_PATH": str(directory / "logs-cli"),
        **extra,
    }


def _build(env: dict[str, str], *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [COMMAND, "build", *arguments], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _one_line_error(completed: subprocess.CompletedProcess, *words: str) -> str:
    assert completed.returncode != 0, completed
    lines = [line for line in completed.stderr.splitlines() if line.startswith("tasker-analytics: ")]
    assert len(lines) == 1, completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def _served_build_id(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute("select build_id from performance_overview").fetchone()[0]


def test_a_killed_build_leaves_partial_files_that_the_next_build_removes(small):
    served = small.warehouse_path
    before = _served_build_id(served)
    env = _env(small, DBT_TARGET_PATH=str(served.parent / "target-killed"))
    process = subprocess.Popen(
        [COMMAND, "build", "--full-refresh"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while not partial:
        assert time.monotonic() < deadline and process.poll() is None, "no build file appeared"
        partial = [
            path
            for path in builds_folder(served).glob("*.duckdb")
            if not build_sidecar(path).exists() and path.resolve() != served.resolve()
        ]
        time.sleep(0.2)
    time.sleep(1.5)  # well into dbt's run
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert partial[0].exists(), "the killed build left nothing to clean"
    # A write-ahead log without its database, as a crash can leave one.
    stray_wal = builds_folder(served) / "20000101T000000000000Z-1.duckdb.wal"
    stray_wal.write_bytes(b"x" * 100)
    assert _served_build_id(served) == before
    assert partial[0] not in complete_builds(served)

    completed = _build(_env(small, TASKER_ANALYTICS_KEEP_BUILDS="1"), "--as-of", small.as_of.isoformat())
    assert completed.returncode == 0, completed.stderr
    left = sorted(path.name for path in builds_folder(served).iterdir())
    assert not partial[0].exists() and not stray_wal.exists(), left
    assert len(complete_builds(served)) == 1 and served.resolve() in complete_builds(served), left
    assert all(build_sidecar(path).exists() for path in builds_folder(served).glob("*.duckdb")), left


def test_a_full_disk_is_one_line_and_the_previous_build_stays(small, tmp_path):
    if os.geteuid() != 0:
        service_missing("mounting a small file system for the full-disk test needs root")
    served_file = small.warehouse_path.resolve()
    mount = tmp_path / "small-disk"
    mount.mkdir()
    size_kb = served_file.stat().st_size // 1024 + 512  # room for the served build, not a copy of it
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        service_missing(f"cannot mount a tmpfs for the full-disk test: {mounted.stderr.strip()}")
    try:
        builds = mount / "builds"
        builds.mkdir()
        copy = builds / served_file.name
        subprocess.run(["cp", str(served_file), str(copy)], check=True)
        build_sidecar(copy).write_text(build_sidecar(served_file).read_text())
        served = mount / "analytics.duckdb"
        served.symlink_to(Path("builds") / copy.name)
        before = _served_build_id(served)
        completed = _build(_env(small, served=served))
        _one_line_error(completed, "No space left on device", "TASKER_ANALYTICS_DUCKDB_PATH")
        assert served.resolve() == copy and _served_build_id(served) == before
        assert sorted(path.name for path in builds.iterdir()) == sorted([copy.name, build_sidecar(copy).name])
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_an_unreachable_postgres_is_one_line(small):
    env = _env(
        small,
        TASKER_ANALYTICS_WAREHOUSE="postgres",
        TASKER_ANALYTICS_DATABASE_URL="postgresql://someone:secret@127.0.0.1:1/tasker",
    )
    line = _one_line_error(_build(env), "TASKER_ANALYTICS_DATABASE_URL", "cannot reach")
    assert "secret" not in line


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5"])
def test_a_bad_retention_is_one_line_naming_the_variable(small, value):
    before = _served_build_id(small.warehouse_path)
    _one_line_error(_build(_env(small, TASKER_ANALYTICS_RETENTION_DAYS=value)), "TASKER_ANALYTICS_RETENTION_DAYS")
    assert _served_build_id(small.warehouse_path) == before


def test_an_as_of_before_the_data_is_one_line(small):
    before = _served_build_id(small.warehouse_path)
    _one_line_error(_build(_env(small), "--as-of", "2001-01-01T00:00:00"), "--as-of", "leaves no data")
    assert _served_build_id(small.warehouse_path) == before


def test_an_empty_build_over_a_busy_one_asks_for_allow_empty(small, tmp_path):
    """A source that lost its rows (here: an empty Tasker database, as a wrong path or
    schema gives) is not published over a build that saw tasks settle in the same window."""
    served = small.warehouse_path
    with duckdb.connect(str(served), read_only=True) as connection:
        settled = connection.execute("select settled_count from performance_overview").fetchone()[0]
    assert settled >= 50
    empty = tmp_path / "empty-source.duckdb"
    generated = subprocess.run(
        [COMMAND, "generate", "--tasks", "0", "--duckdb", str(empty), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    before = _served_build_id(served)
    as_of = small.as_of.isoformat()
    env = _env(small, TASKER_SOURCE_DUCKDB_PATH=str(empty))
    _one_line_error(_build(env, "--as-of", as_of), "--allow-empty", str(settled))
    assert _served_build_id(served) == before
    assert all(build_sidecar(path).exists() for path in builds_folder(served).glob("*.duckdb"))
    # Two days after the last activity the served build's tasks are out of the window: an
    # idle system is no reason to refuse.
    assert _build(_env(small), "--as-of", "2026-11-30T12:00:00").returncode == 0
    quiet = _served_build_id(served)
    assert quiet != before
    # And asked for, the empty build is published.
    completed = _build(env, "--as-of", as_of, "--allow-empty")
    assert completed.returncode == 0, completed.stderr
    assert _served_build_id(served) not in (before, quiet)


@pytest.mark.postgres
def test_postgres_build_schemas_a_killed_build_left_are_dropped_and_never_counted(postgres_dsn, tmp_path):
    built = build_postgres_workload(postgres_dsn, tasks=300, seed=5, target_dir=tmp_path)
    try:
        leftovers = [f"{built.schema}__b20000101000000000000", f"{built.schema}__b29991231000000000000"]
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            for name in leftovers:
                connection.execute(f'create schema "{name}"')
                connection.execute(f'create table "{name}".int_task_executions (task_id bigint)')
            served_before = connection.execute(f'select build_schema from "{built.schema}".build_pointer').fetchone()[0]
        build(
            Settings(warehouse="postgres", database_url=postgres_dsn, database_schema=built.schema, keep_builds=1),
            as_of=BUILD_AS_OF.isoformat(sep=" "),
            quiet=True,
            extra_env={"TASKER_SOURCE_SCHEMA": built.source_schema, "DBT_TARGET_PATH": str(tmp_path / "t2")},
        )
        with psycopg.connect(postgres_dsn, autocommit=True) as connection:
            schemas = postgres_build_schemas(connection, built.schema)
            served = connection.execute(f'select build_schema from "{built.schema}".build_pointer').fetchone()[0]
        assert not set(leftovers) & set(schemas), schemas
        assert schemas == [served] and served != served_before
    finally:
        drop_schemas(postgres_dsn, built.source_schema, built.schema)
