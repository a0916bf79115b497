"""Independent oracle for the Tasker Analytics API.

Recomputes every figure of ``GET /tasker/analytics/performance`` and
``GET /tasker/analytics/bottlenecks`` from the *raw* Tasker tables, in plain
Python: the only SQL it runs is ``SELECT * FROM <schema>.<table>``; everything
else (final states, windows, durations, percentiles, grouping, sorting) is done
here with dicts and lists so that it shares no code and no SQL with the dbt
models it checks.

The semantics follow docs/API.md (Definitions). Where
those texts leave room for interpretation the choice made here is written next
to the code (look for "Interpretation:").

Figures are returned *unrounded*; compare them to the API's rounded values with
a tolerance (see ``DURATION_ABS_TOL`` and friends).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tasker_analytics.generate.workload import TABLE_NAMES

# --------------------------------------------------------------------------- constants

TABLES = TABLE_NAMES  # the nine Tasker tables (models/staging/tasker/_tasker__sources.yml)

SETTLED_STATES = frozenset({"complete", "error", "cancelled", "resolved_manually"})
MS = timedelta(milliseconds=1)

# Tolerances for comparing the oracle's unrounded figures with the API's rounded ones.
DURATION_ABS_TOL = 0.051  # ms (API rounds durations to 1 decimal)
DURATION_REL_TOL = 1e-9
RATE_ABS_TOL = 0.00006  # API rounds rates to 4 decimals
SCORE_ABS_TOL = 0.06  # API rounds the health score to 1 decimal
APPROX_REL_TOL = 0.01  # "approximate" percentiles: within 1 % relative

DEFAULT_WEIGHTS = (0.5, 0.3, 0.2)
HEALTH_COMPONENTS = ("success_share", "first_attempt_step_success", "latency")
DEFAULT_HEALTH_MIN_ITEMS = 1  # dbt var health_min_items
MIN_TIMEOUT_EXECUTIONS = 5
TIMEOUT_P95_SHARE = 0.8
MIN_RETRY_EXECUTIONS = 20
RETRY_RATE_THRESHOLD = 0.2
UNKNOWN_ERROR = "UnknownError"


# --------------------------------------------------------------------------- raw rows


@dataclass
class Raw:
    """The nine raw Tasker tables as lists of dicts (one dict per row)."""

    task_namespaces: list[dict] = field(default_factory=list)
    named_tasks: list[dict] = field(default_factory=list)
    dependent_systems: list[dict] = field(default_factory=list)
    named_steps: list[dict] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    workflow_steps: list[dict] = field(default_factory=list)
    workflow_step_edges: list[dict] = field(default_factory=list)
    task_transitions: list[dict] = field(default_factory=list)
    workflow_step_transitions: list[dict] = field(default_factory=list)
    # derived facts per as_of (filled lazily by _facts)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_tables(cls, tables: dict[str, list[dict]]) -> Raw:
        """Build from a mapping keyed by full table name (``tasker_tasks``) or short name."""
        kwargs = {}
        for name in TABLES:
            short = name.removeprefix("tasker_")
            rows = tables.get(name, tables.get(short, []))
            kwargs[short] = [_normalise_row(dict(r)) for r in rows]
        return cls(**kwargs)


_JSON_COLUMNS = frozenset({"configuration", "tags", "context", "inputs", "results", "metadata"})


def _normalise_ts(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, str):
        try:
            return _normalise_ts(datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


def _normalise_row(row: dict) -> dict:
    for key, value in row.items():
        if key in _JSON_COLUMNS and isinstance(value, (str, bytes)):
            try:
                row[key] = json.loads(value)
            except ValueError:
                pass
        elif key.endswith("_at") and value is not None:
            row[key] = _normalise_ts(value)
    return row


def load_raw(duckdb_path: str, schema: str = "public") -> Raw:
    """Load all nine raw tables from a DuckDB file (read only, ``SELECT *`` only)."""
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        tables: dict[str, list[dict]] = {}
        for name in TABLES:
            cur = con.execute(f'SELECT * FROM "{schema}"."{name}"')
            cols = [d[0] for d in cur.description]
            tables[name] = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
    return Raw.from_tables(tables)


# --------------------------------------------------------------------------- seeds


def _pick(fieldnames: Sequence[str], *candidates: str) -> str | None:
    lowered = {f.strip().lower(): f for f in fieldnames}
    for c in candidates:
        if c in lowered:
            return lowered[c]
    return None


def load_seeds(project_dir) -> tuple[dict[tuple[str, str, str], float], dict[str, str]]:
    """Read the step timeouts and error taxonomy seeds (seeds/tasker_analytics__*.csv) with the csv module.

    Returns ``(timeouts, taxonomy)``: ``timeouts[(namespace, task_name, step_name)]`` is
    the step timeout in seconds, ``taxonomy[error_class]`` the error type.
    """
    seeds = Path(project_dir) / "seeds"
    timeouts: dict[tuple[str, str, str], float] = {}
    with open(seeds / "tasker_analytics__step_timeouts.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        names = reader.fieldnames or []
        ns_col = _pick(names, "namespace", "namespace_name", "task_namespace")
        task_col = _pick(names, "task_name", "named_task", "task")
        step_col = _pick(names, "step_name", "named_step", "step")
        val_col = _pick(names, "timeout_seconds", "timeout_s", "timeout", "seconds")
        if val_col is None:
            val_col = next(n for n in names if "timeout" in n.lower())
        if None in (ns_col, task_col, step_col):
            raise ValueError(f"unrecognised step_timeouts.csv header: {names}")
        for row in reader:
            raw_value = (row.get(val_col) or "").strip()
            if not raw_value:
                continue
            key = (row[ns_col].strip(), row[task_col].strip(), row[step_col].strip())
            timeouts[key] = float(raw_value)
    taxonomy: dict[str, str] = {}
    with open(seeds / "tasker_analytics__error_taxonomy.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        names = reader.fieldnames or []
        cls_col = _pick(names, "error_class", "class")
        type_col = _pick(names, "error_type", "type")
        if cls_col is None or type_col is None:
            raise ValueError(f"unrecognised error_taxonomy.csv header: {names}")
        for row in reader:
            taxonomy[row[cls_col].strip()] = row[type_col].strip()
    return timeouts, taxonomy


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], p: float, *, is_sorted: bool = False) -> float | None:
    """percentile_cont: linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    v = values if is_sorted else sorted(values)
    pos = p * (len(v) - 1)
    lo = math.floor(pos)
    if lo + 1 >= len(v):
        return float(v[lo])
    return v[lo] + (v[lo + 1] - v[lo]) * (pos - lo)


