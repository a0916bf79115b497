"""Bad input and broken warehouses never reach a 500 or the data: hostile scope values are
data (200, nothing matches) on DuckDB and Postgres, the marts are unchanged afterwards,
oversized headers are refused or ignored, and a corrupt DuckDB file is a 503 JSON."""

from __future__ import annotations

import duckdb
import psycopg
import pytest
from litestar.testing import TestClient

from tasker_analytics.api.app import create_app
from tasker_analytics.auth.settings import AuthSettings
from tasker_analytics.config.settings import Settings

BOTTLENECKS = "/tasker/analytics/bottlenecks"
PERFORMANCE = "/tasker/analytics/performance"

HOSTILE = [
    "'; drop table task_hourly_rollup; --",
    '"; delete from performance_overview; --',
    "x' or '1'='1",
    "名前空間",
    "ecommerce\u202e",
    "e\u0301commerce",
    "🚀",
    "%",
    "_",
    "\\",
    "ecommerce' union select 1 --",
]


def _duckdb_counts(path) -> dict[str, int]:
    connection = duckdb.connect(str(path.resolve()), read_only=True)
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'main' "
                "and table_type = 'BASE TABLE' order by 1"
            ).fetchall()
        ]
        return {table: connection.execute(f'select count(*) from "{table}"').fetchone()[0] for table in tables}
    finally:
        connection.close()


def _postgres_counts(dsn: str, schema: str) -> dict[str, int]:
    with psycopg.connect(dsn) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "select table_name from information_schema.tables where table_schema = %s order by 1", (schema,)
            ).fetchall()
        ]
        return {
            table: connection.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0] for table in tables
        }


def _hostile_requests(client) -> None:
    for value in HOSTILE:
        for name in ("namespace", "task_name", "version"):
            if name == "version" and len(value.encode()) > 16:
                continue  # longer than a Tasker version: a 400, covered in test_api
            response = client.get(BOTTLENECKS, params={name: value, "period": 168})
            assert response.status_code == 200, (name, value, response.text)
            body = response.json()
            assert body["slowest_tasks"] == [] and body["slowest_steps"] == [], (name, value)
            assert body["error_patterns"] == [] and body["recommendations"] == [], (name, value)
            assert body["performance_distribution"]["count"] == 0, (name, value)


def test_hostile_scope_values_are_data_and_the_marts_stay_intact(client, workload):
    before = _duckdb_counts(workload.warehouse_path)
    assert before["task_hourly_rollup"] > 0
    _hostile_requests(client)
    assert _duckdb_counts(workload.warehouse_path) == before
    assert client.get(BOTTLENECKS).json()["slowest_tasks"]


@pytest.mark.postgres
def test_hostile_scope_values_on_postgres(postgres_client, postgres_workload):
    from tasker_analytics.build.postgres import postgres_build_schemas

    with psycopg.connect(postgres_workload.dsn) as connection:
        (build_schema,) = connection.execute(
            f'select build_schema from "{postgres_workload.schema}".build_pointer'
        ).fetchone()
        assert build_schema in postgres_build_schemas(connection, postgres_workload.schema)
    before = _postgres_counts(postgres_workload.dsn, build_schema)
    assert before["task_hourly_rollup"] > 0
    _hostile_requests(postgres_client)
    assert _postgres_counts(postgres_workload.dsn, build_schema) == before
    assert postgres_client.get(BOTTLENECKS).json()["slowest_tasks"]


def test_oversized_headers_never_reach_a_500(client):
    huge = 'W/"' + "a" * 16_384 + '"'
    response = client.get(BOTTLENECKS, headers={"If-None-Match": huge})
    assert response.status_code == 200 and response.json()["slowest_tasks"]
    response = client.get(PERFORMANCE, headers={"X-Padding": "b" * 65_536})
    assert response.status_code == 200


def test_an_oversized_token_is_a_401(workload):
    settings = workload.settings(auth=AuthSettings(required=True, jwt_secret="s" * 32))
    with TestClient(create_app(settings)) as test_client:
        response = test_client.get(BOTTLENECKS, headers={"Authorization": "Bearer " + "x" * 65_536})
    assert response.status_code == 401
    assert response.json()["error"]


