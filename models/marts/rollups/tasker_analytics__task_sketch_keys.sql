{{ config(alias='task_sketch_keys') }}
{#- One key_id per (task type, metric) of task_duration_sketches (sketch spans). -#}
{{ sketch_keys(ref('tasker_analytics__task_duration_sketches'), ['namespace_name', 'task_name', 'task_version']) }}