SKETCH_ALPHA = 0.005  # dbt var sketch_relative_accuracy (docs/API.md, "Served from rollups")


def sketch_percentile(
    values: Sequence[float], p: float, *, alpha: float = SKETCH_ALPHA, is_sorted: bool = False
) -> float | None:
    """The documented sketch percentile: percentile_cont with every value replaced by the
    representative value of its log bucket (diagnostics only; the exact figure is
    ``percentile``). Values exactly on a bucket edge may land either side in float."""
    if not values:
        return None
    v = values if is_sorted else sorted(values)
    return percentile(sketch_values(v, alpha=alpha), p, is_sorted=True)


def sketch_values(sorted_values: Sequence[float], *, alpha: float = SKETCH_ALPHA) -> list[float]:
    """Each value replaced by the representative value of its sketch bucket (order kept)."""
    gamma = (1 + alpha) / (1 - alpha)
    log_gamma = math.log(gamma)

    def rep(x: float) -> float:
        if x <= 0:
            return 0.0
        i = math.ceil(math.log(x) / log_gamma)
        return 2 * gamma**i / (gamma + 1)

    return [rep(x) for x in sorted_values]


QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def _stats(prefix: str, suffix: str, values: Sequence[float]) -> dict:
    """avg_<prefix>ms, p50/p95/p99 as ``p50_<prefix>ms`` ... (sorted copy), and the documented
    sketch's value of each percentile as ``_sketch_p50_<prefix>ms`` ... (diagnostics)."""
    v = sorted(values)
    out = {f"avg_{prefix}{suffix}": mean(v)}
    reps = sketch_values(v)
    for name, q in QUANTILES:
        out[f"{name}_{prefix}{suffix}"] = percentile(v, q, is_sorted=True)
        out[f"_sketch_{name}_{prefix}{suffix}"] = percentile(reps, q, is_sorted=True)
    return out


def mean(values: Sequence[float]) -> float | None:
    return (math.fsum(values) / len(values)) if values else None


def rate(numerator: int, denominator: int) -> float:
    """A rate over zero items is 0."""
    return numerator / denominator if denominator else 0.0


def histogram_bucket(duration_ms: float) -> int:
    return math.floor(4 * math.log10(max(duration_ms, 1)))


def histogram(durations: Iterable[float]) -> list[dict]:
    counts: dict[int, int] = {}
    for d in durations:
        k = histogram_bucket(d)
        counts[k] = counts.get(k, 0) + 1
    return [
        {"bucket": k, "lower_ms": 10 ** (k / 4), "upper_ms": 10 ** ((k + 1) / 4), "count": counts[k]}
        for k in sorted(counts)
    ]


def duration_ms(start: datetime, end: datetime) -> float:
    return (end - start) / MS


def in_window(ts: datetime | None, as_of: datetime, hours: float) -> bool:
    """Half-open window (as_of - hours, as_of]."""
    return ts is not None and as_of - timedelta(hours=hours) < ts <= as_of


# --------------------------------------------------------------------------- per-entity facts


class _Settles:
    """Settled-ness and the duration that enters duration figures, for tasks and steps."""

    settle_time: datetime | None
    final_state: str
    duration_ms: float | None

    @property
    def settled(self) -> bool:
        return self.settle_time is not None

    @property
    def complete_duration(self) -> float | None:
        """The duration as used by duration figures: complete and not negative."""
        if self.final_state == "complete" and self.duration_ms is not None and self.duration_ms >= 0:
            return self.duration_ms
        return None


@dataclass
class TaskFact(_Settles):
    task_id: Any
    task_type: tuple[str, str, str]  # (namespace, task name, version)
    created_at: datetime
    final_state: str
    settle_time: datetime | None
    first_in_progress: datetime | None
    duration_ms: float | None  # settle - created, for any settled task (may be negative)
    retried: bool = False

    @property
    def queue_wait_ms(self) -> float | None:
        """created_at -> first in_progress (None when the task never ran; may be negative)."""
        if self.first_in_progress is None:
            return None
        return duration_ms(self.created_at, self.first_in_progress)

    @property
    def run_time_ms(self) -> float | None:
        """first in_progress -> settle time (None when unsettled or never ran; may be negative)."""
        if self.first_in_progress is None or self.settle_time is None:
            return None
        return duration_ms(self.first_in_progress, self.settle_time)


@dataclass
class StepFact(_Settles):
    step_id: Any
    task_id: Any
    task_type: tuple[str, str, str]
    step_name: str
    created_at: datetime
    final_state: str
    settle_time: datetime | None
    first_in_progress: datetime | None
    attempts: int
    has_transitions: bool
    duration_ms: float | None  # settle - first in_progress (may be negative)

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    @property
    def queue_wait_ms(self) -> float | None:
        """The step's wait: created_at -> first in_progress (dependencies plus queue)."""
        if self.first_in_progress is None:
            return None
        return duration_ms(self.created_at, self.first_in_progress)


