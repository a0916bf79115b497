{#- Incremental per-execution models (docs/ANALYSTS.md, "Incremental builds").
    Every build records the source's watermarks (int_build_watermarks). A build that
    starts from the previous build's tables recomputes only the tasks touched since that
    build (int_touched_tasks): their rows are replaced (delete+insert on task_id), and a
    post-hook drops the rows whose task has left the model (retention, rollup hours,
    deleted from the source). The result equals a full refresh. -#}

{#- How the per-execution models replace a touched task's rows: delete+insert on task_id.
    Spark's Parquet tables have no delete; a Spark build always starts empty, so there the
    strategy only needs to be a valid one. -#}
{% macro per_task_strategy() -%}
    {{ return(adapter.dispatch('per_task_strategy', 'tasker_analytics')()) }}
{%- endmacro %}

{% macro default__per_task_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__per_task_strategy() -%}
    {{ return('append') }}
{%- endmacro %}

{#- Hours before the previous build's as_of whose source rows are looked at again, for
    rows committed out of id order (var incremental_lookback_hours). -#}
{% macro incremental_lookback_hours() -%}
    {{ var('incremental_lookback_hours', 1) | int }}
{%- endmacro %}

{#- `and <column> in (the touched tasks)` in an incremental run, nothing in a full one.
    Models using it name `-- depends_on: {{ ref('int_touched_tasks') }}`. -#}
{% macro touched_tasks_only(column='task_id') -%}
    {%- if is_incremental() %}
        and {{ column }} in (select task_id from {{ ref('int_touched_tasks') }})
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: drop this model's rows whose task is not in `tasks` (a query of task_id). -#}
{% macro keep_tasks_in(tasks) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as kept
        where not exists (
            select 1 from ({{ tasks }}) as valid where valid.task_id = kept.task_id
        )
    {%- endif -%}
{%- endmacro %}

{#- The source's tasks within the retention days (the tasks of the per-execution models). -#}
{% macro retained_source_tasks() -%}
    select task_id
    from {{ ref('stg_tasker__tasks') }}
    where created_at <= {{ as_of() }}
        and created_at > {{ retention_start() }}
{%- endmacro %}

{#- The tasks settled complete within the rollup hours (the critical-path models' tasks). -#}
{% macro complete_tasks_in_rollup_range() -%}
    select task_id
    from {{ ref('int_task_executions') }}
    where final_state = 'complete'
        and {{ in_rollup_range('settled_at') }}
{%- endmacro %}

{#- An id beyond every real one (the largest bigint). -#}
{% macro no_id() -%}
    cast(9223372036854775807 as bigint)
{%- endmacro %}

{#- The watermark columns of one source table: its largest id, row count and (when it has
    one) the range of created_at; `prefix` names them. -#}
{% macro source_marks(relation, id_column, prefix, timed=true) -%}
    select
        max({{ id_column }}) as {{ prefix }}_max_id,
        count(*) as {{ prefix }}_rows
        {%- if timed %},
        min(created_at) as {{ prefix }}_min_created_at,
        max(created_at) as {{ prefix }}_max_created_at
        {%- endif %}
    from {{ relation }}
{%- endmacro %}

{#- The same figures over the rows at or below the previous build's largest id: equal to
    the previous build's when the rows it saw are all still there, unchanged. -#}
{% macro source_marks_seen(relation, id_column, prefix, timed=true) -%}
    select
        count(*) as {{ prefix }}_rows
        {%- if timed %},
        min(created_at) as {{ prefix }}_min_created_at,
        max(created_at) as {{ prefix }}_max_created_at
        {%- endif %}
    from {{ relation }}
    where {{ id_column }} <= (select {{ prefix }}_max_id from previous)
{%- endmacro %}

{#- True when the `seen` figures of `prefix` equal the previous build's. -#}
{% macro source_marks_equal(prefix, timed=true) -%}
    seen_{{ prefix }}.{{ prefix }}_rows = previous.{{ prefix }}_rows
    {%- if timed %}
    and seen_{{ prefix }}.{{ prefix }}_min_created_at is not distinct from previous.{{ prefix }}_min_created_at
    and seen_{{ prefix }}.{{ prefix }}_max_created_at is not distinct from previous.{{ prefix }}_max_created_at
    {%- endif %}
{%- endmacro %}
