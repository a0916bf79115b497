{{ config(alias='task_sketch_spans') }}
{#- task_duration_sketches as spans: the sketch of hour buckets 1..N per task key (macros/rollups/rollups.sql). -#}
{{ sketch_spans(ref('tasker_analytics__task_duration_sketches'), ref('tasker_analytics__task_sketch_keys'),
    ['namespace_name', 'task_name', 'task_version']) }}
order by from_hour
