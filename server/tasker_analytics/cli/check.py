"""`tasker-analytics check`: the spec's alerting job as a monitoring check (Nagios-style
exit codes) over the same marts the API serves.

    tasker-analytics check [--min-health 85] [--max-failure-rate 0.05]
                           [--namespace NS] [--period HOURS] [--json]

- health: the performance endpoint's `system_health_score` (its own 1 h window; --namespace
  and --period do not change it). Breached when health < --min-health. Not judged when the
  score is null (`health_status` insufficient_data: no health component has the dbt var
  `health_min_items` items in its window, e.g. an idle hour; docs/API.md).
- failure rate: failed / settled tasks over the last --period hours (default 24) in the
  scope (--namespace, default every namespace), where failed = final state `error`
  (docs/API.md). Without --namespace and --period it is the performance endpoint's 24 h
  `task_statistics.failure_rate`; otherwise sum(failed) / sum(execution_count) over every
  `slowest_tasks` row of the bottleneck analysis of that scope and period (all task types,
  not only the first `limit`). It is rounded to 4 decimals like every API rate and that
  figure is compared: breached when failure rate > --max-failure-rate. Not judged when no
  task settled in the scope and period (a rate over nothing says nothing).
- --namespace must name a namespace of the served build's data: one that appears among
  its task types (`task_version_history`: every task type with a task in the build,
  whatever the period). Another name (a typo) is an error, exit 2, naming it, never a
  quiet 0 % failure rate.
- exit codes, the first that applies:
  2 (UNKNOWN) when the data cannot be read (warehouse missing or unreachable, marts not
    built, bad settings), an argument is bad (--min-health outside 0..100, a rate
    outside 0..1, --period outside 1..TASKER_ANALYTICS_MAX_PERIOD_HOURS) or --namespace
    names no namespace of the build;
  1 (CRITICAL) when a judged figure crosses its threshold (a breach is reported even
    when the other figure is not judged);
  3 (NO_DATA) when nothing is breached but a figure is not judged: there is not enough
    data to say the system is healthy. 3 is Nagios' UNKNOWN, which is how Nagios-style
    monitors show it; it is kept apart from 2 so that "no data to judge" (a quiet
    system, or too short a period) is never mistaken for "the check cannot read the
    warehouse";
  0 (OK) when every figure is judged and none is breached.
- stdout: one line for humans, or with --json one JSON object (status, health,
  failure_rate, failed, settled, namespace, period_hours, thresholds, breaches,
  data_as_of, build_id; a figure not judged is null; on exit 2: status, error,
  thresholds).

The warehouse is the one TASKER_ANALYTICS_WAREHOUSE / _DUCKDB_PATH / _DATABASE_URL name;
the check keeps its cache in memory (a Redis outage does not delay or fail it).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import duckdb
import psycopg

from tasker_analytics.cache.store import open_cache
from tasker_analytics.cli.check_options import add_arguments
from tasker_analytics.config.settings import CONFIGURATION_ERRORS, Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import DEFAULT_PERIOD, BottleneckQuery, InvalidQuery, Scope
from tasker_analytics.core.schemas import rfc3339
from tasker_analytics.warehouse.snapshots import WarehouseUnavailable

OK, CRITICAL, UNKNOWN, NO_DATA = 0, 1, 2, 3
STATUS = {OK: "OK", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN", NO_DATA: "NO_DATA"}
# How many of the build's namespaces an unknown --namespace error lists.
_NAMESPACES_SHOWN = 20
# Every task type of the scope counts towards the failure rate, not only the first `limit`.
_ALL_TASK_TYPES = 1_000_000


class BadArgument(ValueError):
    """An argument the check cannot use (exit 2)."""


class UnknownScope(BadArgument):
    """--namespace names no namespace of the served build's data (exit 2)."""


@dataclass
class Result:
    health: float | None  # None: not judged (health_status insufficient_data)
    failure_rate: float | None  # None: not judged (no settled task in the scope and period)
    failed: int
    settled: int
    namespace: str | None
    period_hours: int
    min_health: float
    max_failure_rate: float
    data_as_of: str
    build_id: str
    health_window_hours: int = 1
    breaches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def judged(self) -> bool:
        """Both figures are judged."""
        return self.health is not None and self.failure_rate is not None

    @property
    def code(self) -> int:
        if self.breaches:
            return CRITICAL
        return OK if self.judged else NO_DATA

    def line(self) -> str:
        if self.health is None:
            health = f"health not judged (too few items in its {self.health_window_hours}h window)"
        else:
            health = f"health {self.health:g} {'<' if self.health < self.min_health else '>='} {self.min_health:g}"
        if self.failure_rate is None:
            rate = "failure rate not judged (no settled task)"
        else:
            rate_op = ">" if self.failure_rate > self.max_failure_rate else "<="
            rate = f"failure rate {self.failure_rate:.4f} {rate_op} {self.max_failure_rate:g}"
        scope = f"namespace {self.namespace}, " if self.namespace is not None else ""
        return (
            f"{STATUS[self.code]}: {health}, {rate} "
            f"({scope}{self.period_hours}h, {self.failed}/{self.settled} tasks failed, "
            f"build {self.build_id}, data as of {self.data_as_of})"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "status": STATUS[self.code],
            "health": self.health,
            "failure_rate": self.failure_rate,
            "failed": self.failed,
            "settled": self.settled,
            "namespace": self.namespace,
            "period_hours": self.period_hours,
            "thresholds": {"min_health": self.min_health, "max_failure_rate": self.max_failure_rate},
            "breaches": self.breaches,
            "data_as_of": self.data_as_of,
            "build_id": self.build_id,
        }


