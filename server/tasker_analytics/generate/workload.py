"""Synthetic Tasker workload generator (`tasker-analytics generate`).

Fills the nine Tasker source tables (models/staging/tasker/_tasker__sources.yml) with a realistic, deterministic
workload: a fixed catalog of namespaces, task types and step DAGs (below), tasks spread over
``(as_of - history_hours, as_of]`` with a mild daily rhythm, and a vectorised simulation of
their execution (queue waits, skewed step durations, failures with Ruby-style error classes,
retries with exponential backoff, permanent failures, cancellations, manual resolutions).
Everything simulated after ``as_of`` is cut off, so at ``as_of`` some work is still in flight.

Modelling choices (the analytics depend on them, so they are stated once here):

* Every transition is written explicitly; the first row of an entity is
  ``pending -> in_progress`` with ``from_state = 'pending'`` (never NULL). An entity without
  transitions is pending. ``sort_key`` counts 1.. in time order, times are strictly increasing
  per entity, and ids of both transition tables ascend with ``created_at``.
* ``retry_limit`` is the maximum number of attempts of a retryable step; a non-retryable step
  gets one attempt. A failed attempt is ``in_progress -> error``; a retry is
  ``error -> pending`` a few ms later, then ``pending -> in_progress`` after an exponential
  backoff with jitter. 85 % of error transitions carry ``{"error_class": ..., "attempt": k}``,
  the rest only ``{"attempt": k}``. Some classes are persistent (a declined card stays
  declined): after one, the next attempts fail again with the same class 85 % of the time.
* Every attempt longer than the step's timeout (the ``timeout_s`` of the catalog, which is
  also what ``seeds/tasker_analytics__step_timeouts.csv`` holds) fails with ``Timeout::Error`` at the timeout.
* A step whose attempts are exhausted stays in ``error``; its dependents never get a
  transition. The task settles (``in_progress -> complete | error``) a few ms after the last
  of its steps settles, so parallel branches finish first.
* 20 % of the tasks that end in ``error`` are resolved by an operator minutes to hours later:
  each exhausted step goes ``error -> resolved_manually`` and, a moment later, the task.
* 1 % of tasks are cancelled at a random point of their run: the task goes
  ``in_progress -> cancelled``; every step that is running or waiting for a retry gets
  ``in_progress | pending -> cancelled`` at that instant; steps that never started keep no
  transitions (pending); settled steps keep their state, and so does a step caught in the
  few ms between a failed attempt and its ``error -> pending`` (Tasker has no
  ``error -> cancelled``).
* Stalled work, so even a small workload has tasks in flight at ``as_of``: 0.05 % of tasks
  (at least one) were never picked up by a worker (no transitions, pending forever) and 0.05 %
  have a root step whose worker died mid-attempt (step and task stay ``in_progress``).
* Data quality: 0.05 % of completed tasks (at least one) come from a host with a skewed clock:
  all their transitions are shifted back so the task settles before its ``created_at``
  (negative task duration); every other invariant still holds for them.
* An incident: the ``stripe_api`` dependent system fails 8x more often and runs 1.6x slower
  from ``as_of - 3h`` to ``as_of - 2h20m``.
* ``backoff_request_seconds`` stays NULL (no simulated server asked for a backoff);
  ``bypass_steps`` is NULL; ``inputs`` of a step is its task's context.
"""

from __future__ import annotations

import json
import math
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tasker_analytics.generate.arrays import (
    hex_digests,
    joined,
    numbers_as_text,
    scattered,
    source_table,
    strings,
    timestamps,
)
from tasker_analytics.generate.catalog import _ERROR_NAMES, CATALOG, DEPENDENT_SYSTEMS, ERROR_CLASSES, NAMESPACES
from tasker_analytics.generate.simulate import (
    _ERROR_METADATA_SHARE,
    _MS_PER_HOUR,
    _SKEW_SHARE,
    _STALLED_SHARE,
    COMPLETE,
    ERROR,
    IN_PROGRESS,
    PENDING,
    STATES,
    _Events,
    _last_per_entity,
    _runs,
    _simulate_type,
)

