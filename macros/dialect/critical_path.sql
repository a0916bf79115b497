{#- The edge relation the critical-path recursion (int_task_critical_paths) follows from
    each path's last step. A full build walks the whole int_task_dag_edges table. In an
    incremental one only touched tasks' paths exist, so any edge relation holding their
    edges gives the same rows: DuckDB joins the CTE of the touched tasks' edges (`edges`),
    as hashing the whole table again at every recursion step would cost more; PostgreSQL
    keeps the table, which it walks by its parent_step_id index (a CTE has no index, and
    joining it at every step cost as much as a full build). -#}
{% macro critical_path_edges(touched_edges) -%}
    {{ return(adapter.dispatch('critical_path_edges', 'tasker_analytics')(touched_edges)) }}
{%- endmacro %}

{% macro default__critical_path_edges(touched_edges) -%}
    {%- if is_incremental() -%}{{ touched_edges }}{%- else -%}{{ ref('tasker_analytics__int_task_dag_edges') }}{%- endif -%}
{%- endmacro %}

{% macro postgres__critical_path_edges(touched_edges) -%}
    {{ ref('tasker_analytics__int_task_dag_edges') }}
{%- endmacro %}
