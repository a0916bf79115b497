"""Self-check of tests/helpers/oracle.py on a tiny hand-built workload (no server, no dbt).

Every expected number below is worked out by hand in the comment beside it, so a
failure here means the oracle (not the product) is wrong. The rows tabulated here are
built by tests/helpers/hand_built.py (main_builder), which tests/integration/test_oracle.py
also builds with dbt (with its edge cases).

as_of = 2026-11-28 12:00:00. Windows: 1h = (11:00, 12:00], 4h = (08:00, 12:00],
24h = (11-27 12:00, 12:00], 168h = (11-21 12:00, 12:00].

Task types: A = (ecommerce, process_order, 1.0.0), B = (ecommerce, process_order, 2.0.0),
C = (billing, invoice, 2.0).

| task | type | created        | transitions (sort_key order)                              | at as_of            |
|------|------|----------------|-----------------------------------------------------------|---------------------|
| T1   | A    | 11:00:00.000   | in_progress 11:00:00.250, complete 11:00:01.500           | complete, 1500 ms   |
| T2   | A    | 10:30:00       | in_progress 10:30:01, error 11:30:00                      | error               |
| T3   | C    | 11:50:00       | in_progress 11:50:00.100, complete 11:49:00 (clock skew)  | complete, -60000 ms |
| T4   | C    | 11:55:00       | in_progress 11:55:01                                      | in flight           |
| T5   | A    | 11:40:00       | in_progress 11:40:00.500, complete 12:10:00 (after as_of) | in flight           |
| T6   | A    | 12:20:00       | (created after as_of)                                     | does not exist      |
| T7   | A    | 11-27 08:00:00 | in_progress 08:00:00.500, complete 11-27 08:00:02         | complete, 2000 ms   |
| T9   | B    | 09:00:00       | in_progress 09:00:00.500, complete 09:00:03               | complete, 3000 ms   |
| T10  | A    | 11:10:00       | cancelled 11:10:05                                        | cancelled           |
| T11  | C    | 10:59:59.400   | in_progress 10:59:59.500, complete 11:00:00.000           | complete, 600 ms    |
| T12  | C    | 11:58:00       | in_progress 11:58:00.500, complete 12:00:00.000           | complete, 120000 ms |

Steps (ip = in_progress; "attempts col" is the tasker_workflow_steps.attempts column):
| step | task | name    | transitions                                                         | attempts col |
|------|------|---------|---------------------------------------------------------------------|--------------|
| S1   | T1   | payment | ip 11:00:00.300, error .500 (metadata Net::ReadTimeout),            | 5 (ignored)  |
|      |      |         | pending .600, ip .800, complete 11:00:01.400                         |              |
| S2   | T1   | ship    | ip 11:00:01.000, complete 11:00:01.200                              | 1            |
| S3   | T2   | payment | ip 10:30:02, error 11:29:59 (metadata {} -> results PG::ConnectionBad) | 1          |
| S4   | T2   | ship    | none                                                                | NULL -> 0    |
| S5   | T3   | charge  | ip 11:50:00.200, error .400 (no metadata, no results),              | 1            |
|      |      |         | resolved_manually 11:50:00.500                                      |              |
| S6   | T4   | charge  | none                                                                | 3 (fallback) |
| S7   | T5   | payment | ip 11:40:01, error 12:01:00 (after as_of)                           | 1            |
| S8   | T6   | payment | none (task created after as_of)                                     | 5            |
"""

from __future__ import annotations

import math
from datetime import datetime

import pytest

from helpers.hand_built import AS_OF, Builder, at, build_edge_tables, build_main
from helpers.oracle import (
    Raw,
    bottlenecks,
    facts,
    histogram_bucket,
    percentile,
    performance,
    suggested_timeout,
)

TAXONOMY = {"Net::ReadTimeout": "NetworkTimeoutError"}


@pytest.fixture(scope="module")
def raw() -> Raw:
    return build_main()


@pytest.fixture(scope="module")
def perf(raw):
    return performance(raw, AS_OF)


def close(a, b, tol=1e-9):
    return a is not None and b is not None and math.isclose(a, b, rel_tol=tol, abs_tol=tol)


# ------------------------------------------------------------------ building blocks


