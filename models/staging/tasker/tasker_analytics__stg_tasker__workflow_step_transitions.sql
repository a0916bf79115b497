{{ config(alias='stg_tasker__workflow_step_transitions') }}
with source as (
    select * from {{ source('tasker', 'tasker_workflow_step_transitions') }}
),

renamed as (
    select
        cast(id as bigint) as transition_id,
        cast(workflow_step_id as bigint) as workflow_step_id,
        cast(from_state as {{ dbt.type_string() }}) as from_state,
        cast(to_state as {{ dbt.type_string() }}) as to_state,
        cast({{ json_text('metadata', 'error_class') }} as {{ dbt.type_string() }}) as metadata_error_class,
        cast(sort_key as integer) as sort_key,
        cast(most_recent as boolean) as is_most_recent,
        cast(created_at as timestamp) as created_at
    from source
)

select * from renamed
