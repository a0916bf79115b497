{#- Dialect differences, one dispatch macro each (default__ first, then per adapter). -#}

{#- Milliseconds from `start_ts` to `end_ts` as a double, exact to the microsecond. -#}
{% macro duration_ms(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('duration_ms', 'tasker_analytics')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__duration_ms(start_ts, end_ts) -%}
    cast(extract(epoch from ({{ end_ts }} - {{ start_ts }})) * 1000 as double precision)
{%- endmacro %}

{% macro duckdb__duration_ms(start_ts, end_ts) -%}
    cast((epoch_us({{ end_ts }}) - epoch_us({{ start_ts }})) / 1000.0 as double)
{%- endmacro %}

{% macro spark__duration_ms(start_ts, end_ts) -%}
    cast(unix_micros({{ end_ts }}) - unix_micros({{ start_ts }}) as double) / 1000
{%- endmacro %}

{#- The text value of a top-level key of a JSON column (jsonb, JSON or text holding JSON). -#}
{% macro json_text(column, key) -%}
    {{ return(adapter.dispatch('json_text', 'tasker_analytics')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    (cast({{ column }} as jsonb) ->> '{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string(cast({{ column }} as json), '$.{{ key }}')
{%- endmacro %}

{% macro spark__json_text(column, key) -%}
    get_json_object(cast({{ column }} as string), '$.{{ key }}')
{%- endmacro %}

{#- The sorted distinct values of a column, as a list (DuckDB) or an array (Postgres). -#}
{% macro distinct_list(column) -%}
    {{ return(adapter.dispatch('distinct_list', 'tasker_analytics')(column)) }}
{%- endmacro %}

{% macro default__distinct_list(column) -%}
    array_agg(distinct {{ column }} order by {{ column }})
{%- endmacro %}

{% macro duckdb__distinct_list(column) -%}
    list(distinct {{ column }} order by {{ column }})
{%- endmacro %}

{% macro spark__distinct_list(column) -%}
    array_sort(collect_set({{ column }}))
{%- endmacro %}

{#- A number as text with `places` decimals (analyst-facing text only). -#}
{% macro format_decimal(expression, places) -%}
    {{ return(adapter.dispatch('format_decimal', 'tasker_analytics')(expression, places)) }}
{%- endmacro %}

{% macro default__format_decimal(expression, places) -%}
    to_char(cast({{ expression }} as numeric), 'FM9999999990.{{ "0" * places }}')
{%- endmacro %}

{% macro duckdb__format_decimal(expression, places) -%}
    printf('%.{{ places }}f', {{ expression }})
{%- endmacro %}

{#- A path through a task's step DAG: the ids of its steps in order, as a list (DuckDB) or
    an array (Postgres), which order element by element (a prefix first), so the smallest
    sequence of ids wins ties. path_of: the path of one step; path_append: one more step;
    path_steps: its steps, one row each (in a select list). -#}
{% macro path_of(step_id) -%}
    {{ return(adapter.dispatch('path_of', 'tasker_analytics')(step_id)) }}
{%- endmacro %}

{% macro default__path_of(step_id) -%}
    array[{{ step_id }}]
{%- endmacro %}

{% macro path_append(path, step_id) -%}
    {{ return(adapter.dispatch('path_append', 'tasker_analytics')(path, step_id)) }}
{%- endmacro %}

{% macro default__path_append(path, step_id) -%}
    array_append({{ path }}, {{ step_id }})
{%- endmacro %}

{% macro path_steps(path) -%}
    {{ return(adapter.dispatch('path_steps', 'tasker_analytics')(path)) }}
{%- endmacro %}

{% macro default__path_steps(path) -%}
    unnest({{ path }})
{%- endmacro %}

{% macro spark__path_of(step_id) -%}
    array({{ step_id }})
{%- endmacro %}

{% macro spark__path_steps(path) -%}
    explode({{ path }})
{%- endmacro %}

{% macro spark__format_decimal(expression, places) -%}
    format_string('%.{{ places }}f', cast({{ expression }} as double))
{%- endmacro %}

{#- The `indexes` config of a table: one index per column list on Postgres (the
    critical-path search joins on them), none on the other adapters. -#}
{% macro table_indexes(column_lists) -%}
    {{ return(adapter.dispatch('table_indexes', 'tasker_analytics')(column_lists)) }}
{%- endmacro %}

{% macro default__table_indexes(column_lists) -%}
    {{ return([]) }}
{%- endmacro %}

{% macro postgres__table_indexes(column_lists) -%}
    {%- set indexes = [] -%}
    {%- for columns in column_lists -%}
        {%- do indexes.append({'columns': columns}) -%}
    {%- endfor -%}
    {{ return(indexes) }}
{%- endmacro %}

{#- The 8-byte floating-point type (`double precision` is not a Spark type). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'tasker_analytics')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}

{#- Overrides of dbt's own dispatch macros on Spark (the root project's spark__ variant
    wins over dbt-spark's). -#}

{#- dbt.cast: the model contracts name their types the way DuckDB and Postgres spell them
    (`text`, `double precision`); dbt checks a contract by casting null to each type,
    so those names are translated to Spark's. -#}
{% macro spark__cast(field, type) -%}
    {%- set spark_types = {'text': 'string', 'double precision': 'double'} -%}
    cast({{ field }} as {{ spark_types.get(type | trim | lower, type) }})
{%- endmacro %}

{#- dbt.dateadd: dbt-spark's goes through whole unix seconds, which drops the fraction of
    a second of as_of (a build's start); timestampadd keeps the microseconds. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}
