{#- Make the Tasker tables answer under the source's schema before the models run
    (on-run-start). On DuckDB and Postgres they are already there (an attached file, or
    the Tasker database itself): nothing to do. On Spark, when a folder of Parquet
    tables is named (var `tasker_source_parquet_dir`, else TASKER_SOURCE_PARQUET_DIR; the
    layout `tasker-analytics generate --parquet DIR` writes: one folder per table), each
    table is registered in the catalog as an external Parquet table over its folder;
    without one, the tables must already be in the catalog (a Hive metastore, say). -#}
{% macro register_tasker_sources() %}
    {{ return(adapter.dispatch('register_tasker_sources', 'tasker_analytics')()) }}
{% endmacro %}

{% macro default__register_tasker_sources() %}
{% endmacro %}

{% macro spark__register_tasker_sources() %}
    {%- set folder = var('tasker_source_parquet_dir', env_var('TASKER_SOURCE_PARQUET_DIR', '')) -%}
    {%- if execute and folder -%}
        {%- set tables = graph.sources.values() | selectattr('source_name', 'equalto', 'tasker') | list -%}
        {%- set schema = tables[0].schema -%}
        {% do run_query('create database if not exists `' ~ schema ~ '`') %}
        {%- for table in tables %}
            {%- set relation = '`' ~ schema ~ '`.`' ~ table.identifier ~ '`' -%}
            {%- set location = folder.rstrip('/') ~ '/' ~ table.identifier -%}
            {#- An external table: dropping or re-pointing it never touches the files. Each dbt
                run is a new Spark session, so no stale file listing needs a refresh. -#}
            {% do run_query('create table if not exists ' ~ relation ~ " using parquet location '" ~ location ~ "'") %}
            {% do run_query('alter table ' ~ relation ~ " set location '" ~ location ~ "'") %}
        {%- endfor %}
    {%- endif -%}
{% endmacro %}
