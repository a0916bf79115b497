"""Randomized check of the rollup-served bottleneck endpoint against the oracle.

``N_PAIRS`` (scope, period) pairs are drawn with a seeded ``random.Random`` from the
namespaces, task names and versions really present in conftest's generated ``workload``
(any combination of the three, including none, plus scopes that match nothing); periods
come from 1..168 and include both ends. For each pair the test GETs
``/tasker/analytics/bottlenecks?...&limit=50`` and compares every figure of
slowest_tasks, slowest_steps, error_patterns, performance_distribution and
dependency_analysis (plus data_quality and the metadata) with tests/helpers/oracle.py, which
recomputes them in plain Python from the raw Tasker tables. Tolerances: see
tests/helpers/bottleneck_compare.py.

Each pair is its own test (``pair00`` ... ); its failure message names the scope and period.
The raw tables are loaded once per session (``workload_raw``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from helpers.bottleneck_compare import compare_body, compare_sketch, dependency_hint
from helpers.diff import Diff
from helpers.oracle import bottlenecks, facts, load_raw, load_seeds

URL = "/tasker/analytics/bottlenecks"
LIMIT = 50
N_PAIRS = 60
SEED = 20261128
NO_DATA = "no_such_namespace_zz"


@dataclass(frozen=True)
class Pair:
    period: int
    namespace: str | None = None
    task_name: str | None = None
    version: str | None = None
    alias: bool = False  # send task_name as `name`

    def params(self) -> dict[str, str]:
        out = {"period": str(self.period), "limit": str(LIMIT)}
        if self.namespace is not None:
            out["namespace"] = self.namespace
        if self.task_name is not None:
            out["name" if self.alias else "task_name"] = self.task_name
        if self.version is not None:
            out["version"] = self.version
        return out

    def __str__(self) -> str:
        return "&".join(f"{k}={v}" for k, v in self.params().items())


@pytest.fixture(scope="session")
def workload_raw(workload):
    """The raw Tasker tables of the generated workload, loaded once per session."""
    return load_raw(str(workload.source_path))


@pytest.fixture(scope="session")
def workload_seeds(workload):
    return load_seeds(workload.project_dir)


def draw_pairs(task_types: list[tuple[str, str, str]], n: int = N_PAIRS, seed: int = SEED) -> list[Pair]:
    """Reproducible (scope, period) pairs from the task types present in the workload."""
    rng = random.Random(seed)
    types = sorted(task_types)
    namespaces = sorted({t[0] for t in types})
    names = sorted({t[1] for t in types})
    versions = sorted({t[2] for t in types})

    def period() -> int:
        return rng.choice([rng.randint(1, 24), rng.randint(1, 168), rng.randint(1, 168)])

    pairs = [
        Pair(1),  # everything, shortest period
        Pair(168),  # everything, longest period
        Pair(168, *types[0]),  # a full triple, longest period
        Pair(1, namespace=types[-1][0]),
        Pair(24, namespace=NO_DATA),  # a scope with no data
        Pair(rng.randint(1, 168), version="0.0.0-none"),  # a version nobody has
    ]
    while len(pairs) < n:
        kind = rng.random()
        if kind < 0.7:
            # any combination of the components of one real task type (incl. none of them)
            ns, name, ver = rng.choice(types)
            mask = rng.randrange(8)
            pairs.append(
                Pair(
                    period(),
                    ns if mask & 1 else None,
                    name if mask & 2 else None,
                    ver if mask & 4 else None,
                    alias=rng.random() < 0.2,
                )
            )
        elif kind < 0.9:
            # components drawn independently (the combination may match nothing)
            pairs.append(
                Pair(
                    period(),
                    rng.choice([None, *namespaces]),
                    rng.choice([None, *names]),
                    rng.choice([None, *versions]),
                )
            )
        else:
            pairs.append(
                Pair(
                    period(),
                    namespace=NO_DATA if rng.random() < 0.5 else None,
                    task_name="no_such_task_zz" if rng.random() < 0.5 else None,
                    version=None if rng.random() < 0.5 else "9.9.9",
                )
            )
    return pairs


@pytest.fixture(scope="session")
def rollup_pairs(workload, workload_raw) -> list[Pair]:
    types = sorted({t.task_type for t in facts(workload_raw, workload.as_of).tasks})
    return draw_pairs(types)


def test_pairs_cover_the_space(rollup_pairs, workload, workload_raw, workload_seeds):
    """Guard: the draw holds both period ends, every scope shape and scopes with no data,
    and most pairs have data in every section."""
    assert len(rollup_pairs) >= 50
    periods = {p.period for p in rollup_pairs}
    assert {1, 168} <= periods
    shapes = {(p.namespace is not None, p.task_name is not None, p.version is not None) for p in rollup_pairs}
    assert len(shapes) == 8, f"scope shapes drawn: {sorted(shapes)}"
    timeouts, taxonomy = workload_seeds
    with_data = empty = 0
    for p in rollup_pairs:
        o = bottlenecks(
            workload_raw,
            workload.as_of,
            period=p.period,
            namespace=p.namespace,
            task_name=p.task_name,
            version=p.version,
            limit=LIMIT,
            timeouts=timeouts,
            taxonomy=taxonomy,
        )
        if o["_all_slowest_tasks"] and o["_all_critical_path_steps"] and o["_all_blocking_steps"]:
            with_data += 1
        if not o["_all_slowest_tasks"]:
            empty += 1
    assert with_data >= len(rollup_pairs) // 2, f"only {with_data} pairs have data"
    assert empty >= 2, "at least two pairs must match nothing"


@pytest.mark.parametrize("index", range(N_PAIRS), ids=[f"pair{i:02d}" for i in range(N_PAIRS)])
def test_bottlenecks_match_oracle(index, rollup_pairs, workload, workload_raw, workload_seeds, client):
    pair = rollup_pairs[index]
    timeouts, taxonomy = workload_seeds
    oracle = bottlenecks(
        workload_raw,
        workload.as_of,
        period=pair.period,
        namespace=pair.namespace,
        task_name=pair.task_name,
        version=pair.version,
        limit=LIMIT,
        timeouts=timeouts,
        taxonomy=taxonomy,
    )
    response = client.get(URL, params=pair.params())
    assert response.status_code == 200, f"GET {URL}?{pair} -> {response.status_code}: {response.text[:500]}"
    diff = Diff(f"GET {URL}?{pair}")
    compare_body(diff, oracle, response.json(), limit=LIMIT)
    diff.check(dependency_hint(oracle))


def test_percentiles_are_the_documented_sketch(rollup_pairs, workload, workload_raw, workload_seeds, client):
    """Beyond the 1 % tolerance: every served percentile of every pair is the documented
    sketch's value (percentile_cont over bucket representatives) to the 0.05 ms of rounding.
    One test over all pairs; the message names each pair."""
    timeouts, taxonomy = workload_seeds
    diff = Diff("percentiles against the documented sketch (alpha 0.005)")
    for pair in rollup_pairs:
        oracle = bottlenecks(
            workload_raw,
            workload.as_of,
            period=pair.period,
            namespace=pair.namespace,
            task_name=pair.task_name,
            version=pair.version,
            limit=LIMIT,
            timeouts=timeouts,
            taxonomy=taxonomy,
        )
        response = client.get(URL, params=pair.params())
        assert response.status_code == 200, f"GET {URL}?{pair} -> {response.status_code}"
        compare_sketch(diff, oracle, response.json(), label=f"[{pair}] ")
    diff.check()
