{{ config(alias='int_task_critical_paths') }}
{{ config(
    materialized='incremental',
    incremental_strategy=per_task_strategy(),
    partition_by=per_task_partition_by(),
    unique_key='task_id',
    on_schema_change='fail',
    post_hook="{{ keep_tasks_in(complete_tasks_in_rollup_range()) }}"
) }}
{#- The step DAG of every task settled `complete` within the rollup hours (docs/API.md,
    dependency_analysis): one row per step, saying whether it lies on the task's
    critical path (the root-to-sink path with the largest sum of step durations; ties
    to the smallest sequence of workflow step ids) and how long it kept its dependents
    waiting as their gating parent (the parent that settled last). -#}
-- depends_on: {{ ref('tasker_analytics__int_touched_tasks') }}
with recursive tasks as (
    select
        task_id,
        namespace_name,
        task_name,
        task_version,
        settled_at,
        task_created_date
    from {{ ref('tasker_analytics__int_task_executions') }}
    where final_state = 'complete'
        and {{ in_rollup_range('settled_at') }}
    {{- touched_tasks_only() }}
),

steps as (
    select
        step_executions.workflow_step_id,
        step_executions.task_id,
        step_executions.step_name,
        step_executions.created_at,
        step_executions.settled_at,
        coalesce(step_executions.duration_ms, 0) as weight_ms
    from {{ ref('tasker_analytics__int_step_executions') }} as step_executions
    inner join tasks
        on step_executions.task_id = tasks.task_id
),

edges as (
    select * from {{ ref('tasker_analytics__int_task_dag_edges') }}
    where true
    {{- touched_tasks_only() }}
),

roots as (
    select steps.*
    from steps
    where
        not exists (
            select 1 from edges
            where edges.child_step_id = steps.workflow_step_id
        )
),

-- Every path from a root, one row per (path prefix, its last step). The depth bound
-- only guards against a cyclic edge table; Tasker's step graphs are acyclic.
paths (task_id, workflow_step_id, path_ms, path_key, depth) as (
    select
        task_id,
        workflow_step_id,
        weight_ms,
        {{ path_of('workflow_step_id') }},
        1
    from roots
    union all
    select
        paths.task_id,
        dag.child_step_id,
        paths.path_ms + dag.child_weight_ms,
        {{ path_append('paths.path_key', 'dag.child_step_id') }},
        paths.depth + 1
    from paths
    inner join {{ critical_path_edges('edges') }} as dag
        on paths.workflow_step_id = dag.parent_step_id
    where paths.depth < 1000
),

complete_paths as (
    select paths.*
    from paths
    where
        not exists (
            select 1 from edges
            where edges.parent_step_id = paths.workflow_step_id
        )
),

critical as (
    select
        task_id,
        path_ms,
        path_key
    from (
        select
            task_id,
            path_ms,
            path_key,
            row_number() over (partition by task_id order by path_ms desc, path_key asc) as path_rank
        from complete_paths
    ) as ranked
    where path_rank = 1
),

on_critical_path as (
    select distinct {{ path_steps('path_key') }} as workflow_step_id
    from critical
),

parents_ranked as (
    select
        edges.child_step_id,
        edges.parent_step_id,
        parents.settled_at,
        row_number() over (
            partition by edges.child_step_id
            order by parents.settled_at desc, edges.parent_step_id asc
        ) as settle_rank
    from edges
    inner join steps as parents
        on edges.parent_step_id = parents.workflow_step_id
    where parents.settled_at is not null
),

gating as (
    select
        gate.parent_step_id,
        gate.child_step_id,
        {{ duration_ms(
            'case when runner_up.settled_at is not null and runner_up.settled_at > children.created_at'
            ~ ' then runner_up.settled_at else children.created_at end',
            'gate.settled_at') }} as raw_wait_ms
    from parents_ranked as gate
    inner join steps as children
        on gate.child_step_id = children.workflow_step_id
    left join parents_ranked as runner_up
        on gate.child_step_id = runner_up.child_step_id
        and runner_up.settle_rank = 2
    where gate.settle_rank = 1
),

blocking as (
    select
        parent_step_id as workflow_step_id,
        count(*) as dependents_blocked,
        sum(case when raw_wait_ms > 0 then raw_wait_ms else 0 end) as blocked_wait_ms
    from gating
    group by parent_step_id
),

final as (
    select
        steps.workflow_step_id,
        steps.task_id,
        tasks.namespace_name,
        tasks.task_name,
        tasks.task_version,
        steps.step_name,
        tasks.settled_at as task_settled_at,
        steps.weight_ms as duration_ms,
        on_critical_path.workflow_step_id is not null as is_on_critical_path,
        critical.path_ms as critical_path_ms,
        cast(coalesce(blocking.dependents_blocked, 0) as bigint) as dependents_blocked,
        cast(coalesce(blocking.blocked_wait_ms, 0) as {{ type_double() }}) as blocked_wait_ms,
        tasks.task_created_date
    from steps
    inner join tasks
        on steps.task_id = tasks.task_id
    left join critical
        on steps.task_id = critical.task_id
    left join on_critical_path
        on steps.workflow_step_id = on_critical_path.workflow_step_id
    left join blocking
        on steps.workflow_step_id = blocking.workflow_step_id
)

select * from final
