"""Hand-built Tasker rows: the tiny workload of the oracle's self-check (tabulated, task by
task and step by step, in the docstring of tests/unit/test_oracle_selfcheck.py), its
edge-case extension that tests/integration/test_oracle.py builds with dbt, and writing such
rows as the nine Tasker tables of a DuckDB source (tests/integration/test_critical_path.py
builds its DAGs with the same ``Builder``)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from helpers.oracle import Raw
from tasker_analytics.generate.schema import COLUMNS, arrow_schema
from tasker_analytics.generate.writers import write_duckdb

AS_OF = datetime(2026, 11, 28, 12, 0, 0)


def at(clock: str, day: int = 28) -> datetime:
    """'11:00:01.500' -> 2026-11-<day> 11:00:01.500"""
    hms, _, frac = clock.partition(".")
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(2026, 11, day, h, m, s, int((frac or "0").ljust(3, "0")) * 1000)


class Builder:
    def __init__(self):
        self.tables = {
            "task_namespaces": [
                {"task_namespace_id": 1, "name": "ecommerce"},
                {"task_namespace_id": 2, "name": "billing"},
            ],
            "named_tasks": [
                {
                    "named_task_id": 10,
                    "name": "process_order",
                    "task_namespace_id": 1,
                    "version": "1.0.0",
                    "configuration": "{}",
                },
                {
                    "named_task_id": 11,
                    "name": "process_order",
                    "task_namespace_id": 1,
                    "version": "2.0.0",
                    "configuration": None,
                },
                {
                    "named_task_id": 12,
                    "name": "invoice",
                    "task_namespace_id": 2,
                    "version": "2.0",
                    "configuration": None,
                },
            ],
            "dependent_systems": [{"dependent_system_id": 1, "name": "tasker"}],
            "named_steps": [
                {"named_step_id": 100, "dependent_system_id": 1, "name": "payment"},
                {"named_step_id": 101, "dependent_system_id": 1, "name": "ship"},
                {"named_step_id": 102, "dependent_system_id": 1, "name": "charge"},
            ],
            "tasks": [],
            "workflow_steps": [],
            "workflow_step_edges": [],
            "task_transitions": [],
            "workflow_step_transitions": [],
        }
        self._ids = {"tt": 0, "st": 0}

    def task(self, task_id, named_task_id, created, transitions):
        self.tables["tasks"].append(
            {
                "task_id": task_id,
                "named_task_id": named_task_id,
                "complete": False,
                "requested_at": created,
                "created_at": created,
                "updated_at": created,
                "tags": "[]",
                "context": "{}",
            }
        )
        self._transitions("task_transitions", "task_id", task_id, transitions, "tt")

    def step(self, step_id, task_id, named_step_id, created, transitions, attempts, results=None):
        self.tables["workflow_steps"].append(
            {
                "workflow_step_id": step_id,
                "task_id": task_id,
                "named_step_id": named_step_id,
                "attempts": attempts,
                "results": results,
                "created_at": created,
                "updated_at": created,
            }
        )
        self._transitions("workflow_step_transitions", "workflow_step_id", step_id, transitions, "st")

    def _transitions(self, table, key, entity_id, transitions, counter):
        prev = None
        for i, tr in enumerate(transitions, start=1):
            to_state, created = tr[0], tr[1]
            metadata = tr[2] if len(tr) > 2 else None
            self._ids[counter] += 1
            self.tables[table].append(
                {
                    "id": self._ids[counter],
                    key: entity_id,
                    "from_state": prev,
                    "to_state": to_state,
                    "metadata": metadata,
                    "sort_key": i,
                    "most_recent": i == len(transitions),
                    "created_at": created,
                }
            )
            prev = to_state

    def raw(self) -> Raw:
        return Raw.from_tables(self.tables)


def build_main() -> Raw:
    return main_builder().raw()


def main_builder() -> Builder:
    b = Builder()
    A, B, C = 10, 11, 12
    b.task(1, A, at("11:00:00.000"), [("in_progress", at("11:00:00.250")), ("complete", at("11:00:01.500"))])
    b.task(2, A, at("10:30:00"), [("in_progress", at("10:30:01")), ("error", at("11:30:00"))])
    b.task(3, C, at("11:50:00"), [("in_progress", at("11:50:00.100")), ("complete", at("11:49:00"))])
    b.task(4, C, at("11:55:00"), [("in_progress", at("11:55:01"))])
    b.task(5, A, at("11:40:00"), [("in_progress", at("11:40:00.500")), ("complete", at("12:10:00"))])
    b.task(6, A, at("12:20:00"), [])
    b.task(7, A, at("08:00:00", 27), [("in_progress", at("08:00:00.500", 27)), ("complete", at("08:00:02", 27))])
    b.task(9, B, at("09:00:00"), [("in_progress", at("09:00:00.500")), ("complete", at("09:00:03"))])
    b.task(10, A, at("11:10:00"), [("cancelled", at("11:10:05"))])
    b.task(11, C, at("10:59:59.400"), [("in_progress", at("10:59:59.500")), ("complete", at("11:00:00.000"))])
    b.task(12, C, at("11:58:00"), [("in_progress", at("11:58:00.500")), ("complete", at("12:00:00.000"))])

    PAY, SHIP, CHARGE = 100, 101, 102
    b.step(
        1,
        1,
        PAY,
        at("11:00:00"),
        [
            ("in_progress", at("11:00:00.300")),
            ("error", at("11:00:00.500"), '{"error_class": "Net::ReadTimeout", "error": "timed out"}'),
            ("pending", at("11:00:00.600")),
            ("in_progress", at("11:00:00.800")),
            ("complete", at("11:00:01.400")),
        ],
        attempts=5,
        results='{"error_class": "Net::OpenTimeout"}',
    )
    b.step(
        2,
        1,
        SHIP,
        at("11:00:00"),
        [
            ("in_progress", at("11:00:01.000")),
            ("complete", at("11:00:01.200")),
        ],
        attempts=1,
    )
    b.step(
        3,
        2,
        PAY,
        at("10:30:00"),
        [
            ("in_progress", at("10:30:02")),
            ("error", at("11:29:59"), {}),
        ],
        attempts=1,
        results={"error": "boom", "error_class": "PG::ConnectionBad"},
    )
    b.step(4, 2, SHIP, at("10:30:00"), [], attempts=None)
    b.step(
        5,
        3,
        CHARGE,
        at("11:50:00"),
        [
            ("in_progress", at("11:50:00.200")),
            ("error", at("11:50:00.400")),
            ("resolved_manually", at("11:50:00.500")),
        ],
        attempts=1,
        results=None,
    )
    b.step(6, 4, CHARGE, at("11:55:00"), [], attempts=3)
    b.step(
        7,
        5,
        PAY,
        at("11:40:00"),
        [
            ("in_progress", at("11:40:01")),
            ("error", at("12:01:00"), '{"error_class": "Net::ReadTimeout"}'),
        ],
        attempts=1,
    )
    b.step(8, 6, PAY, at("12:20:00"), [], attempts=5)
    return b


# ------------------------------------------------------------------ edge-case workload for the API
# build_main() plus rows that the generator never writes but the spec covers.
# tests/integration/test_oracle.py builds it with dbt and compares the API with the oracle on
# it (no hand numbers needed there); test_oracle_selfcheck's test_edge_workload_facts pins what
# the oracle makes of the additions.


def build_edge_tables() -> dict[str, list[dict]]:
    b = main_builder()
    A, B, C = 10, 11, 12
    PAY, SHIP, CHARGE = 100, 101, 102
    # T13: complete; its only step has no transitions but attempts = 2 -> retried via the fallback
    b.task(13, B, at("11:20:00"), [("in_progress", at("11:20:01")), ("complete", at("11:20:05"))])
    b.step(13, 13, SHIP, at("11:20:00"), [], attempts=2)
    # T14: clock skew inside a step: complete (sort_key 2) stamped before its in_progress (sort_key 1)
    b.task(14, C, at("11:30:00"), [("in_progress", at("11:30:00.010")), ("complete", at("11:30:02"))])
    b.step(
        14, 14, CHARGE, at("11:30:00"), [("in_progress", at("11:30:01")), ("complete", at("11:30:00.500"))], attempts=1
    )
    # T15: the task itself goes error -> pending -> in_progress -> complete; its step retried once,
    # with metadata {"error_class": null} (JSON null falls through to results)
    b.task(
        15,
        A,
        at("10:00:00"),
        [
            ("in_progress", at("10:00:01")),
            ("error", at("10:05:00")),
            ("pending", at("10:06:00")),
            ("in_progress", at("10:07:00")),
            ("complete", at("10:08:00")),
        ],
    )
    b.step(
        15,
        15,
        PAY,
        at("10:00:00"),
        [
            ("in_progress", at("10:00:02")),
            ("error", at("10:04:59"), '{"error_class": null, "attempt": 1}'),
            ("pending", at("10:06:00")),
            ("in_progress", at("10:07:01")),
            ("complete", at("10:07:59")),
        ],
        attempts=2,
        results='{"error_class": "Faraday::TimeoutError"}',
    )
    # T16: resolved manually after an error; its step errored twice (two events, two windows)
    b.task(
        16,
        C,
        at("03:00:00"),
        [
            ("in_progress", at("03:00:01")),
            ("error", at("03:10:00")),
            ("resolved_manually", at("10:30:00")),
        ],
    )
    b.step(
        16,
        16,
        CHARGE,
        at("03:00:00"),
        [
            ("in_progress", at("03:00:02")),
            ("error", at("03:00:03"), {"error_class": "Stripe::CardError"}),
            ("pending", at("03:00:04")),
            ("in_progress", at("03:05:00")),
            ("error", at("03:09:59"), {"error_class": "Stripe::CardError"}),
            ("resolved_manually", at("10:30:00")),
        ],
        attempts=2,
    )
    # T17: a zero-millisecond task (histogram bucket 0 via max(d, 1)); its step settles exactly at as_of
    b.task(17, A, at("11:45:00"), [("in_progress", at("11:45:00")), ("complete", at("11:45:00"))])
    b.step(
        17, 17, SHIP, at("11:45:00"), [("in_progress", at("11:59:59.999")), ("complete", at("12:00:00"))], attempts=1
    )
    # T18: created exactly at as_of (exists, in flight, pending: no transition)
    b.task(18, B, at("12:00:00"), [])
    # T19: older than 24 h but settled inside the window (windows count settle time)
    b.task(19, B, at("06:00:00", 27), [("in_progress", at("06:00:01", 27)), ("complete", at("13:00:00", 27))])
    return b.tables


def write_source(tables: dict[str, list[dict]], path: Path) -> None:
    """Write hand-built rows as the nine Tasker tables (the generator's column types)."""
    arrow = {}
    for name in COLUMNS:
        rows = tables[name.removeprefix("tasker_")]
        columns = [c for c, _ in COLUMNS[name]]
        fixed = []
        for row in rows:
            out = {}
            for c in columns:
                value = row.get(c)
                if isinstance(value, (dict, list)):
                    value = json.dumps(value)
                out[c] = value
            fixed.append(out)
        arrow[name] = pa.Table.from_pylist(fixed, schema=arrow_schema(name))
    write_duckdb(arrow, str(path))
