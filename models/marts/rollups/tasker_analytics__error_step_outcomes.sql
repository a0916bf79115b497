{{ config(alias='error_step_outcomes') }}
{#- Distinct workflow steps that errored with each error type, counted once in the hour
    bucket of their last event of that type: a step has an event of the type in a
    period ending at as_of exactly when its last one falls in it, so these counts add
    up over any period. `recovered_steps`: those whose final state is `complete`. -#}
with last_events as (
    select
        events.workflow_step_id,
        events.namespace_name,
        events.task_name,
        events.task_version,
        events.step_name,
        events.error_type,
        max(events.occurred_at) as last_occurred_at
    from {{ ref('tasker_analytics__int_error_events') }} as events
    where {{ in_rollup_range('events.occurred_at') }}
    group by
        events.workflow_step_id,
        events.namespace_name,
        events.task_name,
        events.task_version,
        events.step_name,
        events.error_type
),

outcomes as (
    select
        last_events.*,
        step_executions.final_state = 'complete' as is_recovered
    from last_events
    inner join {{ ref('tasker_analytics__int_step_executions') }} as step_executions
        on last_events.workflow_step_id = step_executions.workflow_step_id
)

select
    cast({{ hour_index('last_occurred_at') }} as integer) as hour_index,
    namespace_name,
    task_name,
    task_version,
    step_name,
    error_type,
    cast(count(*) as bigint) as errored_steps,
    cast(sum(case when is_recovered then 1 else 0 end) as bigint) as recovered_steps
from outcomes
group by {{ hour_index('last_occurred_at') }}, namespace_name, task_name, task_version, step_name, error_type
