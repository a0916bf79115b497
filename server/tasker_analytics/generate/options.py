"""The options of `tasker-analytics generate`, apart from the generator so that the
command line parser imports neither numpy nor pyarrow (a served process never needs them)."""

from __future__ import annotations

import argparse

from tasker_analytics.config.settings import default_source_duckdb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `tasker-analytics generate` (validated in run(), one-line errors)."""
    parser.add_argument(
        "--tasks", default="20000", metavar="N", help="number of tasks to generate (default 20000; 0 = empty tables)"
    )
    parser.add_argument("--seed", default="42", metavar="S", help="random seed (default 42)")
    parser.add_argument(
        "--as-of",
        dest="as_of",
        default=None,
        metavar="ISO",
        help="end of the simulated history, naive UTC like 2026-11-28T12:00:00 "
        "(default: now, UTC, truncated to the millisecond)",
    )
    parser.add_argument(
        "--history-hours",
        dest="history_hours",
        default="192",
        metavar="H",
        help="hours of history before --as-of (default 192 = 8 days)",
    )
    parser.add_argument(
        "--duckdb", default=None, metavar="PATH", help=f"DuckDB file to write (default {default_source_duckdb()})"
    )
    parser.add_argument(
        "--postgres",
        default=None,
        metavar="DSN",
        help="write to PostgreSQL instead, e.g. postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--parquet",
        default=None,
        metavar="DIR",
        help="write Parquet files instead, one folder per table under DIR "
        "(the source of the spark target, docs/SCALING.md)",
    )
    parser.add_argument(
        "--schema", default="public", metavar="NAME", help="schema that receives the nine tables (default public)"
    )
    parser.add_argument("--no-progress", dest="no_progress", action="store_true", help="no progress bar on stderr")
