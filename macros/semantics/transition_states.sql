{#- Per entity, from its transitions up to as_of (docs/API.md, Definitions):
    final_state      to_state of the highest sort_key (no transition: no row -> pending)
    last_transition_at  that transition's created_at (the settle time when settled)
    first_started_at first transition into in_progress
    started_count    number of transitions into in_progress
    transition_count number of transitions
    `most_recent` describes the present, so it is not used: as_of may lie in the past.
    `entities`, when given, is a query of the entity ids to describe (the others are left out). -#}
{% macro transition_states(transitions_relation, entity_id, entities=none) %}
    {{- return(adapter.dispatch('transition_states', 'tasker_analytics')(transitions_relation, entity_id, entities)) -}}
{% endmacro %}

{#- The transitions of the entities up to as_of. -#}
{% macro _state_transitions(transitions_relation, entity_id, entities) %}
    select *
    from {{ transitions_relation }}
    where created_at <= {{ as_of() }}
    {%- if entities is not none %}
        and {{ entity_id }} in ({{ entities }})
    {%- endif %}
{% endmacro %}

{#- DuckDB: one aggregation, the latest transition by arg_max over (sort_key, transition_id). -#}
{% macro duckdb__transition_states(transitions_relation, entity_id, entities) %}
with transitions as (
    {{ _state_transitions(transitions_relation, entity_id, entities) }}
)

select
    {{ entity_id }},
    arg_max(to_state, (sort_key, transition_id)) as final_state,
    arg_max(created_at, (sort_key, transition_id)) as last_transition_at,
    min(case when to_state = 'in_progress' then created_at end) as first_started_at,
    cast(sum(case when to_state = 'in_progress' then 1 else 0 end) as integer) as started_count,
    cast(count(*) as integer) as transition_count
from transitions
group by {{ entity_id }}
{% endmacro %}

{#- Elsewhere: the latest transition by row_number over (sort_key, transition_id) desc. -#}
{% macro default__transition_states(transitions_relation, entity_id, entities) %}
with transitions as (
    {{ _state_transitions(transitions_relation, entity_id, entities) }}
),

ranked as (
    select
        {{ entity_id }} as entity_id,
        to_state,
        created_at,
        row_number() over (
            partition by {{ entity_id }}
            order by sort_key desc, transition_id desc
        ) as recency
    from transitions
),

latest as (
    select
        entity_id,
        to_state as final_state,
        created_at as last_transition_at
    from ranked
    where recency = 1
),

counted as (
    select
        {{ entity_id }} as entity_id,
        min(case when to_state = 'in_progress' then created_at end) as first_started_at,
        sum(case when to_state = 'in_progress' then 1 else 0 end) as started_count,
        count(*) as transition_count
    from transitions
    group by {{ entity_id }}
),

final as (
    select
        latest.entity_id as {{ entity_id }},
        latest.final_state,
        latest.last_transition_at,
        counted.first_started_at,
        cast(counted.started_count as integer) as started_count,
        cast(counted.transition_count as integer) as transition_count
    from latest
    inner join counted
        on latest.entity_id = counted.entity_id
)

select * from final
{% endmacro %}
