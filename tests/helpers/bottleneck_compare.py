"""Compare one ``GET /tasker/analytics/bottlenecks`` body with the oracle, figure by figure.

Shared by tests/integration/test_rollups.py (random scopes and periods over the generated
workload), test_critical_path.py (a hand-built DAG workload) and test_oracle.py. Every
mismatch of every section is collected in a ``Diff`` (helpers.diff) so one failure lists
them all.

Tolerances (docs/API.md "Served from rollups"): counts exact; averages, sums, minima and
maxima within 0.051 ms (API rounds to 0.1 ms) or 1e-9 relative; rates and shares within
0.00006 (API rounds to 4 decimals); percentiles -- exact in the oracle, sketch values in the
API -- within 1 % relative plus 0.051 ms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from helpers.diff import Diff, compare_ranked
from helpers.oracle import DURATION_ABS_TOL

TASK_KEY = ("namespace", "task_name", "version")
STEP_KEY = ("namespace", "task_name", "version", "step_name")
# Sums of millisecond-precision durations are exact, so equal sums are true ties (ordered by
# names) and distinct sums differ by at least 1 ms.
EXACT_SUM_TIE = 1e-6
STRICT = -1.0  # tie_tol that makes every inversion an error (counts)


def parse_api_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def time_field(diff: Diff, path: str, oracle: datetime, api: Any) -> None:
    """An ISO-8601 UTC timestamp: the oracle's instant, or that instant cut to whole seconds
    (the contract's example has second precision)."""
    got = parse_api_time(api)
    if got is None:
        diff.add(path, f"expected an ISO-8601 timestamp {oracle.isoformat()}Z, API gave {api!r}")
    elif got != oracle and got != oracle.replace(microsecond=0):
        diff.add(path, f"oracle {oracle.isoformat()}Z != API {api!r}")


def _stat_block(d: Diff, path: str, o: dict, a: dict, measure: str, approx: bool) -> None:
    d.duration(f"{path}.avg_{measure}_ms", o[f"avg_{measure}_ms"], a.get(f"avg_{measure}_ms"))
    for q in ("p50", "p95", "p99"):
        name = f"{q}_{measure}_ms"
        d.duration(f"{path}.{name}", o[name], a.get(name), approximate=approx)


def _alternatives_note(o: dict) -> str:
    alts = o.get("_alternatives")
    return f" [oracle alternatives: {alts}]" if alts else ""


def compare_body(diff: Diff, oracle: dict, body: dict, *, limit: int) -> None:
    """Every figure of slowest_tasks, slowest_steps, error_patterns, performance_distribution,
    dependency_analysis, data_quality and the metadata."""
    approx = body.get("percentiles", "exact") == "approximate"

    # ---- meta
    diff.equal("period_hours", oracle["period_hours"], body.get("period_hours"))
    scope = dict(body.get("scope") or {})
    if "name" in scope and "task_name" not in scope:
        scope["task_name"] = scope.pop("name")
    diff.equal("scope", oracle["scope"], scope)
    diff.equal("percentiles", "approximate", body.get("percentiles"))
    diff.equal("percentile_relative_error", 0.005, body.get("percentile_relative_error"))
    dq = body.get("data_quality") or {}
    for name in ("negative_durations", "negative_step_durations"):
        diff.count(f"data_quality.{name}", oracle["data_quality"][name], dq.get(name))

    # ---- slowest tasks
    def task_row(d: Diff, path: str, o: dict, a: dict) -> None:
        before = len(d.problems)
        for name in ("execution_count", "completed", "failed"):
            d.count(f"{path}.{name}", o[name], a.get(name))
        d.rate(f"{path}.failure_rate", o["failure_rate"], a.get("failure_rate"))
        for measure in ("duration", "queue_wait", "run_time"):
            _stat_block(d, path, o, a, measure, approx)
        if len(d.problems) > before:
            d.problems[-1] += _alternatives_note(o)

    compare_ranked(
        diff,
        "slowest_tasks",
        oracle["_all_slowest_tasks"],
        body.get("slowest_tasks"),
        limit=limit,
        key=lambda r: tuple(r[k] for k in TASK_KEY),
        sort_value=lambda r: r["avg_duration_ms"],
        tie_tol=DURATION_ABS_TOL,
        compare_row=task_row,
    )

    # ---- slowest steps
    def step_row(d: Diff, path: str, o: dict, a: dict) -> None:
        before = len(d.problems)
        for name in ("execution_count", "completed", "failed", "retried"):
            d.count(f"{path}.{name}", o[name], a.get(name))
        d.rate(f"{path}.failure_rate", o["failure_rate"], a.get("failure_rate"))
        d.rate(f"{path}.retry_rate", o["retry_rate"], a.get("retry_rate"))
        for measure in ("duration", "queue_wait", "run_time"):
            _stat_block(d, path, o, a, measure, approx)
        if len(d.problems) > before:
            d.problems[-1] += _alternatives_note(o)

    compare_ranked(
        diff,
        "slowest_steps",
        oracle["_all_slowest_steps"],
        body.get("slowest_steps"),
        limit=limit,
        key=lambda r: tuple(r[k] for k in STEP_KEY),
        sort_value=lambda r: r["avg_duration_ms"],
        tie_tol=DURATION_ABS_TOL,
        compare_row=step_row,
    )

    # ---- error patterns
    def error_row(d: Diff, path: str, o: dict, a: dict) -> None:
        d.count(f"{path}.frequency", o["frequency"], a.get("frequency"))
        d.equal(f"{path}.affected_steps", o["affected_steps"], a.get("affected_steps"))
        d.equal(f"{path}.error_classes", o["error_classes"], a.get("error_classes"))
        time_field(d, f"{path}.first_seen", o["first_seen"], a.get("first_seen"))
        time_field(d, f"{path}.last_seen", o["last_seen"], a.get("last_seen"))
        d.count(f"{path}.errored_steps", o["errored_steps"], a.get("errored_steps"))
        d.count(f"{path}.recovered_steps", o["recovered_steps"], a.get("recovered_steps"))
        d.rate(f"{path}.retry_success_rate", o["retry_success_rate"], a.get("retry_success_rate"))

    # frequency desc, then error type: both exact, so any inversion is an error
    compare_ranked(
        diff,
        "error_patterns",
        oracle["_all_error_patterns"],
        body.get("error_patterns"),
        limit=limit,
        key=lambda r: (r["error_type"],),
        sort_value=lambda r: r["frequency"],
        tie_tol=STRICT,
        compare_row=error_row,
    )

    # ---- performance distribution
    o, a = oracle["performance_distribution"], body.get("performance_distribution") or {}
    diff.count("performance_distribution.count", o["count"], a.get("count"))
    for name in ("avg_ms", "min_ms", "max_ms"):
        diff.duration(f"performance_distribution.{name}", o[name], a.get(name))
    for name in ("p50", "p95", "p99"):
        diff.duration(f"performance_distribution.{name}", o[name], a.get(name), approximate=approx)
    hist = a.get("histogram")
    if not isinstance(hist, list) or len(hist) != len(o["histogram"]):
        diff.add(
            "performance_distribution.histogram",
            f"oracle buckets {[(h['bucket'], h['count']) for h in o['histogram']]} != API {hist!r}",
        )
    else:
        for ob, ab in zip(o["histogram"], hist, strict=True):
            p = f"performance_distribution.histogram[k={ob['bucket']}]"
            diff.duration(f"{p}.lower_ms", ob["lower_ms"], ab.get("lower_ms"))
            diff.duration(f"{p}.upper_ms", ob["upper_ms"], ab.get("upper_ms"))
            diff.count(f"{p}.count", ob["count"], ab.get("count"))

    # ---- dependency analysis
    dep = body.get("dependency_analysis")
    if not isinstance(dep, dict):
        diff.add("dependency_analysis", f"expected an object, API gave {dep!r}")
        return
    diff.count(
        "dependency_analysis.tasks_analyzed", oracle["dependency_analysis"]["tasks_analyzed"], dep.get("tasks_analyzed")
    )

    def cp_row(d: Diff, path: str, o: dict, a: dict) -> None:
        d.count(f"{path}.on_critical_path", o["on_critical_path"], a.get("on_critical_path"))
        d.duration(f"{path}.critical_path_ms", o["critical_path_ms"], a.get("critical_path_ms"))
        d.rate(f"{path}.share", o["share"], a.get("share"))

    compare_ranked(
        diff,
        "dependency_analysis.critical_path_steps",
        oracle["_all_critical_path_steps"],
        dep.get("critical_path_steps"),
        limit=limit,
        key=lambda r: tuple(r[k] for k in STEP_KEY),
        sort_value=lambda r: r["critical_path_ms"],
        tie_tol=EXACT_SUM_TIE,
        compare_row=cp_row,
    )

    def blocking_row(d: Diff, path: str, o: dict, a: dict) -> None:
        d.count(f"{path}.dependents_blocked", o["dependents_blocked"], a.get("dependents_blocked"))
        d.duration(f"{path}.blocked_wait_ms", o["blocked_wait_ms"], a.get("blocked_wait_ms"))

    compare_ranked(
        diff,
        "dependency_analysis.blocking_steps",
        oracle["_all_blocking_steps"],
        dep.get("blocking_steps"),
        limit=limit,
        key=lambda r: tuple(r[k] for k in STEP_KEY),
        sort_value=lambda r: r["blocked_wait_ms"],
        tie_tol=EXACT_SUM_TIE,
        compare_row=blocking_row,
    )
    # exact ties of the sums must follow the names: compare_ranked tolerates inversions within
    # EXACT_SUM_TIE, so check the order of equal sums here
    for section, value in (("critical_path_steps", "critical_path_ms"), ("blocking_steps", "blocked_wait_ms")):
        rows = dep.get(section)
        if not isinstance(rows, list):
            continue
        for i in range(len(rows) - 1):
            x, y = rows[i], rows[i + 1]
            try:
                if x[value] == y[value] and tuple(x[k] for k in STEP_KEY) > tuple(y[k] for k in STEP_KEY):
                    diff.add(
                        f"dependency_analysis.{section}",
                        f"order: equal {value} {x[value]} but {tuple(x[k] for k in STEP_KEY)} before "
                        f"{tuple(y[k] for k in STEP_KEY)} (ties go by namespace, task, version, step)",
                    )
            except (KeyError, TypeError):
                continue


def dependency_hint(oracle: dict) -> str:
    alts = oracle.get("_alternatives", {}).get("dependency_analysis", {})
    out = []
    for label, alt in alts.items():
        first = [(r["step_name"], r["on_critical_path"], r["critical_path_ms"]) for r in alt["critical_path_steps"][:3]]
        out.append(f"{label}: tasks_analyzed {alt['tasks_analyzed']}, first critical-path rows {first}")
    return "(oracle's alternative readings of dependency_analysis -- " + "; ".join(out) + ")" if out else ""


def compare_sketch(diff: Diff, oracle: dict, body: dict, label: str = "") -> None:
    """Every served percentile against the documented sketch (docs/API.md "Served from
    rollups": percentile_cont over the bucket representatives, alpha 0.005) within the
    0.05 ms of rounding -- far tighter than the 1 % the main comparison allows. Rows are
    matched by key; rows the oracle lacks are the main comparison's business."""
    sections = (("slowest_tasks", "_all_slowest_tasks", TASK_KEY), ("slowest_steps", "_all_slowest_steps", STEP_KEY))
    for section, all_key, key in sections:
        by_key = {tuple(r[k] for k in key): r for r in oracle[all_key]}
        for a in body.get(section) or []:
            o = by_key.get(tuple(a.get(k) for k in key))
            if o is None:
                continue
            for measure in ("duration", "queue_wait", "run_time"):
                for q in ("p50", "p95", "p99"):
                    name = f"{q}_{measure}_ms"
                    _sketch_value(
                        diff,
                        f"{label}{section}[{tuple(a.get(k) for k in key)}].{name}",
                        o[f"_sketch_{name}"],
                        o[name],
                        a.get(name),
                    )
    dist = body.get("performance_distribution") or {}
    for q in ("p50", "p95", "p99"):
        _sketch_value(
            diff,
            f"{label}performance_distribution.{q}",
            oracle["performance_distribution"][f"_sketch_{q}"],
            oracle["performance_distribution"][q],
            dist.get(q),
        )


def _sketch_value(diff: Diff, path: str, sketch: float | None, exact: float | None, api: Any) -> None:
    if sketch is None:
        return  # null-ness is checked by the main comparison
    if not isinstance(api, (int, float)) or abs(api - sketch) > DURATION_ABS_TOL + 1e-9 * abs(sketch):
        diff.add(path, f"documented sketch {sketch:.4f} (exact {exact:.4f}) != API {api!r}")
