{{ config(alias='stg_tasker__named_steps') }}
with source as (
    select * from {{ source('tasker', 'tasker_named_steps') }}
),

renamed as (
    select
        cast(named_step_id as integer) as named_step_id,
        cast(dependent_system_id as integer) as dependent_system_id,
        cast(name as {{ dbt.type_string() }}) as step_name
    from source
)

select * from renamed
