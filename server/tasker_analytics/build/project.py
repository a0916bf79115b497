"""What every build shares: the dbt run, its state key and variables, the lock that lets one build
run at a time, the relations a build serves, and the error a failed build raises."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

from tasker_analytics.config.settings import (
    PROJECT_DIR,
)


class BuildError(RuntimeError):
    pass


@dataclass
class BuildResult:
    """A published build. `seconds` is the build's own time; `waited` the time it waited
    before, for another build of the same warehouse to finish (build_lock)."""

    target: str
    seconds: float
    output: str
    location: str
    incremental: bool = False
    waited: float = 0.0


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


def dbt_variables(key: str, previous: datetime | None) -> dict[str, str]:
    """The dbt vars of a build: its state key and, when it continues a build, the `where`
    of the source checks (the data tests on the Tasker tables and their staging models):
    the rows created since that build's as_of less the lookback, the rows the models look
    at again. A full build checks every row."""
    variables = {"state_key": key}
    if previous is not None:
        since = previous - timedelta(hours=_lookback_hours())
        variables["checks_where"] = f"created_at > cast('{since.isoformat(sep=' ')}' as timestamp)"
    return variables


def continues(previous: tuple | None, key: str, as_of: str | None) -> bool:
    """Whether a build with `key` and `as_of` may continue the build whose last watermark
    row is `previous` (its state key and as_of)."""
    if previous is None or previous[0] != key:
        return False
    return as_of is None or datetime.fromisoformat(as_of) >= previous[1]


LAST_WATERMARK = "select state_key, as_of from {relation} order by build_seq desc limit 1"


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


@dataclass
class HeldLock:
    """A build lock once held: its file and how long the build waited for it."""

    path: Path
    waited: float = 0.0


def _say(message: str) -> None:
    print(f"tasker-analytics: {message}", file=sys.stderr, flush=True)


def lock_holder(path: Path, text: str, now: datetime | None = None) -> str:
    """Who holds the build lock at `path`, from what the holder wrote in it: its pid, host
    and start, or the lock file alone when it wrote nothing readable."""
    try:
        record = json.loads(text)
        pid, host, since = int(record["pid"]), str(record["host"]), datetime.fromisoformat(record["started_at"])
    except (ValueError, TypeError, KeyError):
        return f"another build (it holds {path})"
    age = ((now or datetime.now(UTC)) - since).total_seconds()
    return (
        f"the build of pid {pid} on {host}, started {since.strftime('%Y-%m-%d %H:%M:%S')} UTC "
        f"({max(age, 0):.0f}s ago; lock {path})"
    )


@contextmanager
def build_lock(path: Path, notify: Callable[[str], None] = _say) -> Iterator[HeldLock]:
    """One build at a time for the warehouse behind `path` (across processes). The holder
    writes its pid, host and start into the file; a build that finds the lock held says
    (`notify`, standard error by default) that it waits and for which build, then how long
    it waited (HeldLock.waited), which its reported build time leaves out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    held = HeldLock(path)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            notify(f"waiting for {lock_holder(path, handle.read())} to finish: one build at a time per warehouse")
            began = time.monotonic()
            fcntl.flock(handle, fcntl.LOCK_EX)
            held.waited = time.monotonic() - began
            notify(f"waited {held.waited:.1f}s for the other build; building now")
        try:
            handle.seek(0)
            handle.truncate()
            record = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": datetime.now(UTC).isoformat()}
            handle.write(json.dumps(record))
            handle.flush()
            yield held
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    "task_type_step_edges",
    "step_timeouts",
    "error_taxonomy",
)


def base_env(extra_env: dict[str, str] | None) -> dict[str, str]:
    env = {**os.environ, **(extra_env or {})}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env
