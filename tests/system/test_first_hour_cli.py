"""A new user's first hour with the command line: `up` says which workload it builds and
generates a new one when --tasks or --seed differ from the source's (`make run TASKS=500`
after a first run); a build that waits for another says for which and reports the wait
apart from its own time; `serve` with the endpoints off says what it serves; every option
and argument has --help text."""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from helpers.servers import wait_for
from helpers.workloads import BUILD_AS_OF, GENERATED_AS_OF
from tasker_analytics.build.project import build_lock, lock_holder
from tasker_analytics.cli import main as cli
from tasker_analytics.generate.workload import generate_workload
from tasker_analytics.generate.writers import generated_with, write_duckdb

COMMAND = str(Path(sys.executable).with_name("tasker-analytics"))


# --help ---------------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def test_every_command_option_and_argument_has_help():
    root = cli.parser()
    commands = _subcommands(root)
    assert set(commands) == {"generate", "build", "serve", "up", "check", "hash-token"}
    bare = []
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            bare += [f"command {choice.dest}" for choice in action._choices_actions if not (choice.help or "").strip()]
        elif not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            bare.append(f"tasker-analytics {action.option_strings or action.dest}")
    for name, command in commands.items():
        for action in command._actions:
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                bare.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert bare == [], "options and arguments without --help text: " + ", ".join(bare)


# up: which workload -------------------------------------------------------------------------


@pytest.fixture
def up(monkeypatch, tmp_path, capsys):
    """`tasker-analytics up` in this process, its build and server replaced by records of
    what they were asked; returns a function running it that gives (stderr, build call)."""
    calls: list[dict] = []

    def build(args, settings):
        calls.append({"source": args.source_duckdb, "full_refresh": args.full_refresh})
        return 0

    monkeypatch.setattr(cli, "_build", build)
    monkeypatch.setattr(cli, "_serve", lambda args, settings: 0)
    monkeypatch.setattr(cli, "_refuse_taken_port", lambda args, settings: 0)
    monkeypatch.setenv("TASKER_ANALYTICS_DUCKDB_PATH", str(tmp_path / "analytics.duckdb"))

    def run(*arguments: str) -> tuple[str, dict]:
        capsys.readouterr()
        assert cli.main(["up", *arguments]) == 0
        err = capsys.readouterr().err
        return " ".join(err.split()), calls[-1]

    return run


def _tasks(source: Path) -> int:
    with duckdb.connect(str(source), read_only=True) as connection:
        return connection.execute("select count(*) from public.tasker_tasks").fetchone()[0]


def _record(source: Path) -> tuple[int, int]:
    record = generated_with(str(source))
    assert record is not None
    return record["tasks"], record["seed"]


def test_up_generates_again_when_tasks_or_seed_differ_from_the_source(up, tmp_path):
    source = tmp_path / "source.duckdb"
    given = ("--source-duckdb", str(source))

    said, build = up("--tasks", "40", "--seed", "3", *given)
    assert f"no workload at {source} yet: generating one (40 tasks, seed 3)" in said
    assert _tasks(source) == 40 and _record(source) == (40, 3)
    assert build == {"source": str(source), "full_refresh": True}

    said, build = up("--tasks", "40", "--seed", "3", *given)
    assert f"reusing the workload in {source} (40 tasks, seed 3, generated up to" in said
    assert "--regenerate for a fresh one" in said
    assert build["full_refresh"] is False

    # `make run TASKS=60` after a first run: the source is generated again, not kept.
    said, build = up("--tasks", "60", "--seed", "3", *given)
    assert f"{source} holds another workload (40 tasks, seed 3): generating 60 tasks, seed 3 in its place" in said
    assert _tasks(source) == 60 and _record(source) == (60, 3)
    assert build["full_refresh"] is True, "a served build of the old workload must not be continued"

    said, build = up("--tasks", "60", "--seed", "4", *given)
    assert "holds another workload (60 tasks, seed 3): generating 60 tasks, seed 4" in said
    assert _record(source) == (60, 4) and build["full_refresh"] is True

    said, build = up("--tasks", "60", "--seed", "4", "--regenerate", *given)
    assert f"--regenerate: generating a new workload (60 tasks, seed 4) in place of {source}" in said
    assert build["full_refresh"] is True


def test_up_uses_a_source_without_a_record_as_it_is_and_says_how_to_replace_it(up, tmp_path):
    source = tmp_path / "source.duckdb"
    write_duckdb(generate_workload(tasks=30, seed=1, as_of=GENERATED_AS_OF), str(source))  # no record
    said, build = up("--tasks", "500", "--seed", "42", "--source-duckdb", str(source))
    assert f"using {source} as it is: it has no record of the --tasks and --seed it was generated with" in said
    assert "--tasks 500 --seed 42 do not apply to it" in said
    assert "tasker-analytics up --regenerate --tasks 500 --seed 42" in said
    assert _tasks(source) == 30 and generated_with(str(source)) is None
    assert build["full_refresh"] is False


def test_generate_records_the_workload_and_a_later_write_without_one_drops_it(tmp_path, capsys):
    source = tmp_path / "generated.duckdb"
    assert cli.main(["generate", "--tasks", "25", "--seed", "9", "--no-progress", "--duckdb", str(source)]) == 0
    record = generated_with(str(source))
    assert (record["tasks"], record["seed"], record["history_hours"]) == (25, 9, 192.0)
    write_duckdb(generate_workload(tasks=5, seed=1, as_of=GENERATED_AS_OF), str(source))
    assert generated_with(str(source)) is None


