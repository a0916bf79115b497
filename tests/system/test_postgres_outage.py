"""Postgres stopped while the server serves: every request is a 503 JSON within 2 s, and
the server recovers on its own once Postgres is back. A private Postgres cluster (initdb
in a temporary folder, as the postgres user) holds a copy of the test build, so stopping
it disturbs nothing else."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from litestar.testing import TestClient

from helpers.services import service_missing
from tasker_analytics.api.app import create_app
from tasker_analytics.build.postgres import postgres_build_schemas
from tasker_analytics.config.settings import Settings

BIN = Path("/usr/lib/postgresql/15/bin")
BOTTLENECKS = "/tasker/analytics/bottlenecks"
PERFORMANCE = "/tasker/analytics/performance"

pytestmark = pytest.mark.postgres


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        self.dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._as_postgres(str(BIN / "initdb"), "-D", str(self.folder / "data"), "--auth=trust", "-U", "postgres")

    def start(self) -> None:
        self._as_postgres(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.folder / "data"),
            "-l",
            str(self.folder / "log"),
            "-w",
            "start",
            "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}",
        )

    def stop(self) -> None:
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")


@pytest.fixture
def private_postgres(postgres_workload):
    if not (BIN / "initdb").exists() or shutil.which("runuser") is None:
        service_missing("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    # Directly under /tmp: the postgres user must reach it (pytest's folders are root-only).
    folder = Path(tempfile.mkdtemp(prefix="tasker_analytics_pg_"))
    shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(folder, _free_port())
    cluster.init()
    cluster.start()
    try:
        import psycopg

        with psycopg.connect(postgres_workload.dsn) as connection:
            schemas = [
                postgres_workload.source_schema,
                postgres_workload.schema,
                *postgres_build_schemas(connection, postgres_workload.schema),
            ]
        dump = subprocess.run(
            ["pg_dump", "--no-owner", *[f"--schema={schema}" for schema in schemas], postgres_workload.dsn],
            check=True,
            capture_output=True,
            timeout=120,
        ).stdout
        restored = subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", cluster.dsn], input=dump, capture_output=True, timeout=120
        )
        assert restored.returncode == 0, restored.stderr.decode()[-2000:]
        yield cluster, postgres_workload.schema
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_stopped_while_serving_is_a_503_and_recovers(private_postgres):
    cluster, schema = private_postgres
    settings = Settings(warehouse="postgres", database_url=cluster.dsn, database_schema=schema)
    with TestClient(create_app(settings)) as client:
        served = client.get(BOTTLENECKS, params={"period": 48})
        assert served.status_code == 200 and served.json()["slowest_tasks"]
        assert client.get(PERFORMANCE).status_code == 200

        cluster.stop()
        time.sleep(1.1)  # the build id the server trusts for 1 s has expired
        for path, params in [(BOTTLENECKS, {"period": 48}), (BOTTLENECKS, {"period": 12}), (PERFORMANCE, {})]:
            started = time.monotonic()
            response = client.get(path, params=params)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["error"] == "warehouse_unavailable" and body["timestamp"]
            assert elapsed < 2.0, elapsed

        cluster.start()
        deadline = time.monotonic() + 10
        while True:
            response = client.get(BOTTLENECKS, params={"period": 48})
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert response.status_code == 200
        assert response.json()["slowest_tasks"] == served.json()["slowest_tasks"]
