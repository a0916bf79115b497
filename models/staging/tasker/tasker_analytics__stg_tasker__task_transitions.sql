{{ config(alias='stg_tasker__task_transitions') }}
with source as (
    select * from {{ source('tasker', 'tasker_task_transitions') }}
),

renamed as (
    select
        cast(id as bigint) as transition_id,
        cast(task_id as bigint) as task_id,
        cast(from_state as {{ dbt.type_string() }}) as from_state,
        cast(to_state as {{ dbt.type_string() }}) as to_state,
        cast(sort_key as integer) as sort_key,
        cast(most_recent as boolean) as is_most_recent,
        cast(created_at as timestamp) as created_at
    from source
)

select * from renamed
