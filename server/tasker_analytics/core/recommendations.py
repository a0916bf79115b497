"""Recommendations: the rows of the SQL function function_based_recommendations (where the
rules and the wording of each rationale sentence live, dbt vars recommendation_*) turned
into the body's list, each with its evidence (docs/API.md, recommendations)."""

from __future__ import annotations

from typing import Any

from tasker_analytics.core.figures import ms, rate, whole
from tasker_analytics.core.schemas import Evidence, Recommendation

# The evidence of each recommendation rule (docs/API.md, recommendations), keyed by
# (type, pattern): the columns of function_based_recommendations it rests on.
EVIDENCE: dict[tuple[str, str | None], tuple[str, ...]] = {
    ("timeout_optimization", None): ("p95_ms", "p99_ms", "timeout_ms", "completed", "over_timeout"),
    ("retry_policy", "futile_retries"): ("errored_steps", "recovered_steps", "retry_success_rate", "avg_duration_ms"),
    ("retry_policy", "first_attempt_failures"): (
        "execution_count",
        "retried",
        "retry_rate",
        "retried_completed",
        "retry_success_rate",
        "avg_retried_ms",
        "avg_first_attempt_ms",
    ),
    ("capacity", None): ("completed", "avg_queue_wait_ms", "avg_run_time_ms", "p95_queue_wait_ms", "queue_share"),
    ("critical_path", None): ("tasks_analyzed", "on_critical_path", "critical_path_ms", "share"),
    ("regression", "baseline"): (
        "p95_ms",
        "baseline_p95_ms",
        "ratio",
        "completed",
        "baseline_completed",
        "avg_ms",
        "baseline_avg_ms",
    ),
    ("regression", "previous_version"): (
        "p95_ms",
        "baseline_p95_ms",
        "ratio",
        "completed",
        "baseline_completed",
        "avg_ms",
        "baseline_avg_ms",
        "previous_version",
    ),
}
_RATES = frozenset({"retry_success_rate", "retry_rate", "queue_share", "share", "ratio"})
_COUNTS = frozenset(
    {
        "completed",
        "over_timeout",
        "errored_steps",
        "recovered_steps",
        "execution_count",
        "retried",
        "retried_completed",
        "tasks_analyzed",
        "on_critical_path",
        "baseline_completed",
    }
)


def _evidence_value(name: str, value: Any) -> float | int | str | None:
    if value is None or name == "previous_version":
        return value
    if name in _COUNTS:
        return whole(value)
    if name in _RATES:
        return rate(value)
    return ms(value)


def recommendations(rows: list[dict[str, Any]]) -> list[Recommendation]:
    """Rows of function_based_recommendations (the rules live in SQL, dbt vars
    recommendation_*), ranked by estimated impact in Python so no collation decides."""
    found: list[Recommendation] = []
    for row in rows:
        kind, pattern = row["recommendation_type"], row["pattern"]
        target = dict(
            namespace=row["namespace"],
            task_name=row["task_name"],
            version=row["version"],
            step=row["step"],
            error_type=row["error_type"],
        )
        evidence = {name: _evidence_value(name, row[name]) for name in EVIDENCE[(kind, pattern)]}
        timeout = None if row["current_timeout"] is None else int(row["current_timeout"])
        extra: dict[str, Any] = {}
        if kind == "timeout_optimization":
            extra = dict(
                current_timeout=timeout,
                suggested_timeout=int(row["suggested_timeout"]),
                p95_ms=evidence["p95_ms"],
                p99_ms=evidence["p99_ms"],
            )
        found.append(
            Recommendation(
                type=kind,
                pattern=pattern,
                **target,
                evidence=Evidence(**evidence),
                estimated_impact_ms_per_day=ms(row["estimated_impact_ms_per_day"]) or 0.0,
                rationale=row["rationale"],
                **extra,
            )
        )

    def rank(item: Recommendation) -> tuple:
        names = (item.namespace, item.task_name, item.version, item.step or "", item.error_type or "")
        return (-item.estimated_impact_ms_per_day, item.type, names, item.pattern or "")

    return sorted(found, key=rank)
