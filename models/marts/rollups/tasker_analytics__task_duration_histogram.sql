{{ config(alias='task_duration_histogram') }}
{#- Counts of the tasks settled `complete` in each hour bucket per task type and
    duration bucket (four per decade: floor(4 log10(max(d, 1)))) (docs/API.md). -#}
select
    cast({{ hour_index('settled_at') }} as integer) as hour_index,
    namespace_name,
    task_name,
    task_version,
    cast(duration_bucket as integer) as duration_bucket,
    cast(count(*) as bigint) as item_count
from {{ ref('tasker_analytics__int_task_executions') }}
where final_state = 'complete'
    and duration_bucket is not null
    and {{ in_rollup_range('settled_at') }}
group by {{ hour_index('settled_at') }}, namespace_name, task_name, task_version, duration_bucket