def _validate(args: argparse.Namespace, settings: Settings) -> None:
    """Ranges again, for callers that build the Namespace themselves, and those that need settings."""
    if not (isinstance(args.min_health, int | float) and 0 <= args.min_health <= 100):
        raise BadArgument(f"--min-health must be from 0 to 100, got {args.min_health}")
    if not (isinstance(args.max_failure_rate, int | float) and 0 <= args.max_failure_rate <= 1):
        raise BadArgument(f"--max-failure-rate must be a ratio from 0 to 1, got {args.max_failure_rate}")
    try:
        BottleneckQuery.validated(settings, namespace=args.namespace, period=_period(args))
    except InvalidQuery as error:  # the option of the same name
        raise BadArgument(f"--{error.detail}") from None


def _period(args: argparse.Namespace) -> int:
    return DEFAULT_PERIOD if args.period is None else args.period


def _rounded_rate(failed: int, settled: int) -> float | None:
    """As the API rounds rates (core.figures.rate): 4 decimals; None (not judged) over zero items."""
    return None if settled == 0 else round(round(failed / settled, 9), 4)


def _check_namespace(namespace: str | None, analytics: Analytics) -> None:
    """UnknownScope when `namespace` is not among the served build's namespaces."""
    if namespace is None:
        return
    build_id, known = analytics.namespaces()
    if namespace in known:
        return
    names = sorted(known)
    shown = ", ".join(names[:_NAMESPACES_SHOWN]) + (", ..." if len(names) > _NAMESPACES_SHOWN else "")
    raise UnknownScope(
        f"--namespace {namespace!r} does not exist in the served build's data (build {build_id}: "
        f"no task type has that namespace; its namespaces: {shown or 'none'})"
    )


def evaluate(args: argparse.Namespace, analytics: Analytics) -> Result:
    _check_namespace(args.namespace, analytics)
    performance = analytics.performance_metrics()
    period = _period(args)
    if args.namespace is None and args.period is None:
        statistics = performance.task_statistics
        failed, settled = statistics.failed, statistics.settled
        rate = statistics.failure_rate if settled else None
        build_id, data_as_of = performance.build_id, performance.data_as_of
    else:
        # Not BottleneckQuery.validated: every task type counts, beyond the API's row limit.
        query = BottleneckQuery(Scope.validated(namespace=args.namespace), period, _ALL_TASK_TYPES)
        bottlenecks = analytics.bottleneck_analysis(query)
        failed = sum(task.failed for task in bottlenecks.slowest_tasks)
        settled = sum(task.execution_count for task in bottlenecks.slowest_tasks)
        rate = _rounded_rate(failed, settled)
        build_id, data_as_of = bottlenecks.build_id, bottlenecks.data_as_of
    result = Result(
        health=performance.system_health_score,
        failure_rate=rate,
        failed=failed,
        settled=settled,
        namespace=args.namespace,
        period_hours=period,
        min_health=float(args.min_health),
        max_failure_rate=float(args.max_failure_rate),
        data_as_of=rfc3339(data_as_of),
        build_id=build_id,
        health_window_hours=max((c.window_hours for c in performance.health_components), default=1),
    )
    if result.health is not None and result.health < result.min_health:
        result.breaches.append({"metric": "health", "value": result.health, "threshold": result.min_health})
    if result.failure_rate is not None and result.failure_rate > result.max_failure_rate:
        result.breaches.append(
            {"metric": "failure_rate", "value": result.failure_rate, "threshold": result.max_failure_rate}
        )
    return result


def _unknown(args: argparse.Namespace, error: str) -> int:
    error = " ".join(error.split())  # one line, even for a driver's multi-line message
    if getattr(args, "json", False):
        thresholds = {"min_health": args.min_health, "max_failure_rate": args.max_failure_rate}
        print(json.dumps({"status": STATUS[UNKNOWN], "error": error, "thresholds": thresholds}))
    else:
        print(f"{STATUS[UNKNOWN]}: {error}")
    return UNKNOWN


def run(args: argparse.Namespace) -> int:
    """Print the outcome on stdout and return the exit code (0 OK, 1 CRITICAL, 2 UNKNOWN, 3 NO_DATA)."""
    try:
        settings = Settings.from_env()
        _validate(args, settings)
    except (*CONFIGURATION_ERRORS, BadArgument) as error:
        return _unknown(args, str(error))
    analytics = Analytics(settings, cache=open_cache(None, 16))
    try:
        result = evaluate(args, analytics)
    except UnknownScope as error:
        return _unknown(args, str(error))
    except WarehouseUnavailable as error:
        return _unknown(args, error.internal)
    except (duckdb.Error, psycopg.Error) as error:
        return _unknown(args, f"warehouse cannot be read: {error}".strip())
    except Exception as error:  # a check that crashes must not read as a crossed threshold
        return _unknown(args, f"unexpected error: {type(error).__name__}: {error}")
    finally:
        analytics.close()
    print(json.dumps(result.as_json()) if args.json else result.line())
    return result.code


def main(argv: list[str] | None = None) -> int:
    """`python -m tasker_analytics.cli.check` (the same as `tasker-analytics check`)."""
    parser = argparse.ArgumentParser(prog="tasker-analytics check")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
