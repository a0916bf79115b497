{#- The system health score (docs/API.md, "System health score"), shared by the served
    marts (health_components, performance_overview) and the analyst function
    function_based_analytics_metrics, so both judge a window the same way. -#}

{#- A component's value when it is judged: every count in `item_counts` (SQL expressions)
    is at least the var health_min_items (default 1); else null (not judged: too few
    items in its window to say anything). -#}
{% macro health_judged(value, item_counts) -%}
    case
        when {% for item_count in item_counts %}coalesce({{ item_count }}, 0) >= {{ var('health_min_items') }}{{ ' and ' if not loop.last }}{% endfor %}
            then cast({{ value }} as {{ type_double() }})
    end
{%- endmacro %}

{#- The latency component's value: min(1, baseline p95 / current p95); 1 when the current
    p95 is 0 (nothing can be faster). Judged only when both windows have items. -#}
{% macro health_latency(current_p95, baseline_p95) -%}
    case
        when {{ current_p95 }} <= 0 then 1.0
        else least(1.0, {{ baseline_p95 }} / {{ current_p95 }})
    end
{%- endmacro %}

{#- The score over component rows (an aggregate): 100 x sum(weight x value) / sum(weight)
    over the judged components (value not null); null when none is judged. -#}
{% macro health_score(value, weight) -%}
    100.0 * sum({{ weight }} * {{ value }})
    / nullif(sum(case when {{ value }} is not null then {{ weight }} end), 0)
{%- endmacro %}

{#- performance_overview.health_status: `scored` when the score is a number, else
    `insufficient_data` (no component judged). -#}
{% macro health_status(score) -%}
    case when {{ score }} is null then 'insufficient_data' else 'scored' end
{%- endmacro %}
