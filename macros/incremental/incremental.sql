{#- Incremental per-execution models (docs/ANALYSTS.md, "Incremental builds").
    Every build records the source's watermarks (int_build_watermarks). A build that
    starts from the previous build's tables recomputes only the tasks touched since that
    build (int_touched_tasks): their rows are replaced (delete+insert on task_id; on Spark,
    insert_overwrite of the partitions by creation day that hold them), and a post-hook
    drops the rows whose task has left the model (retention, rollup hours, deleted from
    the source). The result equals a full refresh. -#}

{#- How the per-execution models replace a touched task's rows. DuckDB and Postgres:
    delete+insert on task_id. Spark (Parquet tables, which have no delete): insert_overwrite
    of whole partitions (per_task_partition_by), with dynamic partition overwrite, so an
    incremental build rewrites the partitions of the touched tasks and no other. -#}
{% macro per_task_strategy() -%}
    {{ return(adapter.dispatch('per_task_strategy', 'tasker_analytics')()) }}
{%- endmacro %}

{% macro default__per_task_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__per_task_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}

{#- The day a task was created (UTC): the column task_created_date of the per-execution
    models, by which they are partitioned on Spark. -#}
{% macro task_created_date(created_at) -%}
    cast({{ created_at }} as date)
{%- endmacro %}

{#- The per-execution models' partition_by: none on DuckDB and Postgres, the task's
    creation day on Spark. A task's rows always lie in its creation day's partition. -#}
{% macro per_task_partition_by() -%}
    {{ return(adapter.dispatch('per_task_partition_by', 'tasker_analytics')()) }}
{%- endmacro %}

{% macro default__per_task_partition_by() -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__per_task_partition_by() -%}
    {{ return(['task_created_date']) }}
{%- endmacro %}

{#- The tasks an incremental build recomputes, from `touched` (a relation or CTE of the
    touched tasks' task_id). DuckDB and Postgres: those tasks. Spark: every task created
    on the day of a touched task, because insert_overwrite replaces a partition whole:
    each partition written must hold all of its tasks. -#}
{% macro tasks_to_recompute(touched) -%}
    {{ return(adapter.dispatch('tasks_to_recompute', 'tasker_analytics')(touched)) }}
{%- endmacro %}

{% macro default__tasks_to_recompute(touched) -%}
    select task_id from {{ touched }}
{%- endmacro %}

{% macro spark__tasks_to_recompute(touched) -%}
    select tasks.task_id
    from {{ ref('tasker_analytics__stg_tasker__tasks') }} as tasks
    where {{ task_created_date('tasks.created_at') }} in (
        select distinct {{ task_created_date('touched_tasks.created_at') }}
        from {{ ref('tasker_analytics__stg_tasker__tasks') }} as touched_tasks
        where touched_tasks.task_id in (select task_id from {{ touched }})
    )
{%- endmacro %}

{#- Hours before the previous build's as_of whose source rows are looked at again, for
    rows committed out of id order (var incremental_lookback_hours). -#}
{% macro incremental_lookback_hours() -%}
    {{ var('incremental_lookback_hours', 1) | int }}
{%- endmacro %}

{#- `and <column> in (the touched tasks)` in an incremental run, nothing in a full one.
    Models using it name `-- depends_on: {{ ref('tasker_analytics__int_touched_tasks') }}`. -#}
{% macro touched_tasks_only(column='task_id') -%}
    {%- if is_incremental() %}
        and {{ column }} in (select task_id from {{ ref('tasker_analytics__int_touched_tasks') }})
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: drop this model's rows whose task is not in `tasks` (a query of task_id). -#}
{% macro keep_tasks_in(tasks) -%}
    {{ return(adapter.dispatch('keep_tasks_in', 'tasker_analytics')(tasks)) }}
{%- endmacro %}

{% macro default__keep_tasks_in(tasks) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as kept
        where not exists (
            select 1 from ({{ tasks }}) as valid where valid.task_id = kept.task_id
        )
    {%- endif -%}
{%- endmacro %}

{#- Spark: no delete on Parquet tables. The partitions holding a row whose task left are
    rewritten with the rows that stay (dynamic partition overwrite, reading the table
    itself: Spark writes the new files aside and swaps them in when the job is done), and
    those where no row stays are dropped. Runs its statements itself; the hook is empty. -#}
{% macro spark__keep_tasks_in(tasks) -%}
    {%- if is_incremental() and execute -%}
        {%- set partition = per_task_partition_by()[0] -%}
        {%- set valid -%}
            (select distinct task_id from ({{ tasks }}) as listed) as valid
        {%- endset -%}
        {%- set affected = run_query(
            'select kept.' ~ partition ~ ', max(case when valid.task_id is null then 0 else 1 end) as keeps_rows'
            ~ ' from ' ~ this ~ ' as kept left join ' ~ valid ~ ' on valid.task_id = kept.task_id'
            ~ ' group by kept.' ~ partition
            ~ ' having min(case when valid.task_id is null then 0 else 1 end) = 0') -%}
        {%- set rewritten, dropped = [], [] -%}
        {%- for row in affected.rows -%}
            {%- set day = (row[0] | string)[:10] -%}
            {%- do (rewritten if row[1] == 1 else dropped).append(day) -%}
        {%- endfor -%}
        {%- if rewritten -%}
            {%- do run_query('set spark.sql.sources.partitionOverwriteMode = dynamic') -%}
            {%- do run_query(
                'insert overwrite table ' ~ this ~ ' partition (' ~ partition ~ ')'
                ~ ' select kept.* from ' ~ this ~ ' as kept left semi join ' ~ valid
                ~ ' on valid.task_id = kept.task_id'
                ~ ' where kept.' ~ partition ~ " in (date'" ~ rewritten | join("', date'") ~ "')") -%}
        {%- endif -%}
        {%- if dropped -%}
            {%- set specs = [] -%}
            {%- for day in dropped -%}
                {%- do specs.append('partition (' ~ partition ~ " = '" ~ day ~ "')") -%}
            {%- endfor -%}
            {%- do run_query('alter table ' ~ this ~ ' drop if exists ' ~ specs | join(', ')) -%}
        {%- endif -%}
        {%- do log(this.identifier ~ ': partitions where tasks left, rewritten: [' ~ rewritten | join(', ')
            ~ '], where all left, dropped: [' ~ dropped | join(', ') ~ ']') -%}
    {%- endif -%}
{%- endmacro %}

{#- The source's tasks within the retention days (the tasks of the per-execution models). -#}
{% macro retained_source_tasks() -%}
    select task_id
    from {{ ref('tasker_analytics__stg_tasker__tasks') }}
    where created_at <= {{ as_of() }}
        and created_at > {{ retention_start() }}
{%- endmacro %}

{#- The tasks settled complete within the rollup hours (the critical-path models' tasks). -#}
{% macro complete_tasks_in_rollup_range() -%}
    select task_id
    from {{ ref('tasker_analytics__int_task_executions') }}
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
