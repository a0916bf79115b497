"""The dashboard's step DAG of a task type (Analytics.step_dag, the mart
task_type_step_edges): its steps and dependencies against a plain-Python recomputation from
the per-execution tables, its critical-path figures against the bottleneck API's for the
same task type, and the page drawing each step and edge with them."""

from __future__ import annotations

import re

import duckdb
from litestar.testing import TestClient

from tasker_analytics.api.app import create_app
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery

DASHBOARD = "/tasker/analytics/dashboard"
BOTTLENECKS = "/tasker/analytics/bottlenecks"
SCOPE = {"namespace": "ecommerce", "task_name": "process_order"}


def _edges_by_version(warehouse) -> dict[str, set[tuple[str, str]]]:
    """Step-name edges of ecommerce/process_order per version, from int_task_dag_edges and
    int_step_executions."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        steps = {
            row[0]: row[1:]
            for row in connection.execute(
                "select workflow_step_id, namespace_name, task_name, task_version, step_name from int_step_executions"
            ).fetchall()
        }
        edges = connection.execute("select parent_step_id, child_step_id from int_task_dag_edges").fetchall()
    found: dict[str, set[tuple[str, str]]] = {}
    for parent, child in edges:
        namespace, task_name, version, parent_name = steps[parent]
        if (namespace, task_name) == ("ecommerce", "process_order"):
            found.setdefault(version, set()).add((parent_name, steps[child][3]))
    return found


def test_the_step_dag_is_the_types_dependencies_with_the_apis_critical_path(workload):
    settings = workload.settings()
    analytics = Analytics(settings)
    try:
        dag = analytics.step_dag(BottleneckQuery.validated(settings, period=24, **SCOPE))
    finally:
        analytics.close()
    edges = _edges_by_version(workload.warehouse_path)
    assert dag.version in edges and len(edges[dag.version]) >= 5
    assert {(edge.parent, edge.child) for edge in dag.edges} == edges[dag.version]
    assert {step.name for step in dag.steps} == {name for pair in edges[dag.version] for name in pair}

    with TestClient(create_app(settings)) as client:
        body = client.get(BOTTLENECKS, params={**SCOPE, "version": dag.version, "period": 24, "limit": 50}).json()
        page = client.get(DASHBOARD, params={**SCOPE, "period": 24}).text
    analysis = body["dependency_analysis"]
    assert dag.tasks_analyzed == analysis["tasks_analyzed"] > 0
    on_path = {row["step_name"]: row["on_critical_path"] for row in analysis["critical_path_steps"]}
    for step in dag.steps:
        assert step.on_critical_path == on_path.get(step.name, 0), step
        assert step.critical == (2 * step.on_critical_path >= dag.tasks_analyzed)
    assert any(step.critical for step in dag.steps) and not all(step.critical for step in dag.steps)

    # The page draws every step and edge with those figures.
    drawn = dict(re.findall(r'<g class="dag-step[^"]*" data-step="([^"]+)" data-on-critical-path="(\d+)"', page))
    assert drawn == {step.name: str(step.on_critical_path) for step in dag.steps}
    marked = set(re.findall(r'<g class="dag-step critical" data-step="([^"]+)"', page))
    assert marked == {step.name for step in dag.steps if step.critical}
    links = set(re.findall(r'<path class="dag-edge[^"]*" d="[^"]+" data-parent="([^"]+)" data-child="([^"]+)"', page))
    assert links == edges[dag.version]
    assert f'data-version="{dag.version}"' in page


def test_without_a_task_the_page_asks_for_one(client):
    page = client.get(DASHBOARD).text
    assert 'id="dag-note"' in page and "Choose a task" in page
    assert 'id="step-dag"' not in page