def test_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7], 0.95) == 7
    assert percentile([1, 2], 0.5) == 1.5
    # pos = 0.95 * 3 = 2.85 -> 3000 + (120000 - 3000) * 0.85
    assert close(percentile([600, 1500, 3000, 120000], 0.95), 102450)
    assert percentile([1, 2, 3, 4, 5], 1.0) == 5
    assert percentile([5, 1, 3], 0.0) == 1


def test_histogram_bucket():
    assert histogram_bucket(0) == 0  # max(d, 1) = 1 -> log10 = 0
    assert histogram_bucket(1) == 0
    assert histogram_bucket(10) == 4
    assert histogram_bucket(1000) == 12
    assert histogram_bucket(999) == 11
    assert histogram_bucket(1778) == 12  # 10^(13/4) = 1778.28 -> still bucket 12
    assert histogram_bucket(1779) == 13


def test_suggested_timeout():
    assert suggested_timeout(20000) == 30  # 20 s x 1.5 = 30 s exactly
    assert suggested_timeout(20001) == 35  # 30.0015 s -> next multiple of 5
    assert suggested_timeout(29500) == 45  # 44.25 s -> 45
    assert suggested_timeout(None) is None


# ------------------------------------------------------------------ per-entity facts


def test_task_facts(raw):
    f = {t.task_id: t for t in facts(raw, AS_OF).tasks}
    assert 6 not in f, "T6 is created after as_of: it does not exist"
    assert f[1].final_state == "complete" and f[1].duration_ms == 1500  # 11:00:01.500 - 11:00:00.000
    assert f[1].first_in_progress == at("11:00:00.250")
    assert f[2].final_state == "error" and f[2].duration_ms == 3_600_000
    assert f[3].duration_ms == -60_000 and f[3].complete_duration is None  # clock skew
    assert f[4].final_state == "in_progress" and not f[4].settled
    # T5's complete row (most_recent = true) is after as_of: the task is still in flight
    assert f[5].final_state == "in_progress" and f[5].settle_time is None
    assert f[10].final_state == "cancelled" and f[10].first_in_progress is None
    assert f[12].duration_ms == 120_000
    assert f[1].retried and not f[2].retried
    assert f[4].retried, "S6 has no transitions: attempts column 3 is the fallback"


def test_step_facts(raw):
    s = {x.step_id: x for x in facts(raw, AS_OF).steps}
    assert 8 not in s
    # S1: two in_progress transitions -> attempts 2 (the attempts column's 5 is ignored);
    # duration = complete 11:00:01.400 - first in_progress 11:00:00.300 = 1100 ms
    assert s[1].attempts == 2 and s[1].retried and s[1].duration_ms == 1100
    assert s[2].attempts == 1 and s[2].duration_ms == 200
    assert s[4].attempts == 0 and s[4].final_state == "pending"  # NULL attempts column -> 0
    assert s[6].attempts == 3
    assert s[5].final_state == "resolved_manually" and s[5].complete_duration is None
    assert s[7].final_state == "in_progress"  # its error transition is after as_of


def test_error_events(raw):
    ev = sorted(facts(raw, AS_OF).errors, key=lambda e: e.at)
    assert [(e.step_id, e.error_class, e.class_source) for e in ev] == [
        (1, "Net::ReadTimeout", "metadata"),  # metadata wins over results (Net::OpenTimeout)
        (3, "PG::ConnectionBad", "results"),  # metadata {} -> results
        (5, "UnknownError", "default"),  # no metadata, no results
    ]  # S7's error at 12:01 is after as_of


# ------------------------------------------------------------------ performance endpoint


def test_trends_1h(perf):
    t = perf["performance_trends"]["1h"]
    # created in (11:00, 12:00]: T3, T4, T5, T10, T12 (T1 at exactly 11:00:00 is outside)
    assert t["created"] == 5
    # settled in (11:00, 12:00]: T1, T2, T3, T10, T12 (T11 at exactly 11:00:00 is outside,
    # T12 at exactly 12:00:00 is inside)
    assert (t["settled"], t["completed"], t["failed"], t["cancelled"], t["resolved_manually"]) == (5, 3, 1, 1, 0)
    assert close(t["completion_rate"], 0.6) and close(t["error_rate"], 0.2)
    # complete, non-negative: T1 1500, T12 120000 (T3 is negative, left out)
    assert close(t["avg_duration_ms"], 60750)


