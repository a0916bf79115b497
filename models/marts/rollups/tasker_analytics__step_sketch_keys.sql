{{ config(alias='step_sketch_keys') }}
{#- One key_id per (task type, step name, metric) of step_duration_sketches (sketch spans). -#}
{{ sketch_keys(
    ref('tasker_analytics__step_duration_sketches'), ['namespace_name', 'task_name', 'task_version', 'step_name']
) }}