@dataclass
class ErrorEvent:
    step_id: Any
    task_type: tuple[str, str, str]
    step_name: str
    at: datetime
    error_class: str
    class_source: str  # "metadata" | "results" | "default"


@dataclass
class Facts:
    as_of: datetime
    tasks: list[TaskFact]
    steps: list[StepFact]
    errors: list[ErrorEvent]


def _json_obj(value: Any) -> dict | None:
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _error_class_from(doc: Any) -> str | None:
    obj = _json_obj(doc)
    if obj is None:
        return None
    value = obj.get("error_class")
    # Interpretation: a JSON null (or missing key) falls through the chain like SQL
    # coalesce would; any other value (even "") is taken as the class.
    if value is None:
        return None
    return str(value)


def _group_transitions(rows: list[dict], key: str, as_of: datetime) -> dict[Any, list[dict]]:
    """Transitions with created_at <= as_of, grouped per entity and ordered by sort_key."""
    grouped: dict[Any, list[dict]] = {}
    for r in rows:
        if r["created_at"] is None or r["created_at"] > as_of:
            continue
        grouped.setdefault(r[key], []).append(r)
    for lst in grouped.values():
        lst.sort(key=lambda r: (r["sort_key"], r.get("id") or 0))
    return grouped


def _state_of(transitions: list[dict]) -> tuple[str, datetime | None, datetime | None, int]:
    """(final state, settle time, first in_progress time, number of in_progress moves)."""
    if not transitions:
        return "pending", None, None, 0
    last = transitions[-1]
    final = last["to_state"]
    settle = last["created_at"] if final in SETTLED_STATES else None
    first_ip = None
    n_ip = 0
    for t in transitions:  # sort_key order: "first" = lowest sort_key
        if t["to_state"] == "in_progress":
            n_ip += 1
            if first_ip is None:
                first_ip = t["created_at"]
    return final, settle, first_ip, n_ip


def facts(raw: Raw, as_of: datetime) -> Facts:
    """Per-task, per-step and per-error-event facts at ``as_of`` (cached per as_of)."""
    cached = raw._cache.get(as_of)
    if cached is not None:
        return cached

    namespaces = {r["task_namespace_id"]: r["name"] for r in raw.task_namespaces}
    task_types = {
        r["named_task_id"]: (namespaces.get(r["task_namespace_id"]), r["name"], r["version"]) for r in raw.named_tasks
    }
    step_names = {r["named_step_id"]: r["name"] for r in raw.named_steps}

    task_tr = _group_transitions(raw.task_transitions, "task_id", as_of)
    step_tr = _group_transitions(raw.workflow_step_transitions, "workflow_step_id", as_of)

    tasks: dict[Any, TaskFact] = {}
    for t in raw.tasks:
        created = t["created_at"]
        if created is None or created > as_of:
            continue  # created after as_of: does not exist yet
        final, settle, first_ip, _ = _state_of(task_tr.get(t["task_id"], []))
        tasks[t["task_id"]] = TaskFact(
            task_id=t["task_id"],
            task_type=task_types[t["named_task_id"]],
            created_at=created,
            final_state=final,
            settle_time=settle,
            first_in_progress=first_ip,
            duration_ms=duration_ms(created, settle) if settle is not None else None,
        )

    steps: dict[Any, StepFact] = {}
    step_rows: dict[Any, dict] = {}
    for s in raw.workflow_steps:
        created = s["created_at"]
        if created is None or created > as_of:
            continue
        task = tasks.get(s["task_id"])
        if task is None:
            # Interpretation: a step of a task that does not exist at as_of does not exist either.
            continue
        trs = step_tr.get(s["workflow_step_id"], [])
        final, settle, first_ip, n_ip = _state_of(trs)
        if trs:
            attempts = n_ip
        else:
            attempts = s.get("attempts") or 0  # fallback: attempts column, NULL = 0
        dur = None
        if settle is not None and first_ip is not None:
            dur = duration_ms(first_ip, settle)
        steps[s["workflow_step_id"]] = StepFact(
            step_id=s["workflow_step_id"],
            task_id=s["task_id"],
            task_type=task.task_type,
            step_name=step_names[s["named_step_id"]],
            created_at=created,
            final_state=final,
            settle_time=settle,
            first_in_progress=first_ip,
            attempts=int(attempts),
            has_transitions=bool(trs),
            duration_ms=dur,
        )
        step_rows[s["workflow_step_id"]] = s
        if attempts > 1:
            task.retried = True

    errors: list[ErrorEvent] = []
    for step_id, trs in step_tr.items():
        step = steps.get(step_id)
        if step is None:
            continue
        results_class = _error_class_from(step_rows[step_id].get("results"))
        for tr in trs:
            if tr["to_state"] != "error":
                continue
            cls = _error_class_from(tr.get("metadata"))
            source = "metadata"
            if cls is None:
                cls, source = results_class, "results"
            if cls is None:
                cls, source = UNKNOWN_ERROR, "default"
            errors.append(ErrorEvent(step_id, step.task_type, step.step_name, tr["created_at"], cls, source))

    result = Facts(as_of, list(tasks.values()), list(steps.values()), errors)
    raw._cache[as_of] = result
    return result


# --------------------------------------------------------------------------- performance endpoint


def _outcomes(settled: list) -> dict:
    out = {"settled": len(settled), "completed": 0, "failed": 0, "cancelled": 0, "resolved_manually": 0}
    for item in settled:
        if item.final_state == "complete":
            out["completed"] += 1
        elif item.final_state == "error":
            out["failed"] += 1
        elif item.final_state == "cancelled":
            out["cancelled"] += 1
        elif item.final_state == "resolved_manually":
            out["resolved_manually"] += 1
    return out


def _durations(items: Iterable) -> list[float]:
    return sorted(d for d in (i.complete_duration for i in items) if d is not None)


