{{ config(alias='task_version_history') }}
{#- Each task type's versions in the order they appeared (first created_at of their
    tasks), for the previous-version comparison of the regression rule. -#}
with firsts as (
    select
        namespace_name,
        task_name,
        task_version,
        min(created_at) as first_created_at
    from {{ ref('tasker_analytics__int_task_executions') }}
    group by namespace_name, task_name, task_version
)

select
    namespace_name,
    task_name,
    task_version,
    first_created_at,
    cast(row_number() over (
        partition by namespace_name, task_name order by first_created_at, task_version
    ) as integer) as version_rank
from firsts