@pytest.mark.parametrize("content", [b"", b"not a database at all\n" * 100, b"DUCK" + bytes(range(256)) * 64])
def test_a_corrupt_duckdb_file_is_a_503_with_a_clear_message(tmp_path, content):
    path = tmp_path / "corrupt.duckdb"
    path.write_bytes(content)
    with TestClient(create_app(Settings(duckdb_path=path))) as test_client:
        for endpoint in (PERFORMANCE, BOTTLENECKS):
            response = test_client.get(endpoint)
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["error"] == "warehouse_unavailable" and body["timestamp"]
            assert str(path.name) in body["detail"] or "DuckDB" in body["detail"], body["detail"]
    assert path.read_bytes() == content  # never rewritten


def test_duckdb_out_of_memory_is_unavailable_not_a_crash():
    """A query that exceeds DuckDB's memory limit is a WarehouseUnavailable (a 503 with
    its reason, as for a corrupt file above), never an unexpected error (a 500)."""
    from tasker_analytics.warehouse.snapshots import WarehouseUnavailable, _DuckDBSnapshot

    connection = duckdb.connect()
    connection.execute("set memory_limit = '8MB'")
    snapshot = _DuckDBSnapshot(connection.cursor(), build=None)
    with pytest.raises(WarehouseUnavailable, match="out of memory"):
        snapshot.query(
            "select count(*) from (select i::varchar || 'x' as s, count(*) from range(3000000) as t(i) group by 1)"
        )
    assert snapshot.query("select 1 as one") == [{"one": 1}]


def test_duckdb_reads_are_bounded_in_memory_and_take_turns(workload):
    """TASKER_ANALYTICS_DUCKDB_MEMORY_MB bounds DuckDB's memory per open build, and
    TASKER_ANALYTICS_DUCKDB_CONCURRENT_READS how many snapshots read at once: concurrent
    uncached bodies wait for each other instead of exhausting one shared limit."""
    import threading

    from tasker_analytics.config.settings import Settings
    from tasker_analytics.core.analytics import Analytics
    from tasker_analytics.core.query import BottleneckQuery, Scope

    settings = Settings.from_env(
        {
            "TASKER_ANALYTICS_DUCKDB_PATH": str(workload.warehouse_path),
            "TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL": "0",
            "TASKER_ANALYTICS_DUCKDB_MEMORY_MB": "96",
        }
    )
    assert settings.duckdb_concurrent_reads == 1
    analytics = Analytics(settings)
    try:
        with analytics.warehouse.snapshot() as snapshot:
            limit = snapshot.query("select current_setting('memory_limit') as value")[0]["value"]
        assert limit == "91.5 MiB", limit  # 96 MB (10^6 bytes) in DuckDB's MiB
        reading, most, errors = [0], [0], []
        guard = threading.Lock()
        current = analytics.warehouse._current

        def counted():
            with guard:
                reading[0] += 1
                most[0] = max(most[0], reading[0])
            return current()

        release = analytics.warehouse._release

        def released(connection, cursor):
            with guard:
                reading[0] -= 1
            release(connection, cursor)

        analytics.warehouse._current = counted
        analytics.warehouse._release = released

        def body(period: int) -> None:
            try:
                assert analytics.bottleneck_report(BottleneckQuery(Scope(), period)).body.period_hours == period
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

        threads = [threading.Thread(target=body, args=(period,)) for period in (1, 6, 24, 48, 168, 12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [] and most[0] == 1
    finally:
        analytics.close()


@pytest.mark.parametrize("value", ["-1", "lots"])
def test_a_bad_duckdb_memory_setting_is_a_configuration_error(value):
    from tasker_analytics.config.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="TASKER_ANALYTICS_DUCKDB_MEMORY_MB"):
        Settings.from_env({"TASKER_ANALYTICS_DUCKDB_MEMORY_MB": value})
