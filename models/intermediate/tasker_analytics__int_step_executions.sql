{{ config(alias='int_step_executions') }}
{{ config(
    materialized='incremental',
    incremental_strategy=per_task_strategy(),
    partition_by=per_task_partition_by(),
    unique_key='task_id',
    on_schema_change='fail',
    post_hook="{{ keep_tasks_in(retained_source_tasks()) }}"
) }}
{#- One row per workflow step of a task created by as_of: its type, its state at as_of,
    attempts, duration and wait (docs/API.md, Definitions). -#}
-- depends_on: {{ ref('tasker_analytics__int_touched_tasks') }}
-- depends_on: {{ ref('tasker_analytics__stg_tasker__workflow_step_transitions') }}
with steps as (
    select * from {{ ref('tasker_analytics__stg_tasker__workflow_steps') }}
    where created_at <= {{ as_of() }}
    {{- touched_tasks_only() }}
),

tasks as (
    select * from {{ ref('tasker_analytics__stg_tasker__tasks') }}
    where created_at <= {{ as_of() }}
        and created_at > {{ retention_start() }}
    {{- touched_tasks_only() }}
),

task_types as (
    select * from {{ ref('tasker_analytics__int_task_types') }}
),

named_steps as (
    select * from {{ ref('tasker_analytics__stg_tasker__named_steps') }}
),

step_states as (
    {%- if is_incremental() %}
        {{ transition_states(
            ref('tasker_analytics__stg_tasker__workflow_step_transitions'), 'workflow_step_id',
            'select workflow_step_id from steps') }}
    {%- else %}
        select * from {{ ref('tasker_analytics__int_step_states') }}
    {%- endif %}
),

joined as (
    select
        steps.workflow_step_id,
        steps.task_id,
        task_types.namespace_name,
        task_types.task_name,
        task_types.task_version,
        named_steps.step_name,
        steps.created_at,
        tasks.created_at as task_created_at,
        step_states.first_started_at,
        coalesce(step_states.final_state, 'pending') as final_state,
        case
            when step_states.final_state in {{ settled_states() }}
                then step_states.last_transition_at
        end as settled_at,
        case
            when step_states.workflow_step_id is not null then step_states.started_count
            else coalesce(steps.attempts, 0)
        end as attempts
    from steps
    inner join tasks
        on steps.task_id = tasks.task_id
    inner join task_types
        on tasks.named_task_id = task_types.named_task_id
    inner join named_steps
        on steps.named_step_id = named_steps.named_step_id
    left join step_states
        on steps.workflow_step_id = step_states.workflow_step_id
),

measured as (
    select
        *,
        {{ duration_ms('first_started_at', 'settled_at') }} as raw_duration_ms,
        {{ duration_ms('created_at', 'first_started_at') }} as raw_wait_ms
    from joined
),

final as (
    select
        workflow_step_id,
        task_id,
        namespace_name,
        task_name,
        task_version,
        step_name,
        created_at,
        first_started_at,
        settled_at,
        final_state,
        settled_at is not null as is_settled,
        cast(attempts as integer) as attempts,
        attempts > 1 as is_retried,
        case when raw_duration_ms >= 0 then raw_duration_ms end as duration_ms,
        case when raw_wait_ms >= 0 then raw_wait_ms end as wait_ms,
        coalesce(raw_duration_ms < 0, false) as has_negative_duration,
        {{ task_created_date('task_created_at') }} as task_created_date
    from measured
)

select * from final
