"""The benchmark harness: `make bench` (10k, 100k and 1M tasks) and `make bench-quick` (10k).

For each size, in one run on this machine:
1. generate: the workload generator's time and throughput (tasks and rows per second), the
   workload split an hour before its end (generate.split_at: the source as it stood then,
   and the hour's arrivals, late transitions among them), and the write into DuckDB;
2. DuckDB builds (`tasker-analytics build`, each in its own process): a full build at the
   split, then, after the hour's arrivals are appended, an incremental build continuing it
   and a full refresh at the same as_of; wall time, peak memory (the largest process: dbt
   with DuckDB in it), and dbt's own start-up (process start to its first node) and
   wind-down (its last node to exit) apart from the time its nodes ran;
3. PostgreSQL builds (sizes in --postgres-sizes): the same three builds;
4. the API (bench/api.py) against the full DuckDB build: cached throughput and latency
   against a bare endpoint, uncached bottleneck latency, the per-request reference query
   against our materialized read, and the server's memory.

Writes bench/results/bench[-quick].json and the tables between the markers of its mode in
docs/BENCHMARKS.md. Exit status 0, or 2 on bad input or a missing service or tool.

    python bench/run.py [--quick] [--sizes 10000,100000,1000000] [--postgres-sizes 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
sys.path.insert(0, str(HERE))

END = datetime(2026, 11, 28, 12, 0, 0)
CUTOFF = END - timedelta(hours=1)
SEED = 7
POSTGRES_DSN = os.environ.get("TASKER_ANALYTICS_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
DOC = PROJECT / "docs" / "BENCHMARKS.md"


def _fail(message: str) -> None:
    print(f"bench: error: {message}", file=sys.stderr)
    raise SystemExit(2)


# --------------------------------------------------------------------------------------
# generate (in a child process, so the generator's memory is gone before the builds)
# --------------------------------------------------------------------------------------


def prepare(tasks: int, folder: Path) -> dict:
    """Generate `tasks` tasks ending at END, split at CUTOFF; write the source as it stood
    at CUTOFF and the hour's arrivals as DuckDB files in `folder`."""
    from tasker_analytics.generate.workload import generate_workload
    from tasker_analytics.generate.writers import split_at, write_duckdb

    started = time.perf_counter()
    tables = generate_workload(tasks=tasks, seed=SEED, as_of=END)
    generated = time.perf_counter() - started
    rows = sum(table.num_rows for table in tables.values())
    before, arrivals = split_at(tables, CUTOFF, seed=SEED)
    del tables
    started = time.perf_counter()
    write_duckdb(before, str(folder / "source.duckdb"))
    written = time.perf_counter() - started
    write_duckdb(arrivals, str(folder / "arrivals.duckdb"))
    return {
        "tasks": tasks,
        "rows": rows,
        "steps": before["tasker_workflow_steps"].num_rows + arrivals["tasker_workflow_steps"].num_rows,
        "generate_s": round(generated, 3),
        "tasks_per_s": round(tasks / generated),
        "rows_per_s": round(rows / generated),
        "write_duckdb_s": round(written, 3),
        "arrival_rows": sum(table.num_rows for table in arrivals.values()),
        "arrival_tasks": arrivals["tasker_tasks"].num_rows,
    }


