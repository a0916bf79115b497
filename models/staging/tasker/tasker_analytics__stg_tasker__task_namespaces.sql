{{ config(alias='stg_tasker__task_namespaces') }}
with source as (
    select * from {{ source('tasker', 'tasker_task_namespaces') }}
),

renamed as (
    select
        cast(task_namespace_id as integer) as task_namespace_id,
        cast(name as {{ dbt.type_string() }}) as namespace_name
    from source
)

select * from renamed
