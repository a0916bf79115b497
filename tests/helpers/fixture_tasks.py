"""A tiny builder of hand-crafted Tasker source data (the nine tables of
models/staging/tasker/_tasker__sources.yml), for tests whose expected figures are
computed by hand.

A task is described by its creation time, its queue wait and its steps; each step lists
its attempts (duration and outcome) and the steps run as their dependencies allow:

    fx = TaskerFixture()
    ttype = fx.task_type("ns", "task", "1.0.0")
    fx.add_task(ttype, created, queue_ms=100,
                steps=[Step("a", [ok(1000)]), Step("b", [fail(500, "Net::ReadTimeout"), ok(700)])],
                edges=[("a", "b")])
    fx.write("/tmp/source.duckdb")

Timeline of a task (all times exact, in ms):
- the task is created at `created`; it goes pending -> in_progress at created + queue_ms;
- a step starts when the task has started and all its parents completed (its parents'
  latest settle time); a step whose parent did not complete never runs (no transitions);
- an attempt is `pending -> in_progress` at its start, `in_progress -> complete|error`
  `duration_ms` later; after a failed attempt with a retry to come the step goes
  `error -> pending` 5 ms later and `pending -> in_progress` `backoff_ms` after the error;
- the task settles at the latest settle time of its steps: `complete` when every step
  completed, else `error`.
So a step's duration (first in_progress -> settle) is the sum of its attempts' durations
plus backoff_ms per retry, and a task's duration is queue_ms plus its longest chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pyarrow as pa

from tasker_analytics.generate.schema import arrow_schema
from tasker_analytics.generate.workload import TABLE_NAMES
from tasker_analytics.generate.writers import write_duckdb

RETRY_STATE_DELAY_MS = 5  # error -> pending, this long after the error


@dataclass(frozen=True)
class Attempt:
    duration_ms: int
    outcome: str  # "complete" or "error"
    error_class: str | None = None


def ok(duration_ms: int) -> Attempt:
    return Attempt(duration_ms, "complete")


def fail(duration_ms: int, error_class: str) -> Attempt:
    return Attempt(duration_ms, "error", error_class)


@dataclass
class Step:
    name: str
    attempts: list[Attempt]
    backoff_ms: int = 1000  # from a failed attempt's error to the next attempt's start

    @property
    def duration_ms(self) -> int:
        """First in_progress -> settle, when the step runs."""
        return sum(a.duration_ms for a in self.attempts) + self.backoff_ms * (len(self.attempts) - 1)


@dataclass
class _Tables:
    rows: dict[str, list[dict]] = field(default_factory=lambda: {name: [] for name in TABLE_NAMES})

    def add(self, table: str, **row) -> int:
        rows = self.rows[table]
        rows.append(row)
        return len(rows)


def _ms(value: int) -> timedelta:
    return timedelta(milliseconds=value)


class TaskerFixture:
    def __init__(self) -> None:
        self._t = _Tables()
        self._namespaces: dict[str, int] = {}
        self._types: dict[tuple[str, str, str], int] = {}
        self._named_steps: dict[str, int] = {}
        self._epoch = datetime(2026, 1, 1)
        self._system = self._t.add(
            "tasker_dependent_systems",
            dependent_system_id=1,
            name="fixture_system",
            description=None,
            created_at=self._epoch,
            updated_at=self._epoch,
        )

    # ---- catalog
    def task_type(self, namespace: str, name: str, version: str = "1.0.0") -> int:
        key = (namespace, name, version)
        if key not in self._types:
            if namespace not in self._namespaces:
                self._namespaces[namespace] = self._t.add(
                    "tasker_task_namespaces",
                    task_namespace_id=len(self._namespaces) + 1,
                    name=namespace,
                    description=None,
                    created_at=self._epoch,
                    updated_at=self._epoch,
                )
            self._types[key] = self._t.add(
                "tasker_named_tasks",
                named_task_id=len(self._types) + 1,
                name=name,
                task_namespace_id=self._namespaces[namespace],
                version=version,
                description=None,
                configuration="{}",
                created_at=self._epoch,
                updated_at=self._epoch,
            )
        return self._types[key]

    def _named_step(self, name: str) -> int:
        if name not in self._named_steps:
            self._named_steps[name] = self._t.add(
                "tasker_named_steps",
                named_step_id=len(self._named_steps) + 1,
                dependent_system_id=self._system,
                name=name,
                description=None,
                created_at=self._epoch,
                updated_at=self._epoch,
            )
        return self._named_steps[name]

    # ---- transitions
    def _transitions(self, table: str, key: str, entity_id: int, events: list[tuple[datetime, str, dict]]) -> None:
        state = "pending"
        for sort_key, (at, to_state, metadata) in enumerate(events, start=1):
            rows = self._t.rows[table]
            rows.append(
                {
                    "id": len(rows) + 1,
                    key: entity_id,
                    "from_state": state,
                    "to_state": to_state,
                    "metadata": json.dumps(metadata),
                    "sort_key": sort_key,
                    "most_recent": sort_key == len(events),
                    "created_at": at,
                    "updated_at": at,
                }
            )
            state = to_state

    # ---- tasks
    def add_task(
        self, named_task_id: int, created: datetime, queue_ms: int, steps: list[Step], edges: list[tuple[str, str]] = ()
    ) -> dict[str, datetime]:
        """Add one task; return its settle time under "task" and each step's settle time."""
        task_id = len(self._t.rows["tasker_tasks"]) + 1
        start = created + _ms(queue_ms)
        settled: dict[str, datetime] = {}
        final: dict[str, str] = {}
        parents = {s.name: [p for p, c in edges if c == s.name] for s in steps}
        ids: dict[str, int] = {}
        for step in steps:  # steps are listed in a topological order
            step_id = len(self._t.rows["tasker_workflow_steps"]) + 1
            runs = all(final.get(p) == "complete" for p in parents[step.name])
            events: list[tuple[datetime, str, dict]] = []
            last_error: str | None = None
            at = max([start, *(settled[p] for p in parents[step.name])]) if runs else None
            if runs:
                for k, attempt in enumerate(step.attempts):
                    if k:
                        events.append((at + _ms(RETRY_STATE_DELAY_MS), "pending", {}))
                        at += _ms(step.backoff_ms)
                    events.append((at, "in_progress", {}))
                    at += _ms(attempt.duration_ms)
                    if attempt.outcome == "error":
                        events.append((at, "error", {"error_class": attempt.error_class, "attempt": k + 1}))
                        last_error = attempt.error_class
                    else:
                        events.append((at, "complete", {}))
                settled[step.name] = at
                final[step.name] = events[-1][1]
            state = final.get(step.name, "pending")
            results = (
                {"status": "ok"}
                if state == "complete"
                else ({"error": "failed", "error_class": last_error} if last_error else {})
            )
            self._t.add(
                "tasker_workflow_steps",
                workflow_step_id=step_id,
                task_id=task_id,
                named_step_id=self._named_step(step.name),
                retryable=True,
                retry_limit=5,
                in_process=False,
                processed=state == "complete",
                processed_at=at if state == "complete" else None,
                attempts=len(step.attempts) if runs else None,
                last_attempted_at=events[-2][0] if runs else None,
                backoff_request_seconds=None,
                inputs="{}",
                results=json.dumps(results),
                skippable=False,
                created_at=created,
                updated_at=at if runs else created,
            )
            ids[step.name] = step_id
            self._transitions("tasker_workflow_step_transitions", "workflow_step_id", step_id, events)
        for parent, child in edges:
            self._t.add(
                "tasker_workflow_step_edges",
                id=len(self._t.rows["tasker_workflow_step_edges"]) + 1,
                from_step_id=ids[parent],
                to_step_id=ids[child],
                name="provides",
                created_at=created,
                updated_at=created,
            )
        task_state = "complete" if all(final.get(s.name) == "complete" for s in steps) else "error"
        task_settle = max(settled.values())
        self._t.add(
            "tasker_tasks",
            task_id=task_id,
            named_task_id=named_task_id,
            complete=task_state == "complete",
            requested_at=created,
            initiator="fixture",
            source_system="tests",
            reason="fixture",
            bypass_steps=None,
            tags="[]",
            context="{}",
            identity_hash=f"fixture-{task_id}",
            created_at=created,
            updated_at=task_settle,
        )
        self._transitions(
            "tasker_task_transitions",
            "task_id",
            task_id,
            [(start, "in_progress", {}), (task_settle, task_state, {})],
        )
        return {"task": task_settle, **settled}

    # ---- output
    def tables(self) -> dict[str, pa.Table]:
        return {name: pa.Table.from_pylist(rows, schema=arrow_schema(name)) for name, rows in self._t.rows.items()}

    def write(self, path: str) -> None:
        write_duckdb(self.tables(), path)
