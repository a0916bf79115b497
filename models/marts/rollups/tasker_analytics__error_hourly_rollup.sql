{{ config(alias='error_hourly_rollup') }}
{#- Error events per hour bucket (by event time) counted back from as_of, per task type,
    step name, error type and class, with the first and last event time (docs/API.md). -#}
select
    cast({{ hour_index('occurred_at') }} as integer) as hour_index,
    namespace_name,
    task_name,
    task_version,
    step_name,
    error_type,
    error_class,
    cast(count(*) as bigint) as event_count,
    min(occurred_at) as first_seen_at,
    max(occurred_at) as last_seen_at
from {{ ref('tasker_analytics__int_error_events') }}
where {{ in_rollup_range('occurred_at') }}
group by
    {{ hour_index('occurred_at') }},
    namespace_name,
    task_name,
    task_version,
    step_name,
    error_type,
    error_class
