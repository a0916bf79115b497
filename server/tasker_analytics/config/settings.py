"""Settings: one typed object read from TASKER_ANALYTICS_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasker_analytics.auth.settings import AuthConfigError, AuthSettings
from tasker_analytics.config.variables import SettingsError, Variable, boolean, choice, integer, path, text

# The dbt project the builds run (dbt_project.yml, models, macros, seeds, profiles.example.yml):
# TASKER_ANALYTICS_PROJECT_DIR, else the checkout this package is installed from.
_CHECKOUT = Path(__file__).resolve().parents[3]


# Uncached bodies one worker computes at once on Postgres (each on its own connection).
POSTGRES_CONCURRENT_READS = 4

# Bad auth configuration is a settings error too.
CONFIGURATION_ERRORS = (SettingsError, AuthConfigError)


def _declare(*variables: Variable) -> dict[str, Variable]:
    return {variable.name: variable for variable in variables}


# Every variable of the server and the build, but auth's (auth.tokens.AUTH_VARIABLES), in
# the order of the README's configuration table. Paths relative to the project unless absolute.
SERVER_VARIABLES = _declare(
    Variable("TASKER_ANALYTICS_PROJECT_DIR", path, _CHECKOUT, "this checkout"),
    Variable("TASKER_ANALYTICS_ENABLED", boolean, True, "true"),
    Variable("TASKER_ANALYTICS_WAREHOUSE", choice("duckdb", "postgres", "spark"), "duckdb", "duckdb"),
    Variable(
        "TASKER_ANALYTICS_DUCKDB_PATH", path, Path("data/tasker_analytics.duckdb"), "data/tasker_analytics.duckdb"
    ),
    Variable("TASKER_SOURCE_DUCKDB_PATH", path, Path("data/tasker_source.duckdb"), "data/tasker_source.duckdb"),
    Variable("TASKER_SOURCE_SCHEMA", text, "public", "public"),
    Variable("TASKER_SOURCE_PARQUET_DIR", path, Path("data/tasker_source_parquet"), "data/tasker_source_parquet"),
    Variable("TASKER_ANALYTICS_SPARK_DIR", path, Path("data/spark"), "data/spark"),
    Variable("TASKER_ANALYTICS_SPARK_SCHEMA", text, "tasker_analytics", "tasker_analytics"),
    Variable(
        "TASKER_ANALYTICS_DATABASE_URL",
        text,
        "postgresql://postgres@127.0.0.1:5432/tasker",
        "postgresql://postgres@127.0.0.1:5432/tasker",
    ),
    Variable("TASKER_ANALYTICS_PG_SCHEMA", text, "tasker_analytics", "tasker_analytics"),
    Variable("TASKER_ANALYTICS_READ_REPLICA_URL", text, None, "unset"),
    Variable("TASKER_ANALYTICS_CACHE_TTL", integer(minimum=0), 90, "90"),
    Variable("TASKER_ANALYTICS_PERFORMANCE_CACHE_TTL", integer(minimum=0), 90, "TASKER_ANALYTICS_CACHE_TTL"),
    Variable("TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL", integer(minimum=0), 120, "120"),
    Variable("TASKER_ANALYTICS_REDIS_URL", text, None, "unset"),
    Variable("TASKER_ANALYTICS_CACHE_MAX_ENTRIES", integer(), 2048, "2048"),
    Variable("TASKER_ANALYTICS_DUCKDB_SCHEMA", text, "main", "main"),
    Variable("TASKER_ANALYTICS_DUCKDB_MEMORY_MB", integer(minimum=0), 128, "128"),
    Variable("TASKER_ANALYTICS_DUCKDB_CONCURRENT_READS", integer(), 1, "1"),
    Variable("TASKER_ANALYTICS_MAX_WAITING_MISSES", integer(minimum=0), 16, "16"),
    Variable("TASKER_ANALYTICS_MAX_PERIOD_HOURS", integer(), 168, "168"),
    Variable("TASKER_ANALYTICS_MAX_BOTTLENECK_RESULTS", integer(), 50, "50"),
    Variable("TASKER_ANALYTICS_STATEMENT_TIMEOUT_MS", integer(), 5000, "5000"),
    Variable("TASKER_ANALYTICS_RETENTION_DAYS", integer(unit="a whole number of days"), 30, "30"),
    Variable("TASKER_ANALYTICS_KEEP_BUILDS", integer(), 3, "3"),
    Variable("TASKER_ANALYTICS_BACKGROUND_AGGREGATION", boolean, False, "false"),
    Variable("TASKER_ANALYTICS_AGGREGATION_INTERVAL", integer(), 900, "900"),
    Variable("TASKER_ANALYTICS_HOST", text, "127.0.0.1", "127.0.0.1"),
    Variable("TASKER_ANALYTICS_PORT", integer(), 8000, "8000"),
    Variable("TASKER_ANALYTICS_WORKERS", integer(), 1, "1"),
)


PROJECT_DIR: Path = SERVER_VARIABLES["TASKER_ANALYTICS_PROJECT_DIR"].read(os.environ).resolve()


def project_path(value: Path) -> Path:
    """A configured path: as given when absolute, else inside the project."""
    return value if value.is_absolute() else PROJECT_DIR / value


def _default(name: str) -> Any:
    return SERVER_VARIABLES[name].default


def _value(env: Mapping[str, str], name: str, **default: Any) -> Any:
    return SERVER_VARIABLES[name].read(env, **default)


def _served_path(env: Mapping[str, str], name: str) -> Path:
    """A path where builds are written: inside the project by default, as given (relative
    to the working directory) when set."""
    value = _value(env, name)
    return project_path(value) if name not in env or not env[name].strip() else value


def default_source_duckdb(env: Mapping[str, str] | None = None) -> Path:
    """The DuckDB file holding the Tasker tables (TASKER_SOURCE_DUCKDB_PATH, relative to the
    project unless absolute)."""
    return project_path(_value(os.environ if env is None else env, "TASKER_SOURCE_DUCKDB_PATH"))


def default_source_parquet(env: Mapping[str, str] | None = None) -> Path:
    """The folder of Parquet Tasker tables a Spark build reads (TASKER_SOURCE_PARQUET_DIR)."""
    return project_path(_value(os.environ if env is None else env, "TASKER_SOURCE_PARQUET_DIR"))


def retention_days(env: Mapping[str, str]) -> int:
    """History the per-execution models keep (TASKER_ANALYTICS_RETENTION_DAYS, read by dbt)."""
    return _value(env, "TASKER_ANALYTICS_RETENTION_DAYS")


@dataclass(frozen=True)
class Settings:
    """Everything the server and the Python API need; see the README's configuration table."""

    enabled: bool = _default("TASKER_ANALYTICS_ENABLED")
    # duckdb, postgres, or spark: built on Spark, served from a DuckDB copy of its marts.
    warehouse: str = _default("TASKER_ANALYTICS_WAREHOUSE")
    duckdb_path: Path = field(default_factory=lambda: project_path(_default("TASKER_ANALYTICS_DUCKDB_PATH")))
    # The schema of the DuckDB file holding the marts and the analyst functions.
    duckdb_schema: str = _default("TASKER_ANALYTICS_DUCKDB_SCHEMA")
    database_url: str = _default("TASKER_ANALYTICS_DATABASE_URL")
    database_schema: str = _default("TASKER_ANALYTICS_PG_SCHEMA")
    spark_dir: Path = field(default_factory=lambda: project_path(_default("TASKER_ANALYTICS_SPARK_DIR")))
    spark_schema: str = _default("TASKER_ANALYTICS_SPARK_SCHEMA")
    performance_cache_ttl: int = _default("TASKER_ANALYTICS_PERFORMANCE_CACHE_TTL")
    bottlenecks_cache_ttl: int = _default("TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL")
    max_period_hours: int = _default("TASKER_ANALYTICS_MAX_PERIOD_HOURS")
    max_bottleneck_results: int = _default("TASKER_ANALYTICS_MAX_BOTTLENECK_RESULTS")
    # The history a build keeps (read by dbt too): no period may be longer.
    retention_days: int = _default("TASKER_ANALYTICS_RETENTION_DAYS")
    default_bottleneck_results: int = 10  # not configurable: the API's documented default limit
    statement_timeout_ms: int = _default("TASKER_ANALYTICS_STATEMENT_TIMEOUT_MS")
    read_replica_url: str | None = _default("TASKER_ANALYTICS_READ_REPLICA_URL")
    keep_builds: int = _default("TASKER_ANALYTICS_KEEP_BUILDS")
    redis_url: str | None = _default("TASKER_ANALYTICS_REDIS_URL")
    cache_max_entries: int = _default("TASKER_ANALYTICS_CACHE_MAX_ENTRIES")
    duckdb_memory_mb: int = _default("TASKER_ANALYTICS_DUCKDB_MEMORY_MB")
    duckdb_concurrent_reads: int = _default("TASKER_ANALYTICS_DUCKDB_CONCURRENT_READS")
    # Uncached bodies that may wait for a computing slot per worker; more get a 503.
    max_waiting_misses: int = _default("TASKER_ANALYTICS_MAX_WAITING_MISSES")
    background_aggregation: bool = _default("TASKER_ANALYTICS_BACKGROUND_AGGREGATION")
    aggregation_interval_seconds: int = _default("TASKER_ANALYTICS_AGGREGATION_INTERVAL")
    host: str = _default("TASKER_ANALYTICS_HOST")
    port: int = _default("TASKER_ANALYTICS_PORT")
    workers: int = _default("TASKER_ANALYTICS_WORKERS")
    auth: AuthSettings = field(default_factory=AuthSettings)

    @property
    def longest_period(self) -> int:
        """The longest analysis period in hours: the maximum, and no more than the history
        the builds keep."""
        return min(self.max_period_hours, 24 * self.retention_days)

    @property
    def concurrent_misses(self) -> int:
        """Uncached bodies computed at once per worker: the DuckDB read bound, or
        POSTGRES_CONCURRENT_READS connections on Postgres."""
        return POSTGRES_CONCURRENT_READS if self.warehouse == "postgres" else self.duckdb_concurrent_reads

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        performance_ttl = _value(env, "TASKER_ANALYTICS_CACHE_TTL")
        settings = cls(
            enabled=_value(env, "TASKER_ANALYTICS_ENABLED"),
            warehouse=_value(env, "TASKER_ANALYTICS_WAREHOUSE"),
            duckdb_path=_served_path(env, "TASKER_ANALYTICS_DUCKDB_PATH"),
            duckdb_schema=_value(env, "TASKER_ANALYTICS_DUCKDB_SCHEMA"),
            database_url=_value(env, "TASKER_ANALYTICS_DATABASE_URL"),
            database_schema=_value(env, "TASKER_ANALYTICS_PG_SCHEMA"),
            spark_dir=_served_path(env, "TASKER_ANALYTICS_SPARK_DIR"),
            spark_schema=_value(env, "TASKER_ANALYTICS_SPARK_SCHEMA"),
            performance_cache_ttl=_value(env, "TASKER_ANALYTICS_PERFORMANCE_CACHE_TTL", default=performance_ttl),
            bottlenecks_cache_ttl=_value(env, "TASKER_ANALYTICS_BOTTLENECKS_CACHE_TTL"),
            max_period_hours=_value(env, "TASKER_ANALYTICS_MAX_PERIOD_HOURS"),
            max_bottleneck_results=_value(env, "TASKER_ANALYTICS_MAX_BOTTLENECK_RESULTS"),
            retention_days=_value(env, "TASKER_ANALYTICS_RETENTION_DAYS"),
            statement_timeout_ms=_value(env, "TASKER_ANALYTICS_STATEMENT_TIMEOUT_MS"),
            read_replica_url=_value(env, "TASKER_ANALYTICS_READ_REPLICA_URL"),
            keep_builds=_value(env, "TASKER_ANALYTICS_KEEP_BUILDS"),
            redis_url=_value(env, "TASKER_ANALYTICS_REDIS_URL"),
            cache_max_entries=_value(env, "TASKER_ANALYTICS_CACHE_MAX_ENTRIES"),
            duckdb_memory_mb=_value(env, "TASKER_ANALYTICS_DUCKDB_MEMORY_MB"),
            duckdb_concurrent_reads=_value(env, "TASKER_ANALYTICS_DUCKDB_CONCURRENT_READS"),
            max_waiting_misses=_value(env, "TASKER_ANALYTICS_MAX_WAITING_MISSES"),
            background_aggregation=_value(env, "TASKER_ANALYTICS_BACKGROUND_AGGREGATION"),
            aggregation_interval_seconds=_value(env, "TASKER_ANALYTICS_AGGREGATION_INTERVAL"),
            host=_value(env, "TASKER_ANALYTICS_HOST"),
            port=_value(env, "TASKER_ANALYTICS_PORT"),
            workers=_value(env, "TASKER_ANALYTICS_WORKERS"),
            auth=AuthSettings.from_env(env),
        )
        if settings.default_bottleneck_results > settings.max_bottleneck_results:
            settings = cls(**{**settings.__dict__, "default_bottleneck_results": settings.max_bottleneck_results})
        return settings
