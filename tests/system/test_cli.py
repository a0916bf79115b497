"""The `tasker-analytics` command as the README runs it: `up` generates, builds and serves."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

COMMAND = str(Path(sys.executable).with_name("tasker-analytics"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TASKER_SOURCE_DUCKDB_PATH": str(tmp_path / "source.duckdb"),
        "TASKER_ANALYTICS_DUCKDB_PATH": str(tmp_path / "analytics.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }


def _get(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, json.loads(response.read())


def test_up_generates_builds_and_serves_real_figures(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}/tasker/analytics"
    server = subprocess.Popen(
        [COMMAND, "up", "--tasks", "3000", "--seed", "5", "--port", str(port)],
        env=_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.stdout.read()
            try:
                status, performance = _get(f"{base}/performance")
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer within 240 s"
                time.sleep(1)
        status_bottlenecks, bottlenecks = _get(f"{base}/bottlenecks?period=168")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            output, _ = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    assert status == 200 and status_bottlenecks == 200
    assert f"{base}/performance" in output
    assert performance["task_statistics"]["total_tasks"] > 0
    assert performance["processing_times"]["p95"] > 0
    assert 0 < performance["system_health_score"] <= 100
    assert bottlenecks["slowest_tasks"] and bottlenecks["slowest_tasks"][0]["avg_duration_ms"] > 0
    assert bottlenecks["error_patterns"][0]["frequency"] > 0


def test_build_without_a_source_is_a_clear_error(tmp_path):
    completed = subprocess.run(
        [COMMAND, "build", "--source-duckdb", str(tmp_path / "absent.duckdb")],
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert "does not exist: run `tasker-analytics generate` first" in completed.stderr
    assert not (tmp_path / "analytics.duckdb").exists()


def test_build_rejects_a_bad_as_of(tmp_path):
    completed = subprocess.run(
        [COMMAND, "build", "--as-of", "yesterday"],
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert "--as-of must be an ISO timestamp" in completed.stderr and "Traceback" not in completed.stderr


def test_the_command_line_parser_imports_no_engine_or_web_framework():
    """`tasker-analytics serve`'s own process only supervises granian's workers: parsing the
    command line must not load DuckDB, psycopg, Litestar, numpy or pyarrow into it (about
    45 MB of resident memory; the workers import what they serve with)."""
    heavy = ("duckdb", "psycopg", "litestar", "numpy", "pyarrow", "dbt")
    probe = (
        "import sys\nfrom tasker_analytics.cli import main as cli\n"
        "cli.parser().parse_args(['serve'])\ncli.parser().parse_args(['check', '--json'])\n"
        f"print(' '.join(name for name in {heavy!r} if name in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == ""
