{{ config(alias='int_task_executions') }}
{{ config(
    materialized='incremental',
    incremental_strategy=per_task_strategy(),
    partition_by=per_task_partition_by(),
    unique_key='task_id',
    on_schema_change='fail',
    post_hook="{{ keep_tasks_in(retained_source_tasks()) }}"
) }}
{#- One row per task created by as_of: its type, its state at as_of, whether it was
    retried, its duration split into queue wait and run time (docs/API.md, Definitions). -#}
-- depends_on: {{ ref('tasker_analytics__int_touched_tasks') }}
-- depends_on: {{ ref('tasker_analytics__stg_tasker__task_transitions') }}
with tasks as (
    select * from {{ ref('tasker_analytics__stg_tasker__tasks') }}
    where created_at <= {{ as_of() }}
        and created_at > {{ retention_start() }}
    {{- touched_tasks_only() }}
),

task_types as (
    select * from {{ ref('tasker_analytics__int_task_types') }}
),

task_states as (
    {%- if is_incremental() %}
        {{ transition_states(ref('tasker_analytics__stg_tasker__task_transitions'), 'task_id', 'select task_id from tasks') }}
    {%- else %}
        select * from {{ ref('tasker_analytics__int_task_states') }}
    {%- endif %}
),

step_executions as (
    select * from {{ ref('tasker_analytics__int_step_executions') }}
),

step_summary as (
    select
        task_id,
        count(*) as step_count,
        max(case when is_retried then 1 else 0 end) as any_step_retried
    from step_executions
    group by task_id
),

joined as (
    select
        tasks.task_id,
        task_types.namespace_name,
        task_types.task_name,
        task_types.task_version,
        tasks.created_at,
        task_states.first_started_at,
        coalesce(task_states.final_state, 'pending') as final_state,
        case
            when task_states.final_state in {{ settled_states() }}
                then task_states.last_transition_at
        end as settled_at,
        coalesce(step_summary.step_count, 0) as step_count,
        coalesce(step_summary.any_step_retried, 0) = 1 as is_retried
    from tasks
    inner join task_types
        on tasks.named_task_id = task_types.named_task_id
    left join task_states
        on tasks.task_id = task_states.task_id
    left join step_summary
        on tasks.task_id = step_summary.task_id
),

measured as (
    select
        *,
        {{ duration_ms('created_at', 'settled_at') }} as raw_duration_ms,
        {{ duration_ms('created_at', 'first_started_at') }} as raw_queue_wait_ms,
        {{ duration_ms('first_started_at', 'settled_at') }} as raw_run_time_ms
    from joined
),

final as (
    select
        task_id,
        namespace_name,
        task_name,
        task_version,
        created_at,
        first_started_at,
        settled_at,
        final_state,
        settled_at is not null as is_settled,
        is_retried,
        cast(step_count as integer) as step_count,
        case when raw_duration_ms >= 0 then raw_duration_ms end as duration_ms,
        case when raw_queue_wait_ms >= 0 then raw_queue_wait_ms end as queue_wait_ms,
        case when raw_run_time_ms >= 0 then raw_run_time_ms end as run_time_ms,
        coalesce(raw_duration_ms < 0, false) as has_negative_duration,
        case
            when raw_duration_ms >= 0
                then cast(floor(4 * log10(greatest(raw_duration_ms, 1.0))) as integer)
        end as duration_bucket,
        {{ task_created_date('created_at') }} as task_created_date
    from measured
)

select * from final
