{#- task_duration_sketches as spans: the sketch of hour buckets 1..N per task key (macros/rollups/rollups.sql). -#}
{{ sketch_spans(ref('task_duration_sketches'), ref('task_sketch_keys'),
    ['namespace_name', 'task_name', 'task_version']) }}
order by from_hour
