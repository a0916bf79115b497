"""Load while rebuilding: wrk holds N connections on loopback against the served API
(granian, 2 workers) for at least D seconds, and until three rebuilds (--rebuilds) have
run and been swapped in. `builds` counts the distinct builds seen per wrk round, summed over rounds;
p50_us/p99_us are the worst round's. Every
response must be a 200 whose body's build_id equals its X-Build-Id header (no response
mixes builds), with no socket errors. Writes bench/results/rebuild_load.json and exits 1
on any failure.

    python bench/rebuild_load.py [--seconds 60] [--connections 64] [--tasks 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tasker_analytics.build.runner import build
from tasker_analytics.config.settings import Settings
from tasker_analytics.generate.workload import generate_workload
from tasker_analytics.generate.writers import write_duckdb

HERE = Path(__file__).resolve().parent
AS_OFS = ["2026-11-28 10:00:00", "2026-11-28 10:30:00", "2026-11-28 11:00:00", "2026-11-28 11:30:00"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server did not become ready")


def run(seconds: int, connections: int, tasks: int, output: Path, rebuilds_wanted: int = 3) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="tasker_rebuild_load_"))
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        source, served = folder / "source.duckdb", folder / "served.duckdb"
        write_duckdb(generate_workload(tasks=tasks, seed=11, as_of=_as_of()), str(source))
        settings = Settings(duckdb_path=served, keep_builds=10)
        extra = {"DBT_TARGET_PATH": str(folder / "target"), "DBT_LOG_PATH": str(folder / "logs")}
        build(settings, source_duckdb=str(source), as_of=AS_OFS[0], quiet=True, extra_env=extra)
        port = _free_port()
        env = {
            **os.environ,
            "PYTHONFAULTHANDLER": "1",
            "TASKER_ANALYTICS_DUCKDB_PATH": str(served),
            "TASKER_ANALYTICS_WORKERS": "2",
            "TASKER_ANALYTICS_KEEP_BUILDS": "10",
        }
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("tasker-analytics")), "serve", "--port", str(port)],
            env=env,
            stdout=open(output.with_suffix(".server.log"), "w"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        rebuilds: list[dict] = []
        try:
            _wait_ready(base, server)

            def rebuild_three() -> None:
                for as_of in AS_OFS[1 : 1 + rebuilds_wanted]:
                    started = time.monotonic()
                    build(settings, source_duckdb=str(source), as_of=as_of, quiet=True, extra_env=extra)
                    rebuilds.append(
                        {
                            "as_of": as_of,
                            "seconds": round(time.monotonic() - started, 1),
                            "finished_at_s": round(time.monotonic() - load_started, 1),
                        }
                    )

            # wrk runs in 10-second rounds until both the duration has passed and the three
            # rebuilds are done, so every rebuild happens under load.
            load_started = time.monotonic()
            builder = threading.Thread(target=rebuild_three)
            builder.start()
            reports = []
            while time.monotonic() - load_started < seconds or builder.is_alive():
                reports.append(
                    subprocess.run(
                        [
                            "wrk",
                            "-t",
                            "2",
                            "-c",
                            str(connections),
                            "-d",
                            "10s",
                            "--timeout",
                            "10s",
                            "-s",
                            str(HERE / "rebuild_load.lua"),
                            base,
                        ],
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                        timeout=120,
                    ).stdout
                )
            elapsed = time.monotonic() - load_started
            builder.join()
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    figures: dict[str, int] = {}
    for report in reports:
        match = re.search(r"RESULT (.*)", report)
        if not match:
            raise SystemExit(f"wrk gave no result:\n{report}")
        for key, value in (item.split("=") for item in match.group(1).split()):
            worst = key.startswith("p")  # latency percentiles: the worst round's
            figures[key] = max(figures.get(key, 0), int(value)) if worst else figures.get(key, 0) + int(value)
    result = {
        "seconds": round(elapsed, 1),
        "connections": connections,
        "tasks": tasks,
        "wrk_rounds": len(reports),
        **figures,
        "requests_per_second": round(figures["requests"] / elapsed, 1),
        "rebuilds": rebuilds,
    }
    result["ok"] = (
        figures["requests"] > 0
        and figures["checked"] == figures["requests"]
        and all(
            figures[key] == 0
            for key in (
                "errors_connect",
                "errors_read",
                "errors_write",
                "errors_timeout",
                "non_2xx",
                "bad_status",
                "mixed",
            )
        )
        and len(rebuilds) == rebuilds_wanted
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _as_of():
    from datetime import datetime

    return datetime(2026, 11, 28, 12, 0, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--rebuilds", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--output", type=Path, default=HERE / "results" / "rebuild_load.json")
    args = parser.parse_args()
    result = run(args.seconds, args.connections, args.tasks, args.output, args.rebuilds)
    print(json.dumps(result, indent=2))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