def health(
    f: Facts,
    window_end: datetime,
    *,
    window_hours: float = 1,
    baseline_hours: float = 168,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    min_items: int = DEFAULT_HEALTH_MIN_ITEMS,
) -> dict:
    """The system health score of the window (window_end - window_hours, window_end]
    (docs/API.md, "System health score"), from the facts of a build: the components (value
    None when not judged), the score (None when no component is judged) and health_status.

    A component is judged when it is over at least ``min_items`` items: settled tasks
    (success_share), settled steps (first_attempt_step_success), completed task durations
    in the window and in the baseline (latency). The score is the weighted mean of the
    judged components only."""
    tasks = [t for t in f.tasks if in_window(t.settle_time, window_end, window_hours)]
    outcomes = _outcomes(tasks)
    steps = [s for s in f.steps if in_window(s.settle_time, window_end, window_hours)]
    first_ok = sum(1 for s in steps if s.final_state == "complete" and s.attempts == 1)
    current = _durations(tasks)
    baseline = _durations(t for t in f.tasks if in_window(t.settle_time, window_end, baseline_hours))
    current_p95 = percentile(current, 0.95, is_sorted=True)
    baseline_p95 = percentile(baseline, 0.95, is_sorted=True)

    def judged(value: float | None, *counts: int) -> float | None:
        return value if value is not None and all(count >= min_items for count in counts) else None

    if not current or not baseline:
        latency = None
    elif current_p95 == 0:
        latency = 1.0  # Interpretation: a zero current p95 cannot be slower than the baseline
    else:
        latency = min(1.0, baseline_p95 / current_p95)
    values = (
        judged(rate(outcomes["completed"], outcomes["settled"]), outcomes["settled"]),
        judged(rate(first_ok, len(steps)), len(steps)),
        judged(latency, len(current), len(baseline)),
    )
    counts = (outcomes["settled"], len(steps), len(current))
    components = [
        {"name": n, "value": v, "weight": w, "window_hours": window_hours, "count": c}
        for n, v, w, c in zip(HEALTH_COMPONENTS, values, weights, counts, strict=True)
    ]
    scored = [(w, v) for w, v in zip(weights, values, strict=True) if v is not None]
    weight = math.fsum(w for w, _ in scored)
    score = 100 * math.fsum(w * v for w, v in scored) / weight if weight else None
    return {
        "system_health_score": score,
        "health_status": "insufficient_data" if score is None else "scored",
        "health_components": components,
        "_latency": {"current": len(current), "baseline": len(baseline), "p95": (current_p95, baseline_p95)},
        "_completed": outcomes["completed"],
    }


def performance(
    raw: Raw,
    as_of: datetime,
    *,
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    health_window_hours: float = 1,
    baseline_hours: float = 168,
    health_min_items: int = DEFAULT_HEALTH_MIN_ITEMS,
) -> dict:
    """Every figure of GET /tasker/analytics/performance (unrounded), minus build/freshness."""
    f = facts(raw, as_of)

    trends = {}
    for hours in (1, 4, 24):
        created = sum(1 for t in f.tasks if in_window(t.created_at, as_of, hours))
        settled = [t for t in f.tasks if in_window(t.settle_time, as_of, hours)]
        o = _outcomes(settled)
        trends[f"{hours}h"] = {
            "created": created,
            **o,
            "completion_rate": rate(o["completed"], o["settled"]),
            "error_rate": rate(o["failed"], o["settled"]),
            "avg_duration_ms": mean(_durations(settled)),
        }

    settled24 = [t for t in f.tasks if in_window(t.settle_time, as_of, 24)]
    o24 = _outcomes(settled24)
    retried24 = sum(1 for t in settled24 if t.retried)
    task_statistics = {
        "total_tasks": sum(1 for t in f.tasks if in_window(t.created_at, as_of, 24)),
        **o24,
        "retried": retried24,
        "completion_rate": rate(o24["completed"], o24["settled"]),
        "failure_rate": rate(o24["failed"], o24["settled"]),
        "retry_rate": rate(retried24, o24["settled"]),
    }

    d24 = _durations(settled24)
    processing_times = {
        "p50": percentile(d24, 0.5, is_sorted=True),
        "p95": percentile(d24, 0.95, is_sorted=True),
        "p99": percentile(d24, 0.99, is_sorted=True),
        "avg_ms": mean(d24),
        # Interpretation: count = durations that entered the figures (complete, non-negative).
        "count": len(d24),
    }

    active = sum(1 for t in f.tasks if not t.settled)
    created24 = [t for t in f.tasks if in_window(t.created_at, as_of, 24)]
    namespaces = len({t.task_type[0] for t in created24})
    task_types = len({t.task_type for t in created24})

    # Interpretation: the performance endpoint's negative_durations counts tasks settled
    # (any settled state) in the 24 h window whose duration is negative, like the
    # bottleneck endpoint does for its period.
    negative24 = sum(1 for t in settled24 if t.duration_ms is not None and t.duration_ms < 0)

    # ---- health
    scored = health(
        f,
        as_of,
        window_hours=health_window_hours,
        baseline_hours=baseline_hours,
        weights=weights,
        min_items=health_min_items,
    )

    return {
        "system_health_score": scored["system_health_score"],
        "health_status": scored["health_status"],
        "health_components": scored["health_components"],
        "performance_trends": trends,
        "task_statistics": task_statistics,
        "processing_times": processing_times,
        "active_tasks": active,
        "namespaces": namespaces,
        "task_types": task_types,
        "data_quality": {"negative_durations": negative24},
        # Diagnostics only (not API figures): alternative readings of ambiguous figures.
        "_alternatives": {
            "data_quality.negative_durations": {
                "settled_24h_any_state": negative24,
                "settled_24h_complete_only": sum(
                    1 for t in settled24 if t.final_state == "complete" and t.duration_ms < 0
                ),
                "all_settled_up_to_as_of": sum(1 for t in f.tasks if t.duration_ms is not None and t.duration_ms < 0),
            },
            "processing_times.count": {"durations": len(d24), "completed": o24["completed"]},
            "health.latency.count": {
                "current": scored["_latency"]["current"],
                "baseline": scored["_latency"]["baseline"],
                "completed_in_window": scored["_completed"],
            },
            "health.latency.p95": dict(zip(("current", "baseline"), scored["_latency"]["p95"], strict=True)),
        },
    }


