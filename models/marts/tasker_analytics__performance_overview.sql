{{ config(alias='performance_overview') }}
{#- Served: one row, the performance endpoint's headline figures at as_of: the system
    health score (null, with health_status insufficient_data, when no component is
    judged), task statistics and processing times over the statistics window
    (24 h), active tasks, and the build's identity. -#}
{%- set statistics_hours = var('statistics_window_hours') -%}

with window_stats as (
    select * from {{ ref('tasker_analytics__int_window_task_stats') }}
    where window_hours = {{ statistics_hours }}
),

components as (
    select * from {{ ref('tasker_analytics__health_components') }}
),

tasks as (
    select * from {{ ref('tasker_analytics__int_task_executions') }}
),

health as (
    select {{ health_score('component_value', 'weight') }} as system_health_score
    from components
),

active as (
    select count(*) as active_task_count
    from tasks
    where not is_settled
),

final as (
    select
        cast('{{ invocation_id }}' as {{ dbt.type_string() }}) as build_id,
        {{ as_of() }} as data_as_of,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp) as built_at,
        cast(health.system_health_score as {{ type_double() }}) as system_health_score,
        cast({{ health_status('health.system_health_score') }} as {{ dbt.type_string() }}) as health_status,
        cast({{ statistics_hours }} as integer) as statistics_window_hours,
        window_stats.created_count as total_tasks,
        window_stats.settled_count,
        window_stats.completed_count,
        window_stats.failed_count,
        window_stats.cancelled_count,
        window_stats.resolved_manually_count,
        window_stats.retried_count,
        {{ safe_ratio('window_stats.completed_count', 'window_stats.settled_count') }} as completion_rate,
        {{ safe_ratio('window_stats.failed_count', 'window_stats.settled_count') }} as failure_rate,
        {{ safe_ratio('window_stats.retried_count', 'window_stats.settled_count') }} as retry_rate,
        window_stats.duration_count,
        window_stats.avg_duration_ms,
        window_stats.p50_duration_ms,
        window_stats.p95_duration_ms,
        window_stats.p99_duration_ms,
        window_stats.negative_duration_count,
        cast(active.active_task_count as bigint) as active_tasks,
        window_stats.namespace_count,
        window_stats.task_type_count
    from window_stats
    cross join health
    cross join active
)

select * from final
