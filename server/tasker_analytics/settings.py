"""Settings: one typed object read from TASKER_ANALYTICS_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tasker_analytics.auth import AuthConfigError, AuthSettings

PROJECT_DIR = Path(__file__).resolve().parents[2]


def default_source_duckdb(env: Mapping[str, str] | None = None) -> Path:
    """The DuckDB file holding the Tasker tables: TASKER_SOURCE_DUCKDB_PATH (relative to the
    project), else data/tasker_source.duckdb in the project."""
    env = os.environ if env is None else env
    path = Path(env.get("TASKER_SOURCE_DUCKDB_PATH") or "data/tasker_source.duckdb")
    return path if path.is_absolute() else PROJECT_DIR / path


def default_source_parquet(env: Mapping[str, str] | None = None) -> Path:
    """The folder of Parquet Tasker tables a Spark build reads: TASKER_SOURCE_PARQUET_DIR
    (relative to the project), else data/tasker_source_parquet in the project."""
    env = os.environ if env is None else env
    path = Path(env.get("TASKER_SOURCE_PARQUET_DIR") or "data/tasker_source_parquet")
    return path if path.is_absolute() else PROJECT_DIR / path


# Uncached bodies one worker computes at once on Postgres (each on its own connection).
POSTGRES_CONCURRENT_READS = 4


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


# Bad auth configuration is a settings error too.
CONFIGURATION_ERRORS = (SettingsError, AuthConfigError)


def _text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _text(env, name, "true" if default else "false").lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {value!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = _text(env, name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the server and the Python API need; see the README's configuration table."""

    enabled: bool = True
    # duckdb, postgres, or spark: built on Spark, served from a DuckDB copy of its marts.
    warehouse: str = "duckdb"
    duckdb_path: Path = field(default_factory=lambda: PROJECT_DIR / "data" / "tasker_analytics.duckdb")
    database_url: str = "postgresql://postgres@127.0.0.1:5432/tasker"
    database_schema: str = "tasker_analytics"
    spark_dir: Path = field(default_factory=lambda: PROJECT_DIR / "data" / "spark")
    spark_schema: str = "tasker_analytics"
    performance_cache_ttl: int = 90
    bottlenecks_cache_ttl: int = 120
    max_period_hours: int = 168
    max_bottleneck_results: int = 50
    default_bottleneck_results: int = 10
    statement_timeout_ms: int = 5000
    read_replica_url: str | None = None
    keep_builds: int = 3
    redis_url: str | None = None
    cache_max_entries: int = 2048
    duckdb_memory_mb: int = 128
    duckdb_concurrent_reads: int = 1
    # Uncached bodies that may wait for a computing slot per worker; more get a 503.
    max_waiting_misses: int = 16
    background_aggregation: bool = False
    aggregation_interval_seconds: int = 900
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    auth: AuthSettings = field(default_factory=AuthSettings)

    @property
    def concurrent_misses(self) -> int:
        """Uncached bodies computed at once per worker: the DuckDB read bound, or
        POSTGRES_CONCURRENT_READS connections on Postgres."""
        return POSTGRES_CONCURRENT_READS if self.warehouse == "postgres" else self.duckdb_concurrent_reads

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        warehouse = _text(env, "TASKER_ANALYTICS_WAREHOUSE", "duckdb").lower()
        if warehouse not in {"duckdb", "postgres", "spark"}:
            raise SettingsError(f"TASKER_ANALYTICS_WAREHOUSE must be duckdb, postgres or spark, got {warehouse!r}")
        performance_ttl = _int(env, "TASKER_ANALYTICS_CACHE_TTL", 90, minimum=0)
        settings = cls(
            enabled=_bool(env, "TASKER_ANALYTICS_ENABLED", True),
            warehouse=warehouse,
            duckdb_path=Path(_text(env, "TASKER_ANALYTICS_DUCKDB_PATH", str(cls().duckdb_path))),
            database_url=_text(env, "TASKER_ANALYTICS_DATABASE_URL", cls.database_url),
            database_schema=_text(env, "TASKER_ANALYTICS_PG_SCHEMA", cls.database_schema),
            spark_dir=Path(_text(env, "TASKER_ANALYTICS_SPARK_DIR", str(cls().spark_dir))),
            spark_schema=_text(env, "TASKER_ANALYTICS_SPARK_SCHEMA", cls.spark_schema),
            performance_cache_ttl=_int(env, "TASKER_ANALYTICS_PERFORMANCE_CACHE_TTL", performance_ttl, minimum=0),
            bottlenecks_cache_ttl=_int(env, "TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL", 120, minimum=0),
            max_period_hours=_int(env, "TASKER_ANALYTICS_MAX_PERIOD_HOURS", 168),
            max_bottleneck_results=_int(env, "TASKER_ANALYTICS_MAX_BOTTLENECK_RESULTS", 50),
            statement_timeout_ms=_int(env, "TASKER_ANALYTICS_STATEMENT_TIMEOUT_MS", 5000),
            read_replica_url=env.get("TASKER_ANALYTICS_READ_REPLICA_URL") or None,
            keep_builds=_int(env, "TASKER_ANALYTICS_KEEP_BUILDS", 3),
            redis_url=env.get("TASKER_ANALYTICS_REDIS_URL") or None,
            cache_max_entries=_int(env, "TASKER_ANALYTICS_CACHE_MAX_ENTRIES", 2048),
            duckdb_memory_mb=_int(env, "TASKER_ANALYTICS_DUCKDB_MEMORY_MB", 128, minimum=0),
            duckdb_concurrent_reads=_int(env, "TASKER_ANALYTICS_DUCKDB_CONCURRENT_READS", 1),
            max_waiting_misses=_int(env, "TASKER_ANALYTICS_MAX_WAITING_MISSES", 16, minimum=0),
            background_aggregation=_bool(env, "TASKER_ANALYTICS_BACKGROUND_AGGREGATION", False),
            aggregation_interval_seconds=_int(env, "TASKER_ANALYTICS_AGGREGATION_INTERVAL", 900),
            host=_text(env, "TASKER_ANALYTICS_HOST", "127.0.0.1"),
            port=_int(env, "TASKER_ANALYTICS_PORT", 8000),
            workers=_int(env, "TASKER_ANALYTICS_WORKERS", 1),
            auth=AuthSettings.from_env(env),
        )
        if settings.default_bottleneck_results > settings.max_bottleneck_results:
            settings = cls(**{**settings.__dict__, "default_bottleneck_results": settings.max_bottleneck_results})
        return settings
