"""The synthetic Tasker workload generator: its output obeys Tasker's invariants and exercises
every semantic the analytics compute (the source tables and docs/API.md's definitions)."""

from __future__ import annotations

import argparse
import csv
import uuid
from collections import defaultdict, deque
from datetime import datetime

import duckdb
import psycopg
import pytest

from helpers.paths import REPOSITORY
from helpers.workloads import drop_schemas
from tasker_analytics.generate import catalog, options, writers
from tasker_analytics.generate.workload import TABLE_NAMES, generate_workload
from tasker_analytics.generate.writers import write_duckdb

ROOT = REPOSITORY
AS_OF = datetime(2026, 11, 28, 12, 0, 0)
TASKS = 2000

# The source contract (Tasker's schema) as DuckDB types, written out independently of
# the generator's own column list.
TS, INT, BIG, TXT, BOOL, JSON = "TIMESTAMP", "INTEGER", "BIGINT", "VARCHAR", "BOOLEAN", "JSON"
EXPECTED_COLUMNS = {
    "tasker_task_namespaces": [
        ("task_namespace_id", INT),
        ("name", TXT),
        ("description", TXT),
        ("created_at", TS),
        ("updated_at", TS),
    ],
    "tasker_named_tasks": [
        ("named_task_id", INT),
        ("name", TXT),
        ("task_namespace_id", BIG),
        ("version", TXT),
        ("description", TXT),
        ("configuration", JSON),
        ("created_at", TS),
        ("updated_at", TS),
    ],
    "tasker_dependent_systems": [
        ("dependent_system_id", INT),
        ("name", TXT),
        ("description", TXT),
        ("created_at", TS),
        ("updated_at", TS),
    ],
    "tasker_named_steps": [
        ("named_step_id", INT),
        ("dependent_system_id", INT),
        ("name", TXT),
        ("description", TXT),
        ("created_at", TS),
        ("updated_at", TS),
    ],
    "tasker_tasks": [
        ("task_id", BIG),
        ("named_task_id", INT),
        ("complete", BOOL),
        ("requested_at", TS),
        ("initiator", TXT),
        ("source_system", TXT),
        ("reason", TXT),
        ("bypass_steps", JSON),
        ("tags", JSON),
        ("context", JSON),
        ("identity_hash", TXT),
        ("created_at", TS),
        ("updated_at", TS),
    ],
    "tasker_workflow_steps": [
        ("workflow_step_id", BIG),
        ("task_id", BIG),
        ("named_step_id", INT),
        ("retryable", BOOL),
        ("retry_limit", INT),
        ("in_process", BOOL),
        ("processed", BOOL),
        ("processed_at", TS),
        ("attempts", INT),
        ("last_attempted_at", TS),
        ("backoff_request_seconds", INT),
        ("inputs", JSON),
        ("results", JSON),
        ("skippable", BOOL),
        ("created_at", TS),
        ("updated_at", TS),
    ],
    "tasker_workflow_step_edges": [
        ("id", BIG),
        ("from_step_id", BIG),
        ("to_step_id", BIG),
        ("name", TXT),
        ("created_at", TS),
        ("updated_at", TS),
    ],
    "tasker_task_transitions": [
        ("id", BIG),
        ("task_id", BIG),
        ("from_state", TXT),
        ("to_state", TXT),
        ("metadata", JSON),
        ("sort_key", INT),
        ("most_recent", BOOL),
        ("created_at", TS),
        ("updated_at", TS),
    ],
    "tasker_workflow_step_transitions": [
        ("id", BIG),
        ("workflow_step_id", BIG),
        ("from_state", TXT),
        ("to_state", TXT),
        ("metadata", JSON),
        ("sort_key", INT),
        ("most_recent", BOOL),
        ("created_at", TS),
        ("updated_at", TS),
    ],
}
PG_TYPES = {TS: "timestamp without time zone", INT: "integer", BIG: "bigint", TXT: "character varying", BOOL: "boolean"}
TRANSITION_TABLES = {"tasker_task_transitions": "task_id", "tasker_workflow_step_transitions": "workflow_step_id"}
# Steps set to trip the timeout recommendation (generate/workload.py catalog header).
TIMEOUT_TRIPPING = {
    ("data_pipeline", "customer_analytics", "extract_events"),
    ("data_pipeline", "warehouse_etl", "load_warehouse"),
    ("payments", "reconcile_transactions", "fetch_processor_report"),
}


