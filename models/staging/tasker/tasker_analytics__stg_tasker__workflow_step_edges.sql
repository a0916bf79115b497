{{ config(alias='stg_tasker__workflow_step_edges') }}
with source as (
    select * from {{ source('tasker', 'tasker_workflow_step_edges') }}
),

renamed as (
    select
        cast(id as bigint) as edge_id,
        cast(from_step_id as bigint) as parent_step_id,
        cast(to_step_id as bigint) as child_step_id,
        cast(name as {{ dbt.type_string() }}) as edge_name,
        cast(created_at as timestamp) as created_at
    from source
)

select * from renamed