@pytest.mark.parametrize("window", ["4h", "24h"])
def test_trends_4h_24h(perf, window):
    t = perf["performance_trends"][window]
    # created: all but T6 (after as_of) and T7 (11-27) -> 9
    assert t["created"] == 9
    # + T9 (09:00:03) and T11 (11:00:00); T7 (11-27 08:00) is outside 24 h
    assert (t["settled"], t["completed"], t["failed"], t["cancelled"]) == (7, 5, 1, 1)
    assert close(t["completion_rate"], 5 / 7) and close(t["error_rate"], 1 / 7)
    assert close(t["avg_duration_ms"], (1500 + 3000 + 600 + 120000) / 4)


def test_task_statistics(perf):
    s = perf["task_statistics"]
    assert s["total_tasks"] == 9
    assert (s["settled"], s["completed"], s["failed"], s["cancelled"], s["resolved_manually"]) == (7, 5, 1, 1, 0)
    # retried: T1 (S1 attempts 2). T4 is retried too but not settled.
    assert s["retried"] == 1
    assert close(s["retry_rate"], 1 / 7) and close(s["failure_rate"], 1 / 7)


def test_processing_times(perf):
    p = perf["processing_times"]
    # sorted durations [600, 1500, 3000, 120000]
    assert p["count"] == 4
    assert close(p["p50"], 2250)  # pos 1.5
    assert close(p["p95"], 102450)  # pos 2.85 -> 3000 + 117000 * .85
    assert close(p["p99"], 116490)  # pos 2.97 -> 3000 + 117000 * .97
    assert close(p["avg_ms"], 31275)


def test_counts(perf):
    assert perf["active_tasks"] == 2  # T4, T5
    assert perf["namespaces"] == 2
    assert perf["task_types"] == 3
    assert perf["data_quality"]["negative_durations"] == 1  # T3


def test_health(perf):
    c = {x["name"]: x for x in perf["health_components"]}
    assert close(c["success_share"]["value"], 3 / 5) and c["success_share"]["count"] == 5
    # steps settled in the last hour: S1 (complete, 2 attempts), S2 (complete, 1 attempt),
    # S3 (error), S5 (resolved_manually) -> only S2 succeeded at the first attempt
    assert close(c["first_attempt_step_success"]["value"], 1 / 4)
    assert c["first_attempt_step_success"]["count"] == 4
    # current p95 over [1500, 120000] = 1500 + 118500 * .95 = 114075
    # baseline (168 h) p95 over [600, 1500, 2000, 3000, 120000]: pos 3.8 -> 3000 + 117000 * .8 = 96600
    assert close(c["latency"]["value"], 96600 / 114075)
    score = 100 * (0.5 * 0.6 + 0.3 * 0.25 + 0.2 * 96600 / 114075)
    assert close(perf["system_health_score"], score)
    assert [x["weight"] for x in perf["health_components"]] == [0.5, 0.3, 0.2]


def test_health_weights_are_normalised(raw):
    p = performance(raw, AS_OF, weights=(1, 1, 0))
    assert close(p["system_health_score"], 100 * (0.6 + 0.25) / 2)


def test_as_of_moves_everything(raw):
    # at 12:15 T5's complete (12:10) counts: 1h window (11:15, 12:15] holds T2 (11:30),
    # T3 (11:49), T5 (12:10, 1800000 ms... 12:10 - 11:40 = 30 min) and T12
    p = performance(raw, datetime(2026, 11, 28, 12, 15))
    t = p["performance_trends"]["1h"]
    assert (t["settled"], t["completed"], t["failed"]) == (4, 3, 1)
    assert close(t["avg_duration_ms"], (1_800_000 + 120_000) / 2)
    assert p["active_tasks"] == 1  # T4 (T6 is created at 12:20)


# ------------------------------------------------------------------ bottleneck endpoint


def bn(raw, **kw):
    kw.setdefault("timeouts", {})
    kw.setdefault("taxonomy", TAXONOMY)
    return bottlenecks(raw, AS_OF, **kw)


