{#- The analysis reference time (docs/API.md, Definitions): the dbt var `as_of` when given,
    else the build's start. Rendered as a timestamp literal, identical on every adapter. -#}
{% macro as_of_literal() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d %H:%M:%S.%f') -%}
    {%- endif -%}
    {{ return(value | string) }}
{%- endmacro %}

{% macro as_of() -%}
    cast('{{ as_of_literal() }}' as timestamp)
{%- endmacro %}

{#- The start of a window of `hours` hours ending at as_of: the window is (start, as_of]. -#}
{% macro window_start(hours) -%}
    {{ dbt.dateadd('hour', -1 * hours, as_of()) }}
{%- endmacro %}

{#- Final states that settle a task or step (docs/API.md, Definitions). -#}
{% macro settled_states() -%}
    ('complete', 'error', 'cancelled', 'resolved_manually')
{%- endmacro %}

{#- A rate in [0, 1]: numerator / denominator, 0 over zero items (docs/API.md, Definitions). -#}
{% macro safe_ratio(numerator, denominator) -%}
    case when coalesce({{ denominator }}, 0) = 0 then cast(0.0 as {{ type_double() }})
        else cast({{ numerator }} as {{ type_double() }}) / {{ denominator }}
    end
{%- endmacro %}

{#- History the per-execution models keep: tasks created in the last
    `analytics_retention_days` days before as_of (var, else TASKER_ANALYTICS_RETENTION_DAYS,
    else 30). Must cover the longest analysis period plus the baseline window. -#}
{% macro retention_start() -%}
    {%- set days = var('analytics_retention_days', env_var('TASKER_ANALYTICS_RETENTION_DAYS', '30')) | int -%}
    {{ dbt.dateadd('day', -1 * days, as_of()) }}
{%- endmacro %}
