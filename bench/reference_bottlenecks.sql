-- The reference approach of the API benchmark (bench/api.py): the bottleneck lists of
-- GET /tasker/analytics/bottlenecks (`slowest_tasks`, `slowest_steps`) computed per request
-- from the raw Tasker tables, the way an engine without materialized rollups would.
-- Semantics are docs/API.md's (Definitions): the final state of a task or step is
-- the `to_state` of its highest-`sort_key` transition with created_at <= as_of (ties: the
-- highest id), settled items are those whose final state is complete, error, cancelled or
-- resolved_manually with a settle time in (as_of - hours, as_of]; duration figures cover
-- items settled complete, leave negative durations out, and percentiles are exact
-- (`quantile_cont`, i.e. percentile_cont).
--
-- "Highest sort_key, then highest id" is one integer key, sort_key * 2^64 + id (ids are
-- non-negative bigints), so `arg_max` picks the final transition in one pass.
--
-- `{source}` is the catalog and schema holding the Tasker tables (bench/api.py fills it
-- in). Arguments: the analysis time, the period in hours, namespace / task name / version
-- (NULL = all) and the row limit. Rows come ordered like the API's lists: average duration
-- descending (nulls last), then the names.

create or replace temp macro reference_slowest_tasks(
    in_as_of, in_period, in_namespace, in_task_name, in_version, in_limit
) as table
with task_types as (
    select
        named.named_task_id,
        namespaces.name as namespace,
        named.name as task_name,
        named.version
    from {source}.tasker_named_tasks as named
    inner join {source}.tasker_task_namespaces as namespaces
        on named.task_namespace_id = namespaces.task_namespace_id
    where (in_namespace is null or namespaces.name = in_namespace)
        and (in_task_name is null or named.name = in_task_name)
        and (in_version is null or named.version = in_version)
),

-- Only a task with a transition into a settled state in the period can have settled in it
-- (its final transition is one): this narrows the state computation to those tasks.
settling as (
    select distinct transitions.task_id
    from {source}.tasker_task_transitions as transitions
    where transitions.created_at > cast(in_as_of as timestamp) - to_hours(cast(in_period as bigint))
        and transitions.created_at <= cast(in_as_of as timestamp)
        and transitions.to_state in ('complete', 'error', 'cancelled', 'resolved_manually')
),

tasks as (
    select tasks.task_id, tasks.created_at, task_types.namespace, task_types.task_name, task_types.version
    from {source}.tasker_tasks as tasks
    inner join task_types
        on tasks.named_task_id = task_types.named_task_id
    where tasks.created_at <= cast(in_as_of as timestamp)
        and tasks.task_id in (select task_id from settling)
),

states as (
    select
        transitions.task_id,
        arg_max(transitions.to_state, (cast(transitions.sort_key as hugeint) * 18446744073709551616 + transitions.id)) as final_state,
        arg_max(transitions.created_at, (cast(transitions.sort_key as hugeint) * 18446744073709551616 + transitions.id)) as last_at,
        min(transitions.created_at) filter (where transitions.to_state = 'in_progress') as first_started_at
    from {source}.tasker_task_transitions as transitions
    where transitions.created_at <= cast(in_as_of as timestamp)
        and transitions.task_id in (select task_id from tasks)
    group by transitions.task_id
),

settled as (
    select
        tasks.namespace,
        tasks.task_name,
        tasks.version,
        states.final_state,
        (epoch_us(states.last_at) - epoch_us(tasks.created_at)) / 1000.0 as duration_ms,
        (epoch_us(states.first_started_at) - epoch_us(tasks.created_at)) / 1000.0 as queue_wait_ms,
        (epoch_us(states.last_at) - epoch_us(states.first_started_at)) / 1000.0 as run_time_ms
    from tasks
    inner join states
        on tasks.task_id = states.task_id
    where states.final_state in ('complete', 'error', 'cancelled', 'resolved_manually')
        and states.last_at > cast(in_as_of as timestamp) - to_hours(cast(in_period as bigint))
        and states.last_at <= cast(in_as_of as timestamp)
),

flagged as (
    select *, final_state = 'complete' and duration_ms >= 0 as timed
    from settled
),

grouped as (
    select
        namespace,
        task_name,
        version,
        count(*) as execution_count,
        count(*) filter (where final_state = 'complete') as completed,
        count(*) filter (where final_state = 'error') as failed,
        avg(duration_ms) filter (where timed) as avg_duration_ms,
        quantile_cont(duration_ms, [0.5, 0.95, 0.99]) filter (where timed) as duration_q,
        avg(queue_wait_ms) filter (where timed and queue_wait_ms >= 0) as avg_queue_wait_ms,
        quantile_cont(queue_wait_ms, [0.5, 0.95, 0.99]) filter (where timed and queue_wait_ms >= 0) as queue_wait_q,
        avg(run_time_ms) filter (where timed and run_time_ms >= 0) as avg_run_time_ms,
        quantile_cont(run_time_ms, [0.5, 0.95, 0.99]) filter (where timed and run_time_ms >= 0) as run_time_q,
        count(*) filter (where duration_ms < 0) as negative_durations
    from flagged
    group by namespace, task_name, version
)

select
    namespace,
    task_name,
    version,
    execution_count,
    completed,
    failed,
    cast(failed as double) / execution_count as failure_rate,
    avg_duration_ms,
    duration_q[1] as p50_duration_ms,
    duration_q[2] as p95_duration_ms,
    duration_q[3] as p99_duration_ms,
    avg_queue_wait_ms,
    queue_wait_q[1] as p50_queue_wait_ms,
    queue_wait_q[2] as p95_queue_wait_ms,
    queue_wait_q[3] as p99_queue_wait_ms,
    avg_run_time_ms,
    run_time_q[1] as p50_run_time_ms,
    run_time_q[2] as p95_run_time_ms,
    run_time_q[3] as p99_run_time_ms,
    negative_durations
