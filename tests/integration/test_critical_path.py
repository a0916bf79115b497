"""Critical paths and blocking steps on a tiny hand-built workload, worked out by hand.

The nine Tasker tables are written here (the generator's column types) and built with dbt;
``dependency_analysis`` of ``GET /tasker/analytics/bottlenecks`` must equal the hand values
below, and so must tests/helpers/oracle.py (checked without the API, so an oracle bug shows apart
from an implementation bug).

as_of = 2026-11-28 12:00:00; period=1 is (11:00, 12:00], period=24 is (11-27 12:00, 12:00].
Namespace ``shapes``, version ``1.0.0`` throughout; every step is created with its task
unless noted; "ip" = transition into in_progress; durations in ms (settle - first ip).

T1 diamond (a -> b, a -> c, b -> d, c -> d), created 11:00:00, task ip 11:00:00.500,
complete 11:00:10.500
    101 a  ip 11:00:01.000  complete 11:00:03.000   2000
    102 b  ip 11:00:03.500  complete 11:00:08.500   5000
    103 c  ip 11:00:03.200  complete 11:00:06.200   3000
    104 d  ip 11:00:09.000  complete 11:00:10.000   1000
    paths: a-b-d 2000+5000+1000 = 8000, a-c-d 2000+3000+1000 = 6000 -> critical a, b, d (8000)
    gates: b <- a: 03.000 - created 00.000 = 3000; c <- a: 3000;
           d <- parents b (settles 08.500) and c (06.200): b settled last -> gate b,
           wait 08.500 - max(created 00.000, c 06.200) = 2300
T2 diamond, the TIE case: ids chosen so that id order differs from name order
(201 a, 202 c, 203 b, 204 d); created 11:10:00, task ip 11:10:00.500, complete 11:10:08
    201 a  ip 11:10:01.000  complete 11:10:02.000   1000
    202 c  ip 11:10:02.500  complete 11:10:06.500   4000
    203 b  ip 11:10:02.500  complete 11:10:06.500   4000
    204 d  ip 11:10:07.000  complete 11:10:07.500    500
    paths: a-c-d = a-b-d = 5500, a tie -> the smaller id sequence (201, 202, 204) wins:
           critical a, c, d (5500) -- a tie broken by name would pick b instead
    gates: c <- a: 02.000 - 00.000 = 2000; b <- a: 2000;
           d <- c and b both settle 06.500, a tie -> the smaller id 202 = c gates,
           wait 06.500 - max(00.000, b 06.500) = 0 (still one dependent blocked)
T3 fan-out / fan-in (a -> b1, b2, b3 -> e), created 11:20:00, task ip 11:20:00.050,
complete 11:20:09.100
    301 a   ip 11:20:00.100  complete 11:20:01.100  1000
    302 b1  ip 11:20:01.200  complete 11:20:03.200  2000
    303 b2  ip 11:20:01.300  complete 11:20:08.300  7000
    304 b3  ip 11:20:01.150  complete 11:20:05.150  4000
    305 e   ip 11:20:08.500  complete 11:20:09.000   500
    paths: via b1 3500, via b2 8500, via b3 5500 -> critical a, b2, e (8500)
    gates: b1, b2, b3 <- a: 01.100 - 00.000 = 1100 each (3 dependents, 3300);
           e <- b2 (settles last, 08.300): 08.300 - max(00.000, b1 03.200, b3 05.150) = 3150
T4 fan-out / fan-in with a step that never ran (b3 completes without an in_progress: no
duration, counts 0), created 11:30:00, task ip 11:30:00.200, complete 11:30:06.300
    401 a   ip 11:30:00.500  complete 11:30:01.000   500
    402 b1  ip 11:30:01.100  complete 11:30:04.100  3000
    403 b2  ip 11:30:01.100  complete 11:30:02.100  1000
    404 b3  (no ip)          complete 11:30:01.050  none -> 0
    405 e   ip 11:30:04.200  complete 11:30:06.200  2000
    paths: via b1 5500, via b2 3500, via b3 2500 -> critical a, b1, e (5500)
    gates: b1, b2, b3 <- a: 01.000 - 00.000 = 1000 each (3000);
           e <- b1 (04.100): 04.100 - max(00.000, b2 02.100, b3 01.050) = 2000
T5 linear (a -> b -> c), created 11:40:00, task ip 11:40:00.100, complete 11:40:05
    501 a  ip 11:40:00.250  complete 11:40:01.250  1000
    502 b  ip 11:40:01.500  complete 11:40:03.500  2000
    503 c  ip 11:40:04.000  complete 11:40:04.750   750
    critical: a, b, c (3750); gates: b <- a 01.250 - 00.000 = 1250, c <- b 03.500 - 00.000 = 3500
T6 linear, b created late (after a settled: the wait floors at 0), created 11:50:00,
task ip 11:50:00.050, complete 11:50:03.100
    601 a  ip 11:50:00.100  complete 11:50:00.600   500
    602 b  created 11:50:01.000, ip 11:50:01.100  complete 11:50:02.100  1000
    603 c  ip 11:50:02.500  complete 11:50:03.000   500
    critical: a, b, c (2000); gates: b <- a: 00.600 - 01.000 < 0 -> 0; c <- b: 02.100 - 00.000 = 2100
T7 diamond settled at 09:30 (outside period=1, inside period=24), created 09:30:00,
task ip 09:30:00.100, complete 09:30:09.500
    701 a  ip 09:30:00.500  complete 09:30:01.500  1000
    702 b  ip 09:30:02.000  complete 09:30:03.000  1000
    703 c  ip 09:30:02.000  complete 09:30:08.000  6000
    704 d  ip 09:30:08.200  complete 09:30:09.200  1000
    paths: a-b-d 3000, a-c-d 8000 -> critical a, c, d (8000)
    gates: b <- a 1500, c <- a 1500, d <- c (08.000): 08.000 - max(00.000, b 03.000) = 5000
T8 diamond that failed (error): not analyzed. created 11:55:00, task ip 11:55:00.050,
error 11:55:03; 801 a ip 11:55:00.100 complete 11:55:01; 802 b ip 11:55:01.100 error
11:55:02 (Net::ReadTimeout); 803 c, 804 d never ran.

Namespace ``bounds`` (task ``edge_task``, version 1.0.0) holds the window edges: a period of
N hours is (as_of - N h, as_of], so a task settled exactly at as_of is in period=1 and one
settled exactly at as_of - 1 h is not (it is in period=2); a complete task without steps is
still a task analyzed (its critical path is empty, length 0).
B1 (901) created 11:59:50, ip 11:59:50.500, complete 12:00:00.000 (= as_of)
    9011 a  ip 11:59:51.000  complete 11:59:53.000  2000
    9012 b  ip 11:59:54.000  complete 11:59:59.000  5000     a -> b: critical a, b (7000);
    gate b <- a: 53.000 - 50.000 = 3000
B2 (902) created 10:59:50, ip 10:59:50.500, complete 11:00:00.000 (= as_of - 1 h)
    9021 a  ip 10:59:51.000  complete 10:59:52.000  1000
    9022 b  ip 10:59:53.000  complete 10:59:56.000  3000     a -> b: critical a, b (4000);
    gate b <- a: 52.000 - 50.000 = 2000
B3 (903) created 11:30:00, ip 11:30:00.100, complete 11:30:01 -- no steps at all
"""

