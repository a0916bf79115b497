{#- step_duration_sketches as spans: the sketch of hour buckets 1..N per step key (macros/rollups/rollups.sql). -#}
{{ sketch_spans(ref('step_duration_sketches'), ref('step_sketch_keys'),
    ['namespace_name', 'task_name', 'task_version', 'step_name']) }}
order by from_hour