@pytest.fixture(scope="module")
def tables():
    return generate_workload(TASKS, seed=42, as_of=AS_OF)


@pytest.fixture(scope="module")
def db(tables, tmp_path_factory):
    path = tmp_path_factory.mktemp("generator") / "nested" / "tasker.duckdb"
    write_duckdb(tables, str(path))
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET schema = 'public'")
    yield con
    con.close()


def rows(con, sql: str, *params) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def scalar(con, sql: str, *params):
    return con.execute(sql, list(params)).fetchone()[0]


FINAL_TASK_STATE = """
    select t.task_id, coalesce(tr.to_state, 'pending') as state, tr.created_at as settled_at,
           t.created_at
    from tasker_tasks as t
    left join tasker_task_transitions as tr on tr.task_id = t.task_id and tr.most_recent
"""


# ---- determinism ---------------------------------------------------------------------------


def test_same_arguments_give_identical_tables(tables):
    again = generate_workload(TASKS, seed=42, as_of=AS_OF)
    assert list(again) == list(TABLE_NAMES)
    for name in TABLE_NAMES:
        assert again[name].equals(tables[name]), name


def test_another_seed_gives_other_data(tables):
    other = generate_workload(TASKS, seed=43, as_of=AS_OF)
    for name in ("tasker_tasks", "tasker_workflow_steps", "tasker_workflow_step_transitions"):
        assert not other[name].equals(tables[name]), name


# ---- shape ---------------------------------------------------------------------------------


def test_duckdb_has_the_nine_tables_with_exact_columns_and_types(db):
    for name, expected in EXPECTED_COLUMNS.items():
        got = rows(
            db,
            """select column_name, data_type from information_schema.columns
                          where table_schema = 'public' and table_name = ?
                          order by ordinal_position""",
            name,
        )
        assert got == expected, name
    assert set(EXPECTED_COLUMNS) == set(TABLE_NAMES)


def test_catalog_is_rich_enough(db):
    assert scalar(db, "select count(*) from tasker_task_namespaces") >= 5
    assert scalar(db, "select count(*) from tasker_named_tasks") >= 12
    assert (
        scalar(
            db,
            """select count(*) from (select name from tasker_named_tasks
                         group by name having count(distinct version) = 2)""",
        )
        >= 2
    )
    per_task = rows(db, """select count(*) from tasker_workflow_steps group by task_id""")
    sizes = [n for (n,) in per_task]
    assert min(sizes) >= 3 and max(sizes) <= 12
    assert 7.5 <= sum(sizes) / len(sizes) <= 10
    # a step name used by several task types
    assert (
        scalar(
            db,
            """select max(n) from (
        select ns.name, count(distinct ws_t.named_task_id) as n
        from tasker_workflow_steps as ws
        join tasker_tasks as ws_t on ws_t.task_id = ws.task_id
        join tasker_named_steps as ns on ns.named_step_id = ws.named_step_id
        group by ns.name)""",
        )
        >= 3
    )


def test_ids_are_unique_and_keys_resolve(db):
    for table, key in [
        ("tasker_tasks", "task_id"),
        ("tasker_workflow_steps", "workflow_step_id"),
        ("tasker_workflow_step_edges", "id"),
        *((t, "id") for t in TRANSITION_TABLES),
    ]:
        assert scalar(db, f"select count(*) - count(distinct {key}) from {table}") == 0, table
    assert (
        scalar(
            db,
            """select count(*) from tasker_workflow_steps as s
                         left join tasker_tasks as t using (task_id) where t.task_id is null""",
        )
        == 0
    )
    assert (
        scalar(
            db,
            """select count(*) from tasker_workflow_step_transitions as tr
                         left join tasker_workflow_steps as s using (workflow_step_id)
                         where s.workflow_step_id is null""",
        )
        == 0
    )
    assert (
        scalar(
            db,
            """select count(*) from tasker_tasks as t
                         left join tasker_named_tasks as n using (named_task_id)
                         where n.named_task_id is null""",
        )
        == 0
    )