def test_bottleneck_default(raw):
    b = bn(raw)
    assert b["period_hours"] == 24 and b["scope"] == {}
    tasks = [
        (r["task_name"], r["version"], r["execution_count"], r["completed"], r["failed"]) for r in b["slowest_tasks"]
    ]
    # C: T3 (negative), T11 600, T12 120000 -> avg 60300; B: T9 3000; A: T1 1500 (+ T2 error, T10 cancelled)
    assert tasks == [
        ("invoice", "2.0", 3, 3, 0),
        ("process_order", "2.0.0", 1, 1, 0),
        ("process_order", "1.0.0", 3, 1, 1),
    ]
    c = b["slowest_tasks"][0]
    assert close(c["avg_duration_ms"], 60300)
    assert close(c["p95_duration_ms"], 600 + 119400 * 0.95)
    assert close(b["slowest_tasks"][2]["failure_rate"], 1 / 3)

    steps = [
        (r["task_name"], r["step_name"], r["execution_count"], r["completed"], r["failed"], r["retried"])
        for r in b["slowest_steps"]
    ]
    assert steps == [
        ("process_order", "payment", 2, 1, 1, 1),  # S1 (1100 ms, retried), S3 (error)
        ("process_order", "ship", 1, 1, 0, 0),  # S2 200 ms
        ("invoice", "charge", 1, 0, 0, 0),  # S5 resolved_manually: no duration -> nulls last
    ]
    pay = b["slowest_steps"][0]
    assert close(pay["avg_duration_ms"], 1100) and close(pay["p99_duration_ms"], 1100)
    assert close(pay["retry_rate"], 0.5) and close(pay["failure_rate"], 0.5)
    assert b["slowest_steps"][2]["avg_duration_ms"] is None

    assert b["error_patterns"] == [
        # S1 errored at 11:00:00.500 and ended complete: recovered
        {
            "error_type": "NetworkTimeoutError",
            "frequency": 1,
            "affected_steps": ["payment"],
            "error_classes": ["Net::ReadTimeout"],
            "first_seen": at("11:00:00.500"),
            "last_seen": at("11:00:00.500"),
            "errored_steps": 1,
            "recovered_steps": 1,
            "retry_success_rate": 1.0,
        },
        # S3 errored at 11:29:59 and stays in error
        {
            "error_type": "PG::ConnectionBad",
            "frequency": 1,
            "affected_steps": ["payment"],
            "error_classes": ["PG::ConnectionBad"],  # unmapped class passes through
            "first_seen": at("11:29:59"),
            "last_seen": at("11:29:59"),
            "errored_steps": 1,
            "recovered_steps": 0,
            "retry_success_rate": 0.0,
        },
        # S5 errored at 11:50:00.400 and was resolved manually: not recovered
        {
            "error_type": "UnknownError",
            "frequency": 1,
            "affected_steps": ["charge"],
            "error_classes": ["UnknownError"],
            "first_seen": at("11:50:00.400"),
            "last_seen": at("11:50:00.400"),
            "errored_steps": 1,
            "recovered_steps": 0,
            "retry_success_rate": 0.0,
        },
    ]

    # queue wait (created -> first ip) and run time (first ip -> settle) of complete tasks;
    # C: T3 is negative (left out), T11 100 + 500, T12 500 + 119500
    c = b["slowest_tasks"][0]
    assert close(c["avg_queue_wait_ms"], 300) and close(c["p50_queue_wait_ms"], 300)
    assert close(c["p95_queue_wait_ms"], 100 + 400 * 0.95)
    assert close(c["avg_run_time_ms"], 60000) and close(c["p99_run_time_ms"], 500 + 119000 * 0.99)
    assert close(c["p50_duration_ms"], 60300)
    # A: only T1 is complete: queue 250, run 1250
    a = b["slowest_tasks"][2]
    assert (a["avg_queue_wait_ms"], a["avg_run_time_ms"], a["p99_duration_ms"]) == (250, 1250, 1500)
    # steps: payment S1 waited 11:00:00 -> 11:00:00.300 (S3 failed: not timed); ship S2 1000 ms
    assert close(pay["avg_queue_wait_ms"], 300) and pay["avg_run_time_ms"] == pay["avg_duration_ms"]
    assert close(b["slowest_steps"][1]["p95_queue_wait_ms"], 1000)
    assert b["slowest_steps"][2]["avg_queue_wait_ms"] is None  # S5 resolved_manually

    # dependency analysis: complete tasks T1, T3, T9, T11, T12 (no edges: every step is a path of
    # its own). T1: payment 1100 > ship 200 -> payment; T3 charge (resolved_manually,
    # a settled step that ran has a duration: .200 -> .500 = 300 ms); T9, T11, T12 have no steps -> empty paths.
    dep = b["dependency_analysis"]
    assert dep["tasks_analyzed"] == 5
    assert [
        (r["task_name"], r["step_name"], r["on_critical_path"], r["critical_path_ms"], r["share"])
        for r in dep["critical_path_steps"]
    ] == [("process_order", "payment", 1, 1100, 1.0), ("invoice", "charge", 1, 300, 1.0)]
    assert dep["blocking_steps"] == []

    d = b["performance_distribution"]
    assert (d["count"], d["min_ms"], d["max_ms"]) == (4, 600, 120000)
    assert close(d["avg_ms"], 31275)
    # 600 -> floor(4 * 2.778) = 11; 1500 -> 12; 3000 -> 13; 120000 -> floor(4 * 5.079) = 20
    assert [(h["bucket"], h["count"]) for h in d["histogram"]] == [(11, 1), (12, 1), (13, 1), (20, 1)]
    assert close(d["histogram"][0]["lower_ms"], 10**2.75)
    assert b["data_quality"]["negative_durations"] == 1