def _run_prepare(tasks: int, folder: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "_prepare", str(tasks), str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        _fail(f"generating {tasks} tasks failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _arrivals(folder: Path) -> dict:
    import duckdb

    from tasker_analytics.generate.workload import TABLE_NAMES

    with duckdb.connect(str(folder / "arrivals.duckdb"), read_only=True) as connection:
        return {name: connection.table(f'public."{name}"').arrow().read_all() for name in TABLE_NAMES}


# --------------------------------------------------------------------------------------
# builds (each `tasker-analytics build` in its own process, its peak memory from rusage)
# --------------------------------------------------------------------------------------

# Runs a command with its output to a log (argv[1]); prints its exit code, times, and the
# peak RSS of its largest process.
_BUILD_CHILD = """
import json, resource, subprocess, sys, time
started = time.time()
with open(sys.argv[1], 'w') as log:
    code = subprocess.call(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": code, "started": started, "ended": time.time(), "peak_rss_kb": usage.ru_maxrss}))
"""


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()


def run_build(label: str, folder: Path, env: dict[str, str], arguments: list[str]) -> dict:
    """One `tasker-analytics build`: wall time, peak RSS, and dbt's start-up apart."""
    target = folder / f"target-{label}"
    shutil.rmtree(target, ignore_errors=True)
    build_env = {**os.environ, **env, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(folder / "logs")}
    command = [str(Path(sys.executable).with_name("tasker-analytics")), "build", *arguments]
    log = folder / f"build-{label}.log"
    completed = subprocess.run(
        [sys.executable, "-c", _BUILD_CHILD, str(log), *command],
        env=build_env,
        capture_output=True,
        text=True,
        check=False,
        cwd=folder,
    )
    if completed.returncode != 0:
        _fail(f"the benchmark build {label} could not run:\n{completed.stderr[-2000:]}")
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    log_text = log.read_text()
    if outcome["code"] != 0:
        _fail(f"build {label} failed (exit {outcome['code']}):\n{log_text[-3000:]}")
    results = json.loads((target / "run_results.json").read_text())
    nodes = [item["timing"] for item in results["results"]]
    first = min(_timestamp(t["started_at"]) for timing in nodes for t in timing if t["name"] == "compile")
    last = max(_timestamp(t["completed_at"]) for timing in nodes for t in timing if t["name"] == "execute")
    wall = outcome["ended"] - outcome["started"]
    startup = max(first - outcome["started"], 0.0)
    wind_down = max(outcome["ended"] - last, 0.0)
    return {
        "label": label,
        "incremental": "built duckdb incrementally" in log_text or "built postgres incrementally" in log_text,
        "wall_s": round(wall, 2),
        "nodes_s": round(last - first, 2),
        "startup_s": round(startup, 2),
        "wind_down_s": round(wind_down, 2),
        "peak_rss_mb": round(outcome["peak_rss_kb"] / 1024),
        "slowest_nodes": sorted(
            (
                {"node": item["unique_id"].split(".", 2)[2], "s": round(item["execution_time"], 2)}
                for item in results["results"]
                if item["unique_id"].startswith("model.")
            ),
            key=lambda node: -node["s"],
        )[:5],
    }


def bench_duckdb(folder: Path) -> tuple[dict, Path]:
    """Full build at CUTOFF; arrivals; incremental build and full refresh at END."""
    from tasker_analytics.generate.writers import write_duckdb

    source = folder / "source.duckdb"
    base = {"TASKER_SOURCE_DUCKDB_PATH": str(source)}
    incremental_served = folder / "incremental" / "tasker_analytics.duckdb"
    full_served = folder / "full" / "tasker_analytics.duckdb"
    as_of = ["--source-duckdb", str(source), "--as-of"]
    first = run_build(
        "duckdb-full-at-split",
        folder,
        {**base, "TASKER_ANALYTICS_DUCKDB_PATH": str(incremental_served)},
        [*as_of, CUTOFF.isoformat(sep=" ")],
    )
    write_duckdb(_arrivals(folder), str(source), append=True)
    incremental = run_build(
        "duckdb-incremental",
        folder,
        {**base, "TASKER_ANALYTICS_DUCKDB_PATH": str(incremental_served)},
        [*as_of, END.isoformat(sep=" ")],
    )
    full = run_build(
        "duckdb-full",
        folder,
        {**base, "TASKER_ANALYTICS_DUCKDB_PATH": str(full_served)},
        [*as_of, END.isoformat(sep=" ")],
    )
    if first["incremental"] or not incremental["incremental"] or full["incremental"]:
        _fail("the DuckDB builds did not run as full / incremental / full")
    return _build_figures(first, incremental, full), full_served


def _build_figures(first: dict, incremental: dict, full: dict) -> dict:
    return {
        "full_at_split": first,
        "incremental": incremental,
        "full": full,
        "incremental_over_full_wall": round(incremental["wall_s"] / full["wall_s"], 3),
        "incremental_over_full_nodes": round(incremental["nodes_s"] / full["nodes_s"], 3),
    }


def bench_postgres(folder: Path, dsn: str) -> dict:
    import duckdb
    import psycopg

    from tasker_analytics.generate.workload import TABLE_NAMES
    from tasker_analytics.generate.writers import write_postgres

    suffix = f"{os.getpid()}_{int(time.time())}"
    source_schema, schemas = f"bench_src_{suffix}", {"inc": f"bench_inc_{suffix}", "full": f"bench_full_{suffix}"}
    with duckdb.connect(str(folder / "source.duckdb"), read_only=True) as connection:
        before = {name: connection.table(f'public."{name}"').arrow().read_all() for name in TABLE_NAMES}
    started = time.perf_counter()
    write_postgres(before, dsn, schema=source_schema)
    written = time.perf_counter() - started
    del before
    base = {
        "TASKER_ANALYTICS_WAREHOUSE": "postgres",
        "TASKER_ANALYTICS_DATABASE_URL": dsn,
        "TASKER_SOURCE_SCHEMA": source_schema,
    }
    try:
        first = run_build(
            "postgres-full-at-split",
            folder,
            {**base, "TASKER_ANALYTICS_PG_SCHEMA": schemas["inc"]},
            ["--as-of", CUTOFF.isoformat(sep=" ")],
        )
        write_postgres(_arrivals(folder), dsn, schema=source_schema, append=True)
        incremental = run_build(
            "postgres-incremental",
            folder,
            {**base, "TASKER_ANALYTICS_PG_SCHEMA": schemas["inc"]},
            ["--as-of", END.isoformat(sep=" ")],
        )
        full = run_build(
            "postgres-full",
            folder,
            {**base, "TASKER_ANALYTICS_PG_SCHEMA": schemas["full"]},
            ["--as-of", END.isoformat(sep=" ")],
        )
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            names = [
                row[0]
                for row in connection.execute(
                    "select schema_name from information_schema.schemata where schema_name like %s",
                    (f"bench\\_%{suffix}%",),
                ).fetchall()
            ]
            for name in names:
                connection.execute(f'drop schema if exists "{name}" cascade')
    if first["incremental"] or not incremental["incremental"] or full["incremental"]:
        _fail("the PostgreSQL builds did not run as full / incremental / full")
    return {"write_postgres_s": round(written, 2), **_build_figures(first, incremental, full)}


# --------------------------------------------------------------------------------------
# the machine, the results document
# --------------------------------------------------------------------------------------


def machine() -> dict:
    from importlib.metadata import version

    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    versions = {
        name: version(name)
        for name in ("duckdb", "dbt-core", "dbt-duckdb", "dbt-postgres", "litestar", "granian", "msgspec")
    }
    try:
        import psycopg

        with psycopg.connect(POSTGRES_DSN, connect_timeout=3) as connection:
            versions["postgresql"] = connection.execute("show server_version").fetchone()[0].split()[0]
    except Exception:  # noqa: BLE001 - the machine line says it is absent
        versions["postgresql"] = "not reachable"
    wrk = shutil.which("wrk")
    if wrk:
        versions["wrk"] = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.split()[1]
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        ),
        "python": platform.python_version(),
        "kernel": platform.release(),
        **versions,
    }


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_markdown(result: dict) -> str:
    import api

    lines = [f"Measured {result['finished_at']} with `{result['command']}` in {result['total_s']:,.0f} s.", ""]
    m = result["machine"]
    lines.append(
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}, "
        f"DuckDB {m['duckdb']}, dbt-core {m['dbt-core']} (dbt-duckdb {m['dbt-duckdb']}, "
        f"dbt-postgres {m['dbt-postgres']}), PostgreSQL {m['postgresql']}, Litestar {m['litestar']}, "
        f"granian {m['granian']}, wrk {m.get('wrk', 'absent')}."
    )
    lines += [
        "",
        "**Generator** (tasks ending at 2026-11-28 12:00, seed 7; split an hour before the end)",
        "",
        "| tasks | rows | generate s | tasks/s | rows/s | write DuckDB s | arrivals in the hour (rows / tasks) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in result["sizes"]:
        g = size["generate"]
        lines.append(
            f"| {_cell(g['tasks'])} | {_cell(g['rows'])} | {_cell(g['generate_s'])} | "
            f"{_cell(g['tasks_per_s'])} | {_cell(g['rows_per_s'])} | {_cell(g['write_duckdb_s'])} | "
            f"{_cell(g['arrival_rows'])} / {_cell(g['arrival_tasks'])} |"
        )
    lines += [
        "",
        "**Builds** (`tasker-analytics build`; start-up = process start to dbt's first node, "
        "wind-down = last node to exit; incremental after the hour's arrivals, against a full "
        "refresh at the same as_of)",
        "",
        "| engine | tasks | build | wall s | dbt start-up s | nodes s | wind-down s | peak RSS MB | "
        "slowest models (s) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for size in result["sizes"]:
        for engine in ("duckdb", "postgres"):
            figures = size.get(engine)
            if not figures:
                continue
            for key in ("full_at_split", "full", "incremental"):
                b = figures[key]
                slow = ", ".join(f"{n['node']} {n['s']:.1f}" for n in b["slowest_nodes"][:3])
                lines.append(
                    f"| {engine} | {_cell(size['generate']['tasks'])} | {key.replace('_', ' ')} | "
                    f"{_cell(b['wall_s'])} | {_cell(b['startup_s'])} | {_cell(b['nodes_s'])} | "
                    f"{_cell(b['wind_down_s'])} | {_cell(b['peak_rss_mb'])} | {slow} |"
                )
            lines.append(
                f"| {engine} | {_cell(size['generate']['tasks'])} | **incremental / full** | "
                f"**{figures['incremental_over_full_wall']:.3f}** | | "
                f"**{figures['incremental_over_full_nodes']:.3f}** | | | |"
            )
    for size in result["sizes"]:
        if size.get("api"):
            lines += ["", api.summary_markdown(size["api"])]
        elif size.get("api_error"):
            lines += ["", f"API at {size['generate']['tasks']:,} tasks: the measurement failed ({size['api_error']})."]
    return "\n".join(lines) + "\n"


def write_doc(result: dict, mode: str) -> None:
    start, end = f"<!-- bench:{mode}:start -->", f"<!-- bench:{mode}:end -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    block = f"{start}\n{summary_markdown(result)}{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n## Results: `make bench{'-quick' if mode == 'quick' else ''}`\n\n{block}\n"
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_prepare"]:
        print(json.dumps(prepare(int(argv[1]), Path(argv[2]))))
        return 0
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k tasks, short API runs")
    parser.add_argument("--sizes", help="comma-separated task counts (default 10000,100000,1000000; quick 10000)")
    parser.add_argument("--postgres-sizes", help="sizes also built on PostgreSQL (default 100000; quick 10000)")
    parser.add_argument("--no-api", action="store_true", help="skip the API measurements")
    parser.add_argument("--no-doc", action="store_true", help="do not update docs/BENCHMARKS.md")
    parser.add_argument("--keep", action="store_true", help="keep the generated data (printed)")
    args = parser.parse_args(argv)

    def sizes(value: str | None, default: str) -> list[int]:
        try:
            numbers = [int(part) for part in (default if value is None else value).split(",") if part.strip()]
        except ValueError:
            _fail(f"sizes must be comma-separated integers, got {value!r}")
        if any(number < 100 for number in numbers):
            _fail(f"sizes must be at least 100 tasks, got {value!r}")
        return numbers

    task_sizes = sizes(args.sizes, "10000" if args.quick else "10000,100000,1000000")
    postgres_sizes = set(sizes(args.postgres_sizes, "10000" if args.quick else "100000"))
    if postgres_sizes - set(task_sizes):
        _fail("--postgres-sizes must be among --sizes")
    if not args.no_api and shutil.which("wrk") is None:
        _fail("wrk is not installed (apt-get install wrk), or pass --no-api")
    if postgres_sizes:
        import psycopg

        try:
            psycopg.connect(POSTGRES_DSN, connect_timeout=3).close()
        except psycopg.Error as error:
            _fail(
                f"PostgreSQL at {POSTGRES_DSN} does not answer ({error}); set "
                "TASKER_ANALYTICS_BENCH_DATABASE_URL or pass --postgres-sizes ''"
            )

    mode = "quick" if args.quick else "full"
    results_dir = HERE / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = {"machine": machine(), "sizes": [], "command": "make bench-quick" if args.quick else "make bench"}
    root = Path(tempfile.mkdtemp(prefix="tasker_bench_"))
    try:
        for tasks in task_sizes:
            folder = root / f"n{tasks}"
            folder.mkdir()
            print(f"bench: {tasks:,} tasks: generating", file=sys.stderr, flush=True)
            size = {"generate": _run_prepare(tasks, folder)}
            if tasks in postgres_sizes:
                print(f"bench: {tasks:,} tasks: PostgreSQL builds", file=sys.stderr, flush=True)
                size["postgres"] = bench_postgres(folder, POSTGRES_DSN)
            print(f"bench: {tasks:,} tasks: DuckDB builds", file=sys.stderr, flush=True)
            size["duckdb"], served = bench_duckdb(folder)
            if not args.no_api:
                import api

                print(f"bench: {tasks:,} tasks: API", file=sys.stderr, flush=True)
                try:
                    size["api"] = api.measure(
                        served, folder / "source.duckdb", quick=args.quick, results_dir=results_dir / f"api-{tasks}"
                    )
                except (Exception, SystemExit) as error:  # noqa: BLE001 - recorded, the other figures stand
                    size["api_error"] = f"{type(error).__name__}: {error}"
                    print(f"bench: {tasks:,} tasks: API measurement failed: {error}", file=sys.stderr)
            result["sizes"].append(size)
            (results_dir / f"bench-{mode}.json").write_text(json.dumps(result, indent=2))
    finally:
        if args.keep:
            print(f"bench: data kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["finished_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (results_dir / f"bench-{mode}.json").write_text(json.dumps(result, indent=2))
    if not args.no_doc:
        write_doc(result, mode)
    print(summary_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
