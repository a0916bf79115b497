{{ config(alias='health_components') }}
{#- Served: the components of the system health score, one row each, with the weight
    (dbt vars health_weight_*) and the count of items each value is over. A component
    with fewer than health_min_items items in its window is not judged: its value is
    null (macros/semantics/health.sql). -#}
{%- set window_hours = var('health_window_hours') -%}
{%- set baseline_hours = var('health_baseline_hours') -%}

with window_stats as (
    select * from {{ ref('tasker_analytics__int_window_task_stats') }}
),

steps as (
    select * from {{ ref('tasker_analytics__int_step_executions') }}
    where settled_at > {{ window_start(window_hours) }}
),

current_window as (
    select * from window_stats
    where window_hours = {{ window_hours }}
),

baseline_window as (
    select * from window_stats
    where window_hours = {{ baseline_hours }}
),

step_outcomes as (
    select
        count(*) as settled_count,
        sum(case when final_state = 'complete' and attempts = 1 then 1 else 0 end) as first_attempt_count
    from steps
),

success_share as (
    select
        'success_share' as component,
        {{ health_judged(safe_ratio('completed_count', 'settled_count'), ['settled_count']) }} as component_value,
        {{ var('health_weight_success') }} as weight,
        settled_count as item_count,
        'completed / settled tasks in the last {{ window_hours }} h' as description
    from current_window
),

first_attempt as (
    select
        'first_attempt_step_success' as component,
        {{ health_judged(safe_ratio('first_attempt_count', 'settled_count'), ['settled_count']) }} as component_value,
        {{ var('health_weight_first_attempt') }} as weight,
        coalesce(settled_count, 0) as item_count,
        'steps settled complete on their first attempt / steps settled in the last {{ window_hours }} h' as description
    from step_outcomes
),

latency as (
    select
        'latency' as component,
        {{ health_judged(
            health_latency('current_window.p95_duration_ms', 'baseline_window.p95_duration_ms'),
            ['current_window.duration_count', 'baseline_window.duration_count']
        ) }} as component_value,
        {{ var('health_weight_latency') }} as weight,
        current_window.duration_count as item_count,
        'min(1, {{ baseline_hours }} h baseline p95 / last {{ window_hours }} h p95 of completed task durations'
        || ')' as description
    from current_window
    cross join baseline_window
),

unioned as (
    select * from success_share
    union all
    select * from first_attempt
    union all
    select * from latency
),

final as (
    select
        cast(component as {{ dbt.type_string() }}) as component,
        cast(component_value as {{ type_double() }}) as component_value,
        cast(weight as {{ type_double() }}) as weight,
        cast({{ window_hours }} as integer) as window_hours,
        cast(item_count as bigint) as item_count,
        cast(description as {{ dbt.type_string() }}) as description
    from unioned
)

select * from final
