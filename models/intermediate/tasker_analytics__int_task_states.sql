{{ config(alias='int_task_states') }}
{{ config(materialized='view') }}

{{ transition_states(ref('tasker_analytics__stg_tasker__task_transitions'), 'task_id') }}
