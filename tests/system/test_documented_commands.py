"""The README's and docs/ANALYSTS.md's commands, run as written beside a running server.

A new user's first hour: a server answers (`tasker-analytics serve` over a small generated
workload) while they follow the README and the analysts' guide. Every fenced bash, python
and sql block of the two documents is read from the Markdown (helpers.doc_blocks), not
retyped, and run in document order, as a reader would, in a private copy of the checkout:
the dbt project, profiles.example.yml and `.venv` (a link to this environment), with
`TASKER_ANALYTICS_PROJECT_DIR` naming the copy (the package would otherwise take this
checkout for its project) and `HOME` inside it, so that nothing a block writes (`data/`,
`profiles.yml`, `target/`, `~/.dbt`) lands outside the copy. No `TASKER_*` or `DBT_*`
variable of the test run reaches the blocks: they see what a fresh shell has.

- bash blocks run with `bash -e -o pipefail` from the copy, the environment's bin first on
  PATH; the address of `make run`'s server, 127.0.0.1:8000, becomes the test server's (it
  listens on a free port), and a block that calls curl must print JSON bodies that are not
  errors;
- python blocks run with this environment's Python, from the copy;
- sql blocks run, read-only, on the connection that docs/ANALYSTS.md's python block opens
  ("Opening the warehouse"): that block, as written, then the query.

Meanwhile a thread asks the server for /health/ready and /tasker/analytics/performance (no
server-side cache, so every answer reads the served file) every quarter second; every answer
must be a 200. Afterwards: the served build the blocks started with is unchanged (a hand-run
dbt never opened it for writing), the hand-run build is in the profile's own file, and the
`tasker-analytics build` the README gives for serving published a build the server picked up.

Blocks marked `<!-- docs-test skip: <why> -->` in the Markdown are not run, and the marker
says why: `make run` (20,000 tasks, then a server in the foreground on port 8000: the
server here is the same command on a small workload), `make test` (the suites themselves)
and the README's Postgres block (placeholder credentials, then a server in the foreground;
tests/integration builds and serves Postgres). tests/unit/test_documented_examples.py checks
that every marker is well formed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
import yaml

from helpers.doc_blocks import CodeBlock, code_blocks
from helpers.paths import REPOSITORY
from helpers.servers import running_server
from helpers.services import service_missing

DOCUMENTS = ("README.md", "docs/ANALYSTS.md")
RUNNABLE = {"bash", "sh", "python", "sql"}
# The server `make run` starts, as the documents address it.
DOCUMENTED_SERVER = "http://127.0.0.1:8000"
WATCHED = ("/health/ready", "/tasker/analytics/performance")
TASKS = 400
BLOCK_TIMEOUT_SECONDS = 600

BIN = Path(sys.executable).parent  # the environment's bin, where dbt and tasker-analytics are


def _runnable_blocks() -> list[CodeBlock]:
    return [block for document in DOCUMENTS for block in code_blocks(document) if block.language in RUNNABLE]


def _copy_checkout(checkout: Path) -> None:
    """The dbt project (the folders dbt_project.yml names), the example profile and `.venv`."""
    project = yaml.safe_load((REPOSITORY / "dbt_project.yml").read_text())
    folders = {folder for key, value in project.items() if key.endswith("-paths") for folder in value}
    for folder in sorted(folders):
        if (REPOSITORY / folder).is_dir():
            shutil.copytree(REPOSITORY / folder, checkout / folder)
    for name in ("dbt_project.yml", "profiles.example.yml"):
        shutil.copy(REPOSITORY / name, checkout / name)
    (checkout / ".venv").symlink_to(BIN.parent, target_is_directory=True)
    (checkout / "home").mkdir()


def _fresh_shell(checkout: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TASKER_", "DBT_"))}
    env.update(
        HOME=str(checkout / "home"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        TASKER_ANALYTICS_PROJECT_DIR=str(checkout),
        # No usage statistics sent from a test run (dbt's own variable, not the project's).
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def _run(command: list[str], checkout: Path, env: dict[str, str], stdin: str | None = None):
    return subprocess.run(
        command,
        cwd=checkout,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_SECONDS,
        check=False,
    )


@dataclass
class Watch:
    """Asks the server for WATCHED every quarter second, in a thread, until stopped."""

    base: str
    answers: list[tuple[str, object]] = field(default_factory=list)
    build_ids: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)

    def ask(self, path: str) -> object:
        try:
            with urllib.request.urlopen(self.base + path, timeout=15) as response:
                if path == WATCHED[1] and response.headers.get("X-Build-Id"):
                    self.build_ids.add(response.headers["X-Build-Id"])
                return response.status
        except urllib.error.HTTPError as error:
            return f"{error.code}: {error.read()[:300]!r}"
        except OSError as error:
            return repr(error)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for path in WATCHED:
                self.answers.append((path, self.ask(path)))
            self._stop.wait(0.25)

    def __enter__(self) -> Watch:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _json_bodies(text: str) -> list[object]:
    decoder, bodies, position = json.JSONDecoder(), [], 0
    while text[position:].strip():
        position += len(text[position:]) - len(text[position:].lstrip())
        body, position = decoder.raw_decode(text, position)
        bodies.append(body)
    return bodies


def _failure(block: CodeBlock, completed: subprocess.CompletedProcess) -> str | None:
    if completed.returncode != 0:
        return f"exit {completed.returncode}"
    if block.language in {"bash", "sh"} and re.search(r"(^|\s)curl\s", block.text, re.M):
        try:
            bodies = _json_bodies(completed.stdout)
        except ValueError as error:
            return f"curl printed no JSON ({error})"
        if not bodies or any(not isinstance(body, dict) or "error" in body for body in bodies):
            return "curl printed an error body"
    return None


def _served_file(checkout: Path) -> Path:
    return Path(os.path.realpath(checkout / "data" / "tasker_analytics.duckdb"))


def _profile_default_duckdb_path() -> str:
    """Where profiles.example.yml's duckdb target builds when run by hand."""
    profile = yaml.safe_load((REPOSITORY / "profiles.example.yml").read_text())
    path = profile["tasker_analytics"]["outputs"]["duckdb"]["path"]
    match = re.fullmatch(r"\{\{\s*env_var\('TASKER_ANALYTICS_DBT_DUCKDB_PATH', '([^']+)'\)\s*\}\}", path)
    assert match, path
    return match.group(1)


