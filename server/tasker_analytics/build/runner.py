"""Run the dbt project (`dbt build`) and publish the result atomically.

- DuckDB: every build writes a new file `builds/<stamp>.duckdb` beside the served path;
  when it succeeds, the served path (a symlink) is replaced by one pointing at it, in
  one atomic rename. A failed build leaves the previous build serving.
- Spark: `dbt build` on the spark target writes the models as Parquet tables in the Spark
  warehouse (which persist from build to build); the served relations are then copied
  from those Parquet files into a new DuckDB build file (with the analyst SQL functions
  as DuckDB macros), published exactly like a DuckDB build. The server never needs a
  Spark session.
- PostgreSQL: every build gets its own schema `<schema>__b<stamp>`; when it succeeds,
  one transaction points `<schema>.build_pointer` at it and recreates the views in
  `<schema>` (the stable names analysts query) over its marts. The server reads the
  pointer at the start of each snapshot and queries that build's schema, so a reader
  never sees two builds; the oldest build schemas beyond TASKER_ANALYTICS_KEEP_BUILDS go.
One build runs at a time per warehouse (a lock file beside the served path or in the
project's data folder).

Incremental builds: the new build starts from a copy of the served build's incremental
models (the DuckDB file, or those tables copied into the new schema; on Spark, the
previous Spark build's tables, in place), and dbt recomputes only the tasks touched since
(macros/incremental/incremental.sql). It starts empty (a full refresh) when asked to, when there is
no served build (on Spark: no complete previous build on the Spark folder and schema),
when that build came from other project files, settings or source (the state key), or
when as_of would go back in time.
"""

from __future__ import annotations

from tasker_analytics.build.duckdb_builds import build_duckdb
from tasker_analytics.build.guards import check_retention
from tasker_analytics.build.postgres import build_postgres
from tasker_analytics.build.project import BuildResult, base_env
from tasker_analytics.build.spark import build_spark
from tasker_analytics.config.settings import (
    Settings,
)


def build(
    settings: Settings,
    *,
    source_duckdb: str | None = None,
    source_parquet: str | None = None,
    as_of: str | None = None,
    quiet: bool = False,
    extra_env: dict[str, str] | None = None,
    full_refresh: bool = False,
    allow_empty: bool = False,
) -> BuildResult:
    """`dbt build` for the configured warehouse, then publish; raises BuildError on failure
    (one line naming the cause and the variable to look at, for every expected failure),
    leaving the served build as it was. Continues the served build incrementally when it
    can, unless `full_refresh`. A build with no settled task in the statistics window is
    not published over a served build with EMPTY_GUARD_SETTLED or more, unless `allow_empty`."""
    env = base_env(extra_env)
    check_retention(env)
    if settings.warehouse == "postgres":
        return build_postgres(settings, env, as_of, quiet, full_refresh, allow_empty)
    if settings.warehouse == "spark":
        return build_spark(settings, env, source_parquet, as_of, quiet, full_refresh, allow_empty)
    return build_duckdb(settings, env, source_duckdb, as_of, quiet, full_refresh, allow_empty)
