"""API benchmark: cached throughput and latency against a bare endpoint, uncached bottleneck
latency, the per-request reference approach against our materialized read, and the
server's memory under load, for one served build and the Tasker source it was built from.

    python bench/api.py --analytics PATH --source PATH [--quick] [--out bench/results/api.json]

`--analytics` is a served build (the path `tasker-analytics build` publishes, a symlink
into builds/), `--source` the Tasker source DuckDB file it was built from. Everything runs
on 127.0.0.1 and is bounded in time (wrk runs of at most 10 s; --quick: 3 s). The result
is plain JSON (medians and ratios as numbers); `summary_markdown()` renders it for
docs/BENCHMARKS.md. Exit status: 0 when measured, 2 on bad input or a missing tool.

What is measured (all figures are real measurements of this run):
1. cached: granian serving the real app (tasker-analytics serve) and granian serving
   bench/bare_app.py (a static body of the same bytes as the cached bottleneck body), same
   worker count; wrk at 32 and 256 connections against /tasker/analytics/bottlenecks?period=24,
   /tasker/analytics/performance, the bare endpoint, and the bare endpoint run in the thread
   pool (/bare-thread, what `sync_to_thread=True` alone costs), alternating in rounds, with
   the server's own CPU time per request (from /proc, independent of other load).
   The cache TTLs are raised to an hour so every measured request is a hit.
2. uncached: the whole bottleneck body for random scopes (from the data) and periods (1..168 h)
   through the server's own Python path (Analytics with a bottleneck cache TTL of 0, which
   computes every body; wall and CPU time), and over HTTP with a distinct (scope, period,
   limit) per request so that every request misses the response cache (checked with X-Cache);
   plus each SQL statement of such a body timed alone and split by DuckDB's profiler into
   compile (binding, planning) and execution.
3. reference: bench/reference_bottlenecks.sql (slowest tasks and steps computed per request
   from the raw Tasker tables) against our read of the same lists (the analyst functions
   over the rollups, as the server runs them), and against the whole uncached body, on the
   same DuckDB version in this process, alternating, same scopes and periods; every pair's
   answers are compared (keys, order, counts, figures within the stated error).
4. memory: VmRSS (and PSS) of the server's processes (granian's main process and its
   workers) sampled every 100 ms during the wrk runs and the uncached HTTP requests.

The machine's load average is recorded at the start and the end: on a shared machine the
wall-clock figures include other processes' load, the CPU-time figures much less.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from statistics import median
from typing import Any

import duckdb
import httpx
import msgspec
import numpy as np

from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics, _slowest
from tasker_analytics.core.query import BottleneckQuery, Scope
from tasker_analytics.warehouse import queries

HERE = Path(__file__).resolve().parent
REFERENCE_SQL = HERE / "reference_bottlenecks.sql"
BARE_APP = HERE / "bare_app.py"

TASK_KEY = ("namespace", "task_name", "version")
STEP_KEY = ("namespace", "task_name", "version", "step_name")
TASK_COUNTS = ("execution_count", "completed", "failed")
STEP_COUNTS = ("execution_count", "completed", "failed", "retried")
METRICS = ("duration", "queue_wait", "run_time")
# docs/API.md: sketch percentiles are within 0.5 % of the exact figure, plus the 0.05 ms of
# rounding to one decimal; averages are exact but rounded to 0.1 ms, rates to 4 decimals.
PERCENTILE_RELATIVE_ERROR = 0.005
MS_ROUNDING = 0.05 + 1e-6
RATE_ROUNDING = 0.00005 + 1e-9

CONNECTIONS = (32, 256)
BOTTLENECK_PATH = "/tasker/analytics/bottlenecks?period=24"
PERFORMANCE_PATH = "/tasker/analytics/performance"
TARGETS = {
    "bottlenecks": ("ours", BOTTLENECK_PATH),
    "performance": ("ours", PERFORMANCE_PATH),
    "bare": ("bare", "/bare"),
    "bare_thread": ("bare", "/bare-thread"),
}
GOALS = {
    "cached_p99_ms_32": 5.0,
    "cached_rps_ratio_32": 0.8,
    "uncached_p99_ms": 25.0,
    "reference_speedup": 100.0,
    "max_rss_mb": 150.0,
}

# wrk's report as one parsable line (latencies in microseconds).
WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d errors_connect=%d errors_read=%d errors_write=%d " ..
    "errors_timeout=%d non_2xx=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%d\\n",
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


class BenchError(RuntimeError):
    """Bad input, a missing tool or a server that misbehaves: the run cannot be measured."""


# -- small helpers ---------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def _stats_ms(samples_s: list[float]) -> dict[str, float | int]:
    """count, p50, p99 (percentile_cont), mean and max of durations in seconds, as ms."""
    values = np.array(samples_s) * 1000.0
    return {
        "count": len(samples_s),
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "mean_ms": round(float(values.mean()), 3),
        "max_ms": round(float(values.max()), 3),
    }


@contextmanager
def _timed(into: dict[str, float], name: str) -> Iterator[None]:
    """Wall time and this process's CPU time (every thread, DuckDB's too) of a block, in
    seconds, as into[name] and into[name + "_cpu"]. On a busy machine wall time grows with
    the other load; CPU time much less."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into[name] = time.perf_counter() - wall
    into[name + "_cpu"] = time.process_time() - cpu


def _ratio(numerator: float | None, denominator: float | None, places: int = 3) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, places)


def _load_average() -> list[float]:
    """The 1/5/15-minute load averages: how busy the machine was besides this run."""
    return [round(value, 2) for value in os.getloadavg()]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _scope_dict(scope: Scope) -> dict[str, str]:
    return scope.as_dict()


