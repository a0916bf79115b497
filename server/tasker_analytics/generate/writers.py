"""Writing a generated workload: into a DuckDB file, a PostgreSQL schema or Parquet
folders, and splitting one at a moment for incremental tests."""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import re
import sys
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasker_analytics.config.settings import default_source_duckdb
from tasker_analytics.generate.schema import _PG_INDEXES, COLUMNS, _col_types
from tasker_analytics.generate.simulate import _MS_PER_HOUR
from tasker_analytics.generate.workload import TABLE_NAMES, _to_ms, generate_workload

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


# The tables whose rows arrive over time (the others describe task and step types).
_ACTIVITY_TABLES = (
    "tasker_tasks",
    "tasker_workflow_steps",
    "tasker_workflow_step_edges",
    "tasker_task_transitions",
    "tasker_workflow_step_transitions",
)


_TRANSITION_TABLES = ("tasker_task_transitions", "tasker_workflow_step_transitions")


def split_at(
    tables: dict[str, pa.Table],
    cutoff: datetime,
    *,
    late_share: float = 0.05,
    late_window_hours: tuple[float, float] = (6.0, 2.0),
    seed: int = 0,
) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    """A workload as the source held it at `cutoff`, and the rows that arrive after it.

    Arrivals are every row created after `cutoff` (new tasks, steps, edges and the later
    transitions of tasks already running) plus late ones: `late_share` of the transitions
    created between `late_window_hours` (6 and 2 by default) hours before `cutoff`, held
    back and given ids beyond every existing one, as rows committed late are. Appending
    the arrivals to the first part gives the whole workload, late rows re-numbered.
    """
    rng = np.random.default_rng(seed)
    cutoff_ms, (early_h, late_h) = _to_ms(cutoff), late_window_hours
    before, arrivals = {}, {}
    for name, table in tables.items():
        if name not in _ACTIVITY_TABLES:
            before[name] = table
            arrivals[name] = table.slice(0, 0)
            continue
        created = table.column("created_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
        later = created > cutoff_ms
        late = np.zeros(len(created), dtype=bool)
        if name in _TRANSITION_TABLES and late_share > 0:
            window = (created > cutoff_ms - early_h * _MS_PER_HOUR) & (created <= cutoff_ms - late_h * _MS_PER_HOUR)
            late = window & (rng.random(len(created)) < late_share)
        before[name] = table.filter(pa.array(~later & ~late))
        held = table.filter(pa.array(late))
        if held.num_rows:
            first = int(pc.max(table.column(0)).as_py()) + 1
            ids = pa.array(np.arange(first, first + held.num_rows, dtype=np.int64))
            held = held.set_column(0, table.schema.field(0), ids.cast(table.schema.field(0).type))
        arrivals[name] = pa.concat_tables([table.filter(pa.array(later)), held])
    return before, arrivals


def _check_schema(schema: str) -> None:
    if not _IDENT.match(schema):
        raise ValueError(f"invalid schema name {schema!r} (letters, digits and _ only)")


# The table that says how the workload in a schema of a DuckDB file was generated (tasks,
# seed, as_of, history_hours), in a schema of its own so that the Tasker schema holds the
# nine tables only: `up` reads it to tell whether the source it finds is the workload it is
# asked for. Written by `generate` and `up`; any other write of the tables removes their
# row, since it no longer describes them.
WORKLOAD_RECORD = '"tasker_analytics_generated"."workload"'


def _has_workload_record(con) -> bool:
    found = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'tasker_analytics_generated' "
        "and table_name = 'workload'"
    ).fetchone()[0]
    return found > 0


