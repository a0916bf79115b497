"""The `recommendations` of GET /tasker/analytics/bottlenecks against a hand-crafted
workload (docs/API.md, section "GET /tasker/analytics/bottlenecks", the rules, their
thresholds, evidence, impact formula and rationale sentences).

One source dataset, one dbt build. Every rule has a namespace where it must fire and one or
more "near miss" namespaces just short of a threshold where it must not; a healthy
namespace gets nothing. Each namespace is designed so that only its own rule can fire:

- fewer than 20 tasks (no capacity, critical_path or regression: they need 20), or
- a three-step chain load -> transform -> publish whose steps share the critical path
  (each well below 50 %), a queue wait of 100 ms (far below the run time), no retries
  unless the retry rules are the subject, no baseline tasks unless regression is, and
- a namespace / task / step absent from seeds/tasker_analytics__step_timeouts.csv unless timeouts are the
  subject (names used here: ecommerce/process_order/process_payment 15 s,
  payments/charge_subscription/authorize_card 15 s, notifications/deliver_webhook/post_webhook
  30 s; every other namespace is absent from the seed).

Timeline: as_of = 2026-11-28 12:00:00 and period = 24 h unless said otherwise; "current"
tasks are created 20 h .. 7.5 h before as_of and settle within a minute (hour indexes
8..20), "baseline" tasks 30 h .. 80 h before (hour indexes 31..81, inside the 168 h before
a 24 h period: 25..192). Percentiles below are exact `percentile_cont` values; the served
ones may differ by 0.5 % + 0.05 ms (the sketch), so no threshold is within 1 % of a fixture;
given the values, the served percentile is also checked against the documented sketch.

Besides: "edge_*" namespaces sit exactly on an inclusive threshold of an exact figure (and
fire), versions_chain / versions_history pin down which version is "the previous one",
tie_a / tie_b have equal impacts (the contract's tie order), futile_none has no completed
execution (impact 0), and every firing namespace's impact scales by 24 / period.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from litestar.testing import TestClient

from helpers.fixture_tasks import Step, TaskerFixture, fail, ok
from tasker_analytics.api.app import create_app
from tasker_analytics.build.runner import build
from tasker_analytics.config.settings import Settings

BOTTLENECKS = "/tasker/analytics/bottlenecks"
AS_OF = datetime(2026, 11, 28, 12, 0, 0)
QUEUE_MS = 100
CHAIN = ("load", "transform", "publish")
CHAIN_EDGES = [("load", "transform"), ("transform", "publish")]
DIAMOND_EDGES = [("prepare", "heavy"), ("prepare", "light"), ("heavy", "finish"), ("light", "finish")]


def current(i: int) -> datetime:
    """Creation time of the i-th task inside the period (i < 30)."""
    return AS_OF - timedelta(hours=20) + timedelta(minutes=25 * i, seconds=7)


def baseline(i: int) -> datetime:
    """Creation time of the i-th task of the 7-day baseline before a 24 h period (i < 25)."""
    return AS_OF - timedelta(hours=30) - timedelta(hours=2 * i) + timedelta(seconds=7)


def percentile_cont(values: list[float], q: float) -> float:
    ordered = sorted(values)
    h = q * (len(ordered) - 1)
    lo, hi = math.floor(h), math.ceil(h)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def chain_task(
    fx: TaskerFixture, ttype: int, created: datetime, durations: tuple[int, int, int], queue_ms: int = QUEUE_MS
) -> None:
    """load -> transform -> publish: task duration = queue_ms + sum(durations)."""
    steps = [Step(name, [ok(ms)]) for name, ms in zip(CHAIN, durations, strict=True)]
    fx.add_task(ttype, created, queue_ms, steps, CHAIN_EDGES)


def single_step_task(fx: TaskerFixture, ttype: int, created: datetime, step: Step) -> None:
    fx.add_task(ttype, created, QUEUE_MS, [step])


def diamond_task(
    fx: TaskerFixture, ttype: int, created: datetime, prepare: int, heavy: int, light: int, finish: int
) -> None:
    """prepare -> (heavy | light) -> finish."""
    steps = [
        Step("prepare", [ok(prepare)]),
        Step("heavy", [ok(heavy)]),
        Step("light", [ok(light)]),
        Step("finish", [ok(finish)]),
    ]
    fx.add_task(ttype, created, QUEUE_MS, steps, DIAMOND_EDGES)


# --------------------------------------------------------------------------------------
# The fixture and the figures expected from it (arithmetic in the comments)
# --------------------------------------------------------------------------------------

# timeout_optimization fires: ecommerce/process_order/process_payment, T = 15 s. 10 tasks of
# one step (10 < 20: nothing else can fire; no errors).
TIMEOUT_MS = [8000, 9000, 10000, 11000, 12000, 13000, 14000, 16000, 18000, 20000]
# p95: h = 0.95 * 9 = 8.55 -> 18000 + 0.55 * (20000 - 18000) = 19100 >= 0.8 * 15000 = 12000
# p99: h = 0.99 * 9 = 8.91 -> 18000 + 0.91 * 2000 = 19820
# over_timeout: 16000, 18000, 20000 > 15000 -> 3
# suggested_timeout: 19.82 s * 1.5 = 29.73 s -> next multiple of 5 = 30 (any p99 within
#   0.5 % gives 29.58 .. 29.88 -> 30)
# impact: 3 per 24 h * 15000 ms = 45000 ms/day (period 48: 3 * 24/48 * 15000 = 22500)
TIMEOUT_EXPECTED = dict(
    p95=19100.0, p99=19820.0, timeout_ms=15000.0, completed=10, over_timeout=3, current=15, suggested=30, impact=45000.0
)

# near miss: payments/charge_subscription/authorize_card, T = 15 s, 10 completed;
# p95: 11400 + 0.55 * 200 = 11510 < 12000 (4 % short).
TIMEOUT_NEAR_MS = [6000, 7000, 8000, 9000, 10000, 10500, 11000, 11200, 11400, 11600]
# near miss: notifications/deliver_webhook/post_webhook, T = 30 s, all far over but only 4
# completed (< 5).
TIMEOUT_FEW_MS = [40000, 42000, 44000, 46000]
# near miss: untimed/crunch_numbers/crunch, not in the seed: 10 completed of a minute or more.
UNTIMED_MS = [60000 + 1000 * i for i in range(10)]

# retry_policy futile_retries fires: futile/sync_ledger/1.0.0, step call_bank.
#   11 steps fail three times with Net::ReadTimeout (NetworkTimeoutError): never recovered;
#   1 step fails once then completes: 2000 + 1000 backoff + 3000 = 6000 ms;
#   5 steps complete at once: 1000, 2000, 3000, 4000, 5000 ms.
# errored_steps = 12, recovered_steps = 1, retry_success_rate = 1/12 = 0.0833 <= 0.1
# avg_duration_ms (completed) = (1000 + 2000 + 3000 + 4000 + 5000 + 6000) / 6 = 3500
# impact = (12 - 1) unrecovered * 3500 = 38500 ms/day
# Nothing else: 17 settled executions (< 20), 6 completed tasks (< 20), not in the seed.
FUTILE_EXPECTED = dict(errored=12, recovered=1, rate=1 / 12, avg=3500.0, impact=38500.0)
# near misses: futile_near: 19 errored with Errno::ECONNRESET, 2 recovered: 2/19 = 0.105 > 0.1
# (19 settled executions < 20); futile_few: 9 errored (< 10), none recovered.

# retry_policy first_attempt_failures fires: flaky/refresh_rates/1.0.0, step load of the chain.
#   19 executions complete at once in 1000 ms;
#   6 fail once with Faraday::ConnectionFailed (500 ms), then complete: 500 + 1000 + 1000 = 2500.
# execution_count = 25, retried = 6, retry_rate = 6/25 = 0.24 >= 0.2
# retried_completed = 6, retry_success_rate = 6/6 = 1.0 >= 0.9
# avg_retried_ms = 2500, avg_first_attempt_ms = 1000
# impact = 6 * max(0, 2500 - 1000) = 9000 ms/day
# Not futile (6 errored steps < 10, all recovered). Critical path: load 19*1000 + 6*2500 =
# 34000, transform and publish 25 * 1500 = 37500 each, total 109000: shares 0.31, 0.34, 0.34.
FLAKY_EXPECTED = dict(
    count=25,
    retried=6,
    rate=0.24,
    retried_completed=6,
    success=1.0,
    avg_retried=2500.0,
    avg_first=1000.0,
    impact=9000.0,
)
# near misses: flaky_rate: 5 retried of 26 = 0.192 < 0.2; flaky_recovery: 10 retried of 25,
# 8 completed = 0.8 < 0.9 (10 errored, 8 recovered: not futile; critical shares <= 0.34);
# flaky_few: 10 retried of 19 (< 20).

# capacity fires: capacity/render_report/1.0.0, 24 tasks, queue q_i = 4020 + 100 i, chain of
# 3 x 1000 ms -> run time 3000.
CAPACITY_QUEUE_MS = [4020 + 100 * i for i in range(24)]
# avg queue = 4020 + 100 * 11.5 = 5170 >= 3000
# p95 queue: h = 0.95 * 23 = 21.85 -> 6120 + 0.85 * 100 = 6205
# queue_share = 5170 / (5170 + 3000) = 0.632803
# impact = 24 * 5170 = 124080 ms/day
CAPACITY_EXPECTED = dict(
    completed=24, avg_queue=5170.0, avg_run=3000.0, p95_queue=6205.0, share=5170 / 8170, impact=124080.0
)
# near misses: capacity_near: q_i = 1750 + 100 i, avg 2900 < 3000 (3.3 % short);
# capacity_few: 19 tasks queued 10 s each.

# critical_path fires: critical/build_index/1.0.0, 22 tasks prepare(200) -> heavy | light ->
# finish(200); tasks 0..19 heavy 3000 / light 1000, tasks 20, 21 heavy 1000 / light 3000.
# Critical path = 200 + 3000 + 200 = 3400 each, 22 * 3400 = 74800 in all.
# heavy: on_critical_path 20, critical_path_ms 20 * 3000 = 60000, share 60000 / 74800 = 0.802
# (light 6000 / 74800 = 0.08, prepare and finish 4400 / 74800 = 0.06 each)
# impact = 60000 ms/day. Queue 100 ms << run 3400 ms: no capacity advice.
CRITICAL_EXPECTED = dict(analyzed=22, on_path=20, path_ms=60000.0, share=60000 / 74800, impact=60000.0)
# near misses: critical_near: prepare 600, heavy 1100, light 1000, finish 600: heavy
# 1100 / 2300 = 0.478 < 0.5; critical_few: as the firing one with 19 tasks (< 20).

# regression baseline fires: regress/nightly_report/1.0.0, chain, queue 100.
#   baseline (25 tasks): steps 1000 + 10 i -> duration d = 100 + 3 (1000 + 10 i) = 3100 + 30 i
#   period (25 tasks):   steps 2000 + 20 i -> d = 6100 + 60 i
# p95 (h = 0.95 * 24 = 22.8): period 6100 + 60 * 22.8 = 7468; baseline 3100 + 30 * 22.8 = 3784
# ratio = 7468 / 3784 = 1.9736 >= 1.5
# avg: period 6100 + 60 * 12 = 6820; baseline 3100 + 30 * 12 = 3460
# impact = 25 * max(0, 6820 - 3460) = 84000 ms/day
REGRESS_EXPECTED = dict(
    p95=7468.0,
    baseline_p95=3784.0,
    ratio=7468 / 3784,
    completed=25,
    baseline_completed=25,
    avg=6820.0,
    baseline_avg=3460.0,
    impact=84000.0,
)
# near misses: regress_near: period steps 1550 + 10 i -> d = 4750 + 30 i, p95 5434,
# ratio 5434 / 3784 = 1.436 < 1.5; regress_few: only 19 baseline tasks (< 20) in hours
# 25..192, and 6 more in hours 201..206, before the baseline window (they must not count).

# regression previous_version fires: versions/import_feed, version 1.9.0 (older: two tasks
# in the baseline window and 22 created 22 h .. 15 h before as_of) then 1.10.0 (22 tasks
# created 12 h .. 5 h before as_of). "1.10.0" < "1.9.0" as strings: the order must come
# from the first created_at, not from the version string.
#   1.9.0 in the period:  steps 1000 + 10 i -> d = 3100 + 30 i (i < 22)
#   1.10.0:               steps 2000 + 20 i -> d = 6100 + 60 i (i < 22)
# p95 (h = 0.95 * 21 = 19.95): 1.10.0 6100 + 60 * 19.95 = 7297; 1.9.0 3100 + 30 * 19.95 = 3698.5
# ratio = 7297 / 3698.5 = 1.973
# avg: 6100 + 60 * 10.5 = 6730; 3100 + 30 * 10.5 = 3415
# impact = 22 * (6730 - 3415) = 72930 ms/day
# 1.9.0 has only 2 baseline tasks (< 20): no baseline regression for either version.
VERSIONS_EXPECTED = dict(
    p95=7297.0,
    baseline_p95=3698.5,
    ratio=7297 / 3698.5,
    completed=22,
    baseline_completed=22,
    avg=6730.0,
    baseline_avg=3415.0,
    impact=72930.0,
)
# near misses: versions_near: newer steps 1580 + 10 i -> d = 4840 + 30 i, p95 5438.5,
# ratio 5438.5 / 3698.5 = 1.470 < 1.5; versions_few: the newer version has 19 tasks (< 20).
# Two more firing cases with the same figures as "versions" (impact 72930 each):
# - versions_chain: 1.0.0 (fast, created 23 h .. 19.5 h ago), 1.1.0 (slow, 19 h .. 15.5 h),
#   1.2.0 (as slow as 1.1.0, 15 h .. 11.5 h): 1.1.0 regressed against 1.0.0; 1.2.0 is
#   compared with 1.1.0 only (ratio 1.0), not with 1.0.0: one recommendation.
# - versions_history: 3.0.0 (slow) has all its tasks 22 h .. 15 h ago; 2.0.0 (fast) has 22
#   tasks 12 h .. 5 h ago but its first task 400 h ago: 2.0.0 appeared first, so 3.0.0
#   regressed against it (ordering by the first created_at of all its tasks, not only of
#   those in the period or the rollups).
# A tie of impact within one type (72930 again, task name tie_report): tie_a has a
# previous_version regression (1.0.0 fast 22 h .. 15 h ago, 1.1.0 slow 12 h .. 5 h ago),
# tie_b a baseline regression (22 baseline tasks 3100 + 30 i, 22 current 6100 + 60 i: p95
# 7297 vs 3698.5, avg 6730 vs 3415, impact 22 * 3315 = 72930). The contract's order after
# impact is type, namespace, task name, version, step: tie_a first (the pattern is no key).
# futile_retries counts per (step, error type): futile_mixed/sync_ledger/call_bank has
#   10 steps: Net::ReadTimeout, then Stripe::CardError twice -> error (both types, unrecovered);
#   12 steps: Net::ReadTimeout, then complete: 2000 + 1000 + 3000 = 6000 ms (recovered).
# NetworkTimeoutError: 22 errored, 12 recovered (0.55): no. PaymentDeclinedError: 10 errored,
# 0 recovered: fires, avg_duration_ms 6000, impact 10 * 6000 = 60000. 22 executions all
# retried but 12/22 = 0.55 < 0.9 completed: no first_attempt_failures; 12 completed tasks.
# futile_retries with nothing recovered and no completed execution: futile_none/sync_ledger/
# call_bank, 10 steps fail three times (Net::ReadTimeout): fires, avg_duration_ms null and
# impact 0 ("0 when there is none").

NEAR_MISSES = {
    "timeout_optimization": ["payments", "notifications", "untimed"],
    "futile_retries": ["futile_near", "futile_few"],
    "first_attempt_failures": ["flaky_rate", "flaky_recovery", "flaky_few"],
    "capacity": ["capacity_near", "capacity_few"],
    "critical_path": ["critical_near", "critical_few"],
    "baseline": ["regress_near", "regress_few"],
    "previous_version": ["versions_near", "versions_few"],
}
QUIET_NAMESPACES = ["healthy", *(ns for names in NEAR_MISSES.values() for ns in names)]

# Exactly at a threshold ("at least", ">=", "<=" include it): these fire. Counts and rates are
# exact, so the boundary is hit exactly (4/20 == 0.2, 1/10 == 0.1, 9/10 == 0.9 in doubles).
# - edge_futile/sync_ledger/call_bank: 10 steps errored with Stripe::CardError
#   (PaymentDeclinedError), 1 recovered (2000 + 1000 + 3000 = 6000 ms): rate 1/10 = 0.1;
#   impact 9 unrecovered * 6000 = 54000. 10 settled executions, 1 completed task: nothing else.
# - edge_flaky/refresh_rates/load: 20 executions, 4 retried and completed: rate 4/20 = 0.2;
#   impact 4 * (2500 - 1000) = 6000. Critical shares: load 16*1000 + 4*2500 = 26000,
#   transform and publish 30000 each of 86000: at most 0.35.
# - edge_recovery/refresh_rates/load: 20 executions, 10 retried, 9 of them completed: 9/10 =
#   0.9; impact 9 * (2500 - 1000) = 13500. Only 19 completed tasks (no critical path); 10
#   errored steps but 9 recovered (not futile).
# - edge_capacity/render_report: 20 tasks, queue 3000 = run 3000 (3 x 1000): queue_share 0.5;
#   impact 20 * 3000 = 60000, the same as critical's: the tie goes to the type, capacity first.
# - edge_critical/build_index: 20 tasks prepare 500 -> heavy 1000 | light 400 -> finish 500:
#   path 2000, heavy 20000 / 40000 = 0.5 exactly (prepare and finish 0.25); impact 20000.
BOUNDARY = {
    "edge_futile": ("retry_policy", "futile_retries", "sync_ledger", "call_bank", 54000.0),
    "edge_flaky": ("retry_policy", "first_attempt_failures", "refresh_rates", "load", 6000.0),
    "edge_recovery": ("retry_policy", "first_attempt_failures", "refresh_rates", "load", 13500.0),
    "edge_capacity": ("capacity", None, "render_report", None, 60000.0),
    "edge_critical": ("critical_path", None, "build_index", "heavy", 20000.0),
}


def build_fixture() -> TaskerFixture:
    fx = TaskerFixture()

    # ---- timeout_optimization
    for namespace, task, step, durations in [
        ("ecommerce", "process_order", "process_payment", TIMEOUT_MS),
        ("payments", "charge_subscription", "authorize_card", TIMEOUT_NEAR_MS),
        ("notifications", "deliver_webhook", "post_webhook", TIMEOUT_FEW_MS),
        ("untimed", "crunch_numbers", "crunch", UNTIMED_MS),
    ]:
        ttype = fx.task_type(namespace, task)
        for i, ms in enumerate(durations):
            single_step_task(fx, ttype, current(i), Step(step, [ok(ms)]))

    # ---- retry_policy futile_retries
    def futile(namespace: str, error_class: str, unrecovered: int, recovered: int, clean: list[int]) -> None:
        ttype = fx.task_type(namespace, "sync_ledger")
        i = 0
        for _ in range(unrecovered):
            single_step_task(fx, ttype, current(i), Step("call_bank", [fail(2000, error_class)] * 3))
            i += 1
        for _ in range(recovered):
            single_step_task(fx, ttype, current(i), Step("call_bank", [fail(2000, error_class), ok(3000)]))
            i += 1
        for ms in clean:
            single_step_task(fx, ttype, current(i), Step("call_bank", [ok(ms)]))
            i += 1

    futile("futile", "Net::ReadTimeout", 11, 1, [1000, 2000, 3000, 4000, 5000])
    futile("futile_near", "Errno::ECONNRESET", 17, 2, [])
    futile("futile_few", "Net::ReadTimeout", 9, 0, [])
    futile("futile_none", "Net::ReadTimeout", 10, 0, [])
    ttype = fx.task_type("futile_mixed", "sync_ledger")
    for i in range(22):
        attempts = [fail(2000, "Net::ReadTimeout"), *([fail(2000, "Stripe::CardError")] * 2 if i < 10 else [ok(3000)])]
        single_step_task(fx, ttype, current(i), Step("call_bank", attempts))
    futile("edge_futile", "Stripe::CardError", 9, 1, [])

    # ---- retry_policy first_attempt_failures (the chain's first step "load" is retried)
    def flaky(namespace: str, clean: int, recovered: int, exhausted: int) -> None:
        ttype = fx.task_type(namespace, "refresh_rates")
        attempts = [[ok(1000)]] * clean + [[fail(500, "Faraday::ConnectionFailed"), ok(1000)]] * recovered
        attempts += [[fail(500, "Faraday::ConnectionFailed")] * 3] * exhausted
        for i, load in enumerate(attempts):
            steps = [Step("load", load), Step("transform", [ok(1500)]), Step("publish", [ok(1500)])]
            fx.add_task(ttype, current(i), QUEUE_MS, steps, CHAIN_EDGES)

    flaky("flaky", clean=19, recovered=6, exhausted=0)
    flaky("flaky_rate", clean=21, recovered=5, exhausted=0)
    flaky("flaky_recovery", clean=15, recovered=8, exhausted=2)
    flaky("flaky_few", clean=9, recovered=10, exhausted=0)
    flaky("edge_flaky", clean=16, recovered=4, exhausted=0)
    flaky("edge_recovery", clean=10, recovered=9, exhausted=1)

    # ---- capacity
    for namespace, queues in [
        ("capacity", CAPACITY_QUEUE_MS),
        ("capacity_near", [1750 + 100 * i for i in range(24)]),
        ("capacity_few", [10000] * 19),
        ("edge_capacity", [3000] * 20),
    ]:
        ttype = fx.task_type(namespace, "render_report")
        for i, queue_ms in enumerate(queues):
            chain_task(fx, ttype, current(i), (1000, 1000, 1000), queue_ms=queue_ms)

    # ---- critical_path
    ttype = fx.task_type("critical", "build_index")
    for i in range(22):
        diamond_task(fx, ttype, current(i), 200, *((3000, 1000) if i < 20 else (1000, 3000)), 200)
    ttype = fx.task_type("critical_near", "build_index")
    for i in range(22):
        diamond_task(fx, ttype, current(i), 600, 1100, 1000, 600)
    ttype = fx.task_type("critical_few", "build_index")
    for i in range(19):
        diamond_task(fx, ttype, current(i), 200, 3000, 1000, 200)
    ttype = fx.task_type("edge_critical", "build_index")
    for i in range(20):
        diamond_task(fx, ttype, current(i), 500, 1000, 400, 500)

    # ---- regression baseline
    for namespace, baseline_tasks, step_ms in [
        ("regress", 25, lambda i: 2000 + 20 * i),
        ("regress_near", 25, lambda i: 1550 + 10 * i),
        ("regress_few", 19, lambda i: 2000 + 20 * i),
    ]:
        ttype = fx.task_type(namespace, "nightly_report")
        for i in range(baseline_tasks):
            ms = 1000 + 10 * i
            chain_task(fx, ttype, baseline(i), (ms, ms, ms))
        for i in range(25):
            ms = step_ms(i)
            chain_task(fx, ttype, current(i), (ms, ms, ms))
        if namespace == "regress_few":  # before the baseline window: hours 201..206
            for i in range(6):
                chain_task(fx, ttype, AS_OF - timedelta(hours=200 + i, minutes=30), (1000, 1000, 1000))

    # ---- regression previous_version
    for namespace, newer_tasks, newer_ms in [
        ("versions", 22, lambda i: 2000 + 20 * i),
        ("versions_near", 22, lambda i: 1580 + 10 * i),
        ("versions_few", 19, lambda i: 2000 + 20 * i),
    ]:
        older = fx.task_type(namespace, "import_feed", "1.9.0")
        newer = fx.task_type(namespace, "import_feed", "1.10.0")
        for hours in (40, 41):
            chain_task(fx, older, AS_OF - timedelta(hours=hours), (1000, 1000, 1000))
        for i in range(22):
            ms = 1000 + 10 * i
            chain_task(fx, older, AS_OF - timedelta(hours=22) + timedelta(minutes=20 * i, seconds=7), (ms, ms, ms))
        for i in range(newer_tasks):
            ms = newer_ms(i)
            chain_task(fx, newer, AS_OF - timedelta(hours=12) + timedelta(minutes=20 * i, seconds=7), (ms, ms, ms))

    def run(ttype: int, first: datetime, count: int, step_ms) -> None:
        for i in range(count):
            ms = step_ms(i)
            chain_task(fx, ttype, first + timedelta(minutes=10 * i, seconds=7), (ms, ms, ms))

    def fast(i: int) -> int:
        return 1000 + 10 * i

    def slow(i: int) -> int:
        return 2000 + 20 * i

    run(fx.task_type("versions_chain", "import_feed", "1.0.0"), AS_OF - timedelta(hours=23), 22, fast)
    run(fx.task_type("versions_chain", "import_feed", "1.1.0"), AS_OF - timedelta(hours=19), 22, slow)
    run(fx.task_type("versions_chain", "import_feed", "1.2.0"), AS_OF - timedelta(hours=15), 22, slow)
    older = fx.task_type("versions_history", "import_feed", "2.0.0")
    newer = fx.task_type("versions_history", "import_feed", "3.0.0")
    chain_task(fx, older, AS_OF - timedelta(hours=400), (1000, 1000, 1000))
    for i in range(22):
        chain_task(fx, newer, AS_OF - timedelta(hours=22) + timedelta(minutes=20 * i, seconds=7), (slow(i),) * 3)
        chain_task(fx, older, AS_OF - timedelta(hours=12) + timedelta(minutes=20 * i, seconds=7), (fast(i),) * 3)

    older = fx.task_type("tie_a", "tie_report", "1.0.0")
    newer = fx.task_type("tie_a", "tie_report", "1.1.0")
    ttype = fx.task_type("tie_b", "tie_report", "1.0.0")
    for i in range(22):
        chain_task(fx, older, AS_OF - timedelta(hours=22) + timedelta(minutes=20 * i, seconds=7), (fast(i),) * 3)
        chain_task(fx, newer, AS_OF - timedelta(hours=12) + timedelta(minutes=20 * i, seconds=7), (slow(i),) * 3)
        chain_task(fx, ttype, baseline(i), (fast(i),) * 3)
        chain_task(fx, ttype, current(i), (slow(i),) * 3)

    # ---- healthy: 30 tasks now and 25 in the baseline with the same durations, balanced
    # chain (shares 0.30 / 0.33 / 0.36), queue 100 ms, no errors, not in the seed.
    ttype = fx.task_type("healthy", "send_newsletter")
    for i in range(25):
        chain_task(fx, ttype, baseline(i), (1000 + 10 * i, 1100 + 10 * i, 1200 + 10 * i))
    for i in range(30):
        chain_task(fx, ttype, current(i), (1000 + 10 * (i % 25), 1100 + 10 * (i % 25), 1200 + 10 * (i % 25)))
    return fx


@pytest.fixture(scope="session")
def recommendation_warehouse(tmp_path_factory):
    directory = tmp_path_factory.mktemp("recommendations")
    source = directory / "tasker_source.duckdb"
    warehouse = directory / "tasker_analytics.duckdb"
    build_fixture().write(str(source))
    build(
        Settings(duckdb_path=warehouse),
        source_duckdb=str(source),
        as_of=AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env={"DBT_TARGET_PATH": str(directory / "target"), "DBT_LOG_PATH": str(directory / "logs")},
    )
    return warehouse


@pytest.fixture(scope="module")
def rec_client(recommendation_warehouse):
    with TestClient(create_app(Settings(duckdb_path=recommendation_warehouse))) as test_client:
        yield test_client


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def recommendations(client, **params) -> list[dict]:
    params.setdefault("period", 24)
    params.setdefault("limit", 50)
    response = client.get(BOTTLENECKS, params=params)
    assert response.status_code == 200, response.text
    return response.json()["recommendations"]


def only(items: list[dict], kind: str, pattern: str | None = None) -> dict:
    found = [r for r in items if r["type"] == kind and r.get("pattern") == pattern]
    assert len(found) == 1, items
    return found[0]


SKETCH_ALPHA = 0.005
SKETCH_GAMMA = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA)


def sketch_value(x: float) -> float:
    """The representative value of the sketch bucket holding x (docs/API.md, "Served from rollups")."""
    if x == 0:
        return 0.0
    return 2 * SKETCH_GAMMA ** math.ceil(math.log(x) / math.log(SKETCH_GAMMA)) / (SKETCH_GAMMA + 1)


def assert_percentile(served: float, exact: float, values: list[float] | None = None, q: float | None = None) -> None:
    """The sketch's promise: within 0.5 % of percentile_cont, plus 0.05 ms of rounding; given the
    values, also exactly the documented sketch (percentile_cont over bucket representatives)."""
    assert abs(served - exact) <= 0.005 * abs(exact) + 0.05 + 1e-9, (served, exact)
    if values is not None:
        assert percentile_cont(values, q) == pytest.approx(exact)
        sketched = percentile_cont([sketch_value(v) for v in values], q)
        assert abs(served - sketched) <= 0.05 + 1e-6, (served, sketched)


def assert_exact_ms(served: float, exact: float) -> None:
    assert abs(served - exact) <= 0.05 + 1e-9, (served, exact)


def assert_rate(served: float, exact: float) -> None:
    """Exact, up to the four decimals rates are served with."""
    assert abs(served - exact) <= 0.00005 + 1e-9, (served, exact)


def assert_ratio(served: float, p95: float, baseline_p95: float, exact: float) -> None:
    assert abs(served - p95 / baseline_p95) <= 0.005 + 1e-6, (served, p95, baseline_p95)
    assert abs(served - exact) <= 0.0101 * exact + 0.005, (served, exact)


def sec(ms: float) -> str:
    return f"{ms / 1000:.1f}s"


def pct(rate: float) -> str:
    return f"{rate * 100:.1f}%"


def times(ratio: float) -> str:
    return f"{ratio:.2f}x"


def assert_target(rec: dict, namespace: str, task_name: str, version: str, step: str | None) -> None:
    assert (rec["namespace"], rec["task_name"], rec["version"], rec["step"]) == (namespace, task_name, version, step)


# --------------------------------------------------------------------------------------
# One test per rule: it fires where it must, with hand-computed evidence
# --------------------------------------------------------------------------------------


def test_timeout_optimization_fires_with_hand_computed_evidence(rec_client):
    [rec] = recommendations(rec_client, namespace="ecommerce")
    expected = TIMEOUT_EXPECTED
    assert rec["type"] == "timeout_optimization"
    assert_target(rec, "ecommerce", "process_order", "1.0.0", "process_payment")
    evidence = rec["evidence"]
    assert_percentile(evidence["p95_ms"], expected["p95"], TIMEOUT_MS, 0.95)
    assert_percentile(evidence["p99_ms"], expected["p99"], TIMEOUT_MS, 0.99)
    assert evidence["timeout_ms"] == expected["timeout_ms"]
    assert evidence["completed"] == expected["completed"]
    assert evidence["over_timeout"] == expected["over_timeout"]
    assert rec["current_timeout"] == expected["current"]
    assert rec["suggested_timeout"] == expected["suggested"]
    assert rec["p95_ms"] == evidence["p95_ms"] and rec["p99_ms"] == evidence["p99_ms"]
    # over_timeout per day x T
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(evidence["over_timeout"] * evidence["timeout_ms"])
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(expected["impact"])
    assert rec["rationale"] == (
        f"p95 {sec(evidence['p95_ms'])} and p99 {sec(evidence['p99_ms'])} against a "
        f"{rec['current_timeout']}s timeout; 3 of 10 completed executions ran longer"
    )
    # {T} is the seed's timeout in whole seconds (current_timeout), not a duration in ms
    assert rec["rationale"].endswith("against a 15s timeout; 3 of 10 completed executions ran longer")


def test_impact_scales_to_a_day(rec_client):
    """A 48 h period holding the same executions: half the impact per day, same evidence."""
    [rec] = recommendations(rec_client, namespace="ecommerce", period=48)
    assert rec["type"] == "timeout_optimization"
    assert rec["evidence"]["over_timeout"] == 3 and rec["evidence"]["completed"] == 10
    # 3 over the timeout in 48 h -> 1.5 per day x 15000 ms
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(22500.0)


@pytest.mark.parametrize("period", [48, 168])
@pytest.mark.parametrize(
    ("namespace", "impact_24h"),
    [
        ("ecommerce", 45000.0),
        ("futile", 38500.0),
        ("flaky", 9000.0),
        ("capacity", 124080.0),
        ("critical", 60000.0),
        ("edge_futile", 54000.0),
    ],
)
def test_every_rule_scales_its_impact_by_24_over_the_period(rec_client, namespace, impact_24h, period):
    """These namespaces have no task outside hours 8..20, so a longer period holds the same
    executions and the same evidence; the figures per day shrink by 24 / period."""
    [at_24] = recommendations(rec_client, namespace=namespace, period=24)
    [rec] = recommendations(rec_client, namespace=namespace, period=period)
    for key in ("type", "pattern", "evidence", "rationale"):
        assert rec.get(key) == at_24.get(key), key
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(impact_24h * 24 / period, abs=0.05)


def test_futile_retries_fires_with_hand_computed_evidence(rec_client):
    [rec] = recommendations(rec_client, namespace="futile")
    expected = FUTILE_EXPECTED
    assert (rec["type"], rec["pattern"], rec["error_type"]) == ("retry_policy", "futile_retries", "NetworkTimeoutError")
    assert_target(rec, "futile", "sync_ledger", "1.0.0", "call_bank")
    evidence = rec["evidence"]
    assert evidence["errored_steps"] == expected["errored"]
    assert evidence["recovered_steps"] == expected["recovered"]
    assert_rate(evidence["retry_success_rate"], expected["rate"])
    assert_exact_ms(evidence["avg_duration_ms"], expected["avg"])
    # unrecovered per day x the average duration of completed executions
    unrecovered = evidence["errored_steps"] - evidence["recovered_steps"]
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(unrecovered * evidence["avg_duration_ms"], abs=1.0)
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(expected["impact"], abs=0.05)
    assert rec["rationale"] == (
        f"1 of 12 steps that failed with NetworkTimeoutError later completed "
        f"({pct(evidence['retry_success_rate'])}); retrying rarely helps"
    )
    assert pct(evidence["retry_success_rate"]) == "8.3%"


def test_first_attempt_failures_fires_with_hand_computed_evidence(rec_client):
    [rec] = recommendations(rec_client, namespace="flaky")
    expected = FLAKY_EXPECTED
    assert (rec["type"], rec["pattern"]) == ("retry_policy", "first_attempt_failures")
    assert_target(rec, "flaky", "refresh_rates", "1.0.0", "load")
    evidence = rec["evidence"]
    assert evidence["execution_count"] == expected["count"]
    assert evidence["retried"] == expected["retried"]
    assert_rate(evidence["retry_rate"], expected["rate"])
    assert evidence["retried_completed"] == expected["retried_completed"]
    assert_rate(evidence["retry_success_rate"], expected["success"])
    assert_exact_ms(evidence["avg_retried_ms"], expected["avg_retried"])
    assert_exact_ms(evidence["avg_first_attempt_ms"], expected["avg_first"])
    # retried completed per day x max(0, avg_retried - avg_first_attempt)
    formula = evidence["retried_completed"] * max(0.0, evidence["avg_retried_ms"] - evidence["avg_first_attempt_ms"])
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(formula, abs=1.0)
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(expected["impact"], abs=0.05)
    assert rec["rationale"] == (
        f"6 of 25 executions ({pct(evidence['retry_rate'])}) needed a retry and 6 of those completed "
        f"({pct(evidence['retry_success_rate'])}); first attempts fail often"
    )
    assert rec["rationale"] == (
        "6 of 25 executions (24.0%) needed a retry and 6 of those completed (100.0%); first attempts fail often"
    )


def test_capacity_fires_with_hand_computed_evidence(rec_client):
    [rec] = recommendations(rec_client, namespace="capacity")
    expected = CAPACITY_EXPECTED
    assert rec["type"] == "capacity"
    assert_target(rec, "capacity", "render_report", "1.0.0", None)
    evidence = rec["evidence"]
    assert evidence["completed"] == expected["completed"]
    assert_exact_ms(evidence["avg_queue_wait_ms"], expected["avg_queue"])
    assert_exact_ms(evidence["avg_run_time_ms"], expected["avg_run"])
    assert_percentile(evidence["p95_queue_wait_ms"], expected["p95_queue"], CAPACITY_QUEUE_MS, 0.95)
    assert_rate(evidence["queue_share"], expected["share"])
    # completed per day x average queue wait
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(
        evidence["completed"] * evidence["avg_queue_wait_ms"], abs=2.0
    )
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(expected["impact"], abs=0.05)
    assert rec["rationale"] == (
        f"tasks waited {sec(evidence['avg_queue_wait_ms'])} in queue on average against "
        f"{sec(evidence['avg_run_time_ms'])} of run time ({pct(evidence['queue_share'])} queued) "
        f"over 24 completed tasks"
    )
    assert rec["rationale"] == (
        "tasks waited 5.2s in queue on average against 3.0s of run time (63.3% queued) over 24 completed tasks"
    )


def test_critical_path_fires_with_hand_computed_evidence(rec_client):
    [rec] = recommendations(rec_client, namespace="critical")
    expected = CRITICAL_EXPECTED
    assert rec["type"] == "critical_path"
    assert_target(rec, "critical", "build_index", "1.0.0", "heavy")
    evidence = rec["evidence"]
    assert evidence["tasks_analyzed"] == expected["analyzed"]
    assert evidence["on_critical_path"] == expected["on_path"]
    assert_exact_ms(evidence["critical_path_ms"], expected["path_ms"])
    assert_rate(evidence["share"], expected["share"])
    # critical_path_ms per day
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(evidence["critical_path_ms"], abs=0.05)
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(expected["impact"], abs=0.05)
    assert rec["rationale"] == (
        f"heavy makes up {pct(evidence['share'])} of critical-path time, on the critical path of 20 of 22 tasks"
    )
    assert rec["rationale"] == "heavy makes up 80.2% of critical-path time, on the critical path of 20 of 22 tasks"


def test_regression_against_the_baseline_fires_with_hand_computed_evidence(rec_client):
    [rec] = recommendations(rec_client, namespace="regress")
    expected = REGRESS_EXPECTED
    assert (rec["type"], rec["pattern"]) == ("regression", "baseline")
    assert_target(rec, "regress", "nightly_report", "1.0.0", None)
    evidence = rec["evidence"]
    assert_percentile(evidence["p95_ms"], expected["p95"], [6100 + 60 * i for i in range(25)], 0.95)
    assert_percentile(evidence["baseline_p95_ms"], expected["baseline_p95"], [3100 + 30 * i for i in range(25)], 0.95)
    assert_ratio(evidence["ratio"], evidence["p95_ms"], evidence["baseline_p95_ms"], expected["ratio"])
    assert evidence["completed"] == expected["completed"]
    assert evidence["baseline_completed"] == expected["baseline_completed"]
    assert_exact_ms(evidence["avg_ms"], expected["avg"])
    assert_exact_ms(evidence["baseline_avg_ms"], expected["baseline_avg"])
    # completed per day x max(0, avg - baseline avg)
    formula = evidence["completed"] * max(0.0, evidence["avg_ms"] - evidence["baseline_avg_ms"])
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(formula, abs=3.0)
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(expected["impact"], abs=0.05)
    assert rec["rationale"] == (
        f"p95 rose to {sec(evidence['p95_ms'])} from {sec(evidence['baseline_p95_ms'])} over the previous 7 days "
        f"({times(evidence['ratio'])}) across 25 completed tasks"
    )


def test_regression_against_the_previous_version_fires_with_hand_computed_evidence(rec_client):
    [rec] = recommendations(rec_client, namespace="versions")
    expected = VERSIONS_EXPECTED
    assert (rec["type"], rec["pattern"]) == ("regression", "previous_version")
    # the newer version by first created_at, although "1.10.0" < "1.9.0" as strings
    assert_target(rec, "versions", "import_feed", "1.10.0", None)
    evidence = rec["evidence"]
    assert evidence["previous_version"] == "1.9.0"
    assert_percentile(evidence["p95_ms"], expected["p95"], [6100 + 60 * i for i in range(22)], 0.95)
    assert_percentile(evidence["baseline_p95_ms"], expected["baseline_p95"], [3100 + 30 * i for i in range(22)], 0.95)
    assert_ratio(evidence["ratio"], evidence["p95_ms"], evidence["baseline_p95_ms"], expected["ratio"])
    assert evidence["completed"] == expected["completed"]
    assert evidence["baseline_completed"] == expected["baseline_completed"]
    assert_exact_ms(evidence["avg_ms"], expected["avg"])
    assert_exact_ms(evidence["baseline_avg_ms"], expected["baseline_avg"])
    formula = evidence["completed"] * max(0.0, evidence["avg_ms"] - evidence["baseline_avg_ms"])
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(formula, abs=3.0)
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(expected["impact"], abs=0.05)
    assert rec["rationale"] == (
        f"p95 of version 1.10.0 is {sec(evidence['p95_ms'])} against {sec(evidence['baseline_p95_ms'])} "
        f"for version 1.9.0 ({times(evidence['ratio'])})"
    )


@pytest.mark.parametrize("namespace", sorted(BOUNDARY))
def test_a_figure_exactly_at_its_threshold_fires(rec_client, namespace):
    kind, pattern, task_name, step, impact = BOUNDARY[namespace]
    [rec] = recommendations(rec_client, namespace=namespace)
    assert (rec["type"], rec.get("pattern")) == (kind, pattern)
    assert_target(rec, namespace, task_name, "1.0.0", step)
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(impact, abs=0.05)
    evidence = rec["evidence"]
    if namespace == "edge_futile":
        assert rec["error_type"] == "PaymentDeclinedError"
        assert (evidence["errored_steps"], evidence["recovered_steps"]) == (10, 1)
        assert_rate(evidence["retry_success_rate"], 0.1)
        assert_exact_ms(evidence["avg_duration_ms"], 6000.0)
        assert rec["rationale"] == (
            "1 of 10 steps that failed with PaymentDeclinedError later completed (10.0%); retrying rarely helps"
        )
    elif namespace == "edge_flaky":
        assert (evidence["execution_count"], evidence["retried"], evidence["retried_completed"]) == (20, 4, 4)
        assert_rate(evidence["retry_rate"], 0.2)
        assert rec["rationale"] == (
            "4 of 20 executions (20.0%) needed a retry and 4 of those completed (100.0%); first attempts fail often"
        )
    elif namespace == "edge_recovery":
        assert (evidence["execution_count"], evidence["retried"], evidence["retried_completed"]) == (20, 10, 9)
        assert_rate(evidence["retry_success_rate"], 0.9)
        assert rec["rationale"] == (
            "10 of 20 executions (50.0%) needed a retry and 9 of those completed (90.0%); first attempts fail often"
        )
    elif namespace == "edge_capacity":
        assert evidence["completed"] == 20
        assert_exact_ms(evidence["avg_queue_wait_ms"], 3000.0)
        assert_exact_ms(evidence["avg_run_time_ms"], 3000.0)
        assert_percentile(evidence["p95_queue_wait_ms"], 3000.0, [3000] * 20, 0.95)
        assert_rate(evidence["queue_share"], 0.5)
        assert rec["rationale"] == (
            "tasks waited 3.0s in queue on average against 3.0s of run time (50.0% queued) over 20 completed tasks"
        )
    else:
        assert (evidence["tasks_analyzed"], evidence["on_critical_path"]) == (20, 20)
        assert_exact_ms(evidence["critical_path_ms"], 20000.0)
        assert_rate(evidence["share"], 0.5)
        assert rec["rationale"] == (
            "heavy makes up 50.0% of critical-path time, on the critical path of 20 of 20 tasks"
        )


# --------------------------------------------------------------------------------------
# Near misses and the healthy namespace: nothing
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", QUIET_NAMESPACES)
def test_near_misses_and_healthy_data_get_no_advice(rec_client, namespace):
    assert recommendations(rec_client, namespace=namespace) == []


def test_healthy_namespace_gets_an_empty_list_at_every_period(rec_client):
    for period in (1, 24, 48, 168):
        assert recommendations(rec_client, namespace="healthy", period=period) == []


# --------------------------------------------------------------------------------------
# All scopes together: exactly the seven, sorted by impact, cut at limit
# --------------------------------------------------------------------------------------

EXPECTED_ORDER = [
    # (type, pattern, namespace, step, impact): impact descending, then type, namespace, ...
    ("capacity", None, "capacity", None, 124080.0),
    ("regression", "baseline", "regress", None, 84000.0),
    ("regression", "previous_version", "tie_a", None, 72930.0),
    ("regression", "baseline", "tie_b", None, 72930.0),
    ("regression", "previous_version", "versions", None, 72930.0),
    ("regression", "previous_version", "versions_chain", None, 72930.0),
    ("regression", "previous_version", "versions_history", None, 72930.0),
    ("capacity", None, "edge_capacity", None, 60000.0),
    ("critical_path", None, "critical", "heavy", 60000.0),
    ("retry_policy", "futile_retries", "futile_mixed", "call_bank", 60000.0),
    ("retry_policy", "futile_retries", "edge_futile", "call_bank", 54000.0),
    ("timeout_optimization", None, "ecommerce", "process_payment", 45000.0),
    ("retry_policy", "futile_retries", "futile", "call_bank", 38500.0),
    ("critical_path", None, "edge_critical", "heavy", 20000.0),
    ("retry_policy", "first_attempt_failures", "edge_recovery", "load", 13500.0),
    ("retry_policy", "first_attempt_failures", "flaky", "load", 9000.0),
    ("retry_policy", "first_attempt_failures", "edge_flaky", "load", 6000.0),
    ("retry_policy", "futile_retries", "futile_none", "call_bank", 0.0),
]


def test_all_namespaces_together_give_exactly_the_firing_rules_sorted_by_impact(rec_client):
    """The union of the per-namespace advice (nothing leaks across namespaces), in the
    contract's order: impact descending, then type (edge_capacity before critical at 60000)."""
    items = recommendations(rec_client)
    served = [(r["type"], r.get("pattern"), r["namespace"], r["step"]) for r in items]
    expected = [row[:4] for row in EXPECTED_ORDER]
    assert sorted(served, key=repr) == sorted(expected, key=repr)  # the same advice ...
    impacts = [r["estimated_impact_ms_per_day"] for r in items]
    assert impacts == sorted(impacts, reverse=True)  # ... by impact ...
    for key, impact in zip(served, impacts, strict=True):
        assert impact == pytest.approx(EXPECTED_ORDER[expected.index(key)][4], abs=0.05), key
    assert served == expected  # ... and ties in the contract's order