def test_tasks_spread_over_the_history_in_id_order(db):
    first, last = rows(db, "select min(created_at), max(created_at) from tasker_tasks")[0]
    assert (AS_OF - first).total_seconds() <= 192 * 3600
    assert (AS_OF - first).total_seconds() > 180 * 3600
    assert (AS_OF - last).total_seconds() < 3600
    assert (
        scalar(
            db,
            """select count(*) from (select created_at,
                         lag(created_at) over (order by task_id) as prev from tasker_tasks)
                         where created_at < prev""",
        )
        == 0
    )
    assert scalar(db, "select count(*) from tasker_tasks where requested_at <> created_at") == 0
    assert (
        scalar(
            db,
            """select count(*) from tasker_tasks
                         where not regexp_full_match(identity_hash, '[0-9a-f]{64}')""",
        )
        == 0
    )


# ---- transitions ---------------------------------------------------------------------------


@pytest.mark.parametrize("table", list(TRANSITION_TABLES))
def test_exactly_one_most_recent_per_entity_and_it_is_the_last(db, table):
    key = TRANSITION_TABLES[table]
    bad = rows(
        db,
        f"""
        select {key} from {table} group by {key}
        having count(*) filter (where most_recent) <> 1
            or max(sort_key) <> max(sort_key) filter (where most_recent)
            or min(sort_key) <> 1 or max(sort_key) <> count(*)
            or count(distinct sort_key) <> count(*)""",
    )
    assert bad == []


@pytest.mark.parametrize("table", list(TRANSITION_TABLES))
def test_transitions_chain_in_time_order(db, table):
    key = TRANSITION_TABLES[table]
    ordered = f"""select *, lag(to_state) over w as prev_to, lag(created_at) over w as prev_at,
                         lag(id) over w as prev_id
                  from {table} window w as (partition by {key} order by sort_key)"""
    # from_state continues the previous row; the first row leaves 'pending'
    assert (
        scalar(
            db,
            f"""select count(*) from ({ordered})
                          where from_state is distinct from coalesce(prev_to, 'pending')""",
        )
        == 0
    )
    assert scalar(db, f"select count(*) from ({ordered}) where created_at < prev_at") == 0
    assert scalar(db, f"select count(*) from ({ordered}) where id < prev_id") == 0
    assert scalar(db, f"select count(*) from {table} where updated_at <> created_at") == 0


def test_state_moves_follow_tasker(db):
    step_moves = {
        ("pending", "in_progress"),
        ("in_progress", "complete"),
        ("in_progress", "error"),
        ("error", "pending"),
        ("error", "resolved_manually"),
        ("in_progress", "cancelled"),
        ("pending", "cancelled"),
    }
    task_moves = {
        ("pending", "in_progress"),
        ("in_progress", "complete"),
        ("in_progress", "error"),
        ("in_progress", "cancelled"),
        ("error", "resolved_manually"),
    }
    got_steps = set(rows(db, "select distinct from_state, to_state from tasker_workflow_step_transitions"))
    got_tasks = set(rows(db, "select distinct from_state, to_state from tasker_task_transitions"))
    assert got_steps <= step_moves
    assert got_tasks <= task_moves
    assert ("error", "pending") in got_steps and ("error", "resolved_manually") in got_steps


def test_nothing_after_as_of(db):
    for name, columns in EXPECTED_COLUMNS.items():
        for column, kind in columns:
            if kind == TS:
                latest = scalar(db, f"select max({column}) from {name}")
                assert latest is None or latest <= AS_OF, (name, column)


def test_timestamps_have_millisecond_precision(db):
    for table in ("tasker_tasks", "tasker_workflow_step_transitions", "tasker_task_transitions"):
        assert (
            scalar(
                db,
                f"""select count(*) from {table}
                              where epoch_us(created_at) % 1000 <> 0""",
            )
            == 0
        )


# ---- workflow steps ------------------------------------------------------------------------


def test_step_columns_agree_with_transitions(db):
    mismatches = scalar(
        db,
        """
        with agg as (
            select workflow_step_id,
                   count(*) filter (where to_state = 'in_progress') as starts,
                   max(created_at) filter (where to_state = 'in_progress') as last_start,
                   max(to_state) filter (where most_recent) as final_state,
                   max(created_at) filter (where most_recent) as final_at
            from tasker_workflow_step_transitions group by workflow_step_id)
        select count(*) from tasker_workflow_steps as s
        left join agg using (workflow_step_id)
        where s.attempts is distinct from nullif(coalesce(agg.starts, 0), 0)
           or s.last_attempted_at is distinct from agg.last_start
           or s.in_process <> (coalesce(agg.final_state, 'pending') = 'in_progress')
           or s.processed <> (coalesce(agg.final_state, 'pending') = 'complete')
           or s.processed_at is distinct from
              (case when agg.final_state = 'complete' then agg.final_at end)""",
    )
    assert mismatches == 0