def test_bottleneck_scopes(raw):
    b = bn(raw, namespace="billing")
    assert [r["task_name"] for r in b["slowest_tasks"]] == ["invoice"]
    assert [r["error_type"] for r in b["error_patterns"]] == ["UnknownError"]
    b = bn(raw, namespace="ecommerce", task_name="process_order", version="2.0.0")
    assert [(r["version"], r["execution_count"]) for r in b["slowest_tasks"]] == [("2.0.0", 1)]
    assert b["slowest_steps"] == [] and b["error_patterns"] == []
    assert b["scope"] == {"namespace": "ecommerce", "task_name": "process_order", "version": "2.0.0"}
    b = bn(raw, namespace="nope")
    assert b["slowest_tasks"] == [] and b["performance_distribution"]["count"] == 0
    assert b["performance_distribution"]["p95"] is None and b["performance_distribution"]["histogram"] == []
    b = bn(raw, limit=1)
    assert len(b["slowest_tasks"]) == 1 and len(b["_all_slowest_tasks"]) == 3


def test_bottleneck_period_1(raw):
    b = bn(raw, period=1)
    # (11:00, 12:00]: A: T1 complete, T2 error, T10 cancelled; C: T3 (negative), T12
    got = {
        (r["task_name"], r["version"]): (r["execution_count"], r["completed"], r["avg_duration_ms"])
        for r in b["slowest_tasks"]
    }
    assert got == {("process_order", "1.0.0"): (3, 1, 1500), ("invoice", "2.0"): (2, 2, 120000)}
    assert b["performance_distribution"]["count"] == 2


# ------------------------------------------------------------------ recommendations


def build_recommendations() -> Raw:
    """6 tasks of A with a payment step (900..1400 ms against a 1 s timeout) and a ship
    step; 20 more tasks of B whose payment step is retried in 5 of 20 (retry rate 0.25)."""
    b = Builder()
    task_id = step_id = 0
    for i in range(6):
        task_id += 1
        created = at(f"11:0{i}:00")
        b.task(task_id, 10, created, [("in_progress", at(f"11:0{i}:00.100")), ("complete", at(f"11:0{i}:05"))])
        step_id += 1
        dur = 900 + 100 * i  # 900, 1000, ..., 1400 ms
        b.step(
            step_id,
            task_id,
            100,
            created,
            [
                ("in_progress", at(f"11:0{i}:01")),
                ("complete", at(f"11:0{i}:02.{dur - 1000:03d}") if dur >= 1000 else at(f"11:0{i}:01.{dur:03d}")),
            ],
            attempts=1,
        )
        step_id += 1
        ship = [("in_progress", at(f"11:0{i}:03")), ("complete", at(f"11:0{i}:03.100"))]
        b.step(step_id, task_id, 101, created, ship, attempts=1)
    for i in range(20):
        task_id += 1
        created = at(f"10:{10 + i}:00")
        b.task(task_id, 11, created, [("in_progress", at(f"10:{10 + i}:00.100")), ("complete", at(f"10:{10 + i}:09"))])
        step_id += 1
        trs = [("in_progress", at(f"10:{10 + i}:01"))]
        if i < 5:
            trs += [
                ("error", at(f"10:{10 + i}:02")),
                ("pending", at(f"10:{10 + i}:03")),
                ("in_progress", at(f"10:{10 + i}:04")),
            ]
        trs.append(("complete", at(f"10:{10 + i}:05")))
        b.step(step_id, task_id, 100, created, trs, attempts=None)
    return b.raw()