@pytest.mark.parametrize(
    ("namespace", "version", "previous"),
    [
        ("versions_chain", "1.1.0", "1.0.0"),
        ("versions_history", "3.0.0", "2.0.0"),
    ],
)
def test_previous_version_is_the_one_that_appeared_just_before(rec_client, namespace, version, previous):
    [rec] = recommendations(rec_client, namespace=namespace)
    assert (rec["type"], rec["pattern"]) == ("regression", "previous_version")
    assert_target(rec, namespace, "import_feed", version, None)
    evidence = rec["evidence"]
    assert evidence["previous_version"] == previous
    assert (evidence["completed"], evidence["baseline_completed"]) == (22, 22)
    assert_percentile(evidence["p95_ms"], 7297.0, [6100 + 60 * i for i in range(22)], 0.95)
    assert_percentile(evidence["baseline_p95_ms"], 3698.5, [3100 + 30 * i for i in range(22)], 0.95)
    assert_exact_ms(evidence["avg_ms"], 6730.0)
    assert_exact_ms(evidence["baseline_avg_ms"], 3415.0)
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(72930.0, abs=0.05)
    assert rec["rationale"] == (
        f"p95 of version {version} is {sec(evidence['p95_ms'])} against {sec(evidence['baseline_p95_ms'])} "
        f"for version {previous} ({times(evidence['ratio'])})"
    )