# -- inputs ----------------------------------------------------------------------------------


def source_schema(connection: duckdb.DuckDBPyConnection, catalog: str, path: Path) -> str:
    """The schema of the attached `catalog` (the file `path`) holding the Tasker tables (the
    generator writes `public`)."""
    rows = connection.execute(
        "select table_schema from information_schema.tables where table_catalog = ? and table_name = 'tasker_tasks'",
        [catalog],
    ).fetchall()
    if not rows:
        raise BenchError(f"{path} holds no tasker_tasks table: not a Tasker source DuckDB file")
    return rows[0][0]


def _check_inputs(analytics_duckdb: Path, source_duckdb: Path) -> dict[str, Any]:
    """The dataset's identity, or BenchError when a file is missing or is not what it should be."""
    for label, path in (("analytics", analytics_duckdb), ("source", source_duckdb)):
        if not path.exists():
            raise BenchError(f"{label} DuckDB file {path} does not exist")
        if not path.is_file():
            raise BenchError(f"{label} DuckDB path {path} is not a file")
    try:
        connection = duckdb.connect(str(analytics_duckdb), read_only=True)
    except duckdb.Error as error:
        raise BenchError(f"cannot open the analytics build {analytics_duckdb}: {error}") from None
    try:
        build_id, data_as_of = connection.execute(queries.BUILD_INFO.format(schema="main")).fetchall()[0][:2]
        scopes = connection.execute(
            "select distinct namespace_name, task_name, task_version from main.task_hourly_rollup order by all"
        ).fetchall()
    except (duckdb.Error, IndexError) as error:
        reason = str(error).splitlines()[0]
        raise BenchError(f"{analytics_duckdb} is not a complete analytics build: {reason}") from None
    finally:
        connection.close()
    connection = duckdb.connect()
    try:
        try:
            connection.execute("attach ? as src (read_only)", [str(source_duckdb)])
        except duckdb.Error as error:
            raise BenchError(f"cannot open the source {source_duckdb}: {error}") from None
        schema = source_schema(connection, "src", source_duckdb)
        tasks, steps = connection.execute(
            f"select (select count(*) from src.{schema}.tasker_tasks), "
            f"(select count(*) from src.{schema}.tasker_workflow_steps)"
        ).fetchall()[0]
    finally:
        connection.close()
    if not scopes:
        raise BenchError(f"{analytics_duckdb} has no settled tasks in its rollups: nothing to measure")
    return {
        "analytics_duckdb": str(analytics_duckdb),
        "build_file": os.path.realpath(analytics_duckdb),
        "source_duckdb": str(source_duckdb),
        "tasks": int(tasks),
        "steps": int(steps),
        "build_id": build_id,
        "data_as_of": data_as_of.isoformat(),
        "task_types": [list(row) for row in scopes],
    }


def random_scope(rng: random.Random, task_types: list[list[str]]) -> Scope:
    """None, or a namespace / task name / version combination taken from the data."""
    namespace, task_name, version = rng.choice(task_types)
    kind = rng.choice(("none", "namespace", "namespace+task", "namespace+task+version", "task"))
    return {
        "none": Scope(),
        "namespace": Scope(namespace=namespace),
        "namespace+task": Scope(namespace=namespace, task_name=task_name),
        "namespace+task+version": Scope(namespace=namespace, task_name=task_name, version=version),
        "task": Scope(task_name=task_name),
    }[kind]


# -- the two bottleneck reads ----------------------------------------------------------------


class Reference:
    """bench/reference_bottlenecks.sql on the raw Tasker tables of a source DuckDB file."""

    def __init__(self, source_duckdb: Path):
        self.connection = duckdb.connect()
        self.connection.execute("attach ? as src (read_only)", [str(source_duckdb)])
        schema = source_schema(self.connection, "src", source_duckdb)
        self.connection.execute(REFERENCE_SQL.read_text().replace("{source}", f'src."{schema}"'))

    def lists(self, scope: Scope, period: int, limit: int, as_of: datetime) -> tuple[list[dict], list[dict]]:
        """slowest_tasks and slowest_steps, with unrounded figures, in the API's order."""
        arguments = [as_of, period, scope.namespace, scope.task_name, scope.version, limit]
        found = []
        for macro in ("reference_slowest_tasks", "reference_slowest_steps"):
            result = self.connection.execute(f"select * from {macro}(?, ?, ?, ?, ?, ?)", arguments)
            columns = [column[0] for column in result.description]
            found.append([dict(zip(columns, row, strict=True)) for row in result.fetchall()])
        return found[0], found[1]

    def close(self) -> None:
        self.connection.close()


def ours_lists(analytics: Analytics, scope: Scope, period: int, limit: int) -> tuple[list[dict], list[dict]]:
    """slowest_tasks and slowest_steps exactly as the server computes them on a cache miss
    (the two analyst functions over the rollups, shaped and sorted by core/analytics.py)."""
    params = {"period": period, "namespace": scope.namespace, "task_name": scope.task_name, "version": scope.version}
    with analytics.warehouse.snapshot() as snapshot:
        task_rows = snapshot.query(queries.TASK_BOTTLENECKS, params)
        step_rows = snapshot.query(queries.STEP_BOTTLENECKS, params)
    tasks = _slowest([analytics._slow_task(row) for row in task_rows], limit)
    steps = _slowest([analytics._slow_step(row) for row in step_rows], limit)
    return msgspec.to_builtins(tasks), msgspec.to_builtins(steps)


