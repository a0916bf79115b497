{{ config(alias='step_duration_sketches') }}
{#- The log-bucket sketch of the durations (run time) and waits (queue wait) of the steps
    settled `complete` in each hour bucket, per (task type, step name) (docs/API.md). -#}
with steps as (
    {{ rollup_rows(ref('tasker_analytics__int_step_executions'), timed=true) }}
),

measures as (
    select
        hour_index,
        namespace_name,
        task_name,
        task_version,
        step_name,
        'duration' as metric,
        duration_ms as value_ms
    from steps
    union all
    select
        hour_index,
        namespace_name,
        task_name,
        task_version,
        step_name,
        'queue_wait' as metric,
        wait_ms as value_ms
    from steps
)

select
    cast(hour_index as integer) as hour_index,
    namespace_name,
    task_name,
    task_version,
    step_name,
    cast(metric as {{ dbt.type_string() }}) as metric,
    cast({{ sketch_index('value_ms') }} as integer) as sketch_index,
    cast(count(*) as bigint) as item_count
from measures
where value_ms is not null
group by hour_index, namespace_name, task_name, task_version, step_name, metric, {{ sketch_index('value_ms') }}