from __future__ import annotations

from datetime import datetime

import pytest
from litestar.testing import TestClient

from helpers.bottleneck_compare import compare_body
from helpers.diff import Diff
from helpers.hand_built import Builder, write_source
from helpers.oracle import RATE_ABS_TOL, Raw, bottlenecks, critical_path, gates, load_raw, load_seeds, task_dags

AS_OF = datetime(2026, 11, 28, 12, 0, 0)
URL = "/tasker/analytics/bottlenecks"
NS, VERSION = "shapes", "1.0.0"
DIAMOND, FAN, LINEAR, EDGE_TASK = 20, 21, 22, 23  # named_task_id
BOUNDS = "bounds"
A, B, C, D, B1, B2, B3, E = 200, 201, 202, 203, 204, 205, 206, 207  # named_step_id
STEP_NAMES = {A: "a", B: "b", C: "c", D: "d", B1: "b1", B2: "b2", B3: "b3", E: "e"}


def at(clock: str, day: int = 28) -> datetime:
    hms, _, frac = clock.partition(".")
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(2026, 11, day, h, m, s, int((frac or "0").ljust(3, "0")) * 1000)


def build_tables() -> dict[str, list[dict]]:
    b = Builder()
    b.tables["task_namespaces"] = [{"task_namespace_id": 5, "name": NS}, {"task_namespace_id": 6, "name": BOUNDS}]
    b.tables["named_tasks"] = [
        {"named_task_id": i, "name": n, "task_namespace_id": ns, "version": VERSION, "configuration": "{}"}
        for i, n, ns in ((DIAMOND, "diamond", 5), (FAN, "fan", 5), (LINEAR, "linear", 5), (EDGE_TASK, "edge_task", 6))
    ]
    b.tables["named_steps"] = [{"named_step_id": i, "dependent_system_id": 1, "name": n} for i, n in STEP_NAMES.items()]
    edge_id = 0

    def edges(*pairs):
        nonlocal edge_id
        for parent, child in pairs:
            edge_id += 1
            b.tables["workflow_step_edges"].append(
                {
                    "id": edge_id,
                    "from_step_id": parent,
                    "to_step_id": child,
                    "name": "provides",
                    "created_at": at("09:00:00"),
                    "updated_at": at("09:00:00"),
                }
            )

    def step(step_id, task_id, named, created, ip, done):
        trs = ([("in_progress", at(ip))] if ip else []) + [("complete", at(done))]
        b.step(step_id, task_id, named, at(created), trs, attempts=1 if ip else 0)

    # T1 diamond
    b.task(1, DIAMOND, at("11:00:00"), [("in_progress", at("11:00:00.500")), ("complete", at("11:00:10.500"))])
    step(101, 1, A, "11:00:00", "11:00:01.000", "11:00:03.000")
    step(102, 1, B, "11:00:00", "11:00:03.500", "11:00:08.500")
    step(103, 1, C, "11:00:00", "11:00:03.200", "11:00:06.200")
    step(104, 1, D, "11:00:00", "11:00:09.000", "11:00:10.000")
    edges((101, 102), (101, 103), (102, 104), (103, 104))
    # T2 diamond, ties (202 is c, 203 is b)
    b.task(2, DIAMOND, at("11:10:00"), [("in_progress", at("11:10:00.500")), ("complete", at("11:10:08"))])
    step(201, 2, A, "11:10:00", "11:10:01.000", "11:10:02.000")
    step(202, 2, C, "11:10:00", "11:10:02.500", "11:10:06.500")
    step(203, 2, B, "11:10:00", "11:10:02.500", "11:10:06.500")
    step(204, 2, D, "11:10:00", "11:10:07.000", "11:10:07.500")
    edges((201, 203), (201, 202), (203, 204), (202, 204))
    # T3 fan-out / fan-in
    b.task(3, FAN, at("11:20:00"), [("in_progress", at("11:20:00.050")), ("complete", at("11:20:09.100"))])
    step(301, 3, A, "11:20:00", "11:20:00.100", "11:20:01.100")
    step(302, 3, B1, "11:20:00", "11:20:01.200", "11:20:03.200")
    step(303, 3, B2, "11:20:00", "11:20:01.300", "11:20:08.300")
    step(304, 3, B3, "11:20:00", "11:20:01.150", "11:20:05.150")
    step(305, 3, E, "11:20:00", "11:20:08.500", "11:20:09.000")
    edges((301, 302), (301, 303), (301, 304), (302, 305), (303, 305), (304, 305))
    # T4 fan-out / fan-in, b3 never ran
    b.task(4, FAN, at("11:30:00"), [("in_progress", at("11:30:00.200")), ("complete", at("11:30:06.300"))])
    step(401, 4, A, "11:30:00", "11:30:00.500", "11:30:01.000")
    step(402, 4, B1, "11:30:00", "11:30:01.100", "11:30:04.100")
    step(403, 4, B2, "11:30:00", "11:30:01.100", "11:30:02.100")
    step(404, 4, B3, "11:30:00", None, "11:30:01.050")
    step(405, 4, E, "11:30:00", "11:30:04.200", "11:30:06.200")
    edges((401, 402), (401, 403), (401, 404), (402, 405), (403, 405), (404, 405))
    # T5 linear
    b.task(5, LINEAR, at("11:40:00"), [("in_progress", at("11:40:00.100")), ("complete", at("11:40:05"))])
    step(501, 5, A, "11:40:00", "11:40:00.250", "11:40:01.250")
    step(502, 5, B, "11:40:00", "11:40:01.500", "11:40:03.500")
    step(503, 5, C, "11:40:00", "11:40:04.000", "11:40:04.750")
    edges((501, 502), (502, 503))
    # T6 linear, b created after a settled
    b.task(6, LINEAR, at("11:50:00"), [("in_progress", at("11:50:00.050")), ("complete", at("11:50:03.100"))])
    step(601, 6, A, "11:50:00", "11:50:00.100", "11:50:00.600")
    step(602, 6, B, "11:50:01.000", "11:50:01.100", "11:50:02.100")
    step(603, 6, C, "11:50:00", "11:50:02.500", "11:50:03.000")
    edges((601, 602), (602, 603))
    # T7 diamond, settled at 09:30
    b.task(7, DIAMOND, at("09:30:00"), [("in_progress", at("09:30:00.100")), ("complete", at("09:30:09.500"))])
    step(701, 7, A, "09:30:00", "09:30:00.500", "09:30:01.500")
    step(702, 7, B, "09:30:00", "09:30:02.000", "09:30:03.000")
    step(703, 7, C, "09:30:00", "09:30:02.000", "09:30:08.000")
    step(704, 7, D, "09:30:00", "09:30:08.200", "09:30:09.200")
    edges((701, 702), (701, 703), (702, 704), (703, 704))
    # T8 diamond, failed
    b.task(8, DIAMOND, at("11:55:00"), [("in_progress", at("11:55:00.050")), ("error", at("11:55:03"))])
    step(801, 8, A, "11:55:00", "11:55:00.100", "11:55:01")
    b.step(
        802,
        8,
        B,
        at("11:55:00"),
        [
            ("in_progress", at("11:55:01.100")),
            ("error", at("11:55:02"), '{"error_class": "Net::ReadTimeout"}'),
        ],
        attempts=1,
    )
    b.step(803, 8, C, at("11:55:00"), [], attempts=None)
    b.step(804, 8, D, at("11:55:00"), [], attempts=None)
    edges((801, 802), (801, 803), (802, 804), (803, 804))
    # bounds: B1 settles exactly at as_of, B2 exactly at as_of - 1 h, B3 has no steps
    b.task(901, EDGE_TASK, at("11:59:50"), [("in_progress", at("11:59:50.500")), ("complete", at("12:00:00.000"))])
    step(9011, 901, A, "11:59:50", "11:59:51.000", "11:59:53.000")
    step(9012, 901, B, "11:59:50", "11:59:54.000", "11:59:59.000")
    edges((9011, 9012))
    b.task(902, EDGE_TASK, at("10:59:50"), [("in_progress", at("10:59:50.500")), ("complete", at("11:00:00.000"))])
    step(9021, 902, A, "10:59:50", "10:59:51.000", "10:59:52.000")
    step(9022, 902, B, "10:59:50", "10:59:53.000", "10:59:56.000")
    edges((9021, 9022))
    b.task(903, EDGE_TASK, at("11:30:00"), [("in_progress", at("11:30:00.100")), ("complete", at("11:30:01"))])
    return b.tables


