{{ config(alias='int_build_watermarks') }}
{{ config(materialized='incremental', incremental_strategy='append') }}
{#- One row per build: its as_of, its state key and, per Tasker table, the largest id, the row count and
    the range of created_at it saw (macros/incremental/incremental.sql). The next incremental build
    looks again at the rows beyond these. -#}
with tasks as (
    {{ source_marks(ref('tasker_analytics__stg_tasker__tasks'), 'task_id', 'task') }}
),

task_transitions as (
    {{ source_marks(ref('tasker_analytics__stg_tasker__task_transitions'), 'transition_id', 'task_transition') }}
),

steps as (
    {{ source_marks(ref('tasker_analytics__stg_tasker__workflow_steps'), 'workflow_step_id', 'step') }}
),

step_transitions as (
    {{ source_marks(
        ref('tasker_analytics__stg_tasker__workflow_step_transitions'), 'transition_id', 'step_transition'
    ) }}
),

edges as (
    {{ source_marks(ref('tasker_analytics__stg_tasker__workflow_step_edges'), 'edge_id', 'edge', timed=false) }}
),

sequence as (
    select
        {% if is_incremental() -%}
            coalesce((select max(build_seq) from {{ this }}), 0) + 1
        {%- else -%}
            1
        {%- endif %} as build_seq
)

select
    cast(sequence.build_seq as integer) as build_seq,
    {{ as_of() }} as as_of,
    -- What the build's models, settings and source were (tasker_analytics.build.project.state_key).
    cast('{{ var("state_key", "") | replace("'", "") }}' as {{ dbt.type_string() }}) as state_key,
    tasks.*,
    task_transitions.*,
    steps.*,
    step_transitions.*,
    edges.*
from sequence
cross join tasks
cross join task_transitions
cross join steps
cross join step_transitions
cross join edges
