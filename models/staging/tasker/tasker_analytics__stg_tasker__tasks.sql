{{ config(alias='stg_tasker__tasks') }}
with source as (
    select * from {{ source('tasker', 'tasker_tasks') }}
),

renamed as (
    select
        cast(task_id as bigint) as task_id,
        cast(named_task_id as integer) as named_task_id,
        cast(complete as boolean) as is_complete,
        cast(requested_at as timestamp) as requested_at,
        cast(initiator as {{ dbt.type_string() }}) as initiator,
        cast(source_system as {{ dbt.type_string() }}) as source_system,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at
    from source
)

select * from renamed
