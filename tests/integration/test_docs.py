"""Governance: `dbt docs generate` works on both targets, and every model and every
column it holds is described."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tasker_analytics.build.project import postgres_environment, run_dbt


def _documentation_gaps(target: Path) -> list[str]:
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    gaps = []
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] not in {"model", "seed"} or node["package_name"] != "tasker_analytics":
            continue
        if not node["description"].strip():
            gaps.append(f"{unique_id}: no description")
        documented = {name.lower(): column for name, column in node["columns"].items()}
        actual = catalog["nodes"].get(unique_id, {}).get("columns", {})
        assert actual, f"{unique_id} is not in the catalog"
        for column in actual:
            if not documented.get(column.lower(), {}).get("description", "").strip():
                gaps.append(f"{unique_id}.{column}: no description")
    return gaps


def _docs_generate(env: dict[str, str], target: Path) -> None:
    env = {**os.environ, **env, "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target / "logs")}
    completed = run_dbt(["docs", "generate"], env, quiet=True)
    assert completed.returncode == 0, completed.stdout[-3000:]


def test_docs_generate_on_duckdb_and_every_column_is_described(workload, tmp_path):
    copy = tmp_path / "analytics.duckdb"
    shutil.copy(Path(os.path.realpath(workload.warehouse_path)), copy)
    target = tmp_path / "target"
    _docs_generate(
        {
            "TASKER_ANALYTICS_TARGET": "duckdb",
            "TASKER_ANALYTICS_DBT_DUCKDB_PATH": str(copy),
            "TASKER_SOURCE_DUCKDB_PATH": str(workload.source_path),
        },
        target,
    )
    assert _documentation_gaps(target) == []


@pytest.mark.postgres
def test_docs_generate_on_postgres(postgres_workload, tmp_path):
    import psycopg

    with psycopg.connect(postgres_workload.dsn) as connection:
        build_schema = connection.execute(
            f'select build_schema from "{postgres_workload.schema}".build_pointer'
        ).fetchone()[0]
    target = tmp_path / "target"
    _docs_generate(
        {
            **postgres_environment(postgres_workload.dsn),
            "TASKER_ANALYTICS_TARGET": "postgres",
            "TASKER_ANALYTICS_DBT_PG_SCHEMA": build_schema,
            "TASKER_SOURCE_SCHEMA": postgres_workload.source_schema,
        },
        target,
    )
    assert _documentation_gaps(target) == []


def test_the_documentation_check_can_fail(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    node = {
        "resource_type": "model",
        "package_name": "tasker_analytics",
        "description": "",
        "columns": {"a": {"description": "described"}},
    }
    (target / "manifest.json").write_text(json.dumps({"nodes": {"model.tasker_analytics.x": node}}))
    (target / "catalog.json").write_text(
        json.dumps({"nodes": {"model.tasker_analytics.x": {"columns": {"a": {}, "b": {}}}}})
    )
    assert _documentation_gaps(target) == [
        "model.tasker_analytics.x: no description",
        "model.tasker_analytics.x.b: no description",
    ]