# --------------------------------------------------------------------------- bottleneck endpoint


def _in_scope(task_type: tuple[str, str, str], namespace, task_name, version) -> bool:
    ns, name, ver = task_type
    return (
        (namespace is None or ns == namespace)
        and (task_name is None or name == task_name)
        and (version is None or ver == version)
    )


def _sort_desc_nulls_last(rows: list[dict], value_key: str, tie_keys: Sequence[str]) -> list[dict]:
    return sorted(
        rows,
        key=lambda r: (
            r[value_key] is None,
            -(r[value_key] or 0.0),
            *(r[k] for k in tie_keys),
        ),
    )


def bottlenecks(
    raw: Raw,
    as_of: datetime,
    *,
    period: int = 24,
    namespace: str | None = None,
    task_name: str | None = None,
    version: str | None = None,
    limit: int = 10,
    timeouts: dict[tuple[str, str, str], float],
    taxonomy: dict[str, str],
) -> dict:
    """Every figure of GET /tasker/analytics/bottlenecks (unrounded).

    Besides the API keys, ``_all_slowest_tasks`` / ``_all_slowest_steps`` /
    ``_all_error_patterns`` / ``_all_recommendations`` hold the full sorted lists
    before ``limit`` (for tie-aware comparisons), and ``_timeout_candidates`` every
    (task type, step) that has a timeout, with its figures.
    """
    f = facts(raw, as_of)

    def scope(task_type: tuple[str, str, str]) -> bool:
        return _in_scope(task_type, namespace, task_name, version)

    tasks = [t for t in f.tasks if scope(t.task_type) and in_window(t.settle_time, as_of, period)]
    steps = [s for s in f.steps if scope(s.task_type) and in_window(s.settle_time, as_of, period)]
    errors = [e for e in f.errors if scope(e.task_type) and in_window(e.at, as_of, period)]

    # ---- slowest tasks
    # Interpretation: a task whose duration is negative is left out of *every* duration
    # figure (its queue wait and run time too); for the others a negative queue wait or run
    # time (a skewed clock between two transitions) is left out of that figure alone.
    by_type: dict[tuple, list[TaskFact]] = {}
    for t in tasks:
        by_type.setdefault(t.task_type, []).append(t)
    task_rows = []
    for (ns, name, ver), items in by_type.items():
        o = _outcomes(items)
        timed = [t for t in items if t.complete_duration is not None]
        complete = [t for t in items if t.final_state == "complete"]
        task_rows.append(
            {
                "namespace": ns,
                "task_name": name,
                "version": ver,
                "execution_count": o["settled"],
                "completed": o["completed"],
                "failed": o["failed"],
                **_stats("duration_", "ms", [t.duration_ms for t in timed]),
                "failure_rate": rate(o["failed"], o["settled"]),
                **_stats("queue_wait_", "ms", _nonnegative(t.queue_wait_ms for t in timed)),
                **_stats("run_time_", "ms", _nonnegative(t.run_time_ms for t in timed)),
                "_alternatives": {
                    "every complete task, negatives kept": {
                        "avg_queue_wait_ms": mean(_present(t.queue_wait_ms for t in complete)),
                        "avg_run_time_ms": mean(_present(t.run_time_ms for t in complete)),
                    },
                    "every complete task, negative values dropped": {
                        "avg_queue_wait_ms": mean(_nonnegative(t.queue_wait_ms for t in complete)),
                        "avg_run_time_ms": mean(_nonnegative(t.run_time_ms for t in complete)),
                    },
                },
            }
        )
    task_rows = _sort_desc_nulls_last(task_rows, "avg_duration_ms", ("namespace", "task_name", "version"))

    # ---- slowest steps
    # Interpretation: as for tasks, a step with a negative duration is left out of every
    # duration figure (its wait too); a negative wait alone is left out of the wait figures.
    by_step: dict[tuple, list[StepFact]] = {}
    for s in steps:
        by_step.setdefault((*s.task_type, s.step_name), []).append(s)
    step_rows = []
    for (ns, name, ver, step_name), items in by_step.items():
        o = _outcomes(items)
        timed = [s for s in items if s.complete_duration is not None]
        d = sorted(s.duration_ms for s in timed)
        retried = sum(1 for s in items if s.retried)
        complete = [s for s in items if s.final_state == "complete"]
        step_rows.append(
            {
                "namespace": ns,
                "task_name": name,
                "version": ver,
                "step_name": step_name,
                "execution_count": o["settled"],
                "completed": o["completed"],
                "failed": o["failed"],
                "retried": retried,
                **_stats("duration_", "ms", d),
                "failure_rate": rate(o["failed"], o["settled"]),
                "retry_rate": rate(retried, o["settled"]),
                **_stats("queue_wait_", "ms", _nonnegative(s.queue_wait_ms for s in timed)),
                **_stats("run_time_", "ms", d),
                "_durations_count": len(d),
                "_alternatives": {
                    "negative waits kept": {
                        "avg_queue_wait_ms": mean(_present(s.queue_wait_ms for s in timed)),
                    },
                    "every complete step, negatives kept": {
                        "avg_queue_wait_ms": mean(_present(s.queue_wait_ms for s in complete)),
                    },
                },
            }
        )
    step_rows = _sort_desc_nulls_last(step_rows, "avg_duration_ms", ("namespace", "task_name", "version", "step_name"))

    # ---- error patterns
    step_state = {s.step_id: s.final_state for s in f.steps}
    by_error_type: dict[str, list[ErrorEvent]] = {}
    for e in errors:
        by_error_type.setdefault(taxonomy.get(e.error_class, e.error_class), []).append(e)
    error_rows = []
    for et, evs in by_error_type.items():
        errored = {e.step_id for e in evs}
        recovered = sum(1 for sid in errored if step_state[sid] == "complete")
        error_rows.append(
            {
                "error_type": et,
                "frequency": len(evs),
                "affected_steps": sorted({e.step_name for e in evs}),
                "error_classes": sorted({e.error_class for e in evs}),
                "first_seen": min(e.at for e in evs),
                "last_seen": max(e.at for e in evs),
                "errored_steps": len(errored),
                "recovered_steps": recovered,
                "retry_success_rate": rate(recovered, len(errored)),
            }
        )
    error_rows.sort(key=lambda r: (-r["frequency"], r["error_type"]))

    # ---- performance distribution
    d = _durations(tasks)
    distribution = {
        "count": len(d),
        "avg_ms": mean(d),
        "min_ms": d[0] if d else None,
        "max_ms": d[-1] if d else None,
        "p50": percentile(d, 0.5, is_sorted=True),
        "p95": percentile(d, 0.95, is_sorted=True),
        "p99": percentile(d, 0.99, is_sorted=True),
        "histogram": histogram(d),
        **{f"_sketch_{name}": percentile(sketch_values(d), q, is_sorted=True) for name, q in QUANTILES},
    }

    # ---- dependency analysis (critical paths and gating parents of the complete tasks)
    analyzed = [t for t in tasks if t.final_state == "complete"]
    dependency = dependency_analysis(raw, as_of, analyzed)
    dependency_alt = dependency_analysis(raw, as_of, [t for t in analyzed if t.complete_duration is not None])

    # ---- recommendations
    timeout_rows, retry_rows, candidates = [], [], []
    for r in step_rows:
        key = (r["namespace"], r["task_name"], r["step_name"])
        timeout = timeouts.get(key)
        base = {
            "namespace": r["namespace"],
            "task_name": r["task_name"],
            "version": r["version"],
            "step": r["step_name"],
        }
        if timeout is not None:
            cand = {
                **base,
                "current_timeout": timeout,
                "completed": r["completed"],
                "durations_count": r["_durations_count"],
                "p95_ms": r["p95_duration_ms"],
                "p99_ms": r["p99_duration_ms"],
            }
            candidates.append(cand)
            # Interpretation: "at least 5 completed executions" = the step's `completed`
            # count (steps settled complete in the period).
            if (
                r["completed"] >= MIN_TIMEOUT_EXECUTIONS
                and r["p95_duration_ms"] is not None
                and r["p95_duration_ms"] >= TIMEOUT_P95_SHARE * timeout * 1000
            ):
                timeout_rows.append(
                    {
                        "type": "timeout_optimization",
                        **base,
                        "current_timeout": timeout,
                        "suggested_timeout": suggested_timeout(r["p99_duration_ms"]),
                        "p95_ms": r["p95_duration_ms"],
                        "p99_ms": r["p99_duration_ms"],
                    }
                )
        if r["execution_count"] >= MIN_RETRY_EXECUTIONS and r["retry_rate"] >= RETRY_RATE_THRESHOLD:
            retry_rows.append(
                {
                    "type": "retry_policy",
                    **base,
                    "retry_rate": r["retry_rate"],
                    "execution_count": r["execution_count"],
                    "retried": r["retried"],
                }
            )
    ident = ("namespace", "task_name", "version", "step")
    retry_rows.sort(key=lambda r: (-r["retry_rate"], *(r[k] for k in ident)))
    timeout_rows.sort(key=lambda r: (-r["p95_ms"], *(r[k] for k in ident)))
    recommendations = sorted(retry_rows + timeout_rows, key=lambda r: r["type"])  # stable

    negative = sum(1 for t in tasks if t.duration_ms is not None and t.duration_ms < 0)
    negative_steps = sum(1 for s in steps if s.duration_ms is not None and s.duration_ms < 0)

    scope_dict = {
        k: v for k, v in (("namespace", namespace), ("task_name", task_name), ("version", version)) if v is not None
    }
    for r in step_rows:
        r.pop("_durations_count", None)
    for r in task_rows:
        r.setdefault("_alternatives", {})
    return {
        "analysis_period": f"{period} hours",
        "period_hours": period,
        "scope": scope_dict,
        "slowest_tasks": task_rows[:limit],
        "slowest_steps": step_rows[:limit],
        "error_patterns": error_rows[:limit],
        "performance_distribution": distribution,
        "dependency_analysis": {
            "tasks_analyzed": dependency["tasks_analyzed"],
            "critical_path_steps": dependency["critical_path_steps"][:limit],
            "blocking_steps": dependency["blocking_steps"][:limit],
        },
        "recommendations": recommendations[:limit],
        "data_quality": {"negative_durations": negative, "negative_step_durations": negative_steps},
        "_all_slowest_tasks": task_rows,
        "_all_slowest_steps": step_rows,
        "_all_error_patterns": error_rows,
        "_all_recommendations": recommendations,
        "_all_critical_path_steps": dependency["critical_path_steps"],
        "_all_blocking_steps": dependency["blocking_steps"],
        "_timeout_candidates": candidates,
        "_contract_recommendations": contract_recommendations(
            step_rows, steps, dependency, period=period, timeouts=timeouts
        ),
        "_error_class_sources": _count_by(e.class_source for e in errors),
        "_alternatives": {
            "dependency_analysis": {
                "tasks with a negative duration left out": {
                    "tasks_analyzed": dependency_alt["tasks_analyzed"],
                    "critical_path_steps": dependency_alt["critical_path_steps"],
                    "blocking_steps": dependency_alt["blocking_steps"],
                },
            },
            "data_quality.negative_durations": {
                "settled_any_state": negative,
                "settled_complete_only": sum(1 for t in tasks if t.final_state == "complete" and t.duration_ms < 0),
            },
        },
    }


