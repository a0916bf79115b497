"""The simulation of one task type's executions: queue waits, attempts, retries, failures,
stalls and clock skew, as arrays of events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasker_analytics.generate.catalog import _ERROR_INDEX, _PERSISTENT, NAMESPACES, TIMEOUT_ERROR_CLASS, TaskDef

PENDING, IN_PROGRESS, COMPLETE, ERROR, CANCELLED, RESOLVED = range(6)


STATES = ("pending", "in_progress", "complete", "error", "cancelled", "resolved_manually")


_NEVER = np.iinfo(np.int64).max // 4


_STALLED_SHARE = 0.0005  # never picked up; and, separately, a worker died mid-step


_SKEW_SHARE = 0.0005


_CANCEL_SHARE = 0.01


_RESOLVE_SHARE = 0.2


_ERROR_METADATA_SHARE = 0.85


_STICKY_REPEAT = 0.85


_STEP_QUEUE_MEDIAN_MS = 35.0


_INCIDENT = {"system": "stripe_api", "start_h": 3.0, "end_h": 2.0 + 1.0 / 3.0, "fail_mult": 8.0, "slow": 1.6}


_MS_PER_HOUR = 3_600_000


@dataclass
class _Events:
    """Flattened transitions of one entity kind, grouped by entity in time order."""

    entity: np.ndarray  # int64 (0-based task or step index)
    time: np.ndarray  # int64 ms since epoch
    to: np.ndarray  # int8 state code
    cls: np.ndarray | None = None  # int16 error class (-1 none), steps only
    attempt: np.ndarray | None = None  # int16, steps only

    @staticmethod
    def concat(parts: list[_Events], with_error: bool) -> _Events:
        def cat(name: str, dtype) -> np.ndarray:
            arrays = [getattr(p, name) for p in parts]
            return np.concatenate(arrays) if arrays else np.zeros(0, dtype)

        return _Events(
            cat("entity", np.int64),
            cat("time", np.int64),
            cat("to", np.int8),
            cat("cls", np.int16) if with_error else None,
            cat("attempt", np.int16) if with_error else None,
        )


def _lognormal(rng: np.random.Generator, median: float | np.ndarray, sigma: float, size: int) -> np.ndarray:
    return median * np.exp(sigma * rng.standard_normal(size))


def _ms(x: np.ndarray) -> np.ndarray:
    return np.maximum(1, np.rint(x)).astype(np.int64)


def _simulate_type(
    td: TaskDef,
    rng: np.random.Generator,
    created: np.ndarray,
    lost: np.ndarray,
    zombie_root: np.ndarray,
    first_step: np.ndarray,
    task_index: np.ndarray,
    as_of_ms: int,
) -> tuple[_Events, _Events]:
    """Simulate the tasks of one task type. Returns (step events, task events).

    Timelines live in an (task, step, slot) matrix: attempt k uses slots 3k (start),
    3k+1 (complete/error) and 3k+2 (retry -> pending); the last slot holds a final
    cancelled / resolved_manually. Flattening the kept cells yields, per step, its
    transitions in time order.
    """
    n, S = created.size, len(td.steps)
    E = 3 * max(s.max_attempts for s in td.steps) + 1
    T = np.full((n, S, E), _NEVER, np.int64)
    ST = np.zeros((n, S, E), np.int8)
    CL = np.full((n, S, E), -1, np.int16)
    done = np.full((n, S), _NEVER, np.int64)  # completion time
    exhausted = np.zeros((n, S), bool)
    natural_last = np.full((n, S), -1, np.int8)  # last slot before cancel/resolve
    last_event = np.zeros(n, np.int64)
    stuck = np.zeros(n, bool)

    queue_median = NAMESPACES[td.namespace]["queue_median_ms"]
    task_start = created + _ms(_lognormal(rng, queue_median, 0.8, n))
    task_start[lost] = _NEVER
    last_event[:] = np.where(lost, 0, task_start)

    inc_start = as_of_ms - int(_INCIDENT["start_h"] * _MS_PER_HOUR)
    inc_end = as_of_ms - int(_INCIDENT["end_h"] * _MS_PER_HOUR)
    names = [s.name for s in td.steps]

    for s, sd in enumerate(td.steps):
        parents = [names.index(p) for p in sd.after]
        if parents:
            pdone = done[:, parents]
            runnable = (pdone < _NEVER).all(axis=1)
            ready = pdone.max(axis=1)
        else:
            runnable = task_start < _NEVER
            ready = task_start
        idx = np.flatnonzero(runnable)
        start = ready[idx] + _ms(_lognormal(rng, _STEP_QUEUE_MEDIAN_MS, 0.7, idx.size))
        sticky = np.full(idx.size, -1, np.int16)
        cls_ids = np.array([_ERROR_INDEX[c] for c, _ in sd.errors], np.int16)
        cls_cum = np.cumsum([w for _, w in sd.errors])
        cls_cum = cls_cum / cls_cum[-1]
        timeout_ms = sd.timeout_s * 1000
        on_incident_system = sd.system == _INCIDENT["system"]
        for k in range(sd.max_attempts):
            m = idx.size
            if m == 0:
                break
            T[idx, s, 3 * k] = start
            ST[idx, s, 3 * k] = IN_PROGRESS
            natural_last[idx, s] = 3 * k
            if k == 0 and not parents:
                dead = zombie_root[idx] == s
                if dead.any():  # the worker died: no end, dependents never run
                    stuck[idx[dead]] = True
                    last_event[idx[dead]] = np.maximum(last_event[idx[dead]], start[dead])
                    keep = ~dead
                    idx, start, sticky, m = idx[keep], start[keep], sticky[keep], int(keep.sum())
            dur = _lognormal(rng, sd.median_ms, sd.sigma, m)
            fail_p = np.full(m, sd.fail_prob)
            if on_incident_system:
                during = (start > inc_start) & (start <= inc_end)
                dur = np.where(during, dur * _INCIDENT["slow"], dur)
                fail_p = np.where(during, min(0.5, sd.fail_prob * _INCIDENT["fail_mult"]), fail_p)
            timed_out = dur > timeout_ms
            random_fail = rng.random(m) < fail_p
            repeat_fail = (sticky >= 0) & (rng.random(m) < _STICKY_REPEAT)
            drawn = cls_ids[np.minimum(np.searchsorted(cls_cum, rng.random(m), side="right"), cls_ids.size - 1)]
            cls = np.where(repeat_fail, sticky, drawn)
            cls = np.where(timed_out, _ERROR_INDEX[TIMEOUT_ERROR_CLASS], cls).astype(np.int16)
            fail = timed_out | random_fail | repeat_fail
            # errors surface part-way through the attempt; timeouts exactly at the limit
            elapsed = np.where(fail, dur * rng.uniform(0.05, 1.0, m), dur)
            elapsed = _ms(np.where(timed_out, timeout_ms, elapsed))
            end = start + elapsed
            T[idx, s, 3 * k + 1] = end
            ST[idx, s, 3 * k + 1] = np.where(fail, ERROR, COMPLETE)
            CL[idx[fail], s, 3 * k + 1] = cls[fail]
            natural_last[idx, s] = 3 * k + 1
            last_event[idx] = np.maximum(last_event[idx], end)
            ok = ~fail
            done[idx[ok], s] = end[ok]
            persistent = fail & _PERSISTENT[cls]
            sticky = np.where(persistent & (sticky < 0), cls, sticky).astype(np.int16)
            if k == sd.max_attempts - 1:
                exhausted[idx[fail], s] = True
                break
            idx, end, sticky = idx[fail], end[fail], sticky[fail]
            retry_at = end + rng.integers(2, 40, idx.size)
            T[idx, s, 3 * k + 2] = retry_at
            ST[idx, s, 3 * k + 2] = PENDING
            natural_last[idx, s] = 3 * k + 2
            backoff_s = np.minimum(30.0, sd.backoff_s * 2.0**k) * rng.uniform(0.5, 1.5, idx.size)
            start = retry_at + _ms(backoff_s * 1000.0)

    # Task outcome: settles just after its last step settles.
    all_done = (done < _NEVER).all(axis=1)
    settles = (task_start < _NEVER) & ~stuck & (all_done | exhausted.any(axis=1))
    TT = np.full((n, 3), _NEVER, np.int64)
    TS = np.zeros((n, 3), np.int8)
    TT[:, 0], TS[:, 0] = task_start, IN_PROGRESS
    task_end = np.where(settles, last_event + rng.integers(3, 60, n), _NEVER)
    TT[:, 1], TS[:, 1] = task_end, np.where(all_done, COMPLETE, ERROR)

    # Cancellations: at a random point of the run.
    cancel = settles & (rng.random(n) < _CANCEL_SHARE)
    ci = np.flatnonzero(cancel)
    if ci.size:
        run = task_end[ci] - task_start[ci]
        at = task_start[ci] + 1 + (rng.uniform(0.05, 0.95, ci.size) * (run - 1)).astype(np.int64)
        sub = T[ci]
        sub[sub >= at[:, None, None]] = _NEVER
        kept = sub < _NEVER
        count = kept.sum(axis=2)
        last = (E - 1) - np.argmax(kept[:, :, ::-1], axis=2)
        last_state = np.take_along_axis(ST[ci], last[:, :, None], axis=2)[:, :, 0]
        # Tasker allows no error -> cancelled: a step between a failure and its retry stays
        unsettled = (count > 0) & (last != natural_last[ci]) & (last_state != ERROR)
        sub[:, :, E - 1] = np.where(unsettled, at[:, None], _NEVER)
        T[ci] = sub
        ST[ci, :, E - 1] = np.where(unsettled, CANCELLED, 0)
        TT[ci, 1], TS[ci, 1] = at, CANCELLED

    # Manual resolution of a share of the failed tasks, minutes to hours later.
    resolve = settles & ~all_done & ~cancel & (rng.random(n) < _RESOLVE_SHARE)
    ri = np.flatnonzero(resolve)
    if ri.size:
        delay = np.maximum(60_000, _ms(_lognormal(rng, 25 * 60_000, 1.1, ri.size)))
        at = task_end[ri] + delay
        TT[ri, 2], TS[ri, 2] = at, RESOLVED
        failed = exhausted[ri]
        step_at = at[:, None] - rng.integers(200, 5000, (ri.size, S))
        T[ri, :, E - 1] = np.where(failed, step_at, _NEVER)
        ST[ri, :, E - 1] = np.where(failed, RESOLVED, 0)

    # Keep what happened up to as_of.
    flat = np.flatnonzero(T.reshape(-1) <= as_of_ms)
    task_local = flat // (S * E)
    slot = flat % E
    steps = _Events(
        entity=first_step[task_local] + (flat // E) % S,
        time=T.reshape(-1)[flat],
        to=ST.reshape(-1)[flat],
        cls=CL.reshape(-1)[flat],
        attempt=(slot // 3 + 1).astype(np.int16),
    )
    tflat = np.flatnonzero(TT.reshape(-1) <= as_of_ms)
    tasks = _Events(entity=task_index[tflat // 3], time=TT.reshape(-1)[tflat], to=TS.reshape(-1)[tflat])
    return steps, tasks


def _runs(entity: np.ndarray, to: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sort_key, most_recent and from_state of events grouped by entity in time order."""
    n = entity.size
    first = np.ones(n, bool)
    first[1:] = entity[1:] != entity[:-1]
    pos = np.arange(n)
    run_start = np.maximum.accumulate(np.where(first, pos, 0))
    sort_key = (pos - run_start + 1).astype(np.int32)
    most_recent = np.ones(n, bool)
    most_recent[:-1] = first[1:]
    from_state = np.empty(n, np.int8)
    from_state[1:] = to[:-1]
    from_state[first] = PENDING
    return sort_key, most_recent, from_state


def _last_per_entity(entity: np.ndarray, values: np.ndarray, size: int, fill, dtype) -> np.ndarray:
    """For events grouped by entity in time order: the last value of each entity."""
    out = np.full(size, fill, dtype)
    if entity.size:
        last = np.ones(entity.size, bool)
        last[:-1] = entity[1:] != entity[:-1]
        out[entity[last]] = values[last]
    return out