def cp(task_name: str, step_name: str, on_critical_path: int, critical_path_ms: float, share: float) -> dict:
    return {
        "task_name": task_name,
        "step_name": step_name,
        "on_critical_path": on_critical_path,
        "critical_path_ms": critical_path_ms,
        "share": share,
    }


def bl(task_name: str, step_name: str, dependents_blocked: int, blocked_wait_ms: float) -> dict:
    return {
        "task_name": task_name,
        "step_name": step_name,
        "dependents_blocked": dependents_blocked,
        "blocked_wait_ms": blocked_wait_ms,
    }


# ---- hand values (see the module docstring), period=1: T1..T6
# critical-path totals per type: diamond 8000 + 5500 = 13500, fan 8500 + 5500 = 14000,
# linear 3750 + 2000 = 5750. Sorted by critical_path_ms desc, then names.
EXPECTED_1H = {
    "tasks_analyzed": 6,
    "critical_path_steps": [
        cp("fan", "b2", 1, 7000.0, 7000 / 14000),  # T3
        cp("diamond", "b", 1, 5000.0, 5000 / 13500),  # T1
        cp("diamond", "c", 1, 4000.0, 4000 / 13500),  # T2 (the tie)
        cp("diamond", "a", 2, 3000.0, 3000 / 13500),  # T1 2000 + T2 1000
        cp("fan", "b1", 1, 3000.0, 3000 / 14000),  # T4
        cp("linear", "b", 2, 3000.0, 3000 / 5750),  # T5 2000 + T6 1000
        cp("fan", "e", 2, 2500.0, 2500 / 14000),  # T3 500 + T4 2000
        cp("diamond", "d", 2, 1500.0, 1500 / 13500),  # T1 1000 + T2 500
        cp("fan", "a", 2, 1500.0, 1500 / 14000),  # T3 1000 + T4 500
        cp("linear", "a", 2, 1500.0, 1500 / 5750),  # T5 1000 + T6 500
        cp("linear", "c", 2, 1250.0, 1250 / 5750),  # T5 750 + T6 500
    ],
    "blocking_steps": [
        bl("diamond", "a", 4, 10000.0),  # T1 b 3000, c 3000; T2 c 2000, b 2000
        bl("fan", "a", 6, 6300.0),  # T3 3 x 1100; T4 3 x 1000
        bl("linear", "b", 2, 5600.0),  # T5 c 3500; T6 c 2100
        bl("fan", "b2", 1, 3150.0),  # T3 e
        bl("diamond", "b", 1, 2300.0),  # T1 d
        bl("fan", "b1", 1, 2000.0),  # T4 e
        bl("linear", "a", 2, 1250.0),  # T5 b 1250; T6 b 0 (floored)
        bl("diamond", "c", 1, 0.0),  # T2 d (tie of b and c -> c, id 202; wait 0)
    ],
}
# period=24 adds T7 (diamond 8000: a 1000, c 6000, d 1000) -> diamond total 21500
EXPECTED_24H = {
    "tasks_analyzed": 7,
    "critical_path_steps": [
        cp("diamond", "c", 2, 10000.0, 10000 / 21500),  # T2 4000 + T7 6000
        cp("fan", "b2", 1, 7000.0, 7000 / 14000),
        cp("diamond", "b", 1, 5000.0, 5000 / 21500),
        cp("diamond", "a", 3, 4000.0, 4000 / 21500),  # + T7 1000
        cp("fan", "b1", 1, 3000.0, 3000 / 14000),
        cp("linear", "b", 2, 3000.0, 3000 / 5750),
        cp("diamond", "d", 3, 2500.0, 2500 / 21500),  # + T7 1000
        cp("fan", "e", 2, 2500.0, 2500 / 14000),
        cp("fan", "a", 2, 1500.0, 1500 / 14000),
        cp("linear", "a", 2, 1500.0, 1500 / 5750),
        cp("linear", "c", 2, 1250.0, 1250 / 5750),
    ],
    "blocking_steps": [
        bl("diamond", "a", 6, 13000.0),  # + T7 b 1500, c 1500
        bl("fan", "a", 6, 6300.0),
        bl("linear", "b", 2, 5600.0),
        bl("diamond", "c", 2, 5000.0),  # T2 d 0 + T7 d 5000
        bl("fan", "b2", 1, 3150.0),
        bl("diamond", "b", 1, 2300.0),
        bl("fan", "b1", 1, 2000.0),
        bl("linear", "a", 2, 1250.0),
    ],
}


