{{ config(materialized='view') }}

{{ transition_states(ref('stg_tasker__task_transitions'), 'task_id') }}