def compare_lists(reference: tuple[list[dict], list[dict]], api: tuple[list[dict], list[dict]]) -> list[str]:
    """Every difference between the reference lists (exact, unrounded) and the API's lists:
    keys in the same order, counts equal, averages within the 0.05 ms rounding, rates within
    the rounding to 4 decimals, percentiles within 0.5 % plus the rounding. Empty when they agree."""
    problems: list[str] = []
    for index, (name, key, counts, rates) in enumerate(
        (
            ("slowest_tasks", TASK_KEY, TASK_COUNTS, ("failure_rate",)),
            ("slowest_steps", STEP_KEY, STEP_COUNTS, ("failure_rate", "retry_rate")),
        )
    ):
        expected, got = reference[index], api[index]
        expected_keys = [tuple(row[k] for k in key) for row in expected]
        got_keys = [tuple(row.get(k) for k in key) for row in got]
        if expected_keys != got_keys:
            at = next(
                (i for i, pair in enumerate(zip(expected_keys, got_keys, strict=False)) if pair[0] != pair[1]),
                min(len(expected_keys), len(got_keys)),
            )
            problems.append(
                f"{name}: keys differ from position {at}: reference {expected_keys[at : at + 2]} != "
                f"API {got_keys[at : at + 2]} (reference {len(expected_keys)} rows, API {len(got_keys)})"
            )
            continue
        for position, (want, have) in enumerate(zip(expected, got, strict=True)):
            path = f"{name}[{position}] {'/'.join(str(part) for part in expected_keys[position])}"
            for field in counts:
                if want[field] != have.get(field):
                    problems.append(f"{path}.{field}: reference {want[field]} != API {have.get(field)}")
            for field in rates:
                if have.get(field) is None or abs(want[field] - have[field]) > RATE_ROUNDING:
                    problems.append(f"{path}.{field}: reference {want[field]} != API {have.get(field)}")
            for metric in METRICS:
                for stat in ("avg", "p50", "p95", "p99"):
                    field = f"{stat}_{metric}_ms"
                    exact, served = want[field], have.get(field)
                    if exact is None or served is None:
                        if exact is not None or served is not None:
                            problems.append(f"{path}.{field}: reference {exact} != API {served}")
                        continue
                    allowed = MS_ROUNDING + (PERCENTILE_RELATIVE_ERROR * abs(exact) if stat != "avg" else 0.0)
                    if abs(exact - served) > allowed:
                        problems.append(f"{path}.{field}: reference {exact} vs API {served} (allowed +-{allowed:.3f})")
    return problems


# -- in-process measurements -----------------------------------------------------------------


def _open_analytics(analytics_duckdb: Path) -> Analytics:
    """The server's Python path with a bottleneck cache TTL of 0: every body is computed."""
    return Analytics(Settings(duckdb_path=analytics_duckdb, bottlenecks_cache_ttl=0))


def measure_uncached_in_process(analytics_duckdb: Path, task_types: list, count: int, seed: int) -> dict:
    rng = random.Random(seed)
    analytics = _open_analytics(analytics_duckdb)
    try:
        analytics.bottleneck_report(BottleneckQuery(Scope(), 24))  # opens the build, warms DuckDB's caches
        samples, cpu_samples, periods = [], [], []
        for _ in range(count):
            scope, period = random_scope(rng, task_types), rng.randint(1, 168)
            timing: dict[str, float] = {}
            with _timed(timing, "body"):
                served = analytics.bottleneck_report(BottleneckQuery(scope, period))
            samples.append(timing["body"])
            cpu_samples.append(timing["body_cpu"])
            periods.append(period)
            if served.cache.status != "miss":
                raise BenchError("the uncached measurement was served from the cache")
    finally:
        analytics.close()
    by_period = {
        label: _stats_ms([s for s, p in zip(samples, periods, strict=True) if low <= p <= high])
        for label, (low, high) in {"1-24h": (1, 24), "25-96h": (25, 96), "97-168h": (97, 168)}.items()
        if any(low <= p <= high for p in periods)
    }
    return {
        "method": "Analytics.bottleneck_report in this process with TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL=0 "
        "(the whole body, computed every call, default limit)",
        **_stats_ms(samples),
        "cpu": _stats_ms(cpu_samples),
        "by_period": by_period,
    }


SERVED_STATEMENTS = (
    "TASK_BOTTLENECKS",
    "STEP_BOTTLENECKS",
    "ERROR_PATTERNS",
    "DURATION_SUMMARY",
    "DURATION_HISTOGRAM",
    "CRITICAL_PATH",
    "RECOMMENDATIONS",
)