def _scoped(expected: dict, task_name: str, tasks_analyzed: int) -> dict:
    return {
        "tasks_analyzed": tasks_analyzed,
        "critical_path_steps": [r for r in expected["critical_path_steps"] if r["task_name"] == task_name],
        "blocking_steps": [r for r in expected["blocking_steps"] if r["task_name"] == task_name],
    }


# bounds, period=1: B1 (at as_of) and B3 (no steps); B2 (at as_of - 1 h) is outside
EXPECTED_BOUNDS_1H = {
    "tasks_analyzed": 2,
    "critical_path_steps": [cp("edge_task", "b", 1, 5000.0, 5000 / 7000), cp("edge_task", "a", 1, 2000.0, 2000 / 7000)],
    "blocking_steps": [bl("edge_task", "a", 1, 3000.0)],
}
# bounds, period=2: + B2 (a 1000, b 3000; gate 2000): total 7000 + 4000 + 0 = 11000
EXPECTED_BOUNDS_2H = {
    "tasks_analyzed": 3,
    "critical_path_steps": [
        cp("edge_task", "b", 2, 8000.0, 8000 / 11000),
        cp("edge_task", "a", 2, 3000.0, 3000 / 11000),
    ],
    "blocking_steps": [bl("edge_task", "a", 2, 5000.0)],
}