def test_recommendations():
    raw = build_recommendations()
    timeouts = {("ecommerce", "process_order", "payment"): 1.0, ("ecommerce", "process_order", "ship"): 1.0}
    b = bottlenecks(raw, AS_OF, timeouts=timeouts, taxonomy={})
    recs = b["recommendations"]
    assert [r["type"] for r in recs] == ["retry_policy", "timeout_optimization", "timeout_optimization"]
    retry = recs[0]
    assert (retry["version"], retry["step"]) == ("2.0.0", "payment")
    assert close(retry["retry_rate"], 0.25)
    # A payment durations [900..1400]: p95 pos 4.75 -> 1300 + 100 * .75 = 1375 >= 800;
    # p99 pos 4.95 -> 1395 -> 1.395 s * 1.5 = 2.09 s -> 5 s
    a = next(r for r in recs if r["type"] == "timeout_optimization" and r["version"] == "1.0.0")
    assert close(a["p95_ms"], 1375) and close(a["p99_ms"], 1395)
    assert a["current_timeout"] == 1.0 and a["suggested_timeout"] == 5
    # B payment (no timeout row keyed for B? the seed is keyed without version, so B's
    # payment step shares A's timeout): durations 4000 (5 retried) and 4000 -> p95 4000 ms
    bpay = next(r for r in recs if r["type"] == "timeout_optimization" and r["version"] == "2.0.0")
    assert close(bpay["p95_ms"], 4000) and bpay["suggested_timeout"] == 10  # 4 s x 1.5 = 6 -> 10
    # sorted by p95 descending within the type
    assert recs[1] is bpay
    # ship: 100 ms, far below 80 % of 1 s -> no recommendation
    assert all(r["step"] != "ship" for r in recs)
    # fewer than 5 completed executions -> no timeout recommendation
    b = bottlenecks(
        raw,
        AS_OF,
        period=1,
        namespace="ecommerce",
        version="1.0.0",
        timeouts={("ecommerce", "process_order", "payment"): 1.0},
        taxonomy={},
    )
    assert len(b["slowest_steps"]) == 2
    assert b["recommendations"][0]["type"] == "timeout_optimization"
    small = bottlenecks(raw, datetime(2026, 11, 28, 11, 4), timeouts=timeouts, taxonomy={})
    assert not any(r["type"] == "timeout_optimization" and r["version"] == "1.0.0" for r in small["recommendations"])


def test_edge_workload_facts():
    raw = Raw.from_tables(build_edge_tables())
    f = facts(raw, AS_OF)
    tasks = {t.task_id: t for t in f.tasks}
    steps = {s.step_id: s for s in f.steps}
    assert tasks[13].retried and steps[13].attempts == 2 and not steps[13].has_transitions
    assert steps[14].duration_ms == -500 and steps[14].complete_duration is None
    assert tasks[15].duration_ms == 8 * 60_000 and tasks[15].first_in_progress == at("10:00:01")
    assert steps[15].attempts == 2 and steps[15].duration_ms == (at("10:07:59") - at("10:00:02")).total_seconds() * 1000
    assert tasks[16].final_state == "resolved_manually"
    assert tasks[17].duration_ms == 0 and steps[17].settle_time == AS_OF
    assert tasks[18].final_state == "pending"
    assert tasks[19].duration_ms == 7 * 3_600_000
    classes = {(e.step_id, e.at): (e.error_class, e.class_source) for e in f.errors}
    assert classes[(15, at("10:04:59"))] == ("Faraday::TimeoutError", "results")  # JSON null -> results
    assert classes[(16, at("03:00:03"))] == ("Stripe::CardError", "metadata")
    p = performance(raw, AS_OF)
    # settled in 24 h and retried: T1 (S1), T13 (fallback), T15 (S15), T16 (S16: 2 attempts)
    assert p["task_statistics"]["retried"] == 4
    assert p["data_quality"]["negative_durations"] == 1  # T3 only: T14's negative is a step duration
