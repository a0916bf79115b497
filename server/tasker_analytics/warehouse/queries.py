"""Every SQL statement the server runs, against the built marts only: the performance
marts, and for the bottleneck analysis the rollup marts (through the analyst SQL
functions) — never the per-execution models.

`{schema}` is the schema of the marts; `:name` is a bound parameter. The statements are
plain SQL that DuckDB and PostgreSQL both accept. Sorting and limits happen in Python
(analytics.py) so that the order never depends on an engine's collation.
"""

PERFORMANCE_OVERVIEW = """
select
    build_id, data_as_of, built_at, system_health_score, health_status, statistics_window_hours,
    total_tasks, settled_count, completed_count, failed_count, cancelled_count,
    resolved_manually_count, retried_count, completion_rate, failure_rate, retry_rate,
    duration_count, avg_duration_ms, p50_duration_ms, p95_duration_ms, p99_duration_ms,
    negative_duration_count, active_tasks, namespace_count, task_type_count
from {schema}.performance_overview
"""

PERFORMANCE_TRENDS = """
select
    window_hours, window_label, created_count, settled_count, completed_count, failed_count,
    cancelled_count, resolved_manually_count, completion_rate, error_rate, avg_duration_ms
from {schema}.performance_trends
order by window_hours
"""

HEALTH_COMPONENTS = """
select component, component_value, weight, window_hours, item_count, description
from {schema}.health_components
"""

# The namespaces of the build's data: every one with a task in it, whatever the period
# (the monitoring check refuses another --namespace).
NAMESPACES = """
select distinct namespace_name from {schema}.task_version_history
"""

# Readiness: the served performance marts read whole (a few rows, every column).
READINESS = (PERFORMANCE_OVERVIEW, PERFORMANCE_TRENDS, HEALTH_COMPONENTS)

# Postgres only: which build schema is current and how long its build took (written by
# build.postgres.publish_postgres; `*` because a pointer table published before the
# duration was recorded has no build_seconds), and the build schema's size on disk: its
# tables and materialized views with their indexes and TOAST (pg_total_relation_size).
# A build schema's size on disk, `{build_schema}` being the SQL expression naming it.
_SCHEMA_SIZE = """(
        select sum(pg_catalog.pg_total_relation_size(relations.oid))
        from pg_catalog.pg_class as relations
        inner join pg_catalog.pg_namespace as namespaces on relations.relnamespace = namespaces.oid
        where namespaces.nspname = {build_schema} and relations.relkind in ('r', 'm')
    )"""

BUILD_POINTER = (
    """
select
    pointer.*,
    """
    + _SCHEMA_SIZE.format(build_schema="pointer.build_schema")
    + """ as size_bytes
from {schema}.build_pointer as pointer
"""
)

# Whether the schema has a build pointer; without one, the schema holds the marts
# themselves (a dbt project that installs this one as a package builds them in place).
HAS_BUILD_POINTER = """
select to_regclass(:pointer) is not null as has_pointer
"""

# The pointer's columns for a schema that holds its marts in place.
IN_PLACE_BUILD = (
    """
select
    cast(:schema_name as text) as build_schema,
    cast(null as double precision) as build_seconds,
    """
    + _SCHEMA_SIZE.format(build_schema="cast(:schema_name as text)")
    + """ as size_bytes
"""
)

BUILD_INFO = """
select build_id, data_as_of, built_at
from {schema}.performance_overview
"""

# The bottleneck lists come from the analyst SQL functions the build creates
# (macros/analyst_functions/analytics_functions.sql), so SQL users and the API share one definition.
TASK_BOTTLENECKS = """
select * from {schema}.function_based_slowest_tasks(
    cast(:namespace as varchar), cast(:period as integer), cast(null as integer),
    cast(:task_name as varchar), cast(:version as varchar))
"""

STEP_BOTTLENECKS = """
select * from {schema}.function_based_slowest_steps(
    cast(:task_name as varchar), cast(:namespace as varchar), cast(:period as integer),
    cast(null as integer), cast(:version as varchar))
"""

ERROR_PATTERNS = """
select * from {schema}.function_based_error_patterns(
    cast(:namespace as varchar), cast(:period as integer), cast(null as integer),
    cast(:task_name as varchar), cast(:version as varchar))
"""

RECOMMENDATIONS = """
select * from {schema}.function_based_recommendations(
    cast(:namespace as varchar), cast(:period as integer), cast(null as integer),
    cast(:task_name as varchar), cast(:version as varchar))
"""

CRITICAL_PATH = """
select * from {schema}.function_based_critical_path(
    cast(:namespace as varchar), cast(:period as integer), cast(null as integer),
    cast(:task_name as varchar), cast(:version as varchar))
"""

DURATION_SUMMARY = """
select * from {schema}.function_based_duration_distribution(
    cast(:namespace as varchar), cast(:period as integer),
    cast(:task_name as varchar), cast(:version as varchar))
"""

HOURLY_HISTORY = """
select * from {schema}.function_based_hourly_history(
    cast(:namespace as varchar), cast(:period as integer),
    cast(:task_name as varchar), cast(:version as varchar))
"""

# The step DAG of a task type (every version unless one is given).
STEP_EDGES = """
select namespace_name, task_version, parent_step_name, child_step_name, task_count
from {schema}.task_type_step_edges
where task_name = :task_name
    and (cast(:namespace as varchar) is null or namespace_name = :namespace)
    and (cast(:version as varchar) is null or task_version = :version)
"""

DURATION_HISTOGRAM = """
select duration_bucket, sum(item_count) as bucket_count
from {schema}.task_duration_histogram
where hour_index between 1 and :period
    and (cast(:namespace as varchar) is null or namespace_name = :namespace)
    and (cast(:task_name as varchar) is null or task_name = :task_name)
    and (cast(:version as varchar) is null or task_version = :version)
group by duration_bucket
"""