CASES = {
    # id: (query params, expected dependency_analysis)
    "period=1": ({"period": "1", "namespace": NS}, EXPECTED_1H),
    "period=24": ({"period": "24", "namespace": NS}, EXPECTED_24H),
    "fan,period=1": ({"period": "1", "task_name": "fan"}, _scoped(EXPECTED_1H, "fan", 2)),
    "diamond,period=24": (
        {"period": "24", "namespace": NS, "task_name": "diamond", "version": VERSION},
        _scoped(EXPECTED_24H, "diamond", 3),
    ),
    "linear,period=1": ({"period": "1", "name": "linear"}, _scoped(EXPECTED_1H, "linear", 2)),
    "bounds,period=1": ({"period": "1", "namespace": BOUNDS}, EXPECTED_BOUNDS_1H),
    "bounds,period=2": ({"period": "2", "namespace": BOUNDS}, EXPECTED_BOUNDS_2H),
}


def _with_ids(expected: dict) -> dict:
    """The hand rows with namespace and version (all tasks share them)."""

    def full(r):
        ns = BOUNDS if r["task_name"] == "edge_task" else NS
        return {"namespace": ns, "task_name": r["task_name"], "version": VERSION, **r}

    return {
        "tasks_analyzed": expected["tasks_analyzed"],
        "critical_path_steps": [full(r) for r in expected["critical_path_steps"]],
        "blocking_steps": [full(r) for r in expected["blocking_steps"]],
    }