def test_results_hold_success_payload_or_latest_failure(db):
    assert (
        scalar(
            db,
            """
        with fin as (select workflow_step_id, to_state from tasker_workflow_step_transitions
                     where most_recent),
             last_err as (select workflow_step_id, max(sort_key) as k
                          from tasker_workflow_step_transitions where to_state = 'error'
                          group by workflow_step_id)
        select count(*) from tasker_workflow_steps as s
        join fin using (workflow_step_id) left join last_err using (workflow_step_id)
        where (fin.to_state = 'complete' and s.results->>'status' is distinct from 'ok')
           or (fin.to_state in ('error', 'resolved_manually')
               and (s.results->>'error_class' is null or s.results->>'error' is null
                    or json_array_length(s.results->'backtrace') < 2))""",
        )
        == 0
    )
    # where the error transition names its class, the latest one matches the results
    assert (
        scalar(
            db,
            """
        with last_err as (
            select workflow_step_id, metadata->>'error_class' as cls,
                   row_number() over (partition by workflow_step_id order by sort_key desc) as rn
            from tasker_workflow_step_transitions where to_state = 'error')
        select count(*) from tasker_workflow_steps as s join last_err using (workflow_step_id)
        where rn = 1 and cls is not null and not s.processed
          and cls <> s.results->>'error_class'""",
        )
        == 0
    )


def test_retries_exist_and_settle_both_ways(db):
    assert (
        scalar(
            db,
            """select count(*) from tasker_workflow_steps
                         where attempts > 1 and processed""",
        )
        > 20
    )
    exhausted = scalar(
        db,
        """select count(*) from tasker_workflow_steps as s
                              join tasker_workflow_step_transitions as tr using (workflow_step_id)
                              where tr.most_recent and tr.to_state = 'error'
                                and (s.attempts = s.retry_limit or not s.retryable)""",
    )
    assert exhausted > 5
    assert (
        scalar(
            db,
            """select count(*) from tasker_workflow_steps
                         where attempts > case when retryable then retry_limit else 1 end""",
        )
        == 0
    )


def test_error_transitions_with_and_without_error_class(db):
    with_cls, without = rows(
        db,
        """
        select count(*) filter (where metadata->>'error_class' is not null),
               count(*) filter (where metadata->>'error_class' is null)
        from tasker_workflow_step_transitions where to_state = 'error'""",
    )[0]
    assert with_cls > 0 and without > 0
    assert 0.75 <= with_cls / (with_cls + without) <= 0.95
    # every error transition says which attempt failed
    assert (
        scalar(
            db,
            """select count(*) from tasker_workflow_step_transitions
                         where to_state = 'error'
                           and try_cast(metadata->>'attempt' as integer) is null""",
        )
        == 0
    )


def test_an_error_class_is_unmapped_in_the_taxonomy(db):
    with open(ROOT / "seeds" / "tasker_analytics__error_taxonomy.csv", newline="") as f:
        taxonomy = {r["error_class"]: r["error_type"] for r in csv.DictReader(f)}
    generated = {
        c
        for (c,) in rows(
            db,
            """
        select distinct metadata->>'error_class' from tasker_workflow_step_transitions
        where to_state = 'error' and metadata->>'error_class' is not null
        union select distinct results->>'error_class' from tasker_workflow_steps
        where results->>'error_class' is not null""",
        )
    }
    assert {"Net::ReadTimeout", "Stripe::CardError", "Timeout::Error"} <= generated
    assert generated - set(taxonomy), "some generated class should be left unmapped"
    assert len(generated & set(taxonomy)) >= 8