def test_futile_retries_counts_steps_per_error_type(rec_client):
    [rec] = recommendations(rec_client, namespace="futile_mixed")
    assert (rec["type"], rec["pattern"]) == ("retry_policy", "futile_retries")
    assert rec["error_type"] == "PaymentDeclinedError"
    assert_target(rec, "futile_mixed", "sync_ledger", "1.0.0", "call_bank")
    evidence = rec["evidence"]
    assert (evidence["errored_steps"], evidence["recovered_steps"]) == (10, 0)
    assert evidence["retry_success_rate"] == 0
    assert_exact_ms(evidence["avg_duration_ms"], 6000.0)
    assert rec["estimated_impact_ms_per_day"] == pytest.approx(60000.0, abs=0.05)
    assert rec["rationale"] == (
        "0 of 10 steps that failed with PaymentDeclinedError later completed (0.0%); retrying rarely helps"
    )


def test_futile_retries_without_a_completed_execution_has_no_impact(rec_client):
    [rec] = recommendations(rec_client, namespace="futile_none")
    assert (rec["type"], rec["pattern"], rec["error_type"]) == ("retry_policy", "futile_retries", "NetworkTimeoutError")
    assert_target(rec, "futile_none", "sync_ledger", "1.0.0", "call_bank")
    evidence = rec["evidence"]
    assert (evidence["errored_steps"], evidence["recovered_steps"]) == (10, 0)
    assert evidence["retry_success_rate"] == 0
    # the rule's evidence fields are all there; the average over no completed execution is null
    assert "avg_duration_ms" in evidence, evidence
    assert evidence["avg_duration_ms"] is None
    assert rec["estimated_impact_ms_per_day"] == 0
    assert rec["rationale"] == (
        "0 of 10 steps that failed with NetworkTimeoutError later completed (0.0%); retrying rarely helps"
    )