TABLE_NAMES: tuple[str, ...] = (
    "tasker_task_namespaces",
    "tasker_named_tasks",
    "tasker_dependent_systems",
    "tasker_named_steps",
    "tasker_tasks",
    "tasker_workflow_steps",
    "tasker_workflow_step_edges",
    "tasker_task_transitions",
    "tasker_workflow_step_transitions",
)


def _to_ms(ts: datetime) -> int:
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return (ts - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


def _sample_created(rng: np.random.Generator, n: int, as_of_ms: int, span_ms: int) -> np.ndarray:
    """n creation times in (as_of - span, as_of], busier in the (UTC) afternoon."""
    bin_ms = 60_000
    edges = np.minimum(np.arange(0, span_ms + bin_ms, bin_ms, dtype=np.int64), span_ms)
    edges = np.unique(edges)
    width = np.diff(edges)
    mid = as_of_ms - (edges[:-1] + edges[1:]) / 2  # bins go back in time from as_of
    hour = (mid / _MS_PER_HOUR) % 24
    weight = (1 + 0.35 * np.cos(2 * np.pi * (hour - 15) / 24)) * width
    cdf = np.cumsum(weight) / weight.sum()
    b = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), width.size - 1)
    back = edges[b] + (rng.random(n) * width[b]).astype(np.int64)
    return np.sort(as_of_ms - back)


