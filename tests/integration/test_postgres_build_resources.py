"""The performance body's resource_utilization.warehouse on Postgres has the build's size
and duration, as on DuckDB (docs/API.md): `size_bytes` is the build schema's tables and
materialized views with their indexes and TOAST (pg_total_relation_size), and
`build_duration_seconds` the build's duration, recorded in `<schema>.build_pointer` when it
is published. Checked against a real build made here: the size against the catalogue read
another way (pg_tables), the duration against the wall clock around the build."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from litestar.testing import TestClient

from helpers.workloads import BUILD_AS_OF, GENERATED_AS_OF, drop_schemas
from tasker_analytics.api.app import create_app
from tasker_analytics.build.postgres import publish_postgres
from tasker_analytics.build.runner import build
from tasker_analytics.config.settings import Settings
from tasker_analytics.generate.workload import generate_workload
from tasker_analytics.generate.writers import write_postgres

pytestmark = pytest.mark.postgres

PERFORMANCE = "/tasker/analytics/performance"

# Independent of the server's query: every ordinary table of the schema, by name.
SCHEMA_SIZE = """
select coalesce(sum(pg_total_relation_size(format('%%I.%%I', schemaname, tablename)::regclass)), 0)
from pg_tables where schemaname = %s
"""


@pytest.fixture(scope="module")
def built(postgres_dsn, tmp_path_factory):
    suffix = uuid.uuid4().hex[:8]
    source, schema = f"test_tasker_res_{suffix}", f"test_analytics_res_{suffix}"
    directory = tmp_path_factory.mktemp("pg_resources")
    write_postgres(generate_workload(tasks=300, seed=9, as_of=GENERATED_AS_OF), postgres_dsn, schema=source)
    settings = Settings(warehouse="postgres", database_url=postgres_dsn, database_schema=schema)
    before = time.monotonic()
    result = build(
        settings,
        as_of=BUILD_AS_OF.isoformat(sep=" "),
        quiet=True,
        extra_env={
            "TASKER_SOURCE_SCHEMA": source,
            "DBT_TARGET_PATH": str(directory / "target"),
            "DBT_LOG_PATH": str(directory / "logs"),
        },
    )
    wall = time.monotonic() - before
    yield settings, result, wall
    drop_schemas(postgres_dsn, source, schema)


def _warehouse(settings: Settings) -> dict:
    with TestClient(create_app(settings)) as client:
        body = client.get(PERFORMANCE).json()
    return body["resource_utilization"]["warehouse"]


def _schema_size(dsn: str, schema: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as connection:
        return int(connection.execute(SCHEMA_SIZE, (schema,)).fetchone()[0])


def test_size_and_duration_are_filled(built):
    settings, result, wall = built
    before = _schema_size(settings.database_url, result.location)
    warehouse = _warehouse(settings)
    after = _schema_size(settings.database_url, result.location)
    assert warehouse["engine"] == "postgres" and warehouse["location"] == result.location
    # Sizes only grow between the two reads (autovacuum adding visibility maps), so the
    # served figure lies between them; a schema of a few dozen tables is well over 100 kB.
    assert before > 100_000
    assert min(before, after) <= warehouse["size_bytes"] <= max(before, after)
    # The duration is recorded just before the publish: no longer than the build as its
    # caller saw it (which includes the publish), and that no longer than the wall clock.
    duration = warehouse["build_duration_seconds"]
    assert 0 < duration <= result.seconds <= wall
    # A build of a few hundred tasks runs dbt for seconds, not milliseconds.
    assert duration > 1


def test_a_pointer_table_of_an_earlier_release(built):
    """A pointer published before the duration was recorded (no build_seconds column):
    the body says null, the size is still there, and the next publish adds the column."""
    settings, result, _ = built
    pointer = f'"{settings.database_schema}".build_pointer'
    with psycopg.connect(settings.database_url, autocommit=True) as connection:
        connection.execute(f"alter table {pointer} drop column build_seconds")
    warehouse = _warehouse(settings)
    assert warehouse["build_duration_seconds"] is None and warehouse["size_bytes"] > 100_000
    publish_postgres(settings.database_url, settings.database_schema, result.location, 3, 12.3456)
    assert _warehouse(settings)["build_duration_seconds"] == 12.346


@pytest.mark.postgres
def test_a_served_schema_published_after_start_is_read_through_its_pointer(postgres_workload):
    """A warehouse opened before the first build is published (its schema does not exist
    yet) answers 503, then reads the published build through the pointer: the build
    schema, not the stable schema's views, is the location it reports."""
    from tasker_analytics.warehouse.snapshots import PostgresWarehouse, WarehouseUnavailable

    dsn = postgres_workload.dsn
    late = f"late_{uuid.uuid4().hex[:8]}"
    warehouse = PostgresWarehouse(dsn, late)
    with pytest.raises(WarehouseUnavailable), warehouse.snapshot():
        pass
    with psycopg.connect(dsn) as connection:
        build_schema = connection.execute(
            f'select build_schema from "{postgres_workload.schema}".build_pointer'
        ).fetchone()[0]
    try:
        publish_postgres(dsn, late, build_schema, keep=10)
        with warehouse.snapshot() as snapshot:
            assert snapshot.build.location == build_schema
            assert snapshot.build.size_bytes and snapshot.build.size_bytes > 0
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'drop schema if exists "{late}" cascade')