def statement_breakdown(analytics_duckdb: Path, work_dir: Path, periods: tuple[int, ...] = (1, 24, 168)) -> dict:
    """Where an uncached bottleneck body's time goes: each statement the server runs for it
    (warehouse/queries.py, all scopes), timed, and split by DuckDB's profiler into binding + planning
    (planner, optimizer, physical planner) and execution (operator CPU time, summed over threads)."""
    from tasker_analytics.warehouse.snapshots import _PARAM

    profile = work_dir / "api_statement_profile.json"
    connection = duckdb.connect(str(analytics_duckdb), read_only=True)
    figures: dict[str, dict] = {}
    try:
        for period in periods:
            params = {"period": period, "namespace": None, "task_name": None, "version": None}
            rows = {}
            for name in SERVED_STATEMENTS:
                sql = getattr(queries, name)
                used = set(_PARAM.findall(sql))
                text = _PARAM.sub(r"$\1", sql.format(schema="main"))
                bound = {key: value for key, value in params.items() if key in used}
                connection.execute(text, bound).fetchall()  # warm
                timings = []
                for _ in range(3):
                    started = time.perf_counter()
                    connection.execute(text, bound).fetchall()
                    timings.append(time.perf_counter() - started)
                connection.execute("pragma enable_profiling = 'json'")
                connection.execute(f"pragma profiling_output = '{profile}'")
                connection.execute(text, bound).fetchall()
                connection.execute("pragma disable_profiling")
                report = json.loads(profile.read_text())
                compile_s = sum(
                    float(report.get(part, {}).get("total_time", 0.0))
                    for part in ("planner", "optimizer", "physical_planner")
                )
                rows[name] = {
                    "median_ms": _ms(median(timings)),
                    "compile_ms": _ms(compile_s),
                    "operator_cpu_ms": _ms(float(report.get("query", {}).get("cpu_time", 0.0))),
                    "rows_scanned": int(report.get("query", {}).get("total_rows_scanned", 0)),
                }
            rows["all"] = {
                key: round(sum(row[key] for row in rows.values()), 3)
                for key in ("median_ms", "compile_ms", "operator_cpu_ms", "rows_scanned")
            }
            figures[f"{period}h"] = rows
    finally:
        connection.close()
        profile.unlink(missing_ok=True)
    sizes = {}
    connection = duckdb.connect(str(analytics_duckdb), read_only=True)
    try:
        for table in (
            "task_hourly_rollup",
            "step_hourly_rollup",
            "task_duration_sketches",
            "step_duration_sketches",
            "error_hourly_rollup",
            "error_step_outcomes",
            "step_dependency_rollup",
        ):
            sizes[table] = int(connection.execute(f"select count(*) from main.{table}").fetchall()[0][0])
    finally:
        connection.close()
    return {
        "method": "each statement of an uncached bottleneck body, scope none, median of 3 after a warm-up; "
        "compile = DuckDB planner + optimizer + physical planner, operator_cpu = execution",
        "periods": figures,
        "rollup_rows": sizes,
    }


def measure_reference(
    analytics_duckdb: Path,
    source_duckdb: Path,
    task_types: list,
    as_of: datetime,
    *,
    pairs: int,
    budget_s: float,
    seed: int,
) -> dict:
    """Alternating pairs: the reference lists, our lists and our whole body, per scope+period."""
    rng = random.Random(seed + 1)
    analytics = _open_analytics(analytics_duckdb)
    reference = Reference(source_duckdb)
    limit = analytics.settings.default_bottleneck_results
    runs: list[dict] = []
    try:
        # one untimed call of each first: files opened, DuckDB's buffers warm for both
        reference.lists(Scope(), 24, limit, as_of)
        ours_lists(analytics, Scope(), 24, limit)
        analytics.bottleneck_report(BottleneckQuery(Scope(), 24))
        started_all = time.monotonic()
        for index in range(pairs):
            if index >= 3 and time.monotonic() - started_all > budget_s:
                break
            scope, period = random_scope(rng, task_types), rng.randint(1, 168)
            timings: dict[str, float] = {}
            answers: dict[str, Any] = {}

            def run_reference(scope=scope, period=period, timings=timings, answers=answers) -> None:
                with _timed(timings, "reference"):
                    answers["reference"] = reference.lists(scope, period, limit, as_of)

            def run_ours(scope=scope, period=period, timings=timings, answers=answers) -> None:
                with _timed(timings, "ours_lists"):
                    answers["ours"] = ours_lists(analytics, scope, period, limit)
                with _timed(timings, "ours_body"):
                    analytics.bottleneck_report(BottleneckQuery(scope, period))

            order: list[Callable[[], None]] = [run_reference, run_ours] if index % 2 == 0 else [run_ours, run_reference]
            for step in order:
                step()
            problems = compare_lists(answers["reference"], answers["ours"])
            runs.append(
                {
                    "scope": _scope_dict(scope),
                    "period": period,
                    **{f"{name}_ms": _ms(timings[name]) for name in ("reference", "ours_lists", "ours_body")},
                    **{
                        f"{name}_cpu_ms": _ms(timings[name + "_cpu"])
                        for name in ("reference", "ours_lists", "ours_body")
                    },
                    "agree": not problems,
                    "problems": problems[:5],
                }
            )
    finally:
        reference.close()
        analytics.close()
    reference_median = median(run["reference_ms"] for run in runs)
    lists_median = median(run["ours_lists_ms"] for run in runs)
    body_median = median(run["ours_body_ms"] for run in runs)
    cpu = {name: median(run[f"{name}_cpu_ms"] for run in runs) for name in ("reference", "ours_lists", "ours_body")}
    return {
        "method": "bench/reference_bottlenecks.sql (DuckDB table macros over the raw Tasker tables of the "
        "source file, attached read-only) against the analyst functions over the rollups "
        "(ours_lists: the same two lists) and against the whole uncached bottleneck body (ours_body); "
        "same process, same DuckDB, alternating order, same random scope and period per pair",
        "duckdb": duckdb.__version__,
        "limit": limit,
        "pairs": len(runs),
        "reference_median_ms": reference_median,
        "ours_lists_median_ms": lists_median,
        "ours_body_median_ms": body_median,
        "speedup_lists": _ratio(reference_median, lists_median, 1),
        "speedup_body": _ratio(reference_median, body_median, 1),
        "speedup_lists_per_pair_median": round(median(r["reference_ms"] / r["ours_lists_ms"] for r in runs), 1),
        "reference_cpu_median_ms": cpu["reference"],
        "ours_lists_cpu_median_ms": cpu["ours_lists"],
        "ours_body_cpu_median_ms": cpu["ours_body"],
        "cpu_speedup_lists": _ratio(cpu["reference"], cpu["ours_lists"], 1),
        "cpu_speedup_body": _ratio(cpu["reference"], cpu["ours_body"], 1),
        "disagreements": sum(1 for run in runs if not run["agree"]),
        "runs": runs,
    }


