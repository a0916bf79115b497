{{ config(alias='int_window_task_stats') }}
{#- Task figures per window of N hours ending at as_of, for every window the served
    marts need: the trend windows, the statistics window, and the health score's current
    and baseline windows. Throughput counts tasks by created_at, outcomes by settle time,
    durations cover tasks settled complete (docs/API.md, Definitions). -#}
{%- set hours = (
    var('trend_windows_hours')
    + [var('statistics_window_hours'), var('health_window_hours'), var('health_baseline_hours')]
) | unique | sort -%}

with tasks as (
    select * from {{ ref('tasker_analytics__int_task_executions') }}
),

windows as (
    {% for window_hours in hours %}
        select
            {{ window_hours }} as window_hours,
            {{ window_start(window_hours) }} as window_start
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

in_window as (
    select
        windows.window_hours,
        tasks.task_id,
        tasks.namespace_name,
        tasks.task_name,
        tasks.task_version,
        tasks.final_state,
        tasks.is_retried,
        tasks.created_at > windows.window_start as is_created_in_window,
        tasks.settled_at > windows.window_start as is_settled_in_window,
        tasks.duration_ms,
        tasks.has_negative_duration
    from windows
    left join tasks
        on windows.window_start < tasks.created_at
        or windows.window_start < tasks.settled_at
),

flagged as (
    select
        *,
        case
            when is_settled_in_window and final_state = 'complete' then duration_ms
        end as completed_duration_ms
    from in_window
),

aggregated as (
    select
        window_hours,
        sum(case when is_created_in_window then 1 else 0 end) as created_count,
        sum(case when is_settled_in_window then 1 else 0 end) as settled_count,
        sum(case when is_settled_in_window and final_state = 'complete' then 1 else 0 end) as completed_count,
        sum(case when is_settled_in_window and final_state = 'error' then 1 else 0 end) as failed_count,
        sum(case when is_settled_in_window and final_state = 'cancelled' then 1 else 0 end) as cancelled_count,
        sum(case when is_settled_in_window and final_state = 'resolved_manually' then 1 else 0 end)
            as resolved_manually_count,
        sum(case when is_settled_in_window and is_retried then 1 else 0 end) as retried_count,
        sum(case when is_settled_in_window and has_negative_duration then 1 else 0 end) as negative_duration_count,
        count(completed_duration_ms) as duration_count,
        avg(completed_duration_ms) as avg_duration_ms,
        percentile_cont(0.5) within group (order by completed_duration_ms) as p50_duration_ms,
        percentile_cont(0.95) within group (order by completed_duration_ms) as p95_duration_ms,
        percentile_cont(0.99) within group (order by completed_duration_ms) as p99_duration_ms,
        count(distinct case when is_created_in_window then namespace_name end) as namespace_count,
        count(distinct case
            when is_created_in_window
                then namespace_name || '/' || task_name || '/' || task_version
        end) as task_type_count
    from flagged
    group by window_hours
),

final as (
    select
        cast(window_hours as integer) as window_hours,
        cast(coalesce(created_count, 0) as bigint) as created_count,
        cast(coalesce(settled_count, 0) as bigint) as settled_count,
        cast(coalesce(completed_count, 0) as bigint) as completed_count,
        cast(coalesce(failed_count, 0) as bigint) as failed_count,
        cast(coalesce(cancelled_count, 0) as bigint) as cancelled_count,
        cast(coalesce(resolved_manually_count, 0) as bigint) as resolved_manually_count,
        cast(coalesce(retried_count, 0) as bigint) as retried_count,
        cast(coalesce(negative_duration_count, 0) as bigint) as negative_duration_count,
        cast(duration_count as bigint) as duration_count,
        cast(avg_duration_ms as {{ type_double() }}) as avg_duration_ms,
        cast(p50_duration_ms as {{ type_double() }}) as p50_duration_ms,
        cast(p95_duration_ms as {{ type_double() }}) as p95_duration_ms,
        cast(p99_duration_ms as {{ type_double() }}) as p99_duration_ms,
        cast(namespace_count as bigint) as namespace_count,
        cast(task_type_count as bigint) as task_type_count
    from aggregated
)

select * from final