def suggested_timeout(p99_ms: float | None) -> int | None:
    """p99 x 1.5, in seconds, rounded up to a multiple of 5."""
    if p99_ms is None:
        return None
    seconds = p99_ms * 1.5 / 1000
    return int(math.ceil(seconds / 5) * 5)


def _count_by(values: Iterable) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _present(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def _nonnegative(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None and v >= 0]


# --------------------------------------------------------------------------- step DAGs


def critical_path(durations: dict[Any, float], edges: Iterable[tuple[Any, Any]]) -> tuple[float, tuple]:
    """The critical path of one task's step DAG, by enumerating every root -> sink path.

    ``durations[step_id]`` is the duration each step adds (0 for one without a duration);
    ``edges`` are (parent, dependent) pairs. Roots are steps without a parent, sinks steps
    without a dependent; the path with the largest sum of durations wins, ties going to
    the smallest sequence of step ids (compared element by element). Returns
    ``(length_ms, path)``; an empty DAG gives ``(0.0, ())``.
    """
    children: dict[Any, set] = {sid: set() for sid in durations}
    has_parent: set = set()
    for parent, child in edges:
        if parent in children and child in children and parent != child:
            children[parent].add(child)
            has_parent.add(child)
    best: tuple[float, tuple] | None = None

    def walk(node, path: tuple, total: float) -> None:
        nonlocal best
        path = (*path, node)
        total = total + durations[node]
        kids = sorted(children[node])
        if not kids:
            if best is None or total > best[0] or (total == best[0] and path < best[1]):
                best = (total, path)
            return
        for kid in kids:
            if kid in path:
                raise ValueError(f"cycle through step {kid}")
            walk(kid, path, total)

    for root in sorted(sid for sid in durations if sid not in has_parent):
        walk(root, (), 0.0)
    return best if best is not None else (0.0, ())


@dataclass
class Gate:
    gating_step: Any
    dependent_step: Any
    wait_ms: float


def gates(parents: dict[Any, list], settle: dict[Any, datetime | None], created: dict[Any, datetime]) -> list[Gate]:
    """The gating parent of each dependent step and the wait it caused.

    ``parents[dependent] = [parent ids]``. The gating parent is the parent that settled last
    (ties: the smallest step id); the wait is its settle time minus the later of the
    dependent's created_at and the other parents' settle times, floored at 0.
    Interpretation: a parent that has not settled cannot gate and is left out (in a task
    settled complete every step has settled, so this does not arise there).
    """
    out = []
    for dependent in sorted(parents):
        settled = sorted(
            (p for p in set(parents[dependent]) if settle.get(p) is not None), key=lambda p: (settle[p], _neg_key(p))
        )
        if not settled:
            continue
        gate = settled[-1]  # the latest settle time; among equal ones the smallest id sorts last
        reference = max([created[dependent], *(settle[p] for p in settled[:-1])])
        out.append(Gate(gate, dependent, max(0.0, duration_ms(reference, settle[gate]))))
    return out


def _neg_key(step_id: Any):
    """Sort key that puts smaller ids last (step ids are integers)."""
    return -step_id


@dataclass
class TaskDag:
    task_id: Any
    task_type: tuple[str, str, str]
    length_ms: float
    path: tuple
    step_ms: dict[Any, float]
    step_names: dict[Any, str]
    gates: list[Gate]


def task_dags(raw: Raw, as_of: datetime) -> dict[Any, TaskDag]:
    """Critical path and gates of every task settled complete at ``as_of`` (cached).

    Interpretation: a step's duration for the critical path is its step duration (first
    in_progress -> settle) when it has one and it is not negative, else 0; edges are the
    rows of tasker_workflow_step_edges whose two steps belong to the same task and exist at
    as_of (an edge row created after as_of is ignored).
    """
    key = ("dags", as_of)
    cached = raw._cache.get(key)
    if cached is not None:
        return cached
    f = facts(raw, as_of)
    steps_by_task: dict[Any, list[StepFact]] = {}
    for s in f.steps:
        steps_by_task.setdefault(s.task_id, []).append(s)
    step_task = {s.step_id: s.task_id for s in f.steps}
    edges_by_task: dict[Any, set] = {}
    for e in raw.workflow_step_edges:
        if e.get("created_at") is not None and e["created_at"] > as_of:
            continue
        a, b = e["from_step_id"], e["to_step_id"]
        if a in step_task and b in step_task and step_task[a] == step_task[b]:
            edges_by_task.setdefault(step_task[a], set()).add((a, b))
    out: dict[Any, TaskDag] = {}
    for t in f.tasks:
        if t.final_state != "complete":
            continue
        items = steps_by_task.get(t.task_id, [])
        ms = {s.step_id: (s.duration_ms if s.duration_ms is not None and s.duration_ms >= 0 else 0.0) for s in items}
        edges = edges_by_task.get(t.task_id, set())
        length, path = critical_path(ms, edges)
        parents: dict[Any, list] = {}
        for a, b in edges:
            parents.setdefault(b, []).append(a)
        g = gates(parents, {s.step_id: s.settle_time for s in items}, {s.step_id: s.created_at for s in items})
        out[t.task_id] = TaskDag(t.task_id, t.task_type, length, path, ms, {s.step_id: s.step_name for s in items}, g)
    raw._cache[key] = out
    return out


def dependency_analysis(raw: Raw, as_of: datetime, analyzed: Sequence[TaskFact]) -> dict:
    """dependency_analysis over the given tasks (the caller picks: settled complete in the
    period and scope). Full sorted lists, no limit."""
    dags = task_dags(raw, as_of)
    type_total: dict[tuple, float] = {}
    cp: dict[tuple, dict] = {}
    blocking: dict[tuple, dict] = {}
    for t in analyzed:
        dag = dags[t.task_id]
        type_total[t.task_type] = type_total.get(t.task_type, 0.0) + dag.length_ms
        names_on_path = set()
        for sid in dag.path:
            name = dag.step_names[sid]
            row = cp.setdefault((*t.task_type, name), {"tasks": set(), "ms": []})
            row["tasks"].add(t.task_id)
            row["ms"].append(dag.step_ms[sid])
            names_on_path.add(name)
        for g in dag.gates:
            row = blocking.setdefault((*t.task_type, dag.step_names[g.gating_step]), {"n": 0, "ms": []})
            row["n"] += 1
            row["ms"].append(g.wait_ms)
    names = ("namespace", "task_name", "version", "step_name")
    cp_rows = []
    for k, row in cp.items():
        total = math.fsum(row["ms"])
        cp_rows.append(
            {
                **dict(zip(names, k, strict=True)),
                "on_critical_path": len(row["tasks"]),
                "critical_path_ms": total,
                "share": rate_float(total, type_total[k[:3]]),
            }
        )
    cp_rows.sort(key=lambda r: (-r["critical_path_ms"], *(r[n] for n in names)))
    blocking_rows = [
        {**dict(zip(names, k, strict=True)), "dependents_blocked": row["n"], "blocked_wait_ms": math.fsum(row["ms"])}
        for k, row in blocking.items()
    ]
    blocking_rows.sort(key=lambda r: (-r["blocked_wait_ms"], *(r[n] for n in names)))
    per_type: dict[tuple, int] = {}
    for t in analyzed:
        per_type[t.task_type] = per_type.get(t.task_type, 0) + 1
    return {
        "tasks_analyzed": len(analyzed),
        "critical_path_steps": cp_rows,
        "blocking_steps": blocking_rows,
        "tasks_per_type": per_type,
    }


def rate_float(numerator: float, denominator: float) -> float:
    """A share over a zero total is 0."""
    return numerator / denominator if denominator else 0.0


# --------------------------------------------------------------------------- recommendations (new contract, partial)

MIN_CRITICAL_PATH_TASKS = 20
CRITICAL_PATH_SHARE = 0.5


def contract_recommendations(
    step_rows: list[dict],
    steps: list[StepFact],
    dependency: dict,
    *,
    period: int,
    timeouts: dict[tuple[str, str, str], float],
) -> dict[str, list[dict]]:
    """The ``timeout_optimization`` and ``critical_path`` recommendations of docs/API.md (the
    rules whose figures the oracle has), each with ``evidence`` and
    ``estimated_impact_ms_per_day``, unsorted. ``borderline`` marks a row whose rule sits
    within the percentile approximation of its threshold (the API may decide either way)."""
    per_day = 24 / period
    durations: dict[tuple, list[float]] = {}
    for s in steps:
        if s.complete_duration is not None:
            durations.setdefault((*s.task_type, s.step_name), []).append(s.complete_duration)
    timeout_rows = []
    for r in step_rows:
        timeout = timeouts.get((r["namespace"], r["task_name"], r["step_name"]))
        p95 = r["p95_duration_ms"]
        if timeout is None or r["completed"] < MIN_TIMEOUT_EXECUTIONS or p95 is None:
            continue
        threshold = TIMEOUT_P95_SHARE * timeout * 1000
        borderline = abs(p95 - threshold) <= APPROX_REL_TOL * p95 + DURATION_ABS_TOL
        if p95 < threshold and not borderline:
            continue
        key = (r["namespace"], r["task_name"], r["version"], r["step_name"])
        over = sum(1 for d in durations.get(key, []) if d > timeout * 1000)
        timeout_rows.append(
            {
                "type": "timeout_optimization",
                "namespace": key[0],
                "task_name": key[1],
                "version": key[2],
                "step": key[3],
                "current_timeout": timeout,
                "suggested_timeout": suggested_timeout(r["p99_duration_ms"]),
                "p95_ms": p95,
                "p99_ms": r["p99_duration_ms"],
                "evidence": {
                    "p95_ms": p95,
                    "p99_ms": r["p99_duration_ms"],
                    "timeout_ms": timeout * 1000,
                    "completed": r["completed"],
                    "over_timeout": over,
                },
                "estimated_impact_ms_per_day": over * per_day * timeout * 1000,
                "borderline": borderline,
            }
        )
    cp_rows = []
    for r in dependency["critical_path_steps"]:
        ttype = (r["namespace"], r["task_name"], r["version"])
        analyzed = dependency["tasks_per_type"].get(ttype, 0)
        if analyzed < MIN_CRITICAL_PATH_TASKS or r["share"] < CRITICAL_PATH_SHARE - 1e-9:
            continue
        cp_rows.append(
            {
                "type": "critical_path",
                "namespace": ttype[0],
                "task_name": ttype[1],
                "version": ttype[2],
                "step": r["step_name"],
                "evidence": {
                    "tasks_analyzed": analyzed,
                    "on_critical_path": r["on_critical_path"],
                    "critical_path_ms": r["critical_path_ms"],
                    "share": r["share"],
                },
                "estimated_impact_ms_per_day": r["critical_path_ms"] * per_day,
                "borderline": abs(r["share"] - CRITICAL_PATH_SHARE) <= 1e-9,
            }
        )
    return {"timeout_optimization": timeout_rows, "critical_path": cp_rows}
