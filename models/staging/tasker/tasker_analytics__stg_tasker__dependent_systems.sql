{{ config(alias='stg_tasker__dependent_systems') }}
with source as (
    select * from {{ source('tasker', 'tasker_dependent_systems') }}
),

renamed as (
    select
        cast(dependent_system_id as integer) as dependent_system_id,
        cast(name as {{ dbt.type_string() }}) as dependent_system_name
    from source
)

select * from renamed