def test_edges_form_a_dag_inside_each_task(db):
    edges = rows(
        db,
        """select e.from_step_id, e.to_step_id, f.task_id, t.task_id
                        from tasker_workflow_step_edges as e
                        join tasker_workflow_steps as f on f.workflow_step_id = e.from_step_id
                        join tasker_workflow_steps as t on t.workflow_step_id = e.to_step_id""",
    )
    assert len(edges) == scalar(db, "select count(*) from tasker_workflow_step_edges")
    assert all(ft == tt for _, _, ft, tt in edges)
    children, indegree = defaultdict(list), defaultdict(int)
    nodes = {s for (s,) in rows(db, "select workflow_step_id from tasker_workflow_steps")}
    for a, b, _, _ in edges:
        children[a].append(b)
        indegree[b] += 1
    queue = deque(n for n in nodes if indegree[n] == 0)
    visited = 0
    while queue:
        n = queue.popleft()
        visited += 1
        for c in children[n]:
            indegree[c] -= 1
            if indegree[c] == 0:
                queue.append(c)
    assert visited == len(nodes), "a cycle among workflow step edges"
    # fan-out and fan-in both occur
    assert (
        scalar(
            db,
            """select max(n) from (select count(*) as n from tasker_workflow_step_edges
                         group by from_step_id)""",
        )
        >= 3
    )
    assert (
        scalar(
            db,
            """select max(n) from (select count(*) as n from tasker_workflow_step_edges
                         group by to_step_id)""",
        )
        >= 3
    )


def test_a_step_starts_only_after_its_parents_completed(db):
    assert (
        scalar(
            db,
            """
        with first_start as (
            select workflow_step_id, min(created_at) as at from tasker_workflow_step_transitions
            where to_state = 'in_progress' group by workflow_step_id),
        completed as (
            select workflow_step_id, created_at as at from tasker_workflow_step_transitions
            where to_state = 'complete')
        select count(*) from tasker_workflow_step_edges as e
        join first_start as c on c.workflow_step_id = e.to_step_id
        left join completed as p on p.workflow_step_id = e.from_step_id
        where p.at is null or c.at <= p.at""",
        )
        == 0
    )


# ---- tasks ---------------------------------------------------------------------------------


def test_tasks_in_every_final_state(db):
    counts = dict(rows(db, f"select state, count(*) from ({FINAL_TASK_STATE}) group by state"))
    for state in ("pending", "in_progress", "complete", "error", "cancelled", "resolved_manually"):
        assert counts.get(state, 0) > 0, state
    assert counts["complete"] / TASKS > 0.9
    assert 0.003 <= counts["cancelled"] / TASKS <= 0.02
    assert (
        scalar(
            db,
            f"""select count(*) from ({FINAL_TASK_STATE}) as f
                          join tasker_tasks as t using (task_id)
                          where t.complete <> (f.state = 'complete')""",
        )
        == 0
    )


def test_task_outcome_matches_its_steps(db):
    per_task = f"""
        select f.task_id, f.state,
               count(*) filter (where sf.to_state = 'complete') as done,
               count(*) filter (where sf.to_state = 'error') as failed,
               count(*) filter (where sf.to_state = 'resolved_manually') as resolved,
               count(*) filter (where sf.to_state = 'cancelled') as cancelled,
               count(*) filter (where sf.to_state is null) as never_ran,
               count(*) as steps
        from ({FINAL_TASK_STATE}) as f
        join tasker_workflow_steps as s using (task_id)
        left join tasker_workflow_step_transitions as sf
          on sf.workflow_step_id = s.workflow_step_id and sf.most_recent
        group by f.task_id, f.state"""
    checks = {
        "complete": "done <> steps",
        "error": "failed = 0 or resolved > 0",
        "resolved_manually": "resolved = 0 or failed > 0",
        "pending": "never_ran <> steps",
    }
    for state, broken in checks.items():
        assert scalar(db, f"select count(*) from ({per_task}) where state = ? and ({broken})", state) == 0, state
    # steps of a cancelled task never run on after it
    assert (
        scalar(
            db,
            f"""select count(*) from ({FINAL_TASK_STATE}) as f
                          join tasker_workflow_steps as s using (task_id)
                          join tasker_workflow_step_transitions as tr using (workflow_step_id)
                          where f.state = 'cancelled' and tr.created_at > f.settled_at""",
        )
        == 0
    )
    assert scalar(db, f"select count(*) from ({per_task}) where state = 'cancelled' and cancelled > 0") > 0


def test_task_settles_after_its_steps(db):
    assert (
        scalar(
            db,
            f"""
        select count(*) from ({FINAL_TASK_STATE}) as f
        join tasker_workflow_steps as s using (task_id)
        join tasker_workflow_step_transitions as tr using (workflow_step_id)
        where f.state in ('complete', 'error') and tr.created_at > f.settled_at""",
        )
        == 0
    )


