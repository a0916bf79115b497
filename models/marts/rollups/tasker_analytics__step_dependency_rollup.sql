{{ config(alias='step_dependency_rollup') }}
{#- Per hour bucket (by the task's settle time) and (task type, step name): how often the
    step lay on its task's critical path and for how long, and how many dependents it
    gated and for how long (docs/API.md, dependency_analysis). -#}
select
    cast({{ hour_index('task_settled_at') }} as integer) as hour_index,
    namespace_name,
    task_name,
    task_version,
    step_name,
    cast(sum(case when is_on_critical_path then 1 else 0 end) as bigint) as on_critical_path,
    cast(sum(case when is_on_critical_path then duration_ms else 0 end) as {{ type_double() }}) as critical_path_ms,
    cast(sum(dependents_blocked) as bigint) as dependents_blocked,
    cast(sum(blocked_wait_ms) as {{ type_double() }}) as blocked_wait_ms
from {{ ref('tasker_analytics__int_task_critical_paths') }}
group by {{ hour_index('task_settled_at') }}, namespace_name, task_name, task_version, step_name
