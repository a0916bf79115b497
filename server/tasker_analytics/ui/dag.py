"""The geometry of the dashboard's step DAG: a task type's steps in columns by their depth
(the longest chain of dependencies before them), its dependencies as curves from a step to
the steps that wait for it, the critical steps marked. templates/charts.html draws it;
nothing here writes markup."""

from __future__ import annotations

from dataclasses import dataclass

from tasker_analytics.core.schemas import StepDag
from tasker_analytics.ui.charts import WIDTH, Box, Point, px
from tasker_analytics.ui.format import pct

NODE_HEIGHT = 30
NODE_WIDTH = 140  # room for a 20-character step name
COLUMN = NODE_WIDTH + 36
MARGIN = 8
ROW = 44  # a node and the gap below it
TOP = 16


@dataclass(frozen=True, slots=True)
class DagNode:
    name: str
    critical: bool
    on_critical_path: int
    share: float
    box: Box
    label: Point
    figure: Point  # the "on the critical path of N %" line under the name
    figure_text: str
    title: str


@dataclass(frozen=True, slots=True)
class DagLink:
    parent: str
    child: str
    critical: bool  # both ends are critical steps
    task_count: int
    path: str  # SVG path data


@dataclass(frozen=True, slots=True)
class DagChart:
    width: int
    height: int
    nodes: tuple[DagNode, ...]
    links: tuple[DagLink, ...]


def depths(dag: StepDag) -> dict[str, int]:
    """Each step's column: 0 for a step nothing waits on, else one more than its deepest
    parent (steps of a cycle, which a DAG has not, stay where they are reached)."""
    parents: dict[str, set[str]] = {step.name: set() for step in dag.steps}
    for edge in dag.edges:
        parents.setdefault(edge.child, set()).add(edge.parent)
        parents.setdefault(edge.parent, set())
    depth: dict[str, int] = {}

    def of(name: str, seen: frozenset[str]) -> int:
        if name not in depth:
            above = [of(parent, seen | {name}) for parent in parents[name] if parent not in seen]
            depth[name] = 1 + max(above) if above else 0
        return depth[name]

    for name in sorted(parents):
        of(name, frozenset())
    return depth


def dag_chart(dag: StepDag) -> DagChart | None:
    if not dag.steps:
        return None
    depth = depths(dag)
    columns = max(depth.values()) + 1
    # Wide enough for the step names: at least the other charts' width, wider with many columns.
    width = max(WIDTH, columns * COLUMN + 2 * MARGIN)
    column_width = (width - 2 * MARGIN) / columns
    node_width = NODE_WIDTH
    by_column: dict[int, list[str]] = {}
    for step in dag.steps:
        by_column.setdefault(depth[step.name], []).append(step.name)
    rows = max(len(names) for names in by_column.values())
    height = TOP + rows * ROW + 8
    place: dict[str, tuple[float, float]] = {}
    for column, names in by_column.items():
        offset = (rows - len(names)) * ROW / 2  # a short column is centred
        for row, name in enumerate(sorted(names)):
            place[name] = (MARGIN + column * column_width, TOP + offset + row * ROW)

    nodes = []
    for step in dag.steps:
        x, y = place[step.name]
        share_of_tasks = step.on_critical_path / dag.tasks_analyzed if dag.tasks_analyzed else 0.0
        text = f"critical in {pct(share_of_tasks)}"
        title = (
            f"{step.name}: on the critical path of {step.on_critical_path:,} of {dag.tasks_analyzed:,} tasks, "
            f"{pct(step.critical_path_share)} of critical-path time"
        )
        nodes.append(
            DagNode(
                step.name,
                step.critical,
                step.on_critical_path,
                step.critical_path_share,
                Box(px(x), px(y), px(node_width), str(NODE_HEIGHT)),
                Point(px(x + 6), px(y + 12)),
                Point(px(x + 6), px(y + 25)),
                text,
                title,
            )
        )

    critical = {step.name for step in dag.steps if step.critical}
    links = []
    for edge in dag.edges:
        (parent_x, parent_y), (child_x, child_y) = place[edge.parent], place[edge.child]
        x1, y1 = parent_x + node_width, parent_y + NODE_HEIGHT / 2
        x2, y2 = child_x, child_y + NODE_HEIGHT / 2
        middle = (x1 + x2) / 2
        path = f"M {x1:.1f} {y1:.1f} C {middle:.1f} {y1:.1f}, {middle:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}"
        both = edge.parent in critical and edge.child in critical
        links.append(DagLink(edge.parent, edge.child, both, edge.task_count, path))
    return DagChart(int(width), int(height), tuple(nodes), tuple(links))