def test_a_few_tasks_have_clock_skew(db):
    negative = scalar(
        db,
        f"""select count(*) from ({FINAL_TASK_STATE})
                              where state = 'complete' and settled_at < created_at""",
    )
    assert 1 <= negative <= TASKS * 0.002
    # nothing else is negative: step durations (first in_progress -> settle) stay >= 0
    assert (
        scalar(
            db,
            """
        select count(*) from (
            select workflow_step_id,
                   min(created_at) filter (where to_state = 'in_progress') as started,
                   max(created_at) filter (where most_recent) as settled
            from tasker_workflow_step_transitions group by workflow_step_id)
        where settled < started""",
        )
        == 0
    )


@pytest.fixture(scope="module")
def step_durations():
    """A larger workload's step durations (first in_progress -> settle), per task type."""
    tables = generate_workload(12_000, seed=7, as_of=AS_OF)
    con = duckdb.connect()
    for name in (
        "tasker_task_namespaces",
        "tasker_named_tasks",
        "tasker_named_steps",
        "tasker_tasks",
        "tasker_workflow_steps",
        "tasker_workflow_step_transitions",
    ):
        con.register(name, tables[name])
    con.execute("""
        create table step_durations as
        select ns.name as namespace, nt.name as task_name, nt.version, st.name as step_name,
               max(tr.to_state) filter (where tr.most_recent) as state,
               epoch_ms(max(tr.created_at::timestamp) filter (where tr.most_recent))
                 - epoch_ms(min(tr.created_at::timestamp) filter (where tr.to_state = 'in_progress'))
                 as duration_ms
        from tasker_workflow_steps as ws
        join tasker_tasks as t on t.task_id = ws.task_id
        join tasker_named_tasks as nt on nt.named_task_id = t.named_task_id
        join tasker_task_namespaces as ns on ns.task_namespace_id = nt.task_namespace_id
        join tasker_named_steps as st on st.named_step_id = ws.named_step_id
        join tasker_workflow_step_transitions as tr on tr.workflow_step_id = ws.workflow_step_id
        group by ws.workflow_step_id, ns.name, nt.name, nt.version, st.name""")
    yield con
    con.close()


def test_timeouts_trip_only_where_the_catalog_says(step_durations):
    """p95 step duration (complete steps) >= 80 % of the seed timeout exactly for the steps
    set up to trip it: the data really exercises the timeout recommendation."""
    ratios = rows(
        step_durations,
        f"""
        select s.namespace, s.task_name, s.step_name, count(*),
               quantile_cont(s.duration_ms, 0.95) / (1000.0 * any_value(t.timeout_seconds))
        from step_durations as s
        join read_csv('{ROOT / "seeds" / "tasker_analytics__step_timeouts.csv"}') as t
          on t.namespace = s.namespace and t.task_name = s.task_name
         and t.step_name = s.step_name
        where s.state = 'complete'
        group by all having count(*) >= 30""",
    )
    tripping = {(ns, task, step) for ns, task, step, _, ratio in ratios if ratio >= 0.8}
    assert tripping == TIMEOUT_TRIPPING
    assert len(ratios) >= 80


def test_newer_versions_have_one_step_about_30_percent_slower(step_durations):
    medians = rows(
        step_durations,
        """
        with m as (
            select task_name, version, step_name, median(duration_ms) as p50
            from step_durations where state = 'complete' group by all),
        paired as (
            select old.task_name, old.step_name, new.p50 / old.p50 as ratio
            from m as old join m as new
              on new.task_name = old.task_name and new.step_name = old.step_name
             and new.version > old.version)
        select task_name, step_name, ratio from paired""",
    )
    slowed = {(task, step) for task, step, ratio in medians if ratio > 1.15}
    assert slowed == {
        ("process_order", "fraud_check"),
        ("charge_subscription", "authorize_card"),
        ("deliver_webhook", "post_webhook"),
        ("sync_warehouse_stock", "diff_stock"),
    }
    assert all(1.15 < ratio < 1.5 for task, step, ratio in medians if (task, step) in slowed)


# ---- seeds ---------------------------------------------------------------------------------


