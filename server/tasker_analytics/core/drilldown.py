"""The dashboard's drill-downs of a scope, each read from one snapshot: its tasks hour by
hour over the period (the SQL function function_based_hourly_history) and, when the scope
names a task type, that type's step DAG with its critical-path figures (the mart
task_type_step_edges and function_based_critical_path). Analytics caches both like a
bottleneck body."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from tasker_analytics.core.figures import ms, rate, whole
from tasker_analytics.core.query import BottleneckQuery, Scope
from tasker_analytics.core.schemas import DagEdge, DagStep, History, HourFigures, StepDag, utc
from tasker_analytics.warehouse import queries
from tasker_analytics.warehouse.snapshots import Snapshot


def _params(query: BottleneckQuery) -> dict:
    scope = query.scope
    return {
        "period": query.period,
        "namespace": scope.namespace,
        "task_name": scope.task_name,
        "version": scope.version,
    }


def hourly_history(snapshot: Snapshot, query: BottleneckQuery) -> History:
    """Every hour of the period, oldest first; an hour without a settled task has zeros."""
    as_of = utc(snapshot.build.data_as_of)
    rows = {int(row["hour_index"]): row for row in snapshot.query(queries.HOURLY_HISTORY, _params(query))}
    hours = []
    for hour_index in range(query.period, 0, -1):
        end = as_of - timedelta(hours=hour_index - 1)
        row = rows.get(hour_index)
        hours.append(
            HourFigures(
                hour_start=end - timedelta(hours=1),
                hour_end=end,
                settled=whole(row["settled"]) if row else 0,
                completed=whole(row["completed"]) if row else 0,
                failed=whole(row["failed"]) if row else 0,
                completion_rate=0.0 if row is None else rate(row["completion_rate"]),
                p95_duration_ms=None if row is None else ms(row["p95_duration_ms"]),
            )
        )
    return History(query.period, query.scope.as_dict(), hours, as_of, snapshot.build.build_id)


def step_dag(snapshot: Snapshot, query: BottleneckQuery) -> StepDag:
    """The DAG of the scope's task type: its version when the scope gives one, else the
    version with the most tasks among its edges."""
    scope, build_id = query.scope, snapshot.build.build_id
    empty = StepDag(scope.namespace, scope.task_name, scope.version, 0, [], [], build_id)
    if scope.task_name is None:
        return empty
    edges = snapshot.query(queries.STEP_EDGES, _params(query))
    if not edges:
        return empty
    tasks: Counter[tuple[str, str]] = Counter()
    for row in edges:
        tasks[(row["namespace_name"], row["task_version"])] += whole(row["task_count"])
    namespace, version = max(tasks, key=lambda key: (tasks[key], key))
    edges = [row for row in edges if (row["namespace_name"], row["task_version"]) == (namespace, version)]
    typed = BottleneckQuery(Scope(namespace, scope.task_name, version), query.period, query.limit)
    paths = snapshot.query(queries.CRITICAL_PATH, _params(typed))
    figures = {row["step_name"]: row for row in paths}
    analyzed = max((whole(row["tasks_analyzed"]) for row in paths), default=0)
    names = sorted({row["parent_step_name"] for row in edges} | {row["child_step_name"] for row in edges})
    steps = []
    for name in names:
        row = figures.get(name)
        on_path = whole(row["on_critical_path"]) if row else 0
        share = rate(row["critical_path_share"]) if row else 0.0
        steps.append(DagStep(name, on_path, share, analyzed > 0 and 2 * on_path >= analyzed))
    links = [
        DagEdge(row["parent_step_name"], row["child_step_name"], whole(row["task_count"]))
        for row in sorted(edges, key=lambda row: (row["parent_step_name"], row["child_step_name"]))
    ]
    return StepDag(namespace, scope.task_name, version, analyzed, steps, links, build_id)
