"""A build killed with SIGKILL (the whole process group: the command and dbt) at any
moment, including between writing the new file and swapping it in, leaves the served
path on a complete build, a restarted server serves it, and the build lock is free."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from litestar.testing import TestClient

from tasker_analytics.api.app import create_app
from tasker_analytics.build.duckdb_builds import builds_folder, publish_duckdb
from tasker_analytics.config.settings import Settings

BOTTLENECKS = "/tasker/analytics/bottlenecks"
AS_OF = "2026-11-28 11:30:00"


def _served_build(path: Path) -> str:
    with TestClient(create_app(Settings(duckdb_path=path))) as client:
        response = client.get(BOTTLENECKS, params={"period": 24})
        assert response.status_code == 200, response.text
        assert response.json()["slowest_tasks"]
        return response.json()["build_id"]


def _build_process(served: Path, source: Path, target: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "TASKER_ANALYTICS_DUCKDB_PATH": str(served),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target / "logs"),
    }
    command = [
        str(Path(sys.executable).with_name("tasker-analytics")),
        "build",
        "--source-duckdb",
        str(source),
        "--as-of",
        AS_OF,
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_sigkill_at_any_point_of_a_build_keeps_a_complete_build_served(workload, tmp_path):
    served = tmp_path / "served.duckdb"
    target = tmp_path / "target"
    # Start from a copy of the session's build, published the way a build publishes.
    first_file = builds_folder(served) / "00000000T000000000000Z-0.duckdb"
    first_file.parent.mkdir(parents=True)
    shutil.copyfile(workload.warehouse_path.resolve(), first_file)
    publish_duckdb(served, first_file, keep=10)
    first = _served_build(served)
    seen = {first}

    # Killed early (dbt starting), mid-build, and the moment the build's sidecar appears:
    # the build file is complete and the publish (symlink swap, pruning) is under way.
    for moment in ("early", "middle", "publish"):
        before = set(builds_folder(served).glob("*.json"))
        process = _build_process(served, workload.source_path, target)
        if moment == "early":
            time.sleep(1.0)
        elif moment == "middle":
            time.sleep(6.0)
        else:
            deadline = time.monotonic() + 240
            while not set(builds_folder(served).glob("*.json")) - before and time.monotonic() < deadline:
                time.sleep(0.005)
        _kill(process)
        assert served.is_symlink() and served.resolve().exists(), moment
        current = _served_build(served)  # a fresh server, as after a restart
        assert current in seen or moment == "publish", (moment, current)
        seen.add(current)

    # The build lock died with the killed processes: another build may take it at once.
    with open(served.with_name(f".{served.name}.lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(handle, fcntl.LOCK_UN)