def test_step_timeouts_seed_covers_the_catalog():
    with open(ROOT / "seeds" / "tasker_analytics__step_timeouts.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["namespace", "task_name", "step_name", "timeout_seconds"]
        seed = [(r["namespace"], r["task_name"], r["step_name"], int(r["timeout_seconds"])) for r in reader]
    assert seed == catalog.step_timeout_rows()
    steps = {(td.namespace, td.name, s.name) for td in catalog.CATALOG for s in td.steps}
    assert {row[:3] for row in seed} == steps
    assert TIMEOUT_TRIPPING <= steps


def test_error_taxonomy_seed_shape():
    with open(ROOT / "seeds" / "tasker_analytics__error_taxonomy.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["error_class", "error_type"]
        mapping = [(r["error_class"], r["error_type"]) for r in reader]
    classes = [c for c, _ in mapping]
    assert len(classes) == len(set(classes))
    assert {
        "NetworkTimeoutError",
        "ConnectionError",
        "DatabaseError",
        "NotFoundError",
        "PaymentDeclinedError",
        "TimeoutError",
    } <= {t for _, t in mapping}
    assert set(classes) < set(catalog.ERROR_CLASSES)


# ---- the command ---------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="tasker-analytics generate")
    options.add_arguments(parser)
    return writers.run(parser.parse_args(list(argv)))


def test_cli_zero_tasks_writes_nine_empty_tables(tmp_path, capsys):
    path = tmp_path / "sub" / "empty.duckdb"
    code = run_cli(
        "--tasks", "0", "--as-of", "2026-11-28T12:00:00", "--duckdb", str(path), "--schema", "tasker", "--no-progress"
    )
    assert code == 0
    with duckdb.connect(str(path), read_only=True) as con:
        for name in TABLE_NAMES[4:]:
            assert scalar(con, f"select count(*) from tasker.{name}") == 0, name
        assert scalar(con, "select count(*) from tasker.tasker_named_tasks") >= 12
        got = rows(
            con,
            """select table_name, count(*) from information_schema.columns
                           where table_schema = 'tasker' group by 1""",
        )
        assert dict(got) == {k: len(v) for k, v in EXPECTED_COLUMNS.items()}


def test_cli_replaces_the_tables_on_a_second_run(tmp_path, capsys):
    path = str(tmp_path / "twice.duckdb")
    assert run_cli("--tasks", "50", "--seed", "1", "--duckdb", path, "--no-progress") == 0
    assert run_cli("--tasks", "30", "--seed", "2", "--duckdb", path, "--no-progress") == 0
    with duckdb.connect(path, read_only=True) as con:
        assert scalar(con, "select count(*) from public.tasker_tasks") == 30


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--as-of", "yesterday-ish"], "--as-of"),
        (["--tasks", "-5"], "--tasks"),
        (["--tasks", "many"], "--tasks"),
        (["--history-hours", "0"], "--history-hours"),
        (["--schema", "bad-name;"], "--schema"),
        (["--postgres", "postgresql://postgres@127.0.0.1:1/test"], "PostgreSQL"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, needle):
    target = [] if "--postgres" in argv else ["--duckdb", str(tmp_path / "x.duckdb")]
    code = run_cli("--tasks", "10", "--no-progress", *target, *argv)
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


# ---- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_round_trip(tables, postgres_dsn):
    schema = f"gen_test_{uuid.uuid4().hex[:10]}"
    try:
        writers.write_postgres(tables, postgres_dsn, schema=schema)
        with psycopg.connect(postgres_dsn) as conn, conn.cursor() as cur:
            for name in TABLE_NAMES:
                cur.execute(f"select count(*) from {schema}.{name}")
                assert cur.fetchone()[0] == tables[name].num_rows, name
                cur.execute(
                    """select column_name, data_type from information_schema.columns
                               where table_schema = %s and table_name = %s
                               order by ordinal_position""",
                    (schema, name),
                )
                expected = [
                    (c, PG_TYPES.get(t) or ("json" if c == "bypass_steps" else "jsonb"))
                    for c, t in EXPECTED_COLUMNS[name]
                ]
                assert cur.fetchall() == expected, name
            cur.execute(f"""select count(*) from {schema}.tasker_workflow_step_transitions
                            where to_state = 'error' and metadata ? 'error_class'""")
            assert cur.fetchone()[0] > 0
            cur.execute(f"select max(created_at) from {schema}.tasker_task_transitions")
            assert cur.fetchone()[0] <= AS_OF
    finally:
        drop_schemas(postgres_dsn, schema)
