"""The benchmark's reference approach (bench/reference_bottlenecks.sql, run by bench/api.py)
computes the same bottleneck lists as the API, so the speed comparison of bench/api.py
compares two ways of getting one answer.

On the session workload (built with an as_of 30 minutes before the generator's end, so
rows after as_of exist and must be ignored), for several scopes and periods: the reference
query over the raw Tasker tables and GET /tasker/analytics/bottlenecks give the same
`slowest_tasks` and `slowest_steps` — same keys in the same order, same counts, averages and
rates equal after the API's rounding, percentiles within the API's stated 0.5 % relative
error (ours come from sketches). A second group shows that the comparison fails when an
answer is wrong.
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from datetime import timedelta

import pytest

from tasker_analytics.config.settings import PROJECT_DIR
from tasker_analytics.core.query import Scope

LIMIT = 50  # the largest allowed: every row of the lists is compared


def _load_bench_api():
    spec = importlib.util.spec_from_file_location("bench_api", PROJECT_DIR / "bench" / "api.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench_api()

CASES = [
    (Scope(), 24),
    (Scope(), 1),
    (Scope(), 168),
    (Scope(namespace="ecommerce"), 72),
    (Scope(namespace="payments", task_name="charge_subscription"), 168),
    (Scope(namespace="ecommerce", task_name="process_order", version="1.1.0"), 48),
    (Scope(task_name="deliver_webhook"), 12),
    (Scope(version="1.0.0"), 100),
]


@pytest.fixture(scope="module")
def reference(workload):
    engine = bench.Reference(workload.source_path)
    yield engine
    engine.close()


def _api_lists(client, scope: Scope, period: int) -> tuple[list[dict], list[dict]]:
    response = client.get("/tasker/analytics/bottlenecks", params={**scope.as_dict(), "period": period, "limit": LIMIT})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["slowest_tasks"], body["slowest_steps"]


@pytest.mark.parametrize(("scope", "period"), CASES, ids=lambda value: str(value))
def test_reference_gives_the_api_answer(client, workload, reference, scope, period):
    expected = reference.lists(scope, period, LIMIT, workload.as_of)
    api = _api_lists(client, scope, period)
    # not a vacuous comparison: both lists have rows, with timed figures
    assert expected[0] and expected[1], "the reference found nothing settled in this scope and period"
    assert any(row["p95_duration_ms"] is not None for row in expected[0] + expected[1])
    problems = bench.compare_lists(expected, api)
    assert not problems, "\n".join(problems)


def test_ours_lists_helper_gives_the_api_answer(client, workload):
    """bench/api.py times our read through `ours_lists`: it must be the API's answer too."""
    analytics = bench._open_analytics(workload.warehouse_path)
    try:
        for scope, period in CASES[:4]:
            assert bench.ours_lists(analytics, scope, period, LIMIT) == tuple(_api_lists(client, scope, period))
    finally:
        analytics.close()


# -- the comparison can fail ---------------------------------------------------------------


@pytest.fixture(scope="module")
def agreed(workload, reference):
    """A reference answer and the matching API answer (the whole workload, 168 h)."""
    from litestar.testing import TestClient

    from tasker_analytics.api.app import create_app

    with TestClient(create_app(workload.settings())) as client:
        api = _api_lists(client, Scope(), 168)
    expected = reference.lists(Scope(), 168, LIMIT, workload.as_of)
    assert not bench.compare_lists(expected, api)
    return expected, api


def _mutated(api, change) -> tuple[list[dict], list[dict]]:
    tasks, steps = copy.deepcopy(api)
    change(tasks, steps)
    return tasks, steps


def _timed_row(rows: list[dict], field: str) -> dict:
    """A row whose `field` is large enough that 1 % of it exceeds the allowed error."""
    return next(row for row in rows if row[field] is not None and row[field] > 100.0)


def _swap_first_two(rows: list[dict]) -> None:
    rows[0], rows[1] = rows[1], rows[0]


MUTATIONS = {
    "tasks out of order": lambda tasks, steps: _swap_first_two(tasks),
    "steps out of order": lambda tasks, steps: _swap_first_two(steps),
    "a task missing": lambda tasks, steps: tasks.pop(),
    "a step count off by one": lambda tasks, steps: steps[3].update(execution_count=steps[3]["execution_count"] + 1),
    "a retried count off by one": lambda tasks, steps: steps[0].update(retried=steps[0]["retried"] + 1),
    "a failure rate off": lambda tasks, steps: tasks[0].update(failure_rate=tasks[0]["failure_rate"] + 0.001),
    "an average off by 0.2 ms": lambda tasks, steps: steps[1].update(avg_duration_ms=steps[1]["avg_duration_ms"] + 0.2),
    "a p95 off by 1 %": lambda tasks, steps: (row := _timed_row(tasks, "p95_duration_ms")).update(
        p95_duration_ms=row["p95_duration_ms"] * 1.01
    ),
    "a p99 queue wait off by 1 %": lambda tasks, steps: (row := _timed_row(steps, "p99_queue_wait_ms")).update(
        p99_queue_wait_ms=row["p99_queue_wait_ms"] * 0.99
    ),
    "a p50 run time missing": lambda tasks, steps: _timed_row(tasks, "p50_run_time_ms").update(p50_run_time_ms=None),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_comparison_catches_a_wrong_answer(agreed, mutation):
    expected, api = agreed
    assert bench.compare_lists(expected, _mutated(api, MUTATIONS[mutation])), f"{mutation} went unnoticed"


def test_comparison_catches_a_reference_at_another_as_of(workload, reference, agreed):
    """The rows after the build's as_of change the answer: a reference that reads them disagrees."""
    _, api = agreed
    later = reference.lists(Scope(), 168, LIMIT, workload.as_of + timedelta(minutes=30))
    assert bench.compare_lists(later, api)