def generate_workload(
    tasks: int, seed: int, as_of: datetime, history_hours: float = 192.0, progress: bool = False
) -> dict[str, pa.Table]:
    """Generate the nine Tasker tables for `tasks` tasks created in
    (as_of - history_hours, as_of], simulated up to as_of. Deterministic in its arguments."""
    from tqdm import tqdm

    if tasks < 0:
        raise ValueError("tasks must be >= 0")
    span_ms = round(history_hours * _MS_PER_HOUR)
    if not span_ms >= 1:
        raise ValueError("history_hours must be positive")
    as_of_ms = _to_ms(as_of)
    bar = tqdm(
        total=len(CATALOG) + 5, desc="generate", unit="stage", file=sys.stderr, disable=not progress, leave=False
    )
    rng = np.random.default_rng(seed)
    n = tasks

    # ---- static catalog tables
    catalog_ms = as_of_ms - span_ms - 30 * 24 * _MS_PER_HOUR
    catalog_ms -= catalog_ms % 1000
    ns_names = list(NAMESPACES)
    sys_names = list(DEPENDENT_SYSTEMS)
    named_steps: dict[tuple[str, str], int] = {}
    for td in CATALOG:
        for s in td.steps:
            named_steps.setdefault((s.system, s.name), len(named_steps))
    tables: dict[str, pa.Table] = {}

    def stamps(k: int) -> dict[str, pa.Array]:
        a = timestamps(np.full(k, catalog_ms, np.int64))
        return {"created_at": a, "updated_at": a}

    tables["tasker_task_namespaces"] = source_table(
        "tasker_task_namespaces",
        {
            "task_namespace_id": pa.array(np.arange(1, len(ns_names) + 1)),
            "name": strings(ns_names),
            "description": strings(NAMESPACES[x]["description"] for x in ns_names),
            **stamps(len(ns_names)),
        },
    )
    tables["tasker_named_tasks"] = source_table(
        "tasker_named_tasks",
        {
            "named_task_id": pa.array(np.arange(1, len(CATALOG) + 1)),
            "name": strings(td.name for td in CATALOG),
            "task_namespace_id": pa.array([ns_names.index(td.namespace) + 1 for td in CATALOG]),
            "version": strings(td.version for td in CATALOG),
            "description": strings(td.description for td in CATALOG),
            "configuration": strings(
                json.dumps(
                    {
                        "concurrent": True,
                        "default_dependent_system": td.steps[0].system,
                        "step_templates": [
                            {
                                "name": s.name,
                                "dependent_system": s.system,
                                "depends_on_steps": list(s.after),
                                "default_retryable": s.retryable,
                                "default_retry_limit": s.retry_limit,
                                "skippable": s.skippable,
                                "timeout_seconds": s.timeout_s,
                            }
                            for s in td.steps
                        ],
                    }
                )
                for td in CATALOG
            ),
            **stamps(len(CATALOG)),
        },
    )
    tables["tasker_dependent_systems"] = source_table(
        "tasker_dependent_systems",
        {
            "dependent_system_id": pa.array(np.arange(1, len(sys_names) + 1)),
            "name": strings(sys_names),
            "description": strings(DEPENDENT_SYSTEMS.values()),
            **stamps(len(sys_names)),
        },
    )
    tables["tasker_named_steps"] = source_table(
        "tasker_named_steps",
        {
            "named_step_id": pa.array(np.arange(1, len(named_steps) + 1)),
            "dependent_system_id": pa.array([sys_names.index(sy) + 1 for sy, _ in named_steps]),
            "name": strings(nm for _, nm in named_steps),
            "description": strings(f"{nm.replace('_', ' ').capitalize()} via {sy}" for sy, nm in named_steps),
            **stamps(len(named_steps)),
        },
    )

    # ---- per step-definition lookups (global step-def index = type offset + position)
    n_steps_t = np.array([len(td.steps) for td in CATALOG], np.int64)
    step_off_t = np.concatenate([[0], np.cumsum(n_steps_t)[:-1]])
    sd_all = [(td, s) for td in CATALOG for s in td.steps]
    sd_named = np.array([named_steps[(s.system, s.name)] + 1 for _, s in sd_all], np.int32)
    sd_retryable = np.array([s.retryable for _, s in sd_all], bool)
    sd_retry_limit = np.array([s.retry_limit for _, s in sd_all], np.int32)
    sd_skippable = np.array([s.skippable for _, s in sd_all], bool)
    sd_name = strings(s.name for _, s in sd_all)
    sd_frame = strings(
        json.dumps(f"app/tasks/{td.namespace}/{td.name}/{s.name}_handler.rb:{40 + 7 * (i % 9)}:in `process'")
        for i, (td, s) in enumerate(sd_all)
    )
    edge_list = [
        [([p.name for p in td.steps].index(a), c) for c, s in enumerate(td.steps) for a in s.after] for td in CATALOG
    ]
    n_edges_t = np.array([len(e) for e in edge_list], np.int64)
    edge_off_t = np.concatenate([[0], np.cumsum(n_edges_t)[:-1]])
    ed_parent = np.array([p for e in edge_list for p, _ in e], np.int64)
    ed_child = np.array([c for e in edge_list for _, c in e], np.int64)

    # ---- tasks: creation times, types, stalled ones
    created = _sample_created(rng, n, as_of_ms, span_ms)
    weights = np.array([td.weight for td in CATALOG])
    ttype = rng.choice(len(CATALOG), size=n, p=weights / weights.sum()).astype(np.int64)
    step_count = n_steps_t[ttype]
    first_step = np.zeros(n, np.int64)
    np.cumsum(step_count[:-1], out=first_step[1:])
    total_steps = int(step_count.sum())
    k_stalled = min(n, math.ceil(_STALLED_SHARE * n))
    order = rng.permutation(n)
    lost = np.zeros(n, bool)
    lost[order[:k_stalled]] = True
    zombie_root = np.full(n, -1, np.int64)
    for t in order[k_stalled : 2 * k_stalled]:
        roots = [i for i, s in enumerate(CATALOG[ttype[t]].steps) if not s.after]
        zombie_root[t] = roots[int(rng.integers(len(roots)))]
    bar.update(1)

    # ---- simulate per task type
    step_parts, task_parts = [], []
    for g, td in enumerate(CATALOG):
        members = np.flatnonzero(ttype == g)
        if members.size:
            se, te = _simulate_type(
                td, rng, created[members], lost[members], zombie_root[members], first_step[members], members, as_of_ms
            )
            step_parts.append(se)
            task_parts.append(te)
        bar.update(1)
    sev = _Events.concat(step_parts, with_error=True)
    tev = _Events.concat(task_parts, with_error=False)
    del step_parts, task_parts
    # task events come per type; regroup them by task (stable keeps time order)
    regroup = np.argsort(tev.entity, kind="stable")
    tev = _Events(tev.entity[regroup], tev.time[regroup], tev.to[regroup])
    step_task = np.repeat(np.arange(n, dtype=np.int64), step_count)

    # ---- clock skew: a few completed tasks settle "before" they were created
    t_sort, t_recent, t_from = _runs(tev.entity, tev.to)
    t_final = _last_per_entity(tev.entity, tev.to, n, PENDING, np.int8)
    t_settle = _last_per_entity(tev.entity, tev.time, n, 0, np.int64)
    eligible = np.flatnonzero(t_final == COMPLETE)
    k_skew = min(eligible.size, math.ceil(_SKEW_SHARE * n))
    shift = np.zeros(n, np.int64)
    if k_skew:
        chosen = np.sort(rng.choice(eligible, size=k_skew, replace=False))
        shift[chosen] = t_settle[chosen] - created[chosen] + rng.integers(1_000, 120_000, k_skew)
        tev.time -= shift[tev.entity]
        sev.time -= shift[step_task[sev.entity]]
        t_settle -= shift
    bar.update(1)

    # ---- tasks table
    task_last = np.where(t_final != PENDING, t_settle, created)
    ns_of_type = np.array([ns_names.index(td.namespace) for td in CATALOG], np.int64)
    ns_t = ns_of_type[ttype]
    pools = {}
    for key in ("initiators", "sources"):
        flat = [v for x in ns_names for v in NAMESPACES[x][key]]
        sizes = np.array([len(NAMESPACES[x][key]) for x in ns_names], np.int64)
        offs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        pick = offs[ns_t] + (rng.random(n) * sizes[ns_t]).astype(np.int64)
        pools[key] = strings(flat).take(pa.array(pick))
    reasons_flat = [r for td in CATALOG for r in td.reasons]
    r_sizes = np.array([len(td.reasons) for td in CATALOG], np.int64)
    r_offs = np.concatenate([[0], np.cumsum(r_sizes)[:-1]])
    reason = strings(reasons_flat).take(pa.array(r_offs[ttype] + (rng.random(n) * r_sizes[ttype]).astype(np.int64)))
    priority = np.searchsorted(np.cumsum([0.8, 0.15, 0.05]), rng.random(n), side="right")
    tag_prefix = strings(json.dumps([td.namespace, *td.tags])[:-1] for td in CATALOG)
    tags = joined(
        tag_prefix.take(pa.array(ttype)),
        strings(f', "priority:{p}"]' for p in ("normal", "high", "low")).take(pa.array(np.minimum(priority, 2))),
    )
    ctx_pieces = []
    for g, td in enumerate(CATALOG):
        members = np.flatnonzero(ttype == g)
        parts: list = ["{"]
        for i, (key, lo, hi) in enumerate(td.context):
            parts += [
                ("" if i == 0 else ", ") + json.dumps(key) + ": ",
                numbers_as_text(rng.integers(lo, hi + 1, members.size)),
            ]
        parts.append("}")
        ctx_pieces.append((members, joined(*parts) if members.size else pa.array([], pa.string())))
    context = scattered(n, ctx_pieces)
    tables["tasker_tasks"] = source_table(
        "tasker_tasks",
        {
            "task_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "named_task_id": pa.array((ttype + 1).astype(np.int32)),
            "complete": pa.array(t_final == COMPLETE),
            "requested_at": timestamps(created),
            "initiator": pools["initiators"],
            "source_system": pools["sources"],
            "reason": reason,
            "bypass_steps": pa.nulls(n, pa.string()),
            "tags": tags,
            "context": context,
            "identity_hash": hex_digests(rng, n),
            "created_at": timestamps(created),
            "updated_at": timestamps(np.maximum(created, task_last)),
        },
    )
    bar.update(1)

    # ---- workflow steps and edges
    s_local = np.arange(total_steps, dtype=np.int64) - first_step[step_task]
    sdef = step_off_t[ttype[step_task]] + s_local
    s_sort, s_recent, s_from = _runs(sev.entity, sev.to)
    s_final = _last_per_entity(sev.entity, sev.to, total_steps, PENDING, np.int8)
    s_final_at = _last_per_entity(sev.entity, sev.time, total_steps, 0, np.int64)
    started = sev.to == IN_PROGRESS
    attempts = np.bincount(sev.entity[started], minlength=total_steps).astype(np.int32)
    last_attempt = _last_per_entity(sev.entity[started], sev.time[started], total_steps, 0, np.int64)
    err = sev.to == ERROR
    last_error = _last_per_entity(sev.entity[err], sev.cls[err], total_steps, -1, np.int16)
    step_created = created[step_task]
    done_rows = np.flatnonzero(s_final == COMPLETE)
    fail_rows = np.flatnonzero((s_final != COMPLETE) & (last_error >= 0))
    class_names = strings(_ERROR_NAMES)
    class_msgs = strings(json.dumps(ERROR_CLASSES[c][0]) for c in _ERROR_NAMES)
    class_frames = strings(json.dumps(ERROR_CLASSES[c][1]) for c in _ERROR_NAMES)
    tasker_frames = (
        ', "tasker-engine/lib/tasker/step_handler/base.rb:83:in `handle\'"'
        ', "tasker-engine/lib/tasker/orchestration/step_executor.rb:212:'
        "in `execute_single_step'\"]}"
    )
    fc = pa.array(last_error[fail_rows].astype(np.int64))
    results = scattered(
        total_steps,
        [
            (
                done_rows,
                joined(
                    '{"status": "ok", "step": "',
                    sd_name.take(pa.array(sdef[done_rows])),
                    '", "elapsed_ms": ',
                    numbers_as_text(s_final_at[done_rows] - last_attempt[done_rows]),
                    "}",
                ),
            ),
            (
                fail_rows,
                joined(
                    '{"error": ',
                    class_msgs.take(fc),
                    ', "error_class": "',
                    class_names.take(fc),
                    '", "backtrace": [',
                    class_frames.take(fc),
                    ", ",
                    sd_frame.take(pa.array(sdef[fail_rows])),
                    tasker_frames,
                ),
            ),
        ],
    )
    has_attempts = attempts > 0
    tables["tasker_workflow_steps"] = source_table(
        "tasker_workflow_steps",
        {
            "workflow_step_id": pa.array(np.arange(1, total_steps + 1, dtype=np.int64)),
            "task_id": pa.array(step_task + 1),
            "named_step_id": pa.array(sd_named[sdef]),
            "retryable": pa.array(sd_retryable[sdef]),
            "retry_limit": pa.array(sd_retry_limit[sdef]),
            "in_process": pa.array(s_final == IN_PROGRESS),
            "processed": pa.array(s_final == COMPLETE),
            "processed_at": timestamps(s_final_at, s_final == COMPLETE),
            "attempts": pa.array(attempts, mask=~has_attempts),
            "last_attempted_at": timestamps(last_attempt, has_attempts),
            "backoff_request_seconds": pa.nulls(total_steps, pa.int32()),
            "inputs": context.take(pa.array(step_task)),
            "results": results,
            "skippable": pa.array(sd_skippable[sdef]),
            "created_at": timestamps(step_created),
            "updated_at": timestamps(np.where(s_final != PENDING, np.maximum(step_created, s_final_at), step_created)),
        },
    )
    del results, last_attempt, s_final_at
    edge_count = n_edges_t[ttype]
    first_edge = np.zeros(n, np.int64)
    np.cumsum(edge_count[:-1], out=first_edge[1:])
    total_edges = int(edge_count.sum())
    edge_task = np.repeat(np.arange(n, dtype=np.int64), edge_count)
    edef = edge_off_t[ttype[edge_task]] + np.arange(total_edges) - first_edge[edge_task]
    edge_created = timestamps(created[edge_task])
    tables["tasker_workflow_step_edges"] = source_table(
        "tasker_workflow_step_edges",
        {
            "id": pa.array(np.arange(1, total_edges + 1, dtype=np.int64)),
            "from_step_id": pa.array(first_step[edge_task] + ed_parent[edef] + 1),
            "to_step_id": pa.array(first_step[edge_task] + ed_child[edef] + 1),
            "name": strings(["provides"]).take(pa.array(np.zeros(total_edges, np.int64))),
            "created_at": edge_created,
            "updated_at": edge_created,
        },
    )
    bar.update(1)

    # ---- transitions, ids ascending with time
    state_names = strings(STATES)
    task_meta = strings(
        [
            "{}",
            "{}",
            "{}",
            '{"reason": "step_failures"}',
            '{"reason": "cancelled_by_initiator"}',
            '{"resolved_by": "ops_oncall", "note": "failed steps resolved manually"}',
        ]
    )
    tord = np.argsort(tev.time, kind="stable")
    t_ts = timestamps(tev.time[tord])
    tables["tasker_task_transitions"] = source_table(
        "tasker_task_transitions",
        {
            "id": pa.array(np.arange(1, tord.size + 1, dtype=np.int64)),
            "task_id": pa.array(tev.entity[tord] + 1),
            "from_state": state_names.take(pa.array(t_from[tord])),
            "to_state": state_names.take(pa.array(tev.to[tord])),
            "metadata": task_meta.take(pa.array(tev.to[tord])),
            "sort_key": pa.array(t_sort[tord]),
            "most_recent": pa.array(t_recent[tord]),
            "created_at": t_ts,
            "updated_at": t_ts,
        },
    )

    sord = np.argsort(sev.time, kind="stable")
    to_sorted = sev.to[sord]
    err_rows = np.flatnonzero(to_sorted == ERROR)
    other_rows = np.flatnonzero(to_sorted != ERROR)
    e_cls = pa.array(sev.cls[sord][err_rows].astype(np.int64))
    e_att = numbers_as_text(sev.attempt[sord][err_rows])
    with_class = pa.array(rng.random(err_rows.size) < _ERROR_METADATA_SHARE)
    step_meta = strings(["{}", "{}", "{}", "{}", '{"reason": "task_cancelled"}', '{"resolved_by": "ops_oncall"}'])
    metadata = scattered(
        sord.size,
        [
            (other_rows, step_meta.take(pa.array(to_sorted[other_rows]))),
            (
                err_rows,
                pc.if_else(
                    with_class,
                    joined('{"error_class": "', class_names.take(e_cls), '", "attempt": ', e_att, "}"),
                    joined('{"attempt": ', e_att, "}"),
                ),
            ),
        ],
    )
    s_ts = timestamps(sev.time[sord])
    tables["tasker_workflow_step_transitions"] = source_table(
        "tasker_workflow_step_transitions",
        {
            "id": pa.array(np.arange(1, sord.size + 1, dtype=np.int64)),
            "workflow_step_id": pa.array(sev.entity[sord] + 1),
            "from_state": state_names.take(pa.array(s_from[sord])),
            "to_state": state_names.take(pa.array(to_sorted)),
            "metadata": metadata,
            "sort_key": pa.array(s_sort[sord]),
            "most_recent": pa.array(s_recent[sord]),
            "created_at": s_ts,
            "updated_at": s_ts,
        },
    )
    bar.update(1)
    bar.close()
    return {name: tables[name] for name in TABLE_NAMES}
