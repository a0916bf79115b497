"""Background aggregation: with TASKER_ANALYTICS_BACKGROUND_AGGREGATION=true the server
runs `tasker-analytics build` in a subprocess every aggregation interval.

Across the server's workers exactly one schedules builds (it holds a lock file for its
lifetime), builds run one at a time, each build's log is kept, and the last status is
written to a JSON file that every worker reports in `resource_utilization`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import msgspec

from tasker_analytics.config.settings import Settings
from tasker_analytics.core.schemas import BackgroundStatus, utc_now

_STATUS_DECODER = msgspec.json.Decoder(BackgroundStatus)  # built once (see analytics._DECODERS)

logger = logging.getLogger("tasker_analytics.build.background")
KEEP_LOGS = 20
# How long a read background status is reused (another worker's write shows within it).
STATUS_SECONDS = 1.0


class BackgroundAggregator:
    def __init__(self, settings: Settings, state_dir: Path):
        self.settings = settings
        self.state_dir = state_dir
        self.status_file = state_dir / "background-status.json"
        self.logs_dir = state_dir / "logs"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scheduler_lock = None
        self._status: tuple[float, BackgroundStatus] | None = None

    def status(self) -> BackgroundStatus:
        """The last status written, read at most once per STATUS_SECONDS: every cached
        performance body reports it, and a file read per hit costs more than the hit."""
        read = self._status
        if read is not None and time.monotonic() - read[0] < STATUS_SECONDS:
            return read[1]
        status = BackgroundStatus(
            enabled=self.settings.background_aggregation,
            interval_seconds=self.settings.aggregation_interval_seconds,
        )
        try:
            status = _STATUS_DECODER.decode(self.status_file.read_bytes())
        except (msgspec.DecodeError, OSError):
            pass
        self._status = (time.monotonic(), status)
        return status

    def _write(self, status: BackgroundStatus) -> None:
        self._status = None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.status_file.with_name(f".{self.status_file.name}.{os.getpid()}")
        temporary.write_bytes(msgspec.json.encode(status))
        os.replace(temporary, self.status_file)

    def start(self) -> None:
        if not self.settings.background_aggregation:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.state_dir / ".scheduler.lock", "a+")  # noqa: SIM115 - held for the process lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return  # another worker schedules the builds
        self._scheduler_lock = handle
        self._thread = threading.Thread(target=self._loop, name="tasker-analytics-aggregation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._scheduler_lock is not None:
            self._scheduler_lock.close()
            self._scheduler_lock = None

    def _loop(self) -> None:
        interval = self.settings.aggregation_interval_seconds
        status = self.status()
        status = msgspec.structs.replace(
            status,
            enabled=True,
            interval_seconds=interval,
            running=False,
            next_run_at=utc_now() + timedelta(seconds=interval),
        )
        self._write(status)
        while not self._stop.wait(interval):
            status = self.run_once(status)

    def run_once(self, status: BackgroundStatus) -> BackgroundStatus:
        started = utc_now()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"build-{started.strftime('%Y%m%dT%H%M%S')}.log"
        status = msgspec.structs.replace(status, running=True, last_started_at=started, last_log=str(log_path))
        self._write(status)
        clock = time.monotonic()
        command = [str(Path(sys.executable).with_name("tasker-analytics")), "build"]
        with open(log_path, "w") as log:
            code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        duration = round(time.monotonic() - clock, 3)
        outcome = "succeeded" if code == 0 else f"failed (exit {code})"
        logger.info("background build %s in %.1fs, log %s", outcome, duration, log_path)
        status = msgspec.structs.replace(
            status,
            running=False,
            last_finished_at=utc_now(),
            last_status=outcome,
            last_duration_seconds=duration,
            next_run_at=utc_now() + timedelta(seconds=self.settings.aggregation_interval_seconds),
        )
        self._write(status)
        for old in sorted(self.logs_dir.glob("build-*.log"))[:-KEEP_LOGS]:
            old.unlink(missing_ok=True)
        return status


def state_dir_for(settings: Settings) -> Path:
    """Where background state lives: beside the served DuckDB file (also for Postgres)."""
    return Path(os.path.abspath(settings.duckdb_path)).parent
