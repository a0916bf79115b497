"""Read access to the built marts: DuckDB (embedded default) or PostgreSQL.

A request reads through one `Snapshot`, so every figure of a response comes from one
build even while a new build is published:
- DuckDB: each build is its own file under `builds/`; the served path is a symlink that
  the publish step replaces atomically. A snapshot is a cursor on the file the link
  pointed to when the request began; the new file is opened under its own name.
- PostgreSQL: each build is its own schema and `<schema>.build_pointer` names the current
  one (with its build's duration); a snapshot is one REPEATABLE READ read-only transaction
  that reads the pointer (and the build schema's size) first and then queries that
  build's schema only.

Every SQL string lives in `queries.py`; this module connects, binds parameters and turns
failures into `WarehouseUnavailable`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb

from tasker_analytics.config.settings import Settings
from tasker_analytics.warehouse import queries

if TYPE_CHECKING:  # psycopg is imported when a Postgres warehouse is used, not by DuckDB servers
    import psycopg

logger = logging.getLogger("tasker_analytics")
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
# How long a Postgres warehouse trusts the build id it last read (cache keys only; a
# snapshot always reads its own).
_POSTGRES_BUILD_TTL_SECONDS = 1.0
# How long a DuckDB server's cache hits trust the served file they last looked at: a
# published build reaches cache hits within this time, and every miss at once.
_DUCKDB_RECHECK_SECONDS = 0.25


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached, or the marts are not built there.

    `str(error)` is what a response may carry: build ids, file names and error classes,
    never a path, host, port or an engine's own message; `internal` holds those details
    for the server's log."""

    def __init__(self, message: str, internal: str | None = None):
        super().__init__(message)
        self.internal = internal or message


class CorruptBuild(WarehouseUnavailable):
    """A served DuckDB build whose data blocks fail their checksums: every request of that
    build answers 503, readiness included, until another build is published."""


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class BuildInfo:
    """The build a snapshot reads: its identity, as_of and where it lives."""

    build_id: str
    data_as_of: datetime
    built_at: datetime
    location: str
    size_bytes: int | None = None
    build_seconds: float | None = None

    @property
    def public_location(self) -> str:
        """Where the build lives as a response may say it: a DuckDB file's name (no path),
        a Postgres build schema's name."""
        return os.path.basename(self.location)


class Snapshot(Protocol):
    build: BuildInfo

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


class Warehouse(Protocol):
    engine: str

    def current_build(self) -> BuildInfo: ...

    def known_build(self) -> BuildInfo | None: ...

    def probe(self) -> BuildInfo: ...

    def snapshot(self) -> Any: ...  # a context manager yielding a Snapshot

    def close(self) -> None: ...


def build_sidecar(path: Path) -> Path:
    """Where the publish step records a DuckDB build's duration."""
    return path.with_name(path.name + ".json")


class _DuckDBSnapshot:
    def __init__(self, cursor: duckdb.DuckDBPyConnection, build: BuildInfo, schema: str = "main"):
        self._cursor = cursor
        self.build = build
        self._schema = _quoted(schema)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        try:
            used = set(_PARAM.findall(sql))  # DuckDB refuses parameters a statement does not use
            bound = {name: value for name, value in (params or {}).items() if name in used}
            result = self._cursor.execute(_PARAM.sub(r"$\1", sql.format(schema=self._schema)), bound)
            columns = [column[0] for column in result.description]
            return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        except duckdb.CatalogException as error:
            raise WarehouseUnavailable(
                f"analytics marts are not built in {self._name()} (CatalogException)", _described(error)
            ) from None
        except duckdb.OutOfMemoryException as error:
            raise WarehouseUnavailable(
                "analytics database is out of memory (raise TASKER_ANALYTICS_DUCKDB_MEMORY_MB)", _described(error)
            ) from None
        except (duckdb.IOException, duckdb.InternalException, duckdb.SerializationException) as error:
            raise WarehouseUnavailable(
                f"analytics database {self._name()} cannot be read ({type(error).__name__})", _described(error)
            ) from None
        except duckdb.Error as error:
            if type(error) is not duckdb.Error and "corrupt" not in str(error).lower():
                raise  # a programming error: the server's bug, logged as such
            raise CorruptBuild(
                f"analytics database {self._name()} is corrupt ({type(error).__name__}): "
                "publish a new build (`tasker-analytics build --full-refresh`)",
                _described(error),
            ) from None

    def _name(self) -> str:
        """The build as a response may name it: its id and file name."""
        if self.build is None:
            return "the build"
        return f"build {self.build.build_id} ({Path(self.build.location).name})"


