{{ config(alias='step_sketch_spans') }}
{#- step_duration_sketches as spans: the sketch of hour buckets 1..N per step key (macros/rollups/rollups.sql). -#}
{{ sketch_spans(ref('tasker_analytics__step_duration_sketches'), ref('tasker_analytics__step_sketch_keys'),
    ['namespace_name', 'task_name', 'task_version', 'step_name']) }}
order by from_hour