def test_the_documents_hold_the_commands_this_test_runs():
    """The commands the first hour needs are documented as blocks this test runs: it would
    otherwise pass on documents that dropped them."""
    blocks = [block for block in _runnable_blocks() if block.skip is None]
    shell = "\n".join(block.text for block in blocks if block.language in {"bash", "sh"})
    assert re.search(r"dbt build\b", shell) and "dbt docs generate" in shell
    assert "tasker-analytics build" in shell and "curl " in shell
    assert any("duckdb.connect(" in block.text for block in blocks if block.language == "python")
    assert any("import tasker_analytics" in block.text for block in blocks if block.language == "python")
    assert sum(block.language == "sql" for block in blocks) >= 4


def test_the_documented_commands_run_beside_a_running_server(tmp_path):
    if shutil.which("curl") is None:
        service_missing("curl is not installed: the README's requests use it")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    _copy_checkout(checkout)
    env = _fresh_shell(checkout)
    started = time.monotonic()
    for command in (
        [str(BIN / "tasker-analytics"), "generate", "--tasks", str(TASKS), "--seed", "7", "--no-progress"],
        [str(BIN / "tasker-analytics"), "build"],
    ):
        # The setup build leaves dbt's data and unit tests out; the documented ones run them.
        completed = _run(command, checkout, {**env, "DBT_EXCLUDE_RESOURCE_TYPES": "test unit_test"})
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    print(f"\nsetup (generate {TASKS} tasks, build): {time.monotonic() - started:.1f} s")

    blocks = _runnable_blocks()
    connect = [block for block in blocks if block.language == "python" and "duckdb.connect(" in block.text]
    assert len(connect) == 1, [block.name for block in connect]
    connection_name = re.search(r"^(\w+)\s*=\s*duckdb\.connect\(", connect[0].text, re.M).group(1)

    served = _served_file(checkout)
    served_before = served.stat()
    server_env = {
        "TASKER_ANALYTICS_PROJECT_DIR": str(checkout),
        "TASKER_ANALYTICS_WAREHOUSE": "duckdb",
        "TASKER_ANALYTICS_DUCKDB_PATH": str(checkout / "data" / "tasker_analytics.duckdb"),
        "TASKER_ANALYTICS_CACHE_TTL": "0",
        "TASKER_ANALYTICS_PERFORMANCE_CACHE_TTL": "0",
        "TASKER_ANALYTICS_BACKGROUND_AGGREGATION": "false",
        "TASKER_ANALYTICS_AUTH_REQUIRED": "false",
    }
    with running_server(server_env) as server:
        watch = Watch(server.base)
        deadline = time.monotonic() + 60
        while watch.ask(WATCHED[0]) != 200:
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.2)
        # What makes this test mean something: the server holds the served file, so a writer
        # cannot open it (what the hand-run dbt of the old profile did).
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(served)).close()

        failures, timings = [], []
        with watch:
            for block in blocks:
                if block.skip is not None:
                    timings.append(f"  {block.name} ({block.language}) skipped: {block.skip}")
                    continue
                began = time.monotonic()
                if block.language in {"bash", "sh"}:
                    script = block.text.replace(DOCUMENTED_SERVER, server.base)
                    completed = _run(["bash", "-e", "-o", "pipefail", "-c", script], checkout, env)
                elif block.language == "python":
                    completed = _run([sys.executable, "-c", block.text], checkout, env)
                else:
                    program = (
                        f"{connect[0].text}\nimport sys\n"
                        f"print(len({connection_name}.execute(sys.stdin.read()).fetchall()), 'rows')\n"
                    )
                    completed = _run([sys.executable, "-c", program], checkout, env, stdin=block.text)
                seconds = time.monotonic() - began
                timings.append(f"  {block.name} ({block.language}) {seconds:.1f} s")
                problem = _failure(block, completed)
                if problem:
                    failures.append(
                        f"{block.name} ({block.language}): {problem}\n--- block\n{block.text}--- output\n"
                        f"{completed.stdout[-3000:]}{completed.stderr[-3000:]}"
                    )
            # The README's `tasker-analytics build` published a build: the server picks it up
            # without a restart (each request looks at the served path).
            deadline = time.monotonic() + 30
            while len(watch.build_ids) < 2 and time.monotonic() < deadline:
                time.sleep(0.5)
        print("documented blocks:\n" + "\n".join(timings))

    assert failures == [], "\n\n".join(failures)
    bad = [answer for answer in watch.answers if answer[1] != 200]
    assert bad == [], f"{len(bad)} of {len(watch.answers)} answers were not 200: {bad[:10]}"
    for path in WATCHED:
        assert sum(answer[0] == path for answer in watch.answers) >= 10, path
    print(f"server answers while the blocks ran: {len(watch.answers)}, all 200")

    # The served build the blocks started with was never written: the hand-run dbt built
    # its own file, and `tasker-analytics build` a new build file that it published.
    if served.exists():
        after = served.stat()
        assert (after.st_size, after.st_mtime_ns) == (served_before.st_size, served_before.st_mtime_ns)
    development = checkout / _profile_default_duckdb_path()
    with duckdb.connect(str(development), read_only=True) as connection:
        assert connection.execute("select count(*) from performance_overview").fetchone() == (1,)
    assert (checkout / "target" / "catalog.json").exists()
    assert _served_file(checkout) != served, "the README's `tasker-analytics build` published nothing"
    assert _served_file(checkout).parent == checkout / "data" / "builds"
    assert len(watch.build_ids) >= 2, f"the server never answered from the new build: {watch.build_ids}"
