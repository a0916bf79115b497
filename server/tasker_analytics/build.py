"""Run the dbt project (`dbt build`) against DuckDB or PostgreSQL.

On DuckDB the build writes a new file beside the served one and then moves it into
place with an atomic rename, so a reader never sees a half-built database and a failed
build leaves the previous one serving.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from tasker_analytics.settings import PROJECT_DIR, Settings, default_source_duckdb


class BuildError(RuntimeError):
    pass


@dataclass
class BuildResult:
    target: str
    seconds: float
    output: str


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
) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="tasker-analytics-profiles-") as profiles_dir:
        profiles = env.get("DBT_PROFILES_DIR")
        if not profiles:
            shutil.copy(PROJECT_DIR / "profiles.example.yml", Path(profiles_dir) / "profiles.yml")
            profiles = profiles_dir
        command = [_dbt_executable(), *arguments, "--project-dir", str(PROJECT_DIR), "--profiles-dir", profiles]
        if as_of:
            command += ["--vars", f'{{"as_of": "{as_of}"}}']
        return subprocess.run(
            command,
            cwd=PROJECT_DIR,
            env=env,
            text=True,
            stdout=subprocess.PIPE if quiet else None,
            stderr=subprocess.STDOUT if quiet else None,
        )


def build(
    settings: Settings,
    *,
    source_duckdb: str | None = None,
    as_of: str | None = None,
    quiet: bool = False,
    extra_env: dict[str, str] | None = None,
) -> BuildResult:
    """`dbt seed` + `dbt build` for the configured warehouse; raises BuildError on failure."""
    env = {**os.environ, **(extra_env or {})}
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    started = time.monotonic()
    if settings.warehouse == "postgres":
        env.update(postgres_environment(settings.database_url))
        env["TASKER_ANALYTICS_TARGET"] = "postgres"
        env["TASKER_ANALYTICS_PG_SCHEMA"] = settings.database_schema
        completed = run_dbt(["build"], env, as_of=as_of, quiet=quiet)
        if completed.returncode != 0:
            raise BuildError(f"dbt build failed on postgres (exit {completed.returncode})\n{completed.stdout or ''}")
        return BuildResult("postgres", time.monotonic() - started, completed.stdout or "")

    served = settings.duckdb_path.resolve()
    served.parent.mkdir(parents=True, exist_ok=True)
    building = served.with_name(f".{served.name}.building-{os.getpid()}")
    for leftover in (building, building.with_name(building.name + ".wal")):
        leftover.unlink(missing_ok=True)
    env["TASKER_ANALYTICS_TARGET"] = "duckdb"
    env["TASKER_ANALYTICS_DUCKDB_PATH"] = str(building)
    source = Path(source_duckdb).resolve() if source_duckdb else default_source_duckdb(env)
    if not source.exists():
        raise BuildError(f"Tasker source database {source} does not exist: run `tasker-analytics generate` first")
    env["TASKER_SOURCE_DUCKDB_PATH"] = str(source)
    try:
        completed = run_dbt(["build"], env, as_of=as_of, quiet=quiet)
        if completed.returncode != 0:
            raise BuildError(f"dbt build failed on duckdb (exit {completed.returncode})\n{completed.stdout or ''}")
        os.replace(building, served)
    finally:
        building.unlink(missing_ok=True)
        building.with_name(building.name + ".wal").unlink(missing_ok=True)
    return BuildResult("duckdb", time.monotonic() - started, completed.stdout or "")
