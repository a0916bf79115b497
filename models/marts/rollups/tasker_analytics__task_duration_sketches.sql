{{ config(alias='task_duration_sketches') }}
{#- The log-bucket sketch of the durations, queue waits and run times of the tasks
    settled `complete` in each hour bucket, per task type (docs/API.md). -#}
with tasks as (
    {{ rollup_rows(ref('tasker_analytics__int_task_executions'), timed=true) }}
),

measures as (
    select
        hour_index,
        namespace_name,
        task_name,
        task_version,
        'duration' as metric,
        duration_ms as value_ms
    from tasks
    union all
    select
        hour_index,
        namespace_name,
        task_name,
        task_version,
        'queue_wait' as metric,
        queue_wait_ms as value_ms
    from tasks
    union all
    select
        hour_index,
        namespace_name,
        task_name,
        task_version,
        'run_time' as metric,
        run_time_ms as value_ms
    from tasks
)

select
    cast(hour_index as integer) as hour_index,
    namespace_name,
    task_name,
    task_version,
    cast(metric as {{ dbt.type_string() }}) as metric,
    cast({{ sketch_index('value_ms') }} as integer) as sketch_index,
    cast(count(*) as bigint) as item_count
from measures
where value_ms is not null
group by hour_index, namespace_name, task_name, task_version, metric, {{ sketch_index('value_ms') }}