from grouped
order by avg_duration_ms desc nulls last, namespace, task_name, version
limit in_limit;

create or replace temp macro reference_slowest_steps(
    in_as_of, in_period, in_namespace, in_task_name, in_version, in_limit
) as table
with task_types as (
    select
        named.named_task_id,
        namespaces.name as namespace,
        named.name as task_name,
        named.version
    from {source}.tasker_named_tasks as named
    inner join {source}.tasker_task_namespaces as namespaces
        on named.task_namespace_id = namespaces.task_namespace_id
    where (in_namespace is null or namespaces.name = in_namespace)
        and (in_task_name is null or named.name = in_task_name)
        and (in_version is null or named.version = in_version)
),

tasks as (
    select tasks.task_id, task_types.namespace, task_types.task_name, task_types.version
    from {source}.tasker_tasks as tasks
    inner join task_types
        on tasks.named_task_id = task_types.named_task_id
    where tasks.created_at <= cast(in_as_of as timestamp)
),

-- As for tasks: only steps with a transition into a settled state in the period.
settling as (
    select distinct transitions.workflow_step_id
    from {source}.tasker_workflow_step_transitions as transitions
    where transitions.created_at > cast(in_as_of as timestamp) - to_hours(cast(in_period as bigint))
        and transitions.created_at <= cast(in_as_of as timestamp)
        and transitions.to_state in ('complete', 'error', 'cancelled', 'resolved_manually')
),

steps as (
    select
        steps.workflow_step_id,
        steps.created_at,
        steps.attempts,
        tasks.namespace,
        tasks.task_name,
        tasks.version,
        named_steps.name as step_name
    from {source}.tasker_workflow_steps as steps
    inner join tasks
        on steps.task_id = tasks.task_id
    inner join {source}.tasker_named_steps as named_steps
        on steps.named_step_id = named_steps.named_step_id
    where steps.created_at <= cast(in_as_of as timestamp)
        and steps.workflow_step_id in (select workflow_step_id from settling)
),

states as (
    select
        transitions.workflow_step_id,
        arg_max(transitions.to_state, (cast(transitions.sort_key as hugeint) * 18446744073709551616 + transitions.id)) as final_state,
        arg_max(transitions.created_at, (cast(transitions.sort_key as hugeint) * 18446744073709551616 + transitions.id)) as last_at,
        min(transitions.created_at) filter (where transitions.to_state = 'in_progress') as first_started_at,
        count(*) filter (where transitions.to_state = 'in_progress') as started
    from {source}.tasker_workflow_step_transitions as transitions
    where transitions.created_at <= cast(in_as_of as timestamp)
        and transitions.workflow_step_id in (select workflow_step_id from steps)
    group by transitions.workflow_step_id
),

settled as (
    select
        steps.namespace,
        steps.task_name,
        steps.version,
        steps.step_name,
        states.final_state,
        -- attempts: transitions into in_progress (a step without transitions falls back to
        -- its attempts column, but such a step is pending, so never settled)
        coalesce(states.started, steps.attempts, 0) as attempts,
        (epoch_us(states.last_at) - epoch_us(states.first_started_at)) / 1000.0 as duration_ms,
        (epoch_us(states.first_started_at) - epoch_us(steps.created_at)) / 1000.0 as wait_ms
    from steps
    inner join states
        on steps.workflow_step_id = states.workflow_step_id
    where states.final_state in ('complete', 'error', 'cancelled', 'resolved_manually')
        and states.last_at > cast(in_as_of as timestamp) - to_hours(cast(in_period as bigint))
        and states.last_at <= cast(in_as_of as timestamp)
),

flagged as (
    select *, final_state = 'complete' and duration_ms >= 0 as timed
    from settled
),

grouped as (
    select
        namespace,
        task_name,
        version,
        step_name,
        count(*) as execution_count,
        count(*) filter (where final_state = 'complete') as completed,
        count(*) filter (where final_state = 'error') as failed,
        count(*) filter (where attempts > 1) as retried,
        avg(duration_ms) filter (where timed) as avg_duration_ms,
        quantile_cont(duration_ms, [0.5, 0.95, 0.99]) filter (where timed) as duration_q,
        avg(wait_ms) filter (where timed and wait_ms >= 0) as avg_queue_wait_ms,
        quantile_cont(wait_ms, [0.5, 0.95, 0.99]) filter (where timed and wait_ms >= 0) as queue_wait_q,
        count(*) filter (where duration_ms < 0) as negative_durations
    from flagged
    group by namespace, task_name, version, step_name
)

select
    namespace,
    task_name,
    version,
    step_name,
    execution_count,
    completed,
    failed,
    retried,
    cast(failed as double) / execution_count as failure_rate,
    cast(retried as double) / execution_count as retry_rate,
    avg_duration_ms,
    duration_q[1] as p50_duration_ms,
    duration_q[2] as p95_duration_ms,
    duration_q[3] as p99_duration_ms,
    avg_queue_wait_ms,
    queue_wait_q[1] as p50_queue_wait_ms,
    queue_wait_q[2] as p95_queue_wait_ms,
    queue_wait_q[3] as p99_queue_wait_ms,
    -- a step's run time is its duration (docs/API.md)
    avg_duration_ms as avg_run_time_ms,
    duration_q[1] as p50_run_time_ms,
    duration_q[2] as p95_run_time_ms,
    duration_q[3] as p99_run_time_ms,
    negative_durations
from grouped
order by avg_duration_ms desc nulls last, namespace, task_name, version, step_name
limit in_limit;