# -- servers ---------------------------------------------------------------------------------


def _descendants(root: int) -> list[int]:
    """root's child processes, recursively (from /proc/<pid>/task/<tid>/children)."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            for child in children:
                if int(child) not in found:
                    found.append(int(child))
                    queue.append(int(child))
    return found


def _proc_kb(path: str, field: str) -> int:
    """A `field: <n> kB` line of a /proc file (0 when the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (/proc/<pid>/stat), in seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kb(pid: int) -> int:
    return _proc_kb(f"/proc/{pid}/status", "VmRSS")


def _pss_kb(pid: int) -> int:
    """Proportional set size: shared pages (libraries) split between the processes mapping them."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss")


class RssSampler:
    """Samples the VmRSS of a server (its main process and every descendant) every 100 ms
    while `sampling()` is active; keeps the maxima of the workers' sum and of the total."""

    def __init__(self, root: int):
        self.root = root
        self.max_workers_kb = 0
        self.max_total_kb = 0
        self.max_pss_kb = 0
        self.max_processes = 0
        self.samples = 0

    def sample(self) -> None:
        workers = _descendants(self.root)
        worker_kb = sum(_rss_kb(pid) for pid in workers)
        total_kb = worker_kb + _rss_kb(self.root)
        self.max_workers_kb = max(self.max_workers_kb, worker_kb)
        self.max_total_kb = max(self.max_total_kb, total_kb)
        self.max_pss_kb = max(self.max_pss_kb, sum(_pss_kb(pid) for pid in [self.root, *workers]))
        self.max_processes = max(self.max_processes, 1 + len(workers))
        self.samples += 1

    @contextmanager
    def sampling(self) -> Iterator[None]:
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self.sample()
                stop.wait(0.1)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            self.sample()

    def figures(self) -> dict[str, float | int]:
        return {
            "max_rss_mb_workers": round(self.max_workers_kb / 1024, 1),
            "max_rss_mb_total": round(self.max_total_kb / 1024, 1),
            "max_pss_mb_total": round(self.max_pss_kb / 1024, 1),
            "processes": self.max_processes,
            "samples": self.samples,
        }


def _tree_cpu_seconds(root: int) -> float:
    return sum(_cpu_seconds(pid) for pid in [root, *_descendants(root)])


class Server:
    """A granian server started as a subprocess, ready once /health/ready answers 200."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "w") as output:
            self.process = subprocess.Popen(
                [*command, "--port", str(self.port)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.rss = RssSampler(self.process.pid)

    def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the {self.name} server exited ({self.process.returncode}); see {self.log}")
            try:
                if httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise BenchError(f"the {self.name} server did not become ready in {timeout_s:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _server_env(analytics_duckdb: Path, workers: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKER_ANALYTICS_")}
    env.update(
        {
            "TASKER_ANALYTICS_DUCKDB_PATH": str(analytics_duckdb),
            "TASKER_ANALYTICS_WORKERS": str(workers),
            # every measured request must be a cache hit: the TTLs outlast the run
            "TASKER_ANALYTICS_PERFORMANCE_CACHE_TTL": "3600",
            "TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL": "3600",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _run_wrk(url: str, connections: int, seconds: int, threads: int, script: Path) -> dict:
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "5s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(command)}") from None
    match = re.search(r"RESULT (.*)", output)
    if not match:
        raise BenchError(f"wrk gave no result for {url}:\n{output}")
    raw = {key: int(value) for key, value in (item.split("=") for item in match.group(1).split())}
    errors = sum(raw[key] for key in ("errors_connect", "errors_read", "errors_write", "errors_timeout", "non_2xx"))
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 3),
        "p90_ms": round(raw["p90_us"] / 1000, 3),
        "p99_ms": round(raw["p99_us"] / 1000, 3),
        "max_ms": round(raw["max_us"] / 1000, 3),
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "bytes_per_response": round(raw["bytes"] / max(raw["requests"], 1)),
        "errors": errors,
    }


def _cache_counts(base: str) -> tuple[int, int]:
    """(hits, misses) of the response cache of the worker that answers (performance body)."""
    body = httpx.get(base + PERFORMANCE_PATH, timeout=30).json()
    cache = body["resource_utilization"]["cache"]
    return int(cache["hits"]), int(cache["misses"])


def measure_cached(ours: Server, bare: Server, *, seconds: int, rounds: int, threads: int, script: Path) -> dict:
    runs: list[dict] = []
    misses_before = _cache_counts(ours.base)[1]
    names = list(TARGETS)
    for connections in CONNECTIONS:
        for round_index in range(rounds):
            # alternate: every round starts one target later, so no target always runs first
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                server = ours if TARGETS[name][0] == "ours" else bare
                cpu_before = _tree_cpu_seconds(server.process.pid)
                with server.rss.sampling():
                    figures = _run_wrk(server.base + TARGETS[name][1], connections, seconds, threads, script)
                # the server's own CPU per answered request: what throughput would be on a
                # core of its own, whatever else the machine runs
                figures["server_cpu_us_per_request"] = round(
                    (_tree_cpu_seconds(server.process.pid) - cpu_before) / max(figures["requests"], 1) * 1e6, 1
                )
                runs.append({"target": name, "connections": connections, "round": round_index, **figures})
    misses_after = _cache_counts(ours.base)[1]
    summary: dict[str, dict] = {}
    for connections in CONNECTIONS:
        level: dict[str, dict] = {}
        for name in names:
            mine = [run for run in runs if run["target"] == name and run["connections"] == connections]
            level[name] = {
                key: round(median(run[key] for run in mine), 3)
                for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "server_cpu_us_per_request")
            }
            level[name]["errors"] = sum(run["errors"] for run in mine)
        for name in ("bottlenecks", "performance", "bare_thread"):
            level[name]["rps_ratio_vs_bare"] = _ratio(level[name]["rps"], level["bare"]["rps"])
            level[name]["p99_ratio_vs_bare"] = _ratio(level[name]["p99_ms"], level["bare"]["p99_ms"])
            level[name]["cpu_ratio_vs_bare"] = _ratio(
                level[name]["server_cpu_us_per_request"], level["bare"]["server_cpu_us_per_request"]
            )
        summary[str(connections)] = level
    return {
        "method": f"wrk -t {threads} -d {seconds}s --latency, {rounds} round(s) per connection count, targets "
        "alternating; figures are the medians over the rounds",
        "paths": {name: path for name, (_, path) in TARGETS.items()},
        "cache_misses_during_runs": misses_after - misses_before,
        "summary": summary,
        "runs": runs,
    }


def measure_uncached_http(ours: Server, task_types: list, count: int, seed: int, max_limit: int = 50) -> dict:
    """Sequential requests, each with a (scope, period, limit) not asked before: all misses."""
    rng = random.Random(seed + 2)
    seen: set[tuple] = {((), 24, 10)}  # the key the cached runs warmed
    samples: list[float] = []
    with httpx.Client(base_url=ours.base, timeout=60) as client, ours.rss.sampling():
        while len(samples) < count:
            scope, period, limit = random_scope(rng, task_types), rng.randint(1, 168), rng.randint(1, max_limit)
            key = (tuple(sorted(scope.as_dict().items())), period, limit)
            if key in seen:
                continue
            seen.add(key)
            started = time.perf_counter()
            response = client.get(
                "/tasker/analytics/bottlenecks", params={**scope.as_dict(), "period": period, "limit": limit}
            )
            samples.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise BenchError(f"uncached request answered {response.status_code}: {response.text[:300]}")
            if response.headers.get("x-cache") != "miss":
                raise BenchError(f"an uncached request was a cache {response.headers.get('x-cache')}")
    return {
        "method": "GET /tasker/analytics/bottlenecks over HTTP, one at a time, every request with a distinct "
        "(scope, period, limit) so the response cache misses (X-Cache: miss checked)",
        **_stats_ms(samples),
    }


def _in_process_cached(analytics_duckdb: Path, count: int = 2000) -> dict:
    """What a cache hit costs in Python alone (no HTTP): Analytics.bottleneck_report and
    performance_report on a warm in-memory cache, and JSON-encoding the bodies."""
    analytics = Analytics(Settings(duckdb_path=analytics_duckdb))
    try:
        figures = {}
        for name, call in (
            ("bottlenecks", lambda: analytics.bottleneck_report(BottleneckQuery(Scope(), 24))),
            ("performance", analytics.performance_report),
        ):
            served = call()
            started = time.perf_counter()
            for _ in range(count):
                served = call()
            figures[f"{name}_report_us"] = round((time.perf_counter() - started) / count * 1e6, 1)
            started = time.perf_counter()
            for _ in range(count):
                msgspec.json.encode(served.body)
            figures[f"{name}_json_encode_us"] = round((time.perf_counter() - started) / count * 1e6, 1)
        started = time.perf_counter()
        for _ in range(count):
            analytics.warehouse.current_build()
        figures["current_build_us"] = round((time.perf_counter() - started) / count * 1e6, 1)
        return figures
    finally:
        analytics.close()


# -- the whole measurement -------------------------------------------------------------------


def measure(
    analytics_duckdb: Path,
    source_duckdb: Path,
    *,
    quick: bool,
    results_dir: Path,
    workers: int = 1,
    wrk_threads: int = 1,
    seed: int = 7,
) -> dict:
    """Every figure of the API benchmark for one build (see the module docstring)."""
    analytics_duckdb, source_duckdb = Path(analytics_duckdb), Path(source_duckdb)
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (apt-get install wrk)")
    if workers < 1 or wrk_threads < 1:
        raise BenchError("workers and wrk threads must be at least 1")
    dataset = _check_inputs(analytics_duckdb, source_duckdb)
    task_types = dataset.pop("task_types")
    as_of = datetime.fromisoformat(dataset["data_as_of"])
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    plan = {
        "quick": quick,
        "workers": workers,
        "wrk_threads": wrk_threads,
        "wrk_seconds": 3 if quick else 10,
        "wrk_rounds": 1 if quick else 3,
        "uncached_requests": 50 if quick else 200,
        "reference_pairs": 5 if quick else 15,
        "reference_budget_s": 30 if quick else 150,
        "seed": seed,
    }
    started = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "api",
        "dataset": dataset,
        "plan": plan,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "platform": platform.platform(),
        },
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average": {"start": _load_average()},
    }

    # In-process figures first, while no server runs.
    result["uncached"] = {
        "in_process": measure_uncached_in_process(analytics_duckdb, task_types, plan["uncached_requests"], seed)
    }
    result["reference"] = measure_reference(
        analytics_duckdb,
        source_duckdb,
        task_types,
        as_of,
        pairs=plan["reference_pairs"],
        budget_s=plan["reference_budget_s"],
        seed=seed,
    )
    result["uncached"]["statements"] = statement_breakdown(analytics_duckdb, results_dir)
    result["cached_in_process"] = _in_process_cached(analytics_duckdb, 500 if quick else 2000)
    result["load_average"]["after_in_process"] = _load_average()
    gc.collect()

    # The servers: ours and the bare endpoint, same granian, same worker count.
    script = results_dir / "api_wrk.lua"
    script.write_text(WRK_SCRIPT)
    python = Path(sys.executable)
    ours = Server(
        "analytics",
        [str(python.with_name("tasker-analytics")), "serve", "--workers", str(workers)],
        _server_env(analytics_duckdb, workers),
        results_dir / "api_server.log",
    )
    bare = None
    try:
        ours.wait_ready()
        bodies = {}
        for name, path in (("bottlenecks", BOTTLENECK_PATH), ("performance", PERFORMANCE_PATH)):
            for _ in range(3):  # the first fills the cache, the rest must hit
                response = httpx.get(ours.base + path, timeout=120)
                if response.status_code != 200:
                    raise BenchError(f"{path} answered {response.status_code}: {response.text[:300]}")
            if response.headers.get("x-cache") != "hit":
                raise BenchError(f"{path} is not served from the cache after warming")
            bodies[name] = response.content
        body_file = results_dir / "api_bare_body.json"
        body_file.write_bytes(bodies["bottlenecks"])
        bare_env = {**os.environ, "BARE_BODY_FILE": str(body_file), "PYTHONUNBUFFERED": "1"}
        bare = Server(
            "bare",
            [str(python), str(BARE_APP), "--workers", str(workers)],
            bare_env,
            results_dir / "api_bare_server.log",
        )
        bare.wait_ready()
        bare_body = httpx.get(bare.base + "/bare", timeout=10).content
        if len(bare_body) != len(bodies["bottlenecks"]):
            raise BenchError("the bare body does not have the size of the cached bottleneck body")
        cached = measure_cached(
            ours, bare, seconds=plan["wrk_seconds"], rounds=plan["wrk_rounds"], threads=wrk_threads, script=script
        )
        cached["body_bytes"] = {name: len(body) for name, body in bodies.items()}
        result["cached"] = cached
        rss_under_wrk = ours.rss.figures()
        result["uncached"]["http"] = measure_uncached_http(ours, task_types, plan["uncached_requests"], seed)
        result["rss"] = {
            "method": "sum of VmRSS (/proc/<pid>/status) over the server's processes, sampled every 100 ms; "
            "workers = granian's worker processes, total = with granian's main process; pss = "
            "proportional set size (/proc/<pid>/smaps_rollup), shared library pages counted once",
            "ours_during_wrk": rss_under_wrk,
            "ours_overall": ours.rss.figures(),
            "bare_during_wrk": bare.rss.figures(),
        }
    finally:
        ours.stop()
        if bare is not None:
            bare.stop()
    result["load_average"]["end"] = _load_average()
    result["seconds"] = round(time.monotonic() - started, 1)
    result["goals"] = _goals(result)
    return result


def _goals(result: dict) -> dict[str, dict]:
    """Each target of the benchmark with the measured value and whether it was met."""
    at32 = result["cached"]["summary"]["32"]
    rss = result["rss"]["ours_overall"]
    checks = {
        "cached_p99_ms_32_bottlenecks": (at32["bottlenecks"]["p99_ms"], GOALS["cached_p99_ms_32"], "<="),
        "cached_p99_ms_32_performance": (at32["performance"]["p99_ms"], GOALS["cached_p99_ms_32"], "<="),
        "cached_rps_ratio_32_bottlenecks": (
            at32["bottlenecks"]["rps_ratio_vs_bare"],
            GOALS["cached_rps_ratio_32"],
            ">=",
        ),
        "cached_rps_ratio_32_performance": (
            at32["performance"]["rps_ratio_vs_bare"],
            GOALS["cached_rps_ratio_32"],
            ">=",
        ),
        "uncached_p99_ms_in_process": (result["uncached"]["in_process"]["p99_ms"], GOALS["uncached_p99_ms"], "<="),
        "uncached_p99_ms_http": (result["uncached"]["http"]["p99_ms"], GOALS["uncached_p99_ms"], "<="),
        "reference_speedup_lists": (result["reference"]["speedup_lists"], GOALS["reference_speedup"], ">="),
        "reference_speedup_body": (result["reference"]["speedup_body"], GOALS["reference_speedup"], ">="),
        "max_rss_mb_workers": (rss["max_rss_mb_workers"], GOALS["max_rss_mb"], "<="),
        "max_rss_mb_total": (rss["max_rss_mb_total"], GOALS["max_rss_mb"], "<="),
    }
    return {
        name: {
            "value": value,
            "target": target,
            "op": op,
            "met": value is not None and (value <= target if op == "<=" else value >= target),
        }
        for name, (value, target, op) in checks.items()
    }


# -- markdown --------------------------------------------------------------------------------


def _fmt(value: Any, places: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{places}f}"


def summary_markdown(result: dict) -> str:
    """Markdown tables of one result (one data size) for docs/BENCHMARKS.md."""
    data, plan = result["dataset"], result["plan"]
    lines = [
        f"### API at {data['tasks']:,} tasks ({data['steps']:,} steps)",
        "",
        f"Build `{data['build_id']}`, as_of {data['data_as_of']}; granian with {plan['workers']} worker(s), "
        f"wrk {plan['wrk_threads']} thread(s), {plan['wrk_seconds']} s per run, {plan['wrk_rounds']} "
        f"alternating round(s) (medians); {result['machine']['cpus']} CPUs, DuckDB {result['machine']['duckdb']}"
        f"{', quick mode' if plan['quick'] else ''}; load average (1 min) {result['load_average']['start'][0]} "
        f"at the start, {result['load_average']['end'][0]} at the end.",
        "",
        "**Cached responses** (every request a cache hit; bare = static body of the same "
        f"{_fmt(result['cached']['body_bytes']['bottlenecks'])} bytes from a minimal Litestar app on the same "
        "server; bare (thread) = the same handler with `sync_to_thread=True`)",
        "",
        "| connections | endpoint | requests/s | p50 ms | p99 ms | throughput vs bare | server CPU µs/request |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    labels = {
        "bottlenecks": "`bottlenecks?period=24`",
        "performance": "`performance`",
        "bare": "bare",
        "bare_thread": "bare (thread)",
    }
    for connections, level in result["cached"]["summary"].items():
        for name, label in labels.items():
            row = level[name]
            ratio = "1.00x" if name == "bare" else f"{_fmt(row['rps_ratio_vs_bare'], 2)}x"
            lines.append(
                f"| {connections} | {label} | {_fmt(row['rps'], 0)} | {_fmt(row['p50_ms'], 2)} | "
                f"{_fmt(row['p99_ms'], 2)} | {ratio} | {_fmt(row['server_cpu_us_per_request'], 0)} |"
            )
    unc = result["uncached"]
    ref = result["reference"]
    rss = result["rss"]
    lines += [
        "",
        "**Uncached bottleneck body** (random scopes from the data and periods 1..168 h)",
        "",
        "| path | requests | p50 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| in process (`Analytics`, cache TTL 0) | {unc['in_process']['count']} | "
        f"{_fmt(unc['in_process']['p50_ms'])} | {_fmt(unc['in_process']['p99_ms'])} | "
        f"{_fmt(unc['in_process']['max_ms'])} | {_fmt(unc['in_process']['cpu']['p50_ms'])} | "
        f"{_fmt(unc['in_process']['cpu']['p99_ms'])} |",
        f"| HTTP, distinct parameters (cache miss) | {unc['http']['count']} | {_fmt(unc['http']['p50_ms'])} | "
        f"{_fmt(unc['http']['p99_ms'])} | {_fmt(unc['http']['max_ms'])} | – | – |",
        "",
        "Where an uncached body's time goes (scope none; each statement the server runs, timed alone; "
        "compile = DuckDB binding and planning):",
        "",
        "| period | all statements ms | compile ms | slowest steps ms | recommendations ms | rollup rows read |",
        "|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {period} | {_fmt(rows['all']['median_ms'])} | {_fmt(rows['all']['compile_ms'])} | "
            f"{_fmt(rows['STEP_BOTTLENECKS']['median_ms'])} | {_fmt(rows['RECOMMENDATIONS']['median_ms'])} | "
            f"{_fmt(int(rows['all']['rows_scanned']))} |"
            for period, rows in unc["statements"]["periods"].items()
        ],
        "",
        f"**Reference approach** (slowest tasks and steps computed per request from the raw Tasker tables, "
        f"bench/reference_bottlenecks.sql, against ours; {ref['pairs']} alternating pairs, "
        f"{ref['disagreements']} disagreeing answers)",
        "",
        "| read | median ms | reference / ours | median CPU ms | reference / ours (CPU) |",
        "|---|---:|---:|---:|---:|",
        f"| reference (raw tables, per request) | {_fmt(ref['reference_median_ms'])} | 1x | "
        f"{_fmt(ref['reference_cpu_median_ms'])} | 1x |",
        f"| ours: the same two lists from the rollups | {_fmt(ref['ours_lists_median_ms'])} | "
        f"{_fmt(ref['speedup_lists'])}x | {_fmt(ref['ours_lists_cpu_median_ms'])} | "
        f"{_fmt(ref['cpu_speedup_lists'])}x |",
        f"| ours: the whole uncached body | {_fmt(ref['ours_body_median_ms'])} | {_fmt(ref['speedup_body'])}x | "
        f"{_fmt(ref['ours_body_cpu_median_ms'])} | {_fmt(ref['cpu_speedup_body'])}x |",
        "",
        f"**Server memory**: max RSS {_fmt(rss['ours_overall']['max_rss_mb_workers'])} MB in the worker "
        f"process(es), {_fmt(rss['ours_overall']['max_rss_mb_total'])} MB with granian's main process "
        f"(proportional set size, shared libraries counted once: {_fmt(rss['ours_overall']['max_pss_mb_total'])} MB; "
        f"bare app: {_fmt(rss['bare_during_wrk']['max_rss_mb_total'])} MB RSS).",
        "",
        "| target | measured | goal | met |",
        "|---|---:|---:|---|",
    ]
    for name, goal in result["goals"].items():
        lines.append(
            f"| {name} | {_fmt(goal['value'], 2)} | {goal['op']} {_fmt(goal['target'], 1)} | "
            f"{'yes' if goal['met'] else '**no**'} |"
        )
    return "\n".join(lines) + "\n"


# -- command line ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analytics", type=Path, required=True, help="served analytics build (DuckDB)")
    parser.add_argument("--source", type=Path, required=True, help="the Tasker source DuckDB it was built from")
    parser.add_argument("--quick", action="store_true", help="short runs (3 s wrk, 50 uncached requests)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "api.json")
    parser.add_argument("--workers", type=int, default=1, help="granian workers for both servers (default 1)")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        result = measure(
            args.analytics,
            args.source,
            quick=args.quick,
            results_dir=args.out.parent,
            workers=args.workers,
            wrk_threads=args.wrk_threads,
            seed=args.seed,
        )
    except BenchError as error:
        print(f"bench/api.py: {error}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(summary_markdown(result))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