def assert_dependency_equal(expected: dict, got: dict, who: str) -> None:
    expected = _with_ids(expected)
    problems = []
    if got.get("tasks_analyzed") != expected["tasks_analyzed"]:
        problems.append(f"tasks_analyzed: hand {expected['tasks_analyzed']} != {who} {got.get('tasks_analyzed')!r}")
    for section, fields in (
        ("critical_path_steps", ("on_critical_path", "critical_path_ms", "share")),
        ("blocking_steps", ("dependents_blocked", "blocked_wait_ms")),
    ):
        want = expected[section]
        have = got.get(section)
        if not isinstance(have, list):
            problems.append(f"{section}: {who} gave {have!r}")
            continue
        want_keys = [(r["namespace"], r["task_name"], r["version"], r["step_name"]) for r in want]
        have_keys = [tuple(r.get(k) for k in ("namespace", "task_name", "version", "step_name")) for r in have]
        if want_keys != have_keys:
            problems.append(f"{section} rows/order: hand {want_keys}\n      != {who} {have_keys}")
        for w in want:
            k = (w["namespace"], w["task_name"], w["version"], w["step_name"])
            h = next(
                (r for r in have if tuple(r.get(x) for x in ("namespace", "task_name", "version", "step_name")) == k),
                None,
            )
            if h is None:
                continue
            for name in fields:
                tol = RATE_ABS_TOL if name == "share" else (0.051 if name.endswith("_ms") else 0)
                if not isinstance(h.get(name), (int, float)) or abs(h[name] - w[name]) > tol:
                    problems.append(f"{section}[{k[1]}/{k[3]}].{name}: hand {w[name]} != {who} {h.get(name)!r}")
    if problems:
        pytest.fail(f"dependency_analysis ({who}):\n  " + "\n  ".join(problems), pytrace=False)


# ---------------------------------------------------------------- the oracle alone


@pytest.fixture(scope="module")
def raw() -> Raw:
    return Raw.from_tables(build_tables())


