"""Oracle tests: every figure the HTTP API serves, recomputed independently from the raw
Tasker tables by tests/helpers/oracle.py (plain Python, no SQL aggregation) and compared.

Two builds are checked (the ``dataset`` fixture):
- ``generated``: conftest's ``workload`` (``.source_path``, ``.as_of``, ``.project_dir``; a
  generated workload built with a dbt ``as_of`` 30 minutes before the generator's end) served
  by conftest's ``client``;
- ``edge``: the hand-built rows of helpers.hand_built.build_edge_tables() (retries, error
  classes from metadata / results / neither, JSON-null metadata, negative task and step
  durations, a zero-ms task, rows exactly on window edges and after as_of, the attempts-column
  fallback), written with the generator's column types, built here with dbt and served by an
  app of its own.

Comparison rules: the oracle keeps figures unrounded; durations must agree within
0.051 ms (or 1e-9 relative), rates within 0.00006, the health score within 0.06, counts
exactly. Percentiles the API labels ``approximate`` must agree within 1 % relative. Each
test collects every mismatch of its section before failing, so one run shows them all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from helpers.bottleneck_compare import compare_body, dependency_hint
from helpers.diff import Diff, compare_ranked, is_num
from helpers.hand_built import AS_OF as EDGE_AS_OF
from helpers.hand_built import build_edge_tables, write_source
from helpers.oracle import (
    APPROX_REL_TOL,
    DEFAULT_WEIGHTS,
    DURATION_ABS_TOL,
    HEALTH_COMPONENTS,
    RATE_ABS_TOL,
    SCORE_ABS_TOL,
    Raw,
    bottlenecks,
    facts,
    in_window,
    load_raw,
    load_seeds,
    performance,
)

PERFORMANCE_URL = "/tasker/analytics/performance"
BOTTLENECKS_URL = "/tasker/analytics/bottlenecks"
API_DEFAULT_LIMIT = 10
# "generated": conftest's workload (generator + dbt build, as_of 30 min before the generator's
# end); "edge": the hand-built edge cases of helpers.hand_built, built here with dbt.
DATASETS = ["generated", "edge"]


# =========================================================================== fixtures


@dataclass
class Dataset:
    """One build the API serves, with what the oracle needs to recompute it."""

    name: str
    raw: Raw
    as_of: datetime
    project_dir: Path
    settings: Any = None  # for datasets this module builds itself
    health: dict = field(default_factory=dict)


def _edge_dataset(tmp_path_factory) -> Dataset:
    """The hand-built edge-case workload of helpers.hand_built, built with dbt (as_of 12:00)."""
    from tasker_analytics.build.runner import build
    from tasker_analytics.config.settings import PROJECT_DIR, Settings

    directory = tmp_path_factory.mktemp("oracle_edge")
    tables = build_edge_tables()
    source = directory / "tasker_source.duckdb"
    write_source(tables, source)
    settings = Settings(duckdb_path=directory / "tasker_analytics.duckdb")
    build(
        settings,
        source_duckdb=str(source),
        as_of=EDGE_AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env={"DBT_TARGET_PATH": str(directory / "target"), "DBT_LOG_PATH": str(directory / "logs")},
    )
    return Dataset("edge", load_raw(str(source)), EDGE_AS_OF, Path(PROJECT_DIR), settings)


@pytest.fixture(scope="module", params=DATASETS)
def dataset(request, tmp_path_factory) -> Dataset:
    if request.param == "generated":
        workload = request.getfixturevalue("workload")
        return Dataset(
            "generated",
            load_raw(str(workload.source_path)),
            workload.as_of,
            Path(workload.project_dir),
            health={
                "weights": tuple(getattr(workload, "health_weights", DEFAULT_WEIGHTS)),
                "health_window_hours": getattr(workload, "health_window_hours", 1),
                "baseline_hours": getattr(workload, "health_baseline_hours", 168),
            },
        )
    return _edge_dataset(tmp_path_factory)


@pytest.fixture
def api(request, dataset):
    """The HTTP client of the dataset's build: conftest's `client` for the generated workload."""
    if dataset.name == "generated":
        yield request.getfixturevalue("client")
        return
    from litestar.testing import TestClient

    from tasker_analytics.api.app import create_app

    with TestClient(create_app(dataset.settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def seeds(dataset):
    return load_seeds(dataset.project_dir)


_RESPONSES: dict = {}


def fetch(client, dataset: Dataset, url: str, params: dict | None = None) -> dict:
    """GET once per (dataset, url, params) and keep the JSON body for the module."""
    key = (dataset.name, url, tuple(sorted((params or {}).items())))
    if key not in _RESPONSES:
        response = client.get(url, params=params or {})
        assert response.status_code == 200, f"GET {url} {params} -> {response.status_code}: {response.text[:500]}"
        _RESPONSES[key] = response.json()
    return _RESPONSES[key]


@pytest.fixture(scope="module", autouse=True)
def _fresh_response_cache():
    _RESPONSES.clear()
    yield
    _RESPONSES.clear()


@pytest.fixture
def perf_api(api, dataset) -> dict:
    return fetch(api, dataset, PERFORMANCE_URL)


@pytest.fixture(scope="module")
def perf_oracle(dataset) -> dict:
    return performance(dataset.raw, dataset.as_of, **dataset.health)


def _approximate(body: dict) -> bool:
    return body.get("percentiles", "exact") == "approximate"


def _alternatives_hint(oracle: dict, name: str) -> str:
    alts = oracle.get("_alternatives", {}).get(name)
    return f"(oracle's alternative readings of {name}: {alts})" if alts else ""


# =========================================================================== performance endpoint


def test_performance_build_reference(perf_api, dataset):
    as_of = dataset.as_of
    data_as_of = datetime.fromisoformat(str(perf_api["data_as_of"]))
    if data_as_of.tzinfo is not None:
        data_as_of = data_as_of.astimezone(UTC).replace(tzinfo=None)
    assert data_as_of == as_of, "the API's data_as_of must be the build's as_of the oracle uses"
    assert perf_api.get("percentiles", "exact") in {"exact", "approximate"}


@pytest.mark.parametrize("window", ["1h", "4h", "24h"])
def test_performance_trends(perf_api, perf_oracle, window):
    oracle = perf_oracle["performance_trends"][window]
    api = perf_api["performance_trends"][window]
    diff = Diff(f"performance_trends[{window}]")
    for name in ("created", "settled", "completed", "failed", "cancelled", "resolved_manually"):
        diff.count(name, oracle[name], api.get(name))
    diff.rate("completion_rate", oracle["completion_rate"], api.get("completion_rate"))
    diff.rate("error_rate", oracle["error_rate"], api.get("error_rate"))
    diff.duration("avg_duration_ms", oracle["avg_duration_ms"], api.get("avg_duration_ms"))
    diff.check()


def test_performance_trend_windows_are_exactly_three(perf_api):
    assert set(perf_api["performance_trends"]) == {"1h", "4h", "24h"}


def test_task_statistics(perf_api, perf_oracle):
    oracle, api = perf_oracle["task_statistics"], perf_api["task_statistics"]
    diff = Diff("task_statistics")
    for name in ("total_tasks", "completed", "failed", "retried", "cancelled", "resolved_manually", "settled"):
        diff.count(name, oracle[name], api.get(name))
    for name in ("completion_rate", "failure_rate", "retry_rate"):
        diff.rate(name, oracle[name], api.get(name))
    diff.check()


def test_processing_times(perf_api, perf_oracle):
    oracle, api = perf_oracle["processing_times"], perf_api["processing_times"]
    approx = _approximate(perf_api)
    diff = Diff("processing_times")
    for name in ("p50", "p95", "p99"):
        diff.duration(name, oracle[name], api.get(name), approximate=approx)
    diff.duration("avg_ms", oracle["avg_ms"], api.get("avg_ms"))
    diff.count("count", oracle["count"], api.get("count"))
    diff.check(_alternatives_hint(perf_oracle, "processing_times.count"))


def test_active_tasks_namespaces_task_types(perf_api, perf_oracle):
    diff = Diff("performance counts")
    for name in ("active_tasks", "namespaces", "task_types"):
        diff.count(name, perf_oracle[name], perf_api.get(name))
    diff.check()


def test_performance_data_quality(perf_api, perf_oracle):
    diff = Diff("performance data_quality")
    diff.count(
        "negative_durations",
        perf_oracle["data_quality"]["negative_durations"],
        perf_api.get("data_quality", {}).get("negative_durations"),
    )
    diff.check(_alternatives_hint(perf_oracle, "data_quality.negative_durations"))


def test_health_components(perf_api, perf_oracle):
    approx = _approximate(perf_api)
    api = {c.get("name"): c for c in perf_api["health_components"]}
    diff = Diff("health_components")
    diff.equal("names (in order)", list(HEALTH_COMPONENTS), [c.get("name") for c in perf_api["health_components"]])
    for oracle in perf_oracle["health_components"]:
        name = oracle["name"]
        got = api.get(name)
        if got is None:
            diff.add(name, "missing")
            continue
        if name == "latency" and approx:
            # a ratio of two approximate p95s: up to ~2 % relative
            if abs(got.get("value", -1) - oracle["value"]) > 2.01 * APPROX_REL_TOL * oracle["value"] + RATE_ABS_TOL:
                diff.add(f"{name}.value", f"oracle {oracle['value']:.6f} != API {got.get('value')} (approximate)")
        else:
            diff.rate(f"{name}.value", oracle["value"], got.get("value"))
        diff.count(f"{name}.count", oracle["count"], got.get("count"))
        diff.equal(f"{name}.window_hours", oracle["window_hours"], got.get("window_hours"))
        if not is_num(got.get("weight")) or abs(got["weight"] - oracle["weight"]) > 1e-9:
            diff.add(f"{name}.weight", f"oracle {oracle['weight']} != API {got.get('weight')!r}")
        if not isinstance(got.get("description"), str) or not got["description"]:
            diff.add(f"{name}.description", "missing or empty")
    diff.check(
        _alternatives_hint(perf_oracle, "health.latency.count")
        + "\n"
        + _alternatives_hint(perf_oracle, "health.latency.p95")
    )


def test_system_health_score(perf_api, perf_oracle):
    oracle = perf_oracle["system_health_score"]
    api = perf_api["system_health_score"]
    tol = SCORE_ABS_TOL
    if _approximate(perf_api):
        tol += 100 * 0.2 * 2 * APPROX_REL_TOL  # latency weight x ~2 % on the ratio
    assert is_num(api) and 0 <= api <= 100
    assert abs(api - oracle) <= tol, f"system_health_score: oracle {oracle:.4f} != API {api}"
    assert abs(api * 10 - round(api * 10)) < 1e-6, f"score {api} not rounded to 1 decimal"
    # the score is the documented composite of the components the API shows
    comps = perf_api["health_components"]
    recomputed = 100 * sum(c["weight"] * c["value"] for c in comps) / sum(c["weight"] for c in comps)
    assert abs(api - recomputed) <= SCORE_ABS_TOL, f"score {api} != composite of its components {recomputed:.4f}"


# =========================================================================== bottleneck endpoint


def _pick_scope(raw_facts_tasks, as_of) -> dict:
    """Namespace / task name / version with the most tasks settled in the last 24 h."""
    counts: dict = {}
    for t in raw_facts_tasks:
        if in_window(t.settle_time, as_of, 24):
            counts[t.task_type] = counts.get(t.task_type, 0) + 1
    by_ns: dict = {}
    for (ns, _, _), n in counts.items():
        by_ns[ns] = by_ns.get(ns, 0) + n
    ns = max(sorted(by_ns), key=lambda k: by_ns[k])
    by_name: dict = {}
    for (n_, name, _), n in counts.items():
        if n_ == ns:
            by_name[name] = by_name.get(name, 0) + n
    name = max(sorted(by_name), key=lambda k: by_name[k])
    versions = sorted((v for (n_, nm, v) in counts if n_ == ns and nm == name), key=lambda v: -counts[(ns, name, v)])
    # a task name that appears in another namespace or with several versions makes the
    # narrower scopes meaningful; report what we picked in the test ids' params
    other_ns = sorted(n_ for n_ in by_ns if n_ != ns)
    return {"ns": ns, "name": name, "version": versions[0], "other_ns": other_ns[0] if other_ns else ns}


SCENARIOS = {
    # id: (params builder from the picked scope, oracle kwargs builder)
    "default": lambda s: {},
    "period=1": lambda s: {"period": 1},
    "period=168": lambda s: {"period": 168},
    "period=4,limit=50": lambda s: {"period": 4, "limit": 50},
    "namespace": lambda s: {"namespace": s["ns"]},
    "other_namespace,period=72": lambda s: {"namespace": s["other_ns"], "period": 72},
    "namespace+task_name": lambda s: {"namespace": s["ns"], "task_name": s["name"]},
    "namespace+task_name+version": lambda s: {"namespace": s["ns"], "task_name": s["name"], "version": s["version"]},
    "alias name,period=4": lambda s: {"name": s["name"], "period": 4},
    "version only,period=168,limit=50": lambda s: {"version": s["version"], "period": 168, "limit": 50},
    "no match": lambda s: {"namespace": "no_such_namespace_zz"},
    "limit=3": lambda s: {"limit": 3},
    "limit=1,period=1": lambda s: {"limit": 1, "period": 1},
}


@pytest.fixture(scope="module")
def picked_scope(dataset) -> dict:
    return _pick_scope(facts(dataset.raw, dataset.as_of).tasks, dataset.as_of)


@pytest.fixture(scope="module")
def bottleneck_case(dataset, seeds, picked_scope):
    timeouts, taxonomy = seeds
    raw, as_of = dataset.raw, dataset.as_of
    cache: dict = {}

    def get(scenario: str) -> tuple[dict, dict]:
        if scenario not in cache:
            params = SCENARIOS[scenario](picked_scope)
            kwargs = {k: v for k, v in params.items() if k != "name"}
            if "name" in params:
                kwargs["task_name"] = params["name"]
            kwargs.setdefault("limit", API_DEFAULT_LIMIT)
            oracle = bottlenecks(raw, as_of, timeouts=timeouts, taxonomy=taxonomy, **kwargs)
            cache[scenario] = (params, oracle)
        return cache[scenario]

    return get


def _both(client, dataset, bottleneck_case, scenario) -> tuple[dict, dict, dict]:
    params, oracle = bottleneck_case(scenario)
    body = fetch(client, dataset, BOTTLENECKS_URL, {k: str(v) for k, v in params.items()})
    return params, oracle, body


SCENARIO_IDS = list(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_bottleneck_meta(api, dataset, bottleneck_case, scenario):
    params, oracle, body = _both(api, dataset, bottleneck_case, scenario)
    diff = Diff(f"bottlenecks[{scenario}] {params} meta")
    diff.equal("period_hours", oracle["period_hours"], body.get("period_hours"))
    period = oracle["period_hours"]
    if body.get("analysis_period") not in {f"{period} hours", f"{period} hour"}:
        diff.add("analysis_period", f"expected '{period} hours', API gave {body.get('analysis_period')!r}")
    scope = dict(body.get("scope") or {})
    if "name" in scope and "task_name" not in scope:
        scope["task_name"] = scope.pop("name")
    diff.equal("scope", oracle["scope"], scope)
    if body.get("percentiles") not in {"exact", "approximate"}:
        diff.add("percentiles", f"must be 'exact' or 'approximate', API gave {body.get('percentiles')!r}")
    diff.count(
        "data_quality.negative_durations",
        oracle["data_quality"]["negative_durations"],
        (body.get("data_quality") or {}).get("negative_durations"),
    )
    diff.count(
        "data_quality.negative_step_durations",
        oracle["data_quality"]["negative_step_durations"],
        (body.get("data_quality") or {}).get("negative_step_durations"),
    )
    diff.check(_alternatives_hint(oracle, "data_quality.negative_durations"))


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_bottleneck_slowest_tasks(api, dataset, bottleneck_case, scenario):
    params, oracle, body = _both(api, dataset, bottleneck_case, scenario)
    approx = _approximate(body)
    diff = Diff(f"bottlenecks[{scenario}] {params} slowest_tasks")

    def compare(d: Diff, path: str, o: dict, a: dict) -> None:
        for name in ("execution_count", "completed", "failed"):
            d.count(f"{path}.{name}", o[name], a.get(name))
        d.duration(f"{path}.avg_duration_ms", o["avg_duration_ms"], a.get("avg_duration_ms"))
        d.duration(f"{path}.p95_duration_ms", o["p95_duration_ms"], a.get("p95_duration_ms"), approximate=approx)
        d.rate(f"{path}.failure_rate", o["failure_rate"], a.get("failure_rate"))

    compare_ranked(
        diff,
        "slowest_tasks",
        oracle["_all_slowest_tasks"],
        body.get("slowest_tasks"),
        limit=params.get("limit", API_DEFAULT_LIMIT),
        key=lambda r: (r["namespace"], r["task_name"], r["version"]),
        sort_value=lambda r: r["avg_duration_ms"],
        tie_tol=DURATION_ABS_TOL,
        compare_row=compare,
    )
    diff.check()


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_bottleneck_slowest_steps(api, dataset, bottleneck_case, scenario):
    params, oracle, body = _both(api, dataset, bottleneck_case, scenario)
    approx = _approximate(body)
    diff = Diff(f"bottlenecks[{scenario}] {params} slowest_steps")

    def compare(d: Diff, path: str, o: dict, a: dict) -> None:
        for name in ("execution_count", "completed", "failed", "retried"):
            d.count(f"{path}.{name}", o[name], a.get(name))
        d.duration(f"{path}.avg_duration_ms", o["avg_duration_ms"], a.get("avg_duration_ms"))
        for name in ("p95_duration_ms", "p99_duration_ms"):
            d.duration(f"{path}.{name}", o[name], a.get(name), approximate=approx)
        d.rate(f"{path}.failure_rate", o["failure_rate"], a.get("failure_rate"))
        d.rate(f"{path}.retry_rate", o["retry_rate"], a.get("retry_rate"))

    compare_ranked(
        diff,
        "slowest_steps",
        oracle["_all_slowest_steps"],
        body.get("slowest_steps"),
        limit=params.get("limit", API_DEFAULT_LIMIT),
        key=lambda r: (r["namespace"], r["task_name"], r["version"], r["step_name"]),
        sort_value=lambda r: r["avg_duration_ms"],
        tie_tol=DURATION_ABS_TOL,
        compare_row=compare,
    )
    diff.check()


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_bottleneck_error_patterns(api, dataset, bottleneck_case, scenario):
    params, oracle, body = _both(api, dataset, bottleneck_case, scenario)
    diff = Diff(f"bottlenecks[{scenario}] {params} error_patterns")

    def compare(d: Diff, path: str, o: dict, a: dict) -> None:
        d.count(f"{path}.frequency", o["frequency"], a.get("frequency"))
        d.equal(f"{path}.affected_steps", o["affected_steps"], a.get("affected_steps"))
        d.equal(f"{path}.error_classes", o["error_classes"], a.get("error_classes"))

    compare_ranked(
        diff,
        "error_patterns",
        oracle["_all_error_patterns"],
        body.get("error_patterns"),
        limit=params.get("limit", API_DEFAULT_LIMIT),
        key=lambda r: (r["error_type"],),
        sort_value=lambda r: r["frequency"],
        tie_tol=0,
        compare_row=compare,
    )
    diff.check(f"(oracle's error-class sources in scope: {oracle['_error_class_sources']})")


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_bottleneck_performance_distribution(api, dataset, bottleneck_case, scenario):
    params, oracle, body = _both(api, dataset, bottleneck_case, scenario)
    approx = _approximate(body)
    o, a = oracle["performance_distribution"], body.get("performance_distribution") or {}
    diff = Diff(f"bottlenecks[{scenario}] {params} performance_distribution")
    diff.count("count", o["count"], a.get("count"))
    for name in ("avg_ms", "min_ms", "max_ms"):
        diff.duration(name, o[name], a.get(name))
    for name in ("p50", "p95", "p99"):
        diff.duration(name, o[name], a.get(name), approximate=approx)
    hist = a.get("histogram")
    if not isinstance(hist, list) or len(hist) != len(o["histogram"]):
        diff.add("histogram", f"oracle buckets {[(h['bucket'], h['count']) for h in o['histogram']]} != API {hist!r}")
    else:
        for ob, ab in zip(o["histogram"], hist, strict=True):
            p = f"histogram[k={ob['bucket']}]"
            diff.duration(f"{p}.lower_ms", ob["lower_ms"], ab.get("lower_ms"))
            diff.duration(f"{p}.upper_ms", ob["upper_ms"], ab.get("upper_ms"))
            diff.count(f"{p}.count", ob["count"], ab.get("count"))
        if sum(h["count"] for h in o["histogram"]) != o["count"]:
            diff.add("histogram", "oracle bucket counts do not add up (oracle bug)")
    diff.check()


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_bottleneck_full_contract(api, dataset, bottleneck_case, scenario):
    """Every figure of the rollup-served contract (waits, run times, p50/p99, error-pattern
    recovery, dependency_analysis) -- see tests/helpers/bottleneck_compare.py."""
    params, oracle, body = _both(api, dataset, bottleneck_case, scenario)
    diff = Diff(f"bottlenecks[{scenario}] {params} full contract")
    compare_body(diff, oracle, body, limit=params.get("limit", API_DEFAULT_LIMIT))
    diff.check(dependency_hint(oracle))


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_bottleneck_recommendations(api, dataset, bottleneck_case, scenario):
    """The ``timeout_optimization`` and ``critical_path`` recommendations (the rules whose
    figures the oracle recomputes; tests/integration/test_recommendations.py covers every rule on a
    hand-built workload): every such row the API serves is one the oracle expects, with the
    same evidence and impact; every one the oracle expects is served unless the list is full
    of rows with a larger impact; the list is sorted by impact, then type and names."""
    params, oracle, body = _both(api, dataset, bottleneck_case, scenario)
    approx = _approximate(body)
    limit = params.get("limit", API_DEFAULT_LIMIT)
    diff = Diff(f"bottlenecks[{scenario}] {params} recommendations")
    recs = body.get("recommendations")
    if not isinstance(recs, list):
        diff.add("recommendations", f"expected a list, API gave {recs!r}")
        diff.check()
    if len(recs) > limit:
        diff.add("recommendations", f"{len(recs)} rows for limit {limit}")

    ident = ("type", "namespace", "task_name", "version", "step")
    expected = {tuple(r[k] for k in ident): r for rows in oracle["_contract_recommendations"].values() for r in rows}
    # the served list: impact descending, then type, namespace, task name, version, step
    for i in range(len(recs) - 1):
        a, b = recs[i], recs[i + 1]
        ia, ib = a.get("estimated_impact_ms_per_day"), b.get("estimated_impact_ms_per_day")
        if not (is_num(ia) and is_num(ib)):
            diff.add(f"recommendations[{i}]", f"estimated_impact_ms_per_day {ia!r} / {ib!r} not numbers")
            continue
        ka = tuple("" if a.get(k) is None else a.get(k) for k in ident)
        kb = tuple("" if b.get(k) is None else b.get(k) for k in ident)
        if ia < ib - DURATION_ABS_TOL or (abs(ia - ib) <= 1e-9 and ka > kb):
            diff.add("recommendations", f"order: {ka} (impact {ia}) before {kb} (impact {ib})")

    seen = set()
    for i, a in enumerate(recs):
        if a.get("type") not in oracle["_contract_recommendations"]:
            continue
        k = tuple(a.get(x) for x in ident)
        seen.add(k)
        o = expected.get(k)
        path = f"recommendations[{i}]{k}"
        if o is None:
            diff.add(path, "not expected by the oracle")
            continue
        if not isinstance(a.get("rationale"), str) or not a["rationale"]:
            diff.add(f"{path}.rationale", "missing or empty")
        ev, oev = a.get("evidence") or {}, o["evidence"]
        if o["type"] == "timeout_optimization":
            if not is_num(a.get("current_timeout")) or abs(a["current_timeout"] - o["current_timeout"]) > 1e-9:
                diff.add(
                    f"{path}.current_timeout", f"oracle {o['current_timeout']} != API {a.get('current_timeout')!r}"
                )
            for name in ("p95_ms", "p99_ms"):
                diff.duration(f"{path}.{name}", o[name], a.get(name), approximate=approx)
                diff.duration(f"{path}.evidence.{name}", oev[name], ev.get(name), approximate=approx)
            allowed = _suggested_timeouts(o["p99_ms"], approx)
            if a.get("suggested_timeout") not in allowed:
                diff.add(
                    f"{path}.suggested_timeout",
                    f"oracle {sorted(allowed)} (p99 {o['p99_ms']:.1f} ms x 1.5, "
                    f"up to a multiple of 5 s) != API {a.get('suggested_timeout')!r}",
                )
            diff.duration(f"{path}.evidence.timeout_ms", oev["timeout_ms"], ev.get("timeout_ms"))
            diff.count(f"{path}.evidence.completed", oev["completed"], ev.get("completed"))
            diff.count(f"{path}.evidence.over_timeout", oev["over_timeout"], ev.get("over_timeout"))
        else:
            diff.count(f"{path}.evidence.tasks_analyzed", oev["tasks_analyzed"], ev.get("tasks_analyzed"))
            diff.count(f"{path}.evidence.on_critical_path", oev["on_critical_path"], ev.get("on_critical_path"))
            diff.duration(f"{path}.evidence.critical_path_ms", oev["critical_path_ms"], ev.get("critical_path_ms"))
            diff.rate(f"{path}.evidence.share", oev["share"], ev.get("share"))
        diff.duration(
            f"{path}.estimated_impact_ms_per_day",
            o["estimated_impact_ms_per_day"],
            a.get("estimated_impact_ms_per_day"),
        )

    impacts = [r.get("estimated_impact_ms_per_day") for r in recs if is_num(r.get("estimated_impact_ms_per_day"))]
    floor = min(impacts) if len(recs) >= limit and impacts else None
    for k, o in expected.items():
        if k in seen or o["borderline"]:
            continue
        if floor is not None and o["estimated_impact_ms_per_day"] <= floor + DURATION_ABS_TOL:
            continue  # the list is full of rows at least as heavy
        diff.add("recommendations", f"oracle row {k} (impact {o['estimated_impact_ms_per_day']:.1f}) missing")
    diff.check()


def _suggested_timeouts(p99_ms: float, approximate: bool) -> set[int]:
    """Multiples of 5 s the API may suggest for this p99 (float edges and approximation)."""
    lo = hi = p99_ms * 1.5 / 1000
    if approximate:
        lo, hi = lo * (1 - APPROX_REL_TOL), hi * (1 + APPROX_REL_TOL)
    lo, hi = lo - 1e-6, hi + 1e-6  # a p99 landing exactly on a multiple of 5 s
    return set(range(int(math.ceil(lo / 5) * 5), int(math.ceil(hi / 5) * 5) + 1, 5))


def test_bottleneck_no_match_is_empty(api, dataset, bottleneck_case):
    """A namespace that matches nothing: 200, empty lists, zero counts, null figures."""
    _, _, body = _both(api, dataset, bottleneck_case, "no match")
    assert body["slowest_tasks"] == [] and body["slowest_steps"] == []
    assert body["error_patterns"] == [] and body["recommendations"] == []
    dist = body["performance_distribution"]
    assert dist["count"] == 0 and dist["histogram"] == []
    assert all(dist.get(k) is None for k in ("avg_ms", "min_ms", "max_ms", "p50", "p95", "p99"))
    assert body["data_quality"]["negative_durations"] == 0


@pytest.mark.parametrize("dataset", ["generated"], indirect=True)
def test_scenarios_are_not_trivial(dataset, bottleneck_case):
    """Guard: the picked scopes of the generated workload must exercise the comparisons."""
    for scenario in ("default", "namespace", "namespace+task_name+version", "period=168"):
        _, oracle = bottleneck_case(scenario)
        assert oracle["_all_slowest_tasks"] and oracle["_all_slowest_steps"], scenario
    _, oracle = bottleneck_case("period=168")
    assert oracle["_all_error_patterns"], "the workload should hold error events"
    _, oracle = bottleneck_case("limit=3")
    assert len(oracle["_all_slowest_steps"]) > 3, "limit=3 must actually cut the step list"
    types = {r["type"] for s in ("default", "period=168") for r in bottleneck_case(s)[1]["_all_recommendations"]}
    assert "timeout_optimization" in types, "no scenario exercises timeout recommendations"
    sources = bottleneck_case("period=168")[1]["_error_class_sources"]
    assert sources.get("metadata") and sources.get("results"), f"error-class fallback not exercised: {sources}"
