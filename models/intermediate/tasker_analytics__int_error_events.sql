{{ config(alias='int_error_events') }}
{{ config(
    materialized='incremental',
    incremental_strategy=per_task_strategy(),
    partition_by=per_task_partition_by(),
    unique_key='task_id',
    on_schema_change='fail',
    post_hook="{{ keep_tasks_in(retained_source_tasks()) }}"
) }}
{#- One row per step transition into `error` up to as_of, with its error class
    (transition metadata, else the step's results, else UnknownError) and the error type
    the taxonomy seed maps it to (unmapped classes pass through). -#}
-- depends_on: {{ ref('tasker_analytics__int_touched_tasks') }}
with transitions as (
    select * from {{ ref('tasker_analytics__stg_tasker__workflow_step_transitions') }}
    where to_state = 'error'
        and created_at <= {{ as_of() }}
),

steps as (
    select * from {{ ref('tasker_analytics__stg_tasker__workflow_steps') }}
),

step_executions as (
    select * from {{ ref('tasker_analytics__int_step_executions') }}
    where true
    {{- touched_tasks_only() }}
),

taxonomy as (
    select * from {{ ref('tasker_analytics__error_taxonomy') }}
),

classified as (
    select
        transitions.transition_id,
        transitions.workflow_step_id,
        transitions.created_at as occurred_at,
        coalesce(
            transitions.metadata_error_class,
            steps.results_error_class,
            'UnknownError'
        ) as error_class
    from transitions
    inner join steps
        on transitions.workflow_step_id = steps.workflow_step_id
),

final as (
    select
        classified.transition_id,
        classified.workflow_step_id,
        step_executions.task_id,
        step_executions.namespace_name,
        step_executions.task_name,
        step_executions.task_version,
        step_executions.step_name,
        classified.occurred_at,
        classified.error_class,
        {{ dbt.cast('coalesce(taxonomy.error_type, classified.error_class)', 'text') }} as error_type,
        step_executions.task_created_date
    from classified
    inner join step_executions
        on classified.workflow_step_id = step_executions.workflow_step_id
    left join taxonomy
        on classified.error_class = taxonomy.error_class
)

select * from final
