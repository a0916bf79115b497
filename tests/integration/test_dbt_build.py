"""`dbt build` passes on both targets: models, seeds, data tests and unit tests."""

from __future__ import annotations

import pytest

from helpers.builds import dbt_summary, dbt_unit_tests


def test_dbt_build_passes_on_duckdb(workload):
    summary = dbt_summary(workload.build_output)
    assert summary["error"] == 0 and summary["skip"] == 0 and summary["pass"] > 100
    assert dbt_unit_tests(workload.build_output) >= 9


@pytest.mark.postgres
def test_dbt_build_passes_on_postgres(postgres_workload):
    summary = dbt_summary(postgres_workload.build_output)
    assert summary["error"] == 0 and summary["skip"] == 0 and summary["pass"] > 100
    assert dbt_unit_tests(postgres_workload.build_output) >= 9
