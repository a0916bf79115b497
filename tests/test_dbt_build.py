"""`dbt build` passes on both targets: models, seeds, data tests and unit tests."""

from __future__ import annotations

import re

import pytest


def _summary(output: str) -> dict[str, int]:
    match = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", output)
    assert match, output[-2000:]
    return dict(zip(("pass", "warn", "error", "skip"), map(int, match.groups()), strict=True))


def _unit_tests(output: str) -> int:
    return len(re.findall(r"PASS \w+::\w+", output))


def test_dbt_build_passes_on_duckdb(workload):
    summary = _summary(workload.build_output)
    assert summary["error"] == 0 and summary["skip"] == 0 and summary["pass"] > 100
    assert _unit_tests(workload.build_output) >= 9


@pytest.mark.postgres
def test_dbt_build_passes_on_postgres(postgres_workload):
    summary = _summary(postgres_workload.build_output)
    assert summary["error"] == 0 and summary["skip"] == 0 and summary["pass"] > 100
    assert _unit_tests(postgres_workload.build_output) >= 9