# build: waiting for another build -----------------------------------------------------------


def _wait_for(predicate, seconds: float, what: str):
    return wait_for(what, predicate, seconds, interval=0.1)


def test_the_lock_names_its_holder_or_else_its_file(tmp_path):
    path = tmp_path / ".warehouse.lock"
    started = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    record = json.dumps({"pid": 4321, "host": "builder", "started_at": started.isoformat()})
    said = lock_holder(path, record, now=started + timedelta(seconds=75))
    assert said == f"the build of pid 4321 on builder, started 2026-11-28 12:00:00 UTC (75s ago; lock {path})"
    assert lock_holder(path, "") == f"another build (it holds {path})"

    # A holder that wrote nothing (an older version): the waiting build names the lock file.
    messages: list[str] = []
    waited: list[float] = []

    def second_build():
        with build_lock(path, notify=messages.append) as held:
            waited.append(held.waited)

    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        waiter = threading.Thread(target=second_build)
        waiter.start()
        _wait_for(lambda: messages, 10, "the waiting build says so")
        time.sleep(0.5)
        fcntl.flock(handle, fcntl.LOCK_UN)
    waiter.join(10)
    assert messages[0] == f"waiting for another build (it holds {path}) to finish: one build at a time per warehouse"
    assert re.fullmatch(r"waited \d+\.\ds for the other build; building now", messages[1])
    assert waited[0] >= 0.5
    assert path.read_text() == "", "a released lock holds no record of a build"


def test_a_build_that_waits_for_another_says_so_and_reports_the_wait_apart(tmp_path):
    """The second of two builds at once says that it waits, for which build (pid and start),
    and reports its own time and the wait apart, instead of a silent pause and a build time
    that includes it."""
    source = tmp_path / "source.duckdb"
    write_duckdb(generate_workload(tasks=150, seed=2, as_of=GENERATED_AS_OF), str(source))
    served = tmp_path / "analytics.duckdb"
    env = {
        **os.environ,
        "TASKER_ANALYTICS_DUCKDB_PATH": str(served),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    hold = 4.0
    stderr_path = tmp_path / "build.stderr"
    began = time.monotonic()
    with build_lock(served.with_name(f".{served.name}.lock")), open(stderr_path, "w") as stderr:
        # This process is the other build, holding the warehouse's lock.
        build = subprocess.Popen(
            [COMMAND, "build", "--source-duckdb", str(source), "--as-of", BUILD_AS_OF.isoformat()],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )
        waiting = _wait_for(
            lambda: [line for line in stderr_path.read_text().splitlines() if "waiting for" in line],
            120,
            "the second build says that it waits",
        )
        time.sleep(hold)
    try:
        build.wait(timeout=600)
    finally:
        build.kill()
    elapsed = time.monotonic() - began
    output = stderr_path.read_text()
    assert build.returncode == 0, output
    assert f"waiting for the build of pid {os.getpid()} on {socket.gethostname()}, started " in waiting[0]
    assert served.name in waiting[0] and "one build at a time per warehouse" in waiting[0]
    reported = re.search(r"built duckdb in full in ([\d.]+)s \(after waiting ([\d.]+)s for another build\)", output)
    assert reported, output
    seconds, waited = float(reported.group(1)), float(reported.group(2))
    assert waited >= hold
    assert seconds <= elapsed - hold + 1, (seconds, waited, elapsed)
    assert re.search(rf"waited {reported.group(2)}s for the other build; building now", output)
    print(f"\nsecond build: waited {waited:.1f}s, built in {seconds:.1f}s, {elapsed:.1f}s in all")


# serve with the endpoints off -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_serve_with_the_endpoints_off_names_what_it_serves(tmp_path):
    """TASKER_ANALYTICS_ENABLED=false: the start-up line names the health probes, says the
    analytics endpoints are off, and names no URL that answers 404."""
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TASKER_ANALYTICS_ENABLED": "false",
        "TASKER_ANALYTICS_DUCKDB_PATH": str(tmp_path / "analytics.duckdb"),
    }
    server = subprocess.Popen(
        [COMMAND, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        first = server.stdout.readline()
        _wait_for(lambda: _status_or_none(f"{root}/health/live"), 30, "the server answers")
        named = [url.rstrip(":,;.") for url in re.findall(r"http://\S+", first)]
        statuses = {url: _status(url) for url in named if not url.endswith("/tasker/analytics/")}
        analytics = _status(f"{root}/tasker/analytics/performance")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    assert f"{root}/health/live" in first and f"{root}/health/ready" in first, first
    assert "analytics endpoints" in first and "are off (TASKER_ANALYTICS_ENABLED=false)" in first, first
    assert "/performance" not in first and "/bottlenecks" not in first, first
    # /health/ready answers 503 here (nothing is built), but it is served: never a 404.
    assert statuses and all(status != 404 for status in statuses.values()), statuses
    assert analytics == 404


def _status_or_none(url: str) -> int | None:
    try:
        return _status(url)
    except OSError:
        return None
