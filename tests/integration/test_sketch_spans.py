"""The sketch spans (task_sketch_spans, step_sketch_spans with their key tables): for every
period length N, the rows valid at N (from_hour <= N < to_hour) are exactly the hourly
sketch rows of hour buckets 1..N summed per (scope, metric, sketch bucket), recomputed here
in plain Python from the hourly sketch models of the same build."""

from __future__ import annotations

from collections import Counter

import duckdb
import pytest

KINDS = {
    "task": ("task_duration_sketches", ("namespace_name", "task_name", "task_version")),
    "step": ("step_duration_sketches", ("namespace_name", "task_name", "task_version", "step_name")),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_spans_at_every_period_are_the_summed_hours(workload, kind):
    sketches, columns = KINDS[kind]
    names = ", ".join(columns)
    connection = duckdb.connect(str(workload.warehouse_path), read_only=True)
    try:
        hourly = connection.execute(
            f"select hour_index, {names}, metric, sketch_index, item_count from {sketches}"
        ).fetchall()
        keys = {
            row[0]: tuple(row[1:])
            for row in connection.execute(f"select key_id, {names}, metric from {kind}_sketch_keys").fetchall()
        }
        spans = connection.execute(
            f"select key_id, sketch_index, from_hour, to_hour, cumulative_count from {kind}_sketch_spans"
        ).fetchall()
    finally:
        connection.close()
    assert hourly and spans
    assert len(set(keys.values())) == len(keys), "a scope and metric has two keys"
    assert set(keys.values()) == {tuple(row[1:-2]) for row in hourly}
    last_hour = max(row[0] for row in hourly)
    for period in sorted({1, 2, 5, 24, 97, 168, last_hour, last_hour + 1}):
        expected: Counter = Counter()
        for hour, *key, bucket, count in hourly:
            if hour <= period:
                expected[(*key, bucket)] += count
        valid = [(keys[key_id], bucket, count) for key_id, bucket, start, end, count in spans if start <= period < end]
        got = {(*key, bucket): count for key, bucket, count in valid}
        assert len(got) == len(valid), f"two rows of one bucket are valid at {period} h"
        assert got == dict(expected), f"the spans at {period} h differ from the summed hours"
    assert all(start < end for _, _, start, end, _ in spans)
