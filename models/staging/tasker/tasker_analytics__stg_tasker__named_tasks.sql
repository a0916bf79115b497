{{ config(alias='stg_tasker__named_tasks') }}
with source as (
    select * from {{ source('tasker', 'tasker_named_tasks') }}
),

renamed as (
    select
        cast(named_task_id as integer) as named_task_id,
        cast(task_namespace_id as integer) as task_namespace_id,
        cast(name as {{ dbt.type_string() }}) as task_name,
        cast(version as {{ dbt.type_string() }}) as task_version
    from source
)

select * from renamed