def write_duckdb(
    tables: dict[str, pa.Table],
    path: str,
    schema: str = "public",
    progress: bool = False,
    append: bool = False,
    generated: dict | None = None,
) -> None:
    """Replace the nine tables in `schema` of the DuckDB file at `path` (one transaction);
    with `append`, add the rows to the tables there instead. `generated` (the generator's
    tasks, seed, as_of and history_hours) is recorded for them (WORKLOAD_RECORD)."""
    import duckdb
    from tqdm import tqdm

    _check_schema(schema)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    con = duckdb.connect(path)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for name in tqdm(TABLE_NAMES, desc="duckdb", unit="table", file=sys.stderr, disable=not progress, leave=False):
            table = tables[name]
            select = ", ".join(f'CAST("{c}" AS {_col_types(t)[1]}) AS "{c}"' for c, t in COLUMNS[name])
            con.register("_tasker_source", table)
            if append:
                con.execute(f'INSERT INTO "{schema}"."{name}" SELECT {select} FROM _tasker_source')
            else:
                con.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
                con.execute(f'CREATE TABLE "{schema}"."{name}" AS SELECT {select} FROM _tasker_source')
            con.unregister("_tasker_source")
        if _has_workload_record(con):
            con.execute(f"DELETE FROM {WORKLOAD_RECORD} WHERE schema_name = ?", [schema])
        if generated is not None:
            con.execute('CREATE SCHEMA IF NOT EXISTS "tasker_analytics_generated"')
            con.execute(
                f"CREATE TABLE IF NOT EXISTS {WORKLOAD_RECORD} (schema_name VARCHAR PRIMARY KEY, tasks BIGINT, "
                "seed BIGINT, as_of TIMESTAMP, history_hours DOUBLE, written_at TIMESTAMP)"
            )
            con.execute(
                f"INSERT INTO {WORKLOAD_RECORD} VALUES (?, ?, ?, ?, ?, ?)",
                [
                    schema,
                    generated["tasks"],
                    generated["seed"],
                    generated["as_of"],
                    generated.get("history_hours"),
                    datetime.now(UTC).replace(tzinfo=None),
                ],
            )
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def generated_with(path: str, schema: str = "public") -> dict | None:
    """How the workload in `schema` of the DuckDB file at `path` was generated (its row of
    WORKLOAD_RECORD: tasks, seed, as_of, history_hours, written_at), or None when the file
    has no record of it (written by hand, by Tasker, by an older version); duckdb.Error when
    it cannot be read."""
    import duckdb

    with duckdb.connect(path, read_only=True) as con:
        if not _has_workload_record(con):
            return None
        cursor = con.execute(
            f"SELECT tasks, seed, as_of, history_hours, written_at FROM {WORKLOAD_RECORD} WHERE schema_name = ?",
            [schema],
        )
        row = cursor.fetchone()
        names = [column[0] for column in cursor.description]
    return None if row is None else dict(zip(names, row, strict=True))


def write_postgres(
    tables: dict[str, pa.Table], dsn: str, schema: str = "public", progress: bool = False, append: bool = False
) -> None:
    """Replace the nine tables in `schema` of the Postgres database at `dsn` (one transaction,
    COPY in CSV). Dependent views are dropped with the tables (CASCADE). With `append`, add
    the rows to the tables there instead."""
    import psycopg
    import pyarrow.csv as pacsv
    from tqdm import tqdm

    _check_schema(schema)
    write_options = pacsv.WriteOptions(include_header=False)
    with psycopg.connect(dsn, connect_timeout=10) as conn, conn.cursor() as cur:
        cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        for name in reversed(TABLE_NAMES if not append else ()):
            cur.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE')
        bar = tqdm(
            total=sum(t.num_rows for t in tables.values()),
            desc="postgres",
            unit="row",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            leave=False,
        )
        for name in TABLE_NAMES:
            cols = COLUMNS[name]
            ddl = ", ".join(f'"{c}" {_col_types(t)[0]}' for c, t in cols)
            if not append:
                cur.execute(f'CREATE TABLE "{schema}"."{name}" ({ddl})')
            names = ", ".join(f'"{c}"' for c, _ in cols)
            with cur.copy(f'COPY "{schema}"."{name}" ({names}) FROM STDIN (FORMAT csv)') as copy:
                for batch in tables[name].to_batches(max_chunksize=100_000):
                    buf = io.BytesIO()
                    pacsv.write_csv(batch, buf, write_options=write_options)
                    copy.write(buf.getbuffer())
                    bar.update(batch.num_rows)
            if append:
                continue
            cur.execute(f'ALTER TABLE "{schema}"."{name}" ADD PRIMARY KEY ("{cols[0][0]}")')
            for i, index_cols in enumerate(_PG_INDEXES.get(name, [])):
                quoted = ", ".join(f'"{c.strip()}"' for c in index_cols.split(","))
                cur.execute(f'CREATE INDEX "{name}_ix{i}" ON "{schema}"."{name}" ({quoted})')
        bar.close()
        conn.commit()
        for name in TABLE_NAMES:
            cur.execute(f'ANALYZE "{schema}"."{name}"')
        conn.commit()