def test_the_baseline_is_the_168_hours_before_the_period(rec_client):
    """At period 48 the regress namespace's period holds the 25 current tasks and the 9
    baseline tasks of hours 31..47 (baseline(i), i <= 8); its baseline (hours 49..216) keeps
    16 (< 20): no regression advice, and nothing else (34 tasks, balanced chain)."""
    assert recommendations(rec_client, namespace="regress", period=48) == []
    # and at period 24 the regress_few tasks of hours 201..206 stay out of the baseline
    assert recommendations(rec_client, namespace="regress_few", period=24) == []


def test_equal_impacts_are_ordered_by_type_then_namespace(rec_client):
    """Impact descending, then type, namespace, task name, version, step (docs/API.md):
    tie_a (previous_version) before tie_b (baseline), both regression at 72930 ms/day."""
    items = recommendations(rec_client, task_name="tie_report")
    assert [(r["namespace"], r["pattern"], r["estimated_impact_ms_per_day"]) for r in items] == [
        ("tie_a", "previous_version", pytest.approx(72930.0, abs=0.05)),
        ("tie_b", "baseline", pytest.approx(72930.0, abs=0.05)),
    ]


def test_limit_keeps_the_largest_impacts(rec_client):
    response = rec_client.get(BOTTLENECKS, params={"period": 24, "limit": 2})
    body = response.json()
    items = body["recommendations"]
    # advice covers every task type of the scope, not only the slowest `limit` ones
    assert {r["namespace"] for r in items}.isdisjoint({t["namespace"] for t in body["slowest_tasks"]})
    assert [(r["type"], r.get("pattern"), r["namespace"]) for r in items] == [row[:3] for row in EXPECTED_ORDER[:2]]


