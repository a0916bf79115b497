-- The team's own model over the package's: each task type's completed share over the
-- last 24 hours, from the hourly task rollup.
with rollup as (
    select * from {{ ref('tasker_analytics', 'tasker_analytics__task_hourly_rollup') }}
)

select
    namespace_name,
    task_name,
    task_version,
    sum(settled_count) as settled,
    sum(completed_count) as completed,
    cast(sum(completed_count) as double precision) / nullif(sum(settled_count), 0) as completed_share
from rollup
where hour_index between 1 and 24
group by namespace_name, task_name, task_version