def write_parquet(tables: dict[str, pa.Table], folder: str, progress: bool = False) -> None:
    """Write the nine tables as Parquet, one folder per table (`<folder>/<table>/`), the
    layout a Spark (or any lakehouse) table location has. Each table's folder is replaced
    whole: the new one is written beside it and renamed into place."""
    import shutil

    import pyarrow.parquet as pq
    from tqdm import tqdm

    root = os.path.abspath(folder)
    os.makedirs(root, exist_ok=True)
    for name in tqdm(TABLE_NAMES, desc="parquet", unit="table", file=sys.stderr, disable=not progress, leave=False):
        final = os.path.join(root, name)
        staged = os.path.join(root, f".{name}.new-{os.getpid()}")
        retired = os.path.join(root, f".{name}.old-{os.getpid()}")
        shutil.rmtree(staged, ignore_errors=True)
        os.makedirs(staged)
        pq.write_table(tables[name], os.path.join(staged, "part-00000.parquet"), row_group_size=1_000_000)
        if os.path.exists(final):
            os.replace(final, retired)
        os.replace(staged, final)
        shutil.rmtree(retired, ignore_errors=True)


DEFAULT_DUCKDB_PATH = str(default_source_duckdb())


class _UsageError(Exception):
    pass


def parse_as_of(value: str | None) -> datetime:
    """Naive UTC datetime truncated to the millisecond (now when value is None)."""
    if value is None:
        ts = datetime.now(UTC).replace(tzinfo=None)
    else:
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _UsageError(f"--as-of: not an ISO timestamp: {value!r}") from None
        if ts.tzinfo is not None:
            ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def _parse_options(args: argparse.Namespace) -> dict:
    def integer(name: str, value, minimum: int) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise _UsageError(f"--{name}: not an integer: {value!r}") from None
        if number < minimum:
            raise _UsageError(f"--{name} must be >= {minimum}, got {number}")
        return number

    try:
        hours = float(str(args.history_hours).strip())
    except ValueError:
        raise _UsageError(f"--history-hours: not a number: {args.history_hours!r}") from None
    if not (math.isfinite(hours) and hours * _MS_PER_HOUR >= 1):
        raise _UsageError(f"--history-hours must be positive, got {args.history_hours!r}")
    if sum(1 for target in (args.duckdb, args.postgres, getattr(args, "parquet", None)) if target) > 1:
        raise _UsageError("--duckdb, --postgres and --parquet are mutually exclusive")
    if not _IDENT.match(args.schema or ""):
        raise _UsageError(f"--schema: invalid name {args.schema!r} (letters, digits and _ only)")
    return {
        "tasks": integer("tasks", args.tasks, 0),
        "seed": integer("seed", args.seed, 0),
        "as_of": parse_as_of(args.as_of),
        "history_hours": hours,
    }


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def run(args: argparse.Namespace) -> int:
    """Run `tasker-analytics generate`; returns the exit code (2 on bad input or target)."""
    import duckdb
    import psycopg

    prog = "tasker-analytics generate"
    progress = not getattr(args, "no_progress", False)
    try:
        opts = _parse_options(args)
    except _UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    parquet = getattr(args, "parquet", None)
    target = args.postgres or parquet or args.duckdb or DEFAULT_DUCKDB_PATH
    # Reach the target before spending minutes on a large workload.
    try:
        if args.postgres:
            psycopg.connect(args.postgres, connect_timeout=10).close()
        elif parquet:
            os.makedirs(os.path.abspath(parquet), exist_ok=True)
        else:
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            duckdb.connect(target).close()
    except (psycopg.Error, duckdb.Error, OSError) as exc:
        print(
            f"{prog}: error: cannot open {'PostgreSQL' if args.postgres else target}: {_one_line(exc)}", file=sys.stderr
        )
        return 2
    tables = generate_workload(progress=progress, **opts)
    try:
        if args.postgres:
            write_postgres(tables, args.postgres, args.schema, progress=progress)
        elif parquet:
            write_parquet(tables, parquet, progress=progress)
        else:
            write_duckdb(tables, target, args.schema, progress=progress, generated=opts)
    except (psycopg.Error, duckdb.Error, OSError) as exc:
        print(f"{prog}: error: writing failed: {_one_line(exc)}", file=sys.stderr)
        return 2
    where = "PostgreSQL" if args.postgres else target
    place = f"Parquet folders under {os.path.abspath(parquet)}" if parquet else f"{where} schema {args.schema}"
    print(
        f"generated {opts['tasks']} tasks ({tables['tasker_workflow_steps'].num_rows} steps, "
        f"{tables['tasker_workflow_step_transitions'].num_rows} step transitions) as of "
        f"{opts['as_of'].isoformat(timespec='milliseconds')} into {place}"
    )
    return 0
