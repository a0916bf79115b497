{{ config(indexes=table_indexes([['parent_step_id'], ['child_step_id']])) }}
{#- The step edges of the tasks settled `complete` within the rollup hours, each with
    its dependent's duration (its weight on a path) and id key: what the critical-path
    search walks (int_task_critical_paths). -#}
with tasks as (
    select task_id
    from {{ ref('int_task_executions') }}
    where final_state = 'complete'
        and {{ in_rollup_range('settled_at') }}
),

steps as (
    select step_executions.*
    from {{ ref('int_step_executions') }} as step_executions
    inner join tasks
        on step_executions.task_id = tasks.task_id
)

select distinct
    children.task_id,
    edges.parent_step_id,
    edges.child_step_id,
    coalesce(children.duration_ms, 0) as child_weight_ms,
    lpad(cast(children.workflow_step_id as {{ dbt.type_string() }}), 20, '0') as child_step_key
from {{ ref('stg_tasker__workflow_step_edges') }} as edges
inner join steps as parents
    on edges.parent_step_id = parents.workflow_step_id
inner join steps as children
    on edges.child_step_id = children.workflow_step_id
    and parents.task_id = children.task_id
