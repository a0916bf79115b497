{{ config(alias='int_task_types') }}
{{ config(materialized='view') }}

with named_tasks as (
    select * from {{ ref('tasker_analytics__stg_tasker__named_tasks') }}
),

namespaces as (
    select * from {{ ref('tasker_analytics__stg_tasker__task_namespaces') }}
),

final as (
    select
        named_tasks.named_task_id,
        namespaces.namespace_name,
        named_tasks.task_name,
        named_tasks.task_version
    from named_tasks
    inner join namespaces
        on named_tasks.task_namespace_id = namespaces.task_namespace_id
)

select * from final
