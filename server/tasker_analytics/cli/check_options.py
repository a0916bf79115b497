"""The options of `tasker-analytics check`, apart from the check so that the command line
parser imports neither DuckDB, psycopg nor Litestar: `tasker-analytics serve` keeps its
main process (granian's, which only supervises the workers) small."""

from __future__ import annotations

import argparse
import math

from tasker_analytics.core.query import DEFAULT_PERIOD

DEFAULT_MIN_HEALTH = 85.0
DEFAULT_MAX_FAILURE_RATE = 0.05


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def _health(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be from 0 to 100, got {text}")
    return value


def _rate(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a ratio from 0 to 1, got {text}")
    return value


def _hours(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of hours >= 1, got {text!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Exit 0 when healthy, 1 when a threshold is crossed, 2 when the data cannot be read or an "
        "argument is bad (an unknown --namespace too), 3 (NO_DATA) when too little data to judge."
    )
    parser.add_argument(
        "--min-health",
        type=_health,
        default=DEFAULT_MIN_HEALTH,
        metavar="SCORE",
        help=f"lowest acceptable system health score, 0-100 (default {DEFAULT_MIN_HEALTH:g})",
    )
    parser.add_argument(
        "--max-failure-rate",
        type=_rate,
        default=DEFAULT_MAX_FAILURE_RATE,
        metavar="RATE",
        help=f"highest acceptable failed/settled ratio, 0-1 (default {DEFAULT_MAX_FAILURE_RATE:g})",
    )
    parser.add_argument(
        "--namespace",
        help="failure rate of this namespace only, one of the build's (default: every namespace)",
    )
    parser.add_argument(
        "--period",
        type=_hours,
        metavar="HOURS",
        help=f"failure rate window (default {DEFAULT_PERIOD}, at most TASKER_ANALYTICS_MAX_PERIOD_HOURS)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a line")