def test_oracle_critical_path_function():
    # diamond with a tie, ids out of name order: (1, 2, 4) < (1, 3, 4)
    assert critical_path({1: 10, 2: 5, 3: 5, 4: 1}, [(1, 3), (1, 2), (3, 4), (2, 4)]) == (16, (1, 2, 4))
    # two roots tie: the smaller root id wins
    assert critical_path({7: 3, 5: 3, 9: 1}, [(7, 9), (5, 9)]) == (4, (5, 9))
    # a heavier path beats a lexicographically smaller one
    assert critical_path({1: 1, 2: 1, 3: 5, 4: 1}, [(1, 2), (1, 3), (2, 4), (3, 4)]) == (7, (1, 3, 4))
    # isolated steps are paths of their own
    assert critical_path({1: 2, 2: 3}, []) == (3, (2,))
    assert critical_path({}, []) == (0.0, ())


def test_oracle_gates_function():
    t = {1: at("10:00:01"), 2: at("10:00:05"), 3: at("10:00:05"), 4: None}
    created = {10: at("10:00:00"), 11: at("10:00:06")}
    got = gates({10: [3, 2, 1], 11: [1]}, t, created)
    # 10: parents 2 and 3 both settle last (10:00:05) -> the smaller id 2; wait 5 - max(0, 1, 5) = 0
    # 11: parent 1 settled 10:00:01, dependent created 10:00:06 -> -5 s floors to 0
    assert [(g.gating_step, g.dependent_step, g.wait_ms) for g in got] == [(2, 10, 0.0), (1, 11, 0.0)]
    got = gates({10: [1, 2]}, t, created)
    assert [(g.gating_step, g.wait_ms) for g in got] == [(2, 4000.0)]  # 05 - max(00, 01)


def test_oracle_task_paths(raw):
    dags = task_dags(raw, AS_OF)
    assert sorted(dags) == [1, 2, 3, 4, 5, 6, 7, 901, 902, 903], "T8 failed: not analyzed"
    want = {
        1: (8000, (101, 102, 104)),
        2: (5500, (201, 202, 204)),
        3: (8500, (301, 303, 305)),
        4: (5500, (401, 402, 405)),
        5: (3750, (501, 502, 503)),
        6: (2000, (601, 602, 603)),
        7: (8000, (701, 703, 704)),
        901: (7000, (9011, 9012)),
        902: (4000, (9021, 9022)),
        903: (0.0, ()),
    }
    assert {k: (d.length_ms, d.path) for k, d in dags.items()} == want
    assert dags[4].step_ms[404] == 0  # never ran: counts 0
    gated = {k: sorted((g.gating_step, g.dependent_step, g.wait_ms) for g in d.gates) for k, d in dags.items()}
    assert gated[1] == [(101, 102, 3000), (101, 103, 3000), (102, 104, 2300)]
    assert gated[2] == [(201, 202, 2000), (201, 203, 2000), (202, 204, 0)]
    assert gated[3] == [(301, 302, 1100), (301, 303, 1100), (301, 304, 1100), (303, 305, 3150)]
    assert gated[4] == [(401, 402, 1000), (401, 403, 1000), (401, 404, 1000), (402, 405, 2000)]
    assert gated[6] == [(601, 602, 0), (602, 603, 2100)]


@pytest.mark.parametrize("case", list(CASES))
def test_oracle_matches_hand_values(raw, case):
    params, expected = CASES[case]
    o = bottlenecks(
        raw,
        AS_OF,
        period=int(params["period"]),
        namespace=params.get("namespace"),
        task_name=params.get("task_name", params.get("name")),
        version=params.get("version"),
        limit=50,
        timeouts={},
        taxonomy={},
    )
    assert_dependency_equal(expected, o["dependency_analysis"], "oracle")


# ---------------------------------------------------------------- the API


@pytest.fixture(scope="module")
def dag_build(tmp_path_factory):
    from tasker_analytics.build.runner import build
    from tasker_analytics.config.settings import Settings

    directory = tmp_path_factory.mktemp("critical_path")
    source = directory / "tasker_source.duckdb"
    write_source(build_tables(), source)
    settings = Settings(duckdb_path=directory / "tasker_analytics.duckdb")
    build(
        settings,
        source_duckdb=str(source),
        as_of=AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env={"DBT_TARGET_PATH": str(directory / "target"), "DBT_LOG_PATH": str(directory / "logs")},
    )
    return settings, source


@pytest.fixture(scope="module")
def dag_client(dag_build):
    from tasker_analytics.api.app import create_app

    with TestClient(create_app(dag_build[0])) as client:
        yield client


