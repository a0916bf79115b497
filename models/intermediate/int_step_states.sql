{{ config(materialized='view') }}

{{ transition_states(ref('stg_tasker__workflow_step_transitions'), 'workflow_step_id') }}
