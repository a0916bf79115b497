"""A real server process (`tasker-analytics serve`, granian), for what only a real server shows."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

COMMAND = str(Path(sys.executable).with_name("tasker-analytics"))


def wait_for(what: str, check, seconds: float, interval: float = 1.0):
    """check()'s first truthy answer, asked every `interval` seconds; fails the test naming
    `what` when `seconds` pass without one."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerProcess:
    process: subprocess.Popen
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.process.stdout.read() if self.process.stdout and self.process.poll() is not None else ""


@contextmanager
def running_server(env: dict[str, str], *arguments: str, ready_seconds: float = 60) -> Iterator[ServerProcess]:
    """`tasker-analytics serve` on a free port with `env` over this environment, once
    /health/live answers; stopped (the whole process group) on exit."""
    port = free_port()
    process = subprocess.Popen(
        [COMMAND, "serve", "--port", str(port), *arguments],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = ServerProcess(process, port)
    try:
        deadline = time.monotonic() + ready_seconds
        while True:
            assert process.poll() is None, f"the server exited: {process.stdout.read()}"
            try:
                with urllib.request.urlopen(f"{server.base}/health/live", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the server did not answer within {ready_seconds} s"
            time.sleep(0.2)
        yield server
    finally:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
