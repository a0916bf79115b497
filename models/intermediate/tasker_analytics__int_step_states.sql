{{ config(alias='int_step_states') }}
{{ config(materialized='view') }}

{{ transition_states(ref('tasker_analytics__stg_tasker__workflow_step_transitions'), 'workflow_step_id') }}
