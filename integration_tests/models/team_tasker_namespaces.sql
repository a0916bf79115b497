-- A team model over the same Tasker tables, not over the package's models: running only
-- this one (`dbt run -s team_tasker_namespaces`) builds none of the package's.
select
    task_namespace_id,
    name as namespace_name
from {{ source('tasker', 'tasker_task_namespaces') }}