def test_task_name_scope_keeps_the_advice_of_that_task(rec_client):
    items = recommendations(rec_client, task_name="import_feed")
    assert [(r["type"], r.get("pattern"), r["namespace"], r["version"]) for r in items] == [
        ("regression", "previous_version", "versions", "1.10.0"),
        ("regression", "previous_version", "versions_chain", "1.1.0"),
        ("regression", "previous_version", "versions_history", "3.0.0"),
    ]


# --------------------------------------------------------------------------------------
# The fixture itself: the hand arithmetic above, recomputed from the source rows
# --------------------------------------------------------------------------------------

_SOURCE_FIGURES = """
with task_rows as (
    select t.task_id, ns.name as namespace, nt.name as task_name, nt.version, t.created_at,
           (select min(created_at) from public.tasker_task_transitions x
             where x.task_id = t.task_id and x.to_state = 'in_progress') as started,
           (select created_at from public.tasker_task_transitions x where x.task_id = t.task_id and x.most_recent)
             as settled,
           (select to_state from public.tasker_task_transitions x where x.task_id = t.task_id and x.most_recent)
             as final
    from public.tasker_tasks t
    join public.tasker_named_tasks nt using (named_task_id)
    join public.tasker_task_namespaces ns on ns.task_namespace_id = nt.task_namespace_id
)
select namespace, task_name, version,
       settled > timestamp '{as_of}' - interval 24 hour as in_period,
       count(*) filter (where final = 'complete') as completed,
       avg(epoch_ms(settled) - epoch_ms(created_at)) filter (where final = 'complete') as avg_ms,
       quantile_cont(epoch_ms(settled) - epoch_ms(created_at), 0.95) filter (where final = 'complete') as p95_ms,
       avg(epoch_ms(started) - epoch_ms(created_at)) filter (where final = 'complete') as avg_queue_ms,
       avg(epoch_ms(settled) - epoch_ms(started)) filter (where final = 'complete') as avg_run_ms
from task_rows
group by all
"""