class DuckDBWarehouse:
    """Read-only access to the analytics DuckDB build that the served path points to."""

    engine = "duckdb"

    def __init__(
        self, path: Path, memory_mb: int = 0, concurrent_reads: int | None = None, schema: str = "main"
    ) -> None:
        """memory_mb bounds DuckDB's memory per open build (0: DuckDB's default, 80 % of
        RAM); concurrent_reads bounds the snapshots reading at once (None: no bound). A
        body over the rollups fits in about 100 MB at 1M tasks, so reads take turns
        rather than run out of a shared limit (docs/BENCHMARKS.md, "Memory"). `schema`
        holds the marts and the analyst functions: `main` for a build of this project,
        the package's schema in a dbt project that installs it (`main_tasker`, say)."""
        self.path = Path(path)
        self.schema = schema
        self.memory_mb = memory_mb
        self._reads = threading.BoundedSemaphore(concurrent_reads) if concurrent_reads else None
        self._lock = threading.Lock()
        self._identity: tuple[int, int, int] | None = None
        self._real: str | None = None
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._build: BuildInfo | None = None
        self._served: tuple[tuple[int, int, int], BuildInfo] | None = None
        self._checked: tuple[float, tuple[int, int, int]] | None = None
        # Snapshots in flight per open connection (by id), and the connections of earlier
        # builds that stay open until their last snapshot ends.
        self._readers: dict[int, int] = {}
        self._retired: dict[int, duckdb.DuckDBPyConnection] = {}
        # The build found corrupt, by identity, and the error its reads fail with.
        self._corrupt: tuple[tuple[int, int, int], CorruptBuild] | None = None

    def _missing(self) -> WarehouseUnavailable:
        return WarehouseUnavailable(
            f"analytics database {self.path.name} does not exist: run `tasker-analytics build`",
            f"analytics database {self.path} does not exist: run `tasker-analytics build`",
        )

    def _target(self) -> tuple[int, int, int]:
        """The served file's identity (device, inode, mtime): one stat through the link."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise self._missing() from None
        identity = (stat.st_dev, stat.st_ino, stat.st_mtime_ns)
        self._checked = (time.monotonic(), identity)
        return identity

    def _refuse_corrupt(self, identity: tuple[int, int, int]) -> None:
        """CorruptBuild when the served file is the one found corrupt (under the lock)."""
        if self._corrupt is not None and self._corrupt[0] == identity:
            raise self._corrupt[1]

    def mark_corrupt(self, identity: tuple[int, int, int], error: CorruptBuild) -> None:
        """Every later read of this build fails with `error` until another is published."""
        logger.error("served build is corrupt: %s", error.internal)
        with self._lock:
            self._corrupt = (identity, error)

    def _retire(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Close a previous build's connection once no snapshot reads it (under the lock)."""
        if self._readers.get(id(connection), 0) > 0:
            self._retired[id(connection)] = connection
        else:
            self._readers.pop(id(connection), None)
            connection.close()

    def _open(self) -> None:
        """Open the file the served path points to now, recording its identity."""
        real = os.path.realpath(self.path)
        try:
            stat = os.stat(real)
        except FileNotFoundError:
            raise self._missing() from None
        identity = (stat.st_dev, stat.st_ino, stat.st_mtime_ns)
        if self._connection is not None and self._real == real:
            # A file replaced in place keeps its name, and DuckDB hands back an open
            # database of the same name, so that one must be closed before it is opened
            # again. Builds published by `tasker-analytics build` never take this path:
            # each has a file name of its own, and the new one opens before the old closes.
            self._connection.close()
            self._connection = None
        try:
            connection = duckdb.connect(real, read_only=True)
            if self.memory_mb:
                connection.execute(f"set memory_limit = '{int(self.memory_mb)}MB'")
        except duckdb.Error as error:
            raise WarehouseUnavailable(
                f"analytics database {Path(real).name} cannot be opened ({type(error).__name__})",
                f"analytics database {real} cannot be opened: {_described(error)}",
            ) from None
        cursor = connection.cursor()
        try:
            row = _DuckDBSnapshot(cursor, None, self.schema).query(queries.BUILD_INFO)[0]  # type: ignore[arg-type]
        except (WarehouseUnavailable, IndexError) as error:
            connection.close()
            internal = error.internal if isinstance(error, WarehouseUnavailable) else _described(error)
            raise WarehouseUnavailable(
                f"analytics database {Path(real).name} holds no complete build ({type(error).__name__})",
                f"analytics database {real} holds no complete build: {internal}",
            ) from None
        finally:
            cursor.close()
        sidecar = build_sidecar(Path(real))
        build_seconds = None
        if sidecar.exists():
            try:
                build_seconds = float(json.loads(sidecar.read_text())["build_seconds"])
            except (ValueError, KeyError, OSError):
                build_seconds = None
        if self._connection is not None:
            self._retire(self._connection)
        self._connection = connection
        self._identity = identity
        self._real = real
        self._build = BuildInfo(
            build_id=row["build_id"],
            data_as_of=row["data_as_of"],
            built_at=row["built_at"],
            location=real,
            size_bytes=stat.st_size,
            build_seconds=build_seconds,
        )
        self._served = (identity, self._build)

    def _current(
        self,
    ) -> tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyConnection, BuildInfo, tuple[int, int, int]]:
        identity = self._target()
        with self._lock:
            self._refuse_corrupt(identity)
            if self._connection is None or identity != self._identity:
                self._open()
            assert self._connection is not None and self._build is not None and self._identity is not None
            connection = self._connection
            self._readers[id(connection)] = self._readers.get(id(connection), 0) + 1
            return connection, connection.cursor(), self._build, self._identity

    def _release(self, connection: duckdb.DuckDBPyConnection, cursor: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            cursor.close()
            self._readers[id(connection)] -= 1
            if id(connection) in self._retired and self._readers[id(connection)] == 0:
                del self._retired[id(connection)]
                self._readers.pop(id(connection), None)
                connection.close()

    def current_build(self) -> BuildInfo:
        identity = self._target()
        with self._lock:
            self._refuse_corrupt(identity)
            if self._connection is None or identity != self._identity:
                self._open()
            assert self._build is not None
            return self._build

    def known_build(self) -> BuildInfo | None:
        """The served build if it is the one already open, else None; never opens a file
        or waits on a lock (the event loop calls it for every cache hit). The served
        path's identity is looked at again after _DUCKDB_RECHECK_SECONDS: a stat per hit
        releases the interpreter lock and, under load, costs more than the rest of the hit."""
        checked = self._checked
        now = time.monotonic()
        if checked is None or now - checked[0] >= _DUCKDB_RECHECK_SECONDS:
            try:
                self._target()
                checked = self._checked
            except WarehouseUnavailable:
                return None
        served = self._served  # one read: the identity and build of one _open
        if served is None or served[0] != checked[1]:
            return None
        corrupt = self._corrupt
        return None if corrupt is not None and corrupt[0] == served[0] else served[1]

    def probe(self) -> BuildInfo:
        """Readiness: a read of the served performance marts, outside the turn-taking of
        snapshots (a cheap query never waits behind uncached bodies)."""
        connection, cursor, build, identity = self._current()
        try:
            snapshot = _DuckDBSnapshot(cursor, build, self.schema)
            for statement in queries.READINESS:
                snapshot.query(statement)
        except CorruptBuild as error:
            self.mark_corrupt(identity, error)
            raise
        finally:
            self._release(connection, cursor)
        return build

    @contextmanager
    def snapshot(self) -> Iterator[_DuckDBSnapshot]:
        if self._reads is not None:
            self._reads.acquire()
        try:
            connection, cursor, build, identity = self._current()
            try:
                yield _DuckDBSnapshot(cursor, build, self.schema)
            except CorruptBuild as error:
                self.mark_corrupt(identity, error)
                raise
            finally:
                self._release(connection, cursor)
        finally:
            if self._reads is not None:
                self._reads.release()

    def close(self) -> None:
        with self._lock:
            for connection in [self._connection, *self._retired.values()]:
                if connection is not None:
                    connection.close()
            self._retired.clear()
            self._readers.clear()
            self._connection = None
            self._identity = None
            self._real = None
            self._served = None
            self._checked = None


class _PostgresSnapshot:
    def __init__(self, connection: psycopg.Connection, schema: str):
        self._connection = connection
        self._schema = schema
        self.build: BuildInfo = None  # type: ignore[assignment]

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        import psycopg

        text = _PARAM.sub(r"%(\1)s", sql.format(schema=_quoted(self._schema)))
        try:
            return list(self._connection.execute(text, params or {}).fetchall())
        except psycopg.errors.UndefinedTable as error:
            raise WarehouseUnavailable(
                "analytics marts are not built (UndefinedTable)", f"analytics marts are not built: {error}".strip()
            ) from None
        except psycopg.OperationalError as error:
            raise _unreachable(error) from None


def _unreachable(error: BaseException) -> WarehouseUnavailable:
    public = f"warehouse unreachable ({type(error).__name__})"
    return WarehouseUnavailable(public, f"warehouse unreachable: {error}".strip())


class PostgresWarehouse:
    """The marts in a PostgreSQL schema; one short read-only transaction per snapshot."""

    engine = "postgres"

    def __init__(self, dsn: str, schema: str, statement_timeout_ms: int = 5000):
        self.dsn = dsn
        self.schema = schema
        self.statement_timeout_ms = statement_timeout_ms
        self._lock = threading.Lock()
        self._build: tuple[float, BuildInfo] | None = None
        # Whether the schema is a served one (a build_pointer naming the build schema, as
        # `tasker-analytics build` publishes) or holds the marts themselves. Kept once found:
        # a pointer is never removed. Without one, looked up again on every snapshot, so a
        # server started before the first build is published reads it through its pointer.
        self._has_pointer = False

    @contextmanager
    def snapshot(self) -> Iterator[_PostgresSnapshot]:
        import psycopg
        from psycopg.rows import dict_row

        try:
            connection = psycopg.connect(
                self.dsn,
                connect_timeout=2,
                options=f"-c statement_timeout={self.statement_timeout_ms}",
                row_factory=dict_row,
            )
        except psycopg.OperationalError as error:
            raise _unreachable(error) from None
        try:
            connection.read_only = True
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with connection.transaction():
                if not self._has_pointer:
                    self._has_pointer = _PostgresSnapshot(connection, self.schema).query(
                        queries.HAS_BUILD_POINTER, {"pointer": f"{_quoted(self.schema)}.build_pointer"}
                    )[0]["has_pointer"]
                if self._has_pointer:
                    pointer = _PostgresSnapshot(connection, self.schema).query(queries.BUILD_POINTER)
                else:  # the package's marts built in place by a team's own dbt project
                    pointer = _PostgresSnapshot(connection, self.schema).query(
                        queries.IN_PLACE_BUILD, {"schema_name": self.schema}
                    )
                if not pointer:
                    raise WarehouseUnavailable("analytics marts hold no complete build")
                snapshot = _PostgresSnapshot(connection, pointer[0]["build_schema"])
                rows = snapshot.query(queries.BUILD_INFO)
                if not rows:
                    raise WarehouseUnavailable("analytics marts hold no complete build")
                size, seconds = pointer[0]["size_bytes"], pointer[0].get("build_seconds")
                snapshot.build = BuildInfo(
                    build_id=rows[0]["build_id"],
                    data_as_of=rows[0]["data_as_of"],
                    built_at=rows[0]["built_at"],
                    location=pointer[0]["build_schema"],
                    size_bytes=None if size is None else int(size),
                    build_seconds=None if seconds is None else float(seconds),
                )
                with self._lock:
                    self._build = (time.monotonic(), snapshot.build)
                yield snapshot
        except psycopg.OperationalError as error:
            raise _unreachable(error) from None
        finally:
            connection.close()

    def probe(self) -> BuildInfo:
        """Readiness: a read of the served performance marts in one snapshot."""
        with self.snapshot() as snapshot:
            for statement in queries.READINESS:
                snapshot.query(statement)
            return snapshot.build

    def current_build(self) -> BuildInfo:
        build = self.known_build()
        if build is not None:
            return build
        with self.snapshot() as snapshot:
            return snapshot.build

    def known_build(self) -> BuildInfo | None:
        """The build id read in the last second, else None (no connection is made)."""
        with self._lock:
            if self._build is not None and time.monotonic() - self._build[0] < _POSTGRES_BUILD_TTL_SECONDS:
                return self._build[1]
        return None

    def close(self) -> None:
        return None


def open_warehouse(settings: Settings) -> Warehouse:
    if settings.warehouse == "postgres":
        return PostgresWarehouse(
            settings.read_replica_url or settings.database_url,
            settings.database_schema,
            settings.statement_timeout_ms,
        )
    return DuckDBWarehouse(
        settings.duckdb_path, settings.duckdb_memory_mb, settings.duckdb_concurrent_reads, settings.duckdb_schema
    )


def _quoted(identifier: str) -> str:
    """A schema name as SQL names it: double-quoted, inner quotes doubled."""
    return '"' + identifier.replace('"', '""') + '"'
