{{ config(alias='task_type_step_edges') }}
{#- The step DAG of each task type: its step-name edges (parent -> dependent) as they occur
    in its tasks settled complete within the rollup hours (int_task_dag_edges), with how
    many tasks had each. The dashboard draws it with the critical-path figures. -#}
with edges as (
    select * from {{ ref('tasker_analytics__int_task_dag_edges') }}
),

steps as (
    select
        workflow_step_id,
        namespace_name,
        task_name,
        task_version,
        step_name
    from {{ ref('tasker_analytics__int_step_executions') }}
)

select
    parents.namespace_name,
    parents.task_name,
    parents.task_version,
    parents.step_name as parent_step_name,
    children.step_name as child_step_name,
    cast(count(distinct edges.task_id) as bigint) as task_count
from edges
inner join steps as parents
    on edges.parent_step_id = parents.workflow_step_id
inner join steps as children
    on edges.child_step_id = children.workflow_step_id
group by
    parents.namespace_name,
    parents.task_name,
    parents.task_version,
    parents.step_name,
    children.step_name
