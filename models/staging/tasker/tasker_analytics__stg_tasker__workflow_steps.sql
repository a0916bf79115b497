{{ config(alias='stg_tasker__workflow_steps') }}
with source as (
    select * from {{ source('tasker', 'tasker_workflow_steps') }}
),

renamed as (
    select
        cast(workflow_step_id as bigint) as workflow_step_id,
        cast(task_id as bigint) as task_id,
        cast(named_step_id as integer) as named_step_id,
        cast(retryable as boolean) as is_retryable,
        cast(retry_limit as integer) as retry_limit,
        cast(attempts as integer) as attempts,
        cast(processed as boolean) as is_processed,
        cast(processed_at as timestamp) as processed_at,
        cast(last_attempted_at as timestamp) as last_attempted_at,
        cast({{ json_text('results', 'error_class') }} as {{ dbt.type_string() }}) as results_error_class,
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at
    from source
)

select * from renamed
