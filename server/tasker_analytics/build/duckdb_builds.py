"""DuckDB builds: each a new file under `builds/` beside the served path, published by
replacing the served symlink in one atomic rename; partial files of killed builds are
removed and never counted."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from tasker_analytics.build.guards import check_source_duckdb, file_error, refuse_empty
from tasker_analytics.build.project import (
    LAST_WATERMARK,
    BuildError,
    BuildResult,
    build_lock,
    continues,
    dbt_variables,
    run_dbt,
    state_key,
)
from tasker_analytics.config.settings import (
    Settings,
    default_source_duckdb,
)
from tasker_analytics.warehouse.snapshots import build_sidecar


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
            remove_build(old)


def complete_builds(served: Path) -> list[Path]:
    """The build files beside `served` that a build finished: its sidecar is written only
    after dbt succeeded, just before the publish."""
    return [path for path in builds_folder(served).glob("*.duckdb") if build_sidecar(path).exists()]


def remove_build(build_file: Path) -> None:
    for leftover in (build_file, build_file.with_name(build_file.name + ".wal"), build_sidecar(build_file)):
        leftover.unlink(missing_ok=True)


# The variable that places DuckDB build files, named when writing one fails.
_PLACE = "TASKER_ANALYTICS_DUCKDB_PATH"


@contextmanager
def removed_on_failure(build_file: Path, variable: str = _PLACE) -> Iterator[None]:
    """A build file that is not published is removed, whatever stops the build; a failure
    of the file system becomes one line naming its cause and `variable`."""
    try:
        yield
    except OSError as error:
        remove_build(build_file)
        raise BuildError(file_error(error, variable)) from None
    except BaseException:
        remove_build(build_file)
        raise


def finish_build_file(
    served: Path, build_file: Path, started: float, incremental: bool, keep: int, allow_empty: bool
) -> None:
    """The end of a build that writes a DuckDB file (DuckDB and Spark): refuse an empty one
    over a busy one, record its duration beside it (the mark of a complete build), publish."""
    if not allow_empty:
        refuse_empty(build_file, served)
    seconds = time.monotonic() - started
    build_sidecar(build_file).write_text(json.dumps({"build_seconds": round(seconds, 3), "incremental": incremental}))
    publish_duckdb(served, build_file, keep)


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
            remove_build(path)
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


def _seed_duckdb(served: Path, build_file: Path, key: str, as_of: str | None) -> datetime | None:
    """Start `build_file` as a copy of the served build when the new build may continue it;
    returns the as_of of the build it continues, or None."""
    if not served.exists():
        return None
    previous_file = served.resolve()
    try:
        with duckdb.connect(str(previous_file), read_only=True) as connection:
            previous = connection.execute(LAST_WATERMARK.format(relation="int_build_watermarks")).fetchone()
    except duckdb.Error:
        return None
    if not continues(previous, key, as_of):
        return None
    shutil.copyfile(previous_file, build_file)
    return previous[1]


def build_duckdb(
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
    # The profile's file dbt writes (profiles.example.yml); the served path's variable too,
    # for a profile copied before the two were told apart.
    env["TASKER_ANALYTICS_DBT_DUCKDB_PATH"] = str(build_file)
    env["TASKER_ANALYTICS_DUCKDB_PATH"] = str(build_file)
    env["TASKER_SOURCE_DUCKDB_PATH"] = str(source)
    key = state_key(env, f"duckdb:{source}")
    check_source_duckdb(source, env, as_of)
    with build_lock(served.with_name(f".{served.name}.lock")) as lock, removed_on_failure(build_file, _PLACE):
        started += lock.waited  # the build's own time leaves out the wait for another build
        remove_partial_builds(served)
        previous = None if full_refresh else _seed_duckdb(served, build_file, key, as_of)
        incremental = previous is not None
        completed = run_dbt(["build"], env, as_of=as_of, quiet=quiet, variables=dbt_variables(key, previous))
        if completed.returncode != 0:
            raise BuildError(f"dbt build failed on duckdb (exit {completed.returncode})\n{completed.stdout or ''}")
        finish_build_file(served, build_file, started, incremental, settings.keep_builds, allow_empty)
    seconds = time.monotonic() - started
    return BuildResult("duckdb", seconds, completed.stdout or "", str(build_file), incremental, lock.waited)