def _get(client, params: dict) -> dict:
    response = client.get(URL, params={**params, "limit": "50"})
    assert response.status_code == 200, f"GET {URL} {params} -> {response.status_code}: {response.text[:500]}"
    return response.json()


@pytest.mark.parametrize("case", list(CASES))
def test_api_dependency_analysis_matches_hand_values(dag_client, case):
    params, expected = CASES[case]
    body = _get(dag_client, params)
    assert_dependency_equal(expected, body.get("dependency_analysis") or {}, f"API {params}")


def test_api_limit_cuts_dependency_lists(dag_client):
    body = _get(dag_client, {"period": "1", "namespace": NS})
    limited = dag_client.get(URL, params={"period": "1", "namespace": NS, "limit": "3"}).json()["dependency_analysis"]
    full = body["dependency_analysis"]
    assert limited["critical_path_steps"] == full["critical_path_steps"][:3]
    assert limited["blocking_steps"] == full["blocking_steps"][:3]
    assert limited["tasks_analyzed"] == full["tasks_analyzed"] == 6


@pytest.mark.parametrize("case", list(CASES))
def test_api_whole_body_matches_oracle(dag_client, dag_build, case):
    """The rest of the body on this workload too (error patterns, durations, waits)."""
    params, _ = CASES[case]
    raw = load_raw(str(dag_build[1]))
    o = bottlenecks(
        raw,
        AS_OF,
        period=int(params["period"]),
        namespace=params.get("namespace"),
        task_name=params.get("task_name", params.get("name")),
        version=params.get("version"),
        limit=50,
        timeouts={},
        taxonomy=_taxonomy(),
    )
    diff = Diff(f"GET {URL} {params}")
    compare_body(diff, o, _get(dag_client, params), limit=50)
    diff.check()


def _taxonomy() -> dict[str, str]:
    from tasker_analytics.config.settings import PROJECT_DIR

    return load_seeds(PROJECT_DIR)[1]


def _dp_critical_path(durations: dict, edges: set) -> tuple[float, tuple]:
    """A second algorithm for the same definition: longest path by dynamic programming from
    the sinks up (best suffix per step: largest sum, then smallest id sequence)."""
    children: dict = {sid: [] for sid in durations}
    parents: dict = {sid: 0 for sid in durations}
    for a, b in edges:
        children[a].append(b)
        parents[b] += 1
    best: dict = {}

    def suffix(node):
        if node not in best:
            options = [suffix(c) for c in children[node]]
            total, path = (0.0, ())
            if options:
                total, path = max(options, key=lambda o: (o[0], [-x for x in o[1]]))
            best[node] = (durations[node] + total, (node, *path))
        return best[node]

    roots = [suffix(r) for r in durations if parents[r] == 0]
    if not roots:
        return 0.0, ()
    return max(roots, key=lambda o: (o[0], [-x for x in o[1]]))


def test_oracle_critical_paths_agree_with_a_second_algorithm(tmp_path):
    """Self-check of the oracle on a generated workload's real step DAGs (no dbt, no API)."""
    from tasker_analytics.generate.workload import generate_workload
    from tasker_analytics.generate.writers import write_duckdb

    source = tmp_path / "source.duckdb"
    write_duckdb(generate_workload(tasks=600, seed=11, as_of=AS_OF), str(source))
    raw = load_raw(str(source))
    dags = task_dags(raw, AS_OF)
    assert len(dags) > 400
    edges_by_task: dict = {}
    step_task = {s["workflow_step_id"]: s["task_id"] for s in raw.workflow_steps}
    for e in raw.workflow_step_edges:
        edges_by_task.setdefault(step_task[e["from_step_id"]], set()).add((e["from_step_id"], e["to_step_id"]))
    shapes = set()
    for task_id, dag in dags.items():
        assert _dp_critical_path(dag.step_ms, edges_by_task.get(task_id, set())) == (dag.length_ms, dag.path), task_id
        shapes.add(len(dag.path))
        # every dependent step has exactly one gate, and waits are never negative
        dependents = {b for _, b in edges_by_task.get(task_id, set())}
        assert sorted(g.dependent_step for g in dag.gates) == sorted(dependents)
        assert all(g.wait_ms >= 0 for g in dag.gates)
    assert len(shapes) > 2, "the generated DAGs should have paths of several lengths"