def test_the_fixture_holds_the_figures_computed_by_hand(tmp_path):
    import duckdb

    path = tmp_path / "source.duckdb"
    build_fixture().write(str(path))
    with duckdb.connect(str(path), read_only=True) as connection:
        cursor = connection.execute(_SOURCE_FIGURES.format(as_of=AS_OF.isoformat(sep=" ")))
        columns = [d[0] for d in cursor.description]
        rows = {
            (r["namespace"], r["task_name"], r["version"], r["in_period"]): r
            for r in (dict(zip(columns, values, strict=True)) for values in cursor.fetchall())
        }
    regress_now, regress_before = (
        rows["regress", "nightly_report", "1.0.0", True],
        rows["regress", "nightly_report", "1.0.0", False],
    )
    assert (regress_now["completed"], regress_now["avg_ms"], regress_now["p95_ms"]) == (25, 6820, pytest.approx(7468))
    assert (regress_before["completed"], regress_before["avg_ms"], regress_before["p95_ms"]) == (
        25,
        3460,
        pytest.approx(3784),
    )
    newer, older = rows["versions", "import_feed", "1.10.0", True], rows["versions", "import_feed", "1.9.0", True]
    assert (newer["completed"], newer["avg_ms"], newer["p95_ms"]) == (22, 6730, pytest.approx(7297))
    assert (older["completed"], older["avg_ms"], older["p95_ms"]) == (22, 3415, pytest.approx(3698.5))
    capacity = rows["capacity", "render_report", "1.0.0", True]
    assert (capacity["completed"], capacity["avg_queue_ms"], capacity["avg_run_ms"]) == (24, 5170, 3000)
    near = rows["capacity_near", "render_report", "1.0.0", True]
    assert near["avg_queue_ms"] < near["avg_run_ms"]
    assert rows["regress_near", "nightly_report", "1.0.0", True]["p95_ms"] / 3784 < 1.5 * 0.99
    assert rows["versions_near", "import_feed", "1.10.0", True]["p95_ms"] / 3698.5 < 1.5 * 0.99
