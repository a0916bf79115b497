{{ config(alias='step_hourly_rollup') }}
{#- Additive figures of the steps settled in each hour bucket counted back from as_of,
    per (task type, step name) (docs/API.md, "Served from rollups"). -#}
with steps as (
    {{ rollup_rows(ref('tasker_analytics__int_step_executions')) }}
),

timeouts as (
    {#- The seed step_timeouts, or the team's own list (same columns) that the var
        tasker_step_timeouts names. -#}
    select * from {{ ref(var('tasker_step_timeouts', 'tasker_analytics__step_timeouts')) }}
),

grouped as (
    select
        steps.hour_index,
        steps.namespace_name,
        steps.task_name,
        steps.task_version,
        steps.step_name,
        count(*) as settled_count,
        sum(case when steps.final_state = 'complete' then 1 else 0 end) as completed_count,
        sum(case when steps.final_state = 'error' then 1 else 0 end) as failed_count,
        sum(case when steps.is_retried then 1 else 0 end) as retried_count,
        sum(case when steps.is_retried and steps.final_state = 'complete' then 1 else 0 end)
            as retried_completed_count,
        count(case when steps.final_state = 'complete' then steps.duration_ms end) as duration_count,
        sum(case when steps.final_state = 'complete' then steps.duration_ms end) as duration_sum_ms,
        count(case when steps.final_state = 'complete' and not steps.has_negative_duration then steps.wait_ms end)
            as wait_count,
        sum(case when steps.final_state = 'complete' and not steps.has_negative_duration then steps.wait_ms end)
            as wait_sum_ms,
        count(case when steps.final_state = 'complete' and steps.is_retried then steps.duration_ms end)
            as retried_duration_count,
        sum(case when steps.final_state = 'complete' and steps.is_retried then steps.duration_ms end)
            as retried_duration_sum_ms,
        count(case when steps.final_state = 'complete' and not steps.is_retried then steps.duration_ms end)
            as first_attempt_duration_count,
        sum(case when steps.final_state = 'complete' and not steps.is_retried then steps.duration_ms end)
            as first_attempt_duration_sum_ms,
        sum(case
            when steps.final_state = 'complete' and steps.duration_ms > timeouts.timeout_seconds * 1000
                then 1
            else 0
        end) as over_timeout_count,
        sum(case when steps.has_negative_duration then 1 else 0 end) as negative_duration_count
    from steps
    left join timeouts
        on steps.namespace_name = timeouts.namespace
        and steps.task_name = timeouts.task_name
        and steps.step_name = timeouts.step_name
    group by steps.hour_index, steps.namespace_name, steps.task_name, steps.task_version, steps.step_name
)

select
    cast(hour_index as integer) as hour_index,
    namespace_name,
    task_name,
    task_version,
    step_name,
    cast(settled_count as bigint) as settled_count,
    cast(completed_count as bigint) as completed_count,
    cast(failed_count as bigint) as failed_count,
    cast(retried_count as bigint) as retried_count,
    cast(retried_completed_count as bigint) as retried_completed_count,
    cast(duration_count as bigint) as duration_count,
    cast(duration_sum_ms as {{ type_double() }}) as duration_sum_ms,
    cast(wait_count as bigint) as wait_count,
    cast(wait_sum_ms as {{ type_double() }}) as wait_sum_ms,
    cast(retried_duration_count as bigint) as retried_duration_count,
    cast(retried_duration_sum_ms as {{ type_double() }}) as retried_duration_sum_ms,
    cast(first_attempt_duration_count as bigint) as first_attempt_duration_count,
    cast(first_attempt_duration_sum_ms as {{ type_double() }}) as first_attempt_duration_sum_ms,
    cast(over_timeout_count as bigint) as over_timeout_count,
    cast(negative_duration_count as bigint) as negative_duration_count
from grouped
