{{ config(alias='int_task_dag_edges') }}
{{ config(
    materialized='incremental',
    incremental_strategy=per_task_strategy(),
    partition_by=per_task_partition_by(),
    unique_key='task_id',
    on_schema_change='fail',
    indexes=table_indexes([['parent_step_id'], ['child_step_id']]),
    post_hook="{{ keep_tasks_in(complete_tasks_in_rollup_range()) }}"
) }}
{#- The step edges of the tasks settled `complete` within the rollup hours, each with
    its dependent's duration (its weight on a path): what the critical-path search walks
    (int_task_critical_paths). -#}
-- depends_on: {{ ref('tasker_analytics__int_touched_tasks') }}
with tasks as (
    select task_id
    from {{ ref('tasker_analytics__int_task_executions') }}
    where final_state = 'complete'
        and {{ in_rollup_range('settled_at') }}
    {{- touched_tasks_only() }}
),

steps as (
    select
        workflow_step_id,
        task_id,
        duration_ms,
        task_created_date
    from {{ ref('tasker_analytics__int_step_executions') }}
    where task_id in (select tasks.task_id from tasks)
)

select distinct
    children.task_id,
    edges.parent_step_id,
    edges.child_step_id,
    coalesce(children.duration_ms, 0) as child_weight_ms,
    children.task_created_date
from {{ ref('tasker_analytics__stg_tasker__workflow_step_edges') }} as edges
inner join steps as parents
    on edges.parent_step_id = parents.workflow_step_id
inner join steps as children
    on edges.child_step_id = children.workflow_step_id
    and parents.task_id = children.task_id
