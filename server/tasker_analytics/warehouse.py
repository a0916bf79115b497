"""Read access to the built marts: DuckDB (embedded default) or PostgreSQL.

Every SQL string the server runs lives in `queries.py`; this module only connects,
binds parameters and turns failures into `WarehouseUnavailable`.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Protocol

import duckdb
import psycopg
from psycopg.rows import dict_row

from tasker_analytics.settings import Settings

_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached, or the marts are not built there."""


class Warehouse(Protocol):
    engine: str

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class DuckDBWarehouse:
    """Read-only access to the analytics DuckDB file; reopens it when a new build replaces it."""

    engine = "duckdb"

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int] | None = None

    def _file_identity(self) -> tuple[int, int]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise WarehouseUnavailable(
                f"analytics database {self.path} does not exist: run `tasker-analytics build`"
            ) from None
        return (stat.st_ino, stat.st_mtime_ns)

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        identity = self._file_identity()
        with self._lock:
            if self._connection is None or identity != self._identity:
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
                try:
                    self._connection = duckdb.connect(str(self.path), read_only=True)
                except duckdb.Error as error:
                    raise WarehouseUnavailable(
                        f"analytics database {self.path} cannot be opened: {error}"
                    ) from None
                self._identity = identity
            return self._connection.cursor()

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cursor = self._cursor()
        try:
            result = cursor.execute(_PARAM.sub(r"$\1", sql.format(schema="main")), params or {})
            columns = [column[0] for column in result.description]
            return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        except duckdb.CatalogException as error:
            raise WarehouseUnavailable(f"analytics marts are not built: {error}") from None
        except duckdb.IOException as error:
            raise WarehouseUnavailable(f"analytics database cannot be read: {error}") from None
        finally:
            cursor.close()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class PostgresWarehouse:
    """Access to the marts in a PostgreSQL schema, one short connection per query."""

    engine = "postgres"

    def __init__(self, dsn: str, schema: str, statement_timeout_ms: int = 5000):
        self.dsn = dsn
        self.schema = schema
        self.statement_timeout_ms = statement_timeout_ms

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        text = _PARAM.sub(r"%(\1)s", sql.format(schema=f'"{self.schema}"'))
        try:
            with psycopg.connect(
                self.dsn,
                connect_timeout=2,
                options=f"-c statement_timeout={self.statement_timeout_ms}",
                row_factory=dict_row,
            ) as connection:
                connection.read_only = True
                return list(connection.execute(text, params or {}).fetchall())
        except psycopg.errors.UndefinedTable as error:
            raise WarehouseUnavailable(f"analytics marts are not built: {error}".strip()) from None
        except psycopg.OperationalError as error:
            raise WarehouseUnavailable(f"warehouse unreachable: {error}".strip()) from None

    def close(self) -> None:
        return None


def open_warehouse(settings: Settings) -> Warehouse:
    if settings.warehouse == "postgres":
        return PostgresWarehouse(
            settings.database_url, settings.database_schema, settings.statement_timeout_ms
        )
    return DuckDBWarehouse(settings.duckdb_path)
