"""The Grafana dashboard of the Prometheus series of /tasker/analytics/metrics, built with
Grafana's typed SDK (grafana-foundation-sdk, in the test extra) into
deploy/grafana/tasker-analytics.json, the file operators import:

    python deploy/grafana/dashboard.py            # write the JSON
    python deploy/grafana/dashboard.py --check    # exit 1 when the JSON is not what this builds

A data source variable picks the Prometheus; `namespace` and `task_name` filter the
per-task-type panels. docs/OPERATORS.md describes the panels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUTPUT = Path(__file__).resolve().with_name("tasker-analytics.json")
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
# The per-task-type series, filtered by the two variables.
SCOPED = '{namespace=~"$namespace", task_name=~"$task_name"}'
TASK_TYPE = "{{namespace}}/{{task_name}} {{version}}"


def _query(expr: str, legend: str, ref_id: str = "A", *, heatmap_format: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref_id).datasource(DATASOURCE)
    return query.format(PromQueryFormat.HEATMAP) if heatmap_format else query


def _series(title: str, description: str, unit: str, queries: list[tuple[str, str]], width: int = 12):
    panel = (
        timeseries.Panel().title(title).description(description).unit(unit).datasource(DATASOURCE).height(8).span(width)
    )
    for ref_id, (expr, legend) in zip("ABCDEFGH", queries, strict=False):
        panel = panel.with_target(_query(expr, legend, ref_id))
    return panel


def _stat(title: str, description: str, unit: str, expr: str, legend: str, width: int = 6):
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .height(5)
        .span(width)
        .with_target(_query(expr, legend))
    )


def _variable(name: str, label: str, query: str) -> dashboard.QueryVariable:
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .include_all(True)
        .all_value(".*")
        .multi(True)
    )


def build() -> dashboard.Dashboard:
    return (
        dashboard.Dashboard("Tasker Analytics")
        .uid("tasker-analytics")
        .tags(["tasker", "tasker-analytics"])
        .time("now-24h", "now")
        .refresh("1m")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            _variable("namespace", "Namespace", "label_values(tasker_analytics_task_type_executions, namespace)")
        )
        .with_variable(
            _variable(
                "task_name",
                "Task",
                'label_values(tasker_analytics_task_type_executions{namespace=~"$namespace"}, task_name)',
            )
        )
        .with_row(dashboard.Row("System"))
        .with_panel(
            _stat(
                "System health",
                "Health score 0-100 over the last hour; empty when too little ran to judge it",
                "none",
                "tasker_analytics_system_health_score",
                "health",
            )
            .min(0)
            .max(100)
        )
        .with_panel(
            _stat(
                "Active tasks",
                "Tasks not settled at the data's as_of",
                "none",
                "tasker_analytics_active_tasks",
                "active",
            )
        )
        .with_panel(
            _stat(
                "Data age",
                "Seconds since the served build's data_as_of",
                "s",
                "tasker_analytics_data_age_seconds",
                "data age",
            )
        )
        .with_panel(
            _stat(
                "Last background build",
                "1: the last background build succeeded, 0: it failed",
                "none",
                "tasker_analytics_background_build_last_success",
                "succeeded",
            )
        )
        .with_panel(
            _series(
                "Completion and failure rate (last hour)",
                "Completed and failed shares of the tasks settled in the last hour",
                "percentunit",
                [
                    ('tasker_analytics_completion_rate{window="1h"}', "completed"),
                    ('tasker_analytics_error_rate{window="1h"}', "failed"),
                ],
            )
        )
        .with_panel(
            _series(
                "Health components",
                "Each component of the health score, 0-1 (empty when not judged)",
                "percentunit",
                [("tasker_analytics_health_component", "{{component}}")],
            )
        )
        .with_panel(
            _series(
                "Task duration percentiles (24 h)",
                "p50, p95 and p99 of the tasks completed in the last 24 h",
                "s",
                [
                    ("tasker_analytics_task_duration_p50_seconds", "p50"),
                    ("tasker_analytics_task_duration_p95_seconds", "p95"),
                    ("tasker_analytics_task_duration_p99_seconds", "p99"),
                ],
            )
        )
        .with_panel(
            heatmap.Panel()
            .title("Task durations (24 h)")
            .description("The durations of the tasks completed in the last 24 h, 4 buckets per decade")
            .datasource(DATASOURCE)
            .height(8)
            .span(12)
            .calculate(False)
            .with_target(
                _query(
                    "sum by (le) (tasker_analytics_task_duration_distribution_seconds_bucket)",
                    "{{le}}",
                    heatmap_format=True,
                )
            )
        )
        .with_row(dashboard.Row("Task types"))
        .with_panel(
            _series(
                "p95 duration by task type (24 h)",
                "p95 duration of each task type's completed tasks, last 24 h",
                "s",
                [(f"tasker_analytics_task_type_duration_p95_seconds{SCOPED}", TASK_TYPE)],
            )
        )
        .with_panel(
            _series(
                "Failure rate by task type (24 h)",
                "Failed share of each task type's settled tasks, last 24 h",
                "percentunit",
                [(f"tasker_analytics_task_type_failure_rate{SCOPED}", TASK_TYPE)],
            )
        )
        .with_panel(
            _series(
                "Executions by task type (24 h)",
                "Tasks of each type settled in the last 24 h",
                "none",
                [(f"tasker_analytics_task_type_executions{SCOPED}", TASK_TYPE)],
            )
        )
        .with_panel(
            _series(
                "Step errors by type (24 h)",
                "Step error events of the last 24 h by error type",
                "none",
                [("tasker_analytics_error_events", "{{error_type}}")],
            )
        )
        .with_row(dashboard.Row("Builds"))
        .with_panel(
            _series(
                "Build and data age",
                "Seconds since the served build was made and since its data_as_of",
                "s",
                [
                    ("tasker_analytics_build_age_seconds", "build age"),
                    ("tasker_analytics_data_age_seconds", "data age"),
                ],
            )
        )
        .with_panel(
            _series(
                "Background build duration",
                "Wall time of the last background build",
                "s",
                [("tasker_analytics_background_build_last_duration_seconds", "last build")],
            )
        )
    )


def encoded() -> str:
    return JSONEncoder(sort_keys=True, indent=2).encode(build().build()) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the JSON file is not what this builds")
    args = parser.parse_args()
    text = encoded()
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text() != text:
            print(f"{OUTPUT.name} is out of date: run python deploy/grafana/dashboard.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
