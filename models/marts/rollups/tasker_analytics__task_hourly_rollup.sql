{{ config(alias='task_hourly_rollup') }}
{#- Additive figures of the tasks settled in each hour bucket counted back from as_of,
    per task type (docs/API.md, "Served from rollups"). -#}
with tasks as (
    {{ rollup_rows(ref('tasker_analytics__int_task_executions')) }}
),

critical_paths as (
    select distinct
        task_id,
        critical_path_ms
    from {{ ref('tasker_analytics__int_task_critical_paths') }}
),

grouped as (
    select
        tasks.hour_index,
        tasks.namespace_name,
        tasks.task_name,
        tasks.task_version,
        count(*) as settled_count,
        sum(case when tasks.final_state = 'complete' then 1 else 0 end) as completed_count,
        sum(case when tasks.final_state = 'error' then 1 else 0 end) as failed_count,
        sum(case when tasks.final_state = 'cancelled' then 1 else 0 end) as cancelled_count,
        sum(case when tasks.final_state = 'resolved_manually' then 1 else 0 end) as resolved_manually_count,
        sum(case when tasks.is_retried then 1 else 0 end) as retried_count,
        count(case when tasks.final_state = 'complete' then tasks.duration_ms end) as duration_count,
        sum(case when tasks.final_state = 'complete' then tasks.duration_ms end) as duration_sum_ms,
        min(case when tasks.final_state = 'complete' then tasks.duration_ms end) as duration_min_ms,
        max(case when tasks.final_state = 'complete' then tasks.duration_ms end) as duration_max_ms,
        count(case when tasks.final_state = 'complete' and not tasks.has_negative_duration then tasks.queue_wait_ms end)
            as queue_wait_count,
        sum(case when tasks.final_state = 'complete' and not tasks.has_negative_duration then tasks.queue_wait_ms end)
            as queue_wait_sum_ms,
        count(case when tasks.final_state = 'complete' and not tasks.has_negative_duration then tasks.run_time_ms end)
            as run_time_count,
        sum(case when tasks.final_state = 'complete' and not tasks.has_negative_duration then tasks.run_time_ms end)
            as run_time_sum_ms,
        sum(case when tasks.has_negative_duration then 1 else 0 end) as negative_duration_count,
        count(critical_paths.critical_path_ms) as critical_path_tasks,
        sum(critical_paths.critical_path_ms) as critical_path_sum_ms
    from tasks
    left join critical_paths
        on tasks.task_id = critical_paths.task_id
    group by tasks.hour_index, tasks.namespace_name, tasks.task_name, tasks.task_version
)

select
    cast(hour_index as integer) as hour_index,
    namespace_name,
    task_name,
    task_version,
    cast(settled_count as bigint) as settled_count,
    cast(completed_count as bigint) as completed_count,
    cast(failed_count as bigint) as failed_count,
    cast(cancelled_count as bigint) as cancelled_count,
    cast(resolved_manually_count as bigint) as resolved_manually_count,
    cast(retried_count as bigint) as retried_count,
    cast(duration_count as bigint) as duration_count,
    cast(duration_sum_ms as {{ type_double() }}) as duration_sum_ms,
    cast(duration_min_ms as {{ type_double() }}) as duration_min_ms,
    cast(duration_max_ms as {{ type_double() }}) as duration_max_ms,
    cast(queue_wait_count as bigint) as queue_wait_count,
    cast(queue_wait_sum_ms as {{ type_double() }}) as queue_wait_sum_ms,
    cast(run_time_count as bigint) as run_time_count,
    cast(run_time_sum_ms as {{ type_double() }}) as run_time_sum_ms,
    cast(negative_duration_count as bigint) as negative_duration_count,
    cast(critical_path_tasks as bigint) as critical_path_tasks,
    cast(coalesce(critical_path_sum_ms, 0) as {{ type_double() }}) as critical_path_sum_ms
from grouped
