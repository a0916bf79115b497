{{ config(alias='int_touched_tasks') }}
{#- The tasks an incremental build recomputes: those with a task, step, transition or edge
    row beyond the previous build's watermarks (a larger id, or created after its as_of
    less incremental_lookback_hours). When the rows the previous build saw are no longer
    all there unchanged (the source was rewritten or purged), every task. With no previous
    build, none: that build computes every task without the list (macros/incremental/incremental.sql). -#}
with marks as (
    select * from {{ ref('tasker_analytics__int_build_watermarks') }}
),

previous_rows as (
    select * from marks
    where build_seq = (select max(all_marks.build_seq) - 1 from marks as all_marks)
),

-- One row, the previous build's marks or nulls when there is none.
previous as (
    select
        max(task_max_id) as task_max_id,
        max(task_rows) as task_rows,
        max(task_min_created_at) as task_min_created_at,
        max(task_max_created_at) as task_max_created_at,
        max(task_transition_max_id) as task_transition_max_id,
        max(task_transition_rows) as task_transition_rows,
        max(task_transition_min_created_at) as task_transition_min_created_at,
        max(task_transition_max_created_at) as task_transition_max_created_at,
        max(step_max_id) as step_max_id,
        max(step_rows) as step_rows,
        max(step_min_created_at) as step_min_created_at,
        max(step_max_created_at) as step_max_created_at,
        max(step_transition_max_id) as step_transition_max_id,
        max(step_transition_rows) as step_transition_rows,
        max(step_transition_min_created_at) as step_transition_min_created_at,
        max(step_transition_max_created_at) as step_transition_max_created_at,
        max(edge_max_id) as edge_max_id,
        max(edge_rows) as edge_rows,
        max({{ dbt.dateadd('hour', -1 * (incremental_lookback_hours() | int), 'as_of') }}) as since
    from previous_rows
),

seen_task as (
    {{ source_marks_seen(ref('tasker_analytics__stg_tasker__tasks'), 'task_id', 'task') }}
),

seen_task_transition as (
    {{ source_marks_seen(ref('tasker_analytics__stg_tasker__task_transitions'), 'transition_id', 'task_transition') }}
),

seen_step as (
    {{ source_marks_seen(ref('tasker_analytics__stg_tasker__workflow_steps'), 'workflow_step_id', 'step') }}
),

seen_step_transition as (
    {{ source_marks_seen(
        ref('tasker_analytics__stg_tasker__workflow_step_transitions'), 'transition_id', 'step_transition'
    ) }}
),

seen_edge as (
    {{ source_marks_seen(ref('tasker_analytics__stg_tasker__workflow_step_edges'), 'edge_id', 'edge', timed=false) }}
),

-- Whether everything the previous build saw is still there: then only what lies beyond
-- its watermarks needs a look; otherwise every task does.
bounds as (
    select
        previous.task_rows is null
        or coalesce(
            {{ source_marks_equal('task') }}
            and {{ source_marks_equal('task_transition') }}
            and {{ source_marks_equal('step') }}
            and {{ source_marks_equal('step_transition') }}
            and {{ source_marks_equal('edge', timed=false) }},
            false
        ) as is_extended,
        coalesce(previous.task_max_id, {{ no_id() }}) as task_max_id,
        coalesce(previous.task_transition_max_id, {{ no_id() }}) as task_transition_max_id,
        coalesce(previous.step_max_id, {{ no_id() }}) as step_max_id,
        coalesce(previous.step_transition_max_id, {{ no_id() }}) as step_transition_max_id,
        coalesce(previous.edge_max_id, {{ no_id() }}) as edge_max_id,
        coalesce(previous.since, {{ dbt.dateadd('year', 1000, as_of()) }}) as since
    from previous
    cross join seen_task
    cross join seen_task_transition
    cross join seen_step
    cross join seen_step_transition
    cross join seen_edge
),

steps as (
    select * from {{ ref('tasker_analytics__stg_tasker__workflow_steps') }}
),

-- The bounds are single values (scalar subqueries), so each scan filters before it joins.
touched as (
    select task_id
    from {{ ref('tasker_analytics__stg_tasker__tasks') }}
    where not (select bounds.is_extended from bounds)
        or task_id > (select bounds.task_max_id from bounds)
        or created_at > (select bounds.since from bounds)

    union

    select task_id
    from {{ ref('tasker_analytics__stg_tasker__task_transitions') }}
    where transition_id > (select bounds.task_transition_max_id from bounds)
        or created_at > (select bounds.since from bounds)

    union

    select task_id
    from steps
    where workflow_step_id > (select bounds.step_max_id from bounds)
        or created_at > (select bounds.since from bounds)

    union

    select steps.task_id
    from (
        select workflow_step_id
        from {{ ref('tasker_analytics__stg_tasker__workflow_step_transitions') }}
        where transition_id > (select bounds.step_transition_max_id from bounds)
            or created_at > (select bounds.since from bounds)
    ) as transitions
    inner join steps
        on transitions.workflow_step_id = steps.workflow_step_id

    union

    select steps.task_id
    from (
        select child_step_id
        from {{ ref('tasker_analytics__stg_tasker__workflow_step_edges') }}
        where edge_id > (select bounds.edge_max_id from bounds)
    ) as edges
    inner join steps
        on edges.child_step_id = steps.workflow_step_id
)

-- A build with no previous one computes every task: it needs no list (its bounds above
-- select nothing: no id beyond the largest, no row created a millennium after as_of).
-- On Spark the list holds every task of a touched task's creation day (its partition).
{{ tasks_to_recompute('touched') }}
