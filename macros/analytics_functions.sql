{#- The analyst SQL functions of the spec ("SQL-Driven Analytics"), created by the build
    itself (on-run-end): DuckDB table macros in the build's database, Postgres
    set-returning functions in the build's schema (the publish step copies them into the
    stable schema). They read the marts; the HTTP API serves the same figures.
      function_based_analytics_metrics(start_date, hours)
      function_based_slowest_tasks(namespace, hours [, limit, task_name, version])
      function_based_slowest_steps(task_name, namespace, hours [, limit, version])
      function_based_error_patterns(namespace, hours [, limit, task_name, version])
      function_based_recommendations(namespace, hours [, limit, task_name, version])
    NULL arguments mean "all"; a period of `hours` ends at the build's as_of, except for
    analytics_metrics whose window starts at start_date (NULL: as_of - hours). -#}

{% macro _fn_relation(name) -%}
    {%- if target.type == 'postgres' -%}"{{ target.schema }}"."{{ name }}"{%- else -%}{{ name }}{%- endif -%}
{%- endmacro %}

{% macro _fn_scope(alias) -%}
    and (in_namespace is null or {{ alias }}.namespace_name = in_namespace)
    and (in_task_name is null or {{ alias }}.task_name = in_task_name)
    and (in_version is null or {{ alias }}.task_version = in_version)
{%- endmacro %}

{% macro _fn_period(alias, column) -%}
    {{ alias }}.{{ column }} > as_of.data_as_of - in_hours * interval '1 hour'
    and {{ alias }}.{{ column }} <= as_of.data_as_of
{%- endmacro %}

{#- Import CTEs of a function: the build's as_of, and the rows of `relation` whose
    `column` falls in the period and scope, as `name`. -#}
{% macro _fn_in_period(relation, column, name) -%}
    with as_of as (
        select data_as_of from {{ _fn_relation('performance_overview') }}
    ),
    {{ name }} as (
        select candidates.*
        from {{ _fn_relation(relation) }} as candidates
        cross join as_of
        where {{ _fn_period('candidates', column) }}
        {{ _fn_scope('candidates') }}
    )
{%- endmacro %}

{% macro _fn_slowest_tasks_body() %}
    {{ _fn_in_period('int_task_executions', 'settled_at', 'settled') }},
    grouped as (
        select
            namespace_name as namespace,
            task_name,
            task_version as version,
            count(*) as execution_count,
            sum(case when final_state = 'complete' then 1 else 0 end) as completed,
            sum(case when final_state = 'error' then 1 else 0 end) as failed,
            avg(case when final_state = 'complete' then duration_ms end) as avg_duration_ms,
            percentile_cont(0.95) within group (
                order by case when final_state = 'complete' then duration_ms end
            ) as p95_duration_ms,
            sum(case when has_negative_duration then 1 else 0 end) as negative_durations
        from settled
        group by namespace_name, task_name, task_version
    )
    select
        namespace, task_name, version,
        cast(execution_count as bigint) as execution_count,
        cast(completed as bigint) as completed,
        cast(failed as bigint) as failed,
        cast(avg_duration_ms as double precision) as avg_duration_ms,
        cast(p95_duration_ms as double precision) as p95_duration_ms,
        cast(failed as double precision) / execution_count as failure_rate,
        cast(negative_durations as bigint) as negative_durations
    from grouped
    order by avg_duration_ms desc nulls last, namespace, task_name, version
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{% macro _fn_slowest_steps_body() %}
    {{ _fn_in_period('int_step_executions', 'settled_at', 'settled') }},
    grouped as (
        select
            namespace_name as namespace,
            task_name,
            task_version as version,
            step_name,
            count(*) as execution_count,
            sum(case when final_state = 'complete' then 1 else 0 end) as completed,
            sum(case when final_state = 'error' then 1 else 0 end) as failed,
            sum(case when is_retried then 1 else 0 end) as retried,
            avg(case when final_state = 'complete' then duration_ms end) as avg_duration_ms,
            percentile_cont(0.95) within group (
                order by case when final_state = 'complete' then duration_ms end
            ) as p95_duration_ms,
            percentile_cont(0.99) within group (
                order by case when final_state = 'complete' then duration_ms end
            ) as p99_duration_ms,
            count(case when final_state = 'complete' then duration_ms end) as duration_count,
            sum(case when has_negative_duration then 1 else 0 end) as negative_durations
        from settled
        group by namespace_name, task_name, task_version, step_name
    )
    select
        namespace, task_name, version, step_name,
        cast(execution_count as bigint) as execution_count,
        cast(completed as bigint) as completed,
        cast(failed as bigint) as failed,
        cast(retried as bigint) as retried,
        cast(avg_duration_ms as double precision) as avg_duration_ms,
        cast(p95_duration_ms as double precision) as p95_duration_ms,
        cast(p99_duration_ms as double precision) as p99_duration_ms,
        cast(failed as double precision) / execution_count as failure_rate,
        cast(retried as double precision) / execution_count as retry_rate,
        cast(duration_count as bigint) as duration_count,
        cast(negative_durations as bigint) as negative_durations
    from grouped
    order by avg_duration_ms desc nulls last, namespace, task_name, version, step_name
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{% macro _fn_error_patterns_body() %}
    {{ _fn_in_period('int_error_events', 'occurred_at', 'events') }}
    select
        error_type,
        cast(count(*) as bigint) as frequency,
        {{ distinct_list('step_name') }} as affected_steps,
        {{ distinct_list('error_class') }} as error_classes,
        min(occurred_at) as first_seen,
        max(occurred_at) as last_seen
    from events
    group by error_type
    order by frequency desc, error_type
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{% macro _fn_metrics_body() %}
    with as_of as (
        select data_as_of from {{ _fn_relation('performance_overview') }}
    ),
    bounds as (
        select
            coalesce(cast(in_start_date as timestamp), as_of.data_as_of - in_hours * interval '1 hour') as window_start,
            coalesce(cast(in_start_date as timestamp), as_of.data_as_of - in_hours * interval '1 hour')
                + in_hours * interval '1 hour' as window_end
        from as_of
    ),
    tasks as (
        select
            executions.*,
            executions.created_at > bounds.window_start and executions.created_at <= bounds.window_end as is_created,
            executions.settled_at > bounds.window_start and executions.settled_at <= bounds.window_end as is_settled_in,
            executions.created_at <= bounds.window_end
                and (executions.settled_at is null or executions.settled_at > bounds.window_end) as is_active
        from {{ _fn_relation('int_task_executions') }} as executions
        cross join bounds
    ),
    figures as (
        select
            sum(case when is_created then 1 else 0 end) as total_tasks,
            sum(case when is_settled_in then 1 else 0 end) as settled,
            sum(case when is_settled_in and final_state = 'complete' then 1 else 0 end) as completed,
            sum(case when is_settled_in and final_state = 'error' then 1 else 0 end) as failed,
            sum(case when is_settled_in and final_state = 'cancelled' then 1 else 0 end) as cancelled,
            sum(case when is_settled_in and final_state = 'resolved_manually' then 1 else 0 end) as resolved_manually,
            sum(case when is_settled_in and is_retried then 1 else 0 end) as retried,
            sum(case when is_active then 1 else 0 end) as active_tasks,
            avg(case when is_settled_in and final_state = 'complete' then duration_ms end) as avg_duration_ms,
            percentile_cont(0.5) within group (
                order by case when is_settled_in and final_state = 'complete' then duration_ms end) as p50_ms,
            percentile_cont(0.95) within group (
                order by case when is_settled_in and final_state = 'complete' then duration_ms end) as p95_ms,
            percentile_cont(0.99) within group (
                order by case when is_settled_in and final_state = 'complete' then duration_ms end) as p99_ms
        from tasks
    )
    select
        bounds.window_start,
        bounds.window_end,
        cast(coalesce(total_tasks, 0) as bigint) as total_tasks,
        cast(coalesce(settled, 0) as bigint) as settled,
        cast(coalesce(completed, 0) as bigint) as completed,
        cast(coalesce(failed, 0) as bigint) as failed,
        cast(coalesce(cancelled, 0) as bigint) as cancelled,
        cast(coalesce(resolved_manually, 0) as bigint) as resolved_manually,
        cast(coalesce(retried, 0) as bigint) as retried,
        cast(coalesce(active_tasks, 0) as bigint) as active_tasks,
        case when coalesce(settled, 0) = 0 then 0.0 else cast(completed as double precision) / settled end as completion_rate,
        case when coalesce(settled, 0) = 0 then 0.0 else cast(failed as double precision) / settled end as failure_rate,
        case when coalesce(settled, 0) = 0 then 0.0 else cast(retried as double precision) / settled end as retry_rate,
        cast(avg_duration_ms as double precision) as avg_duration_ms,
        cast(p50_ms as double precision) as p50_duration_ms,
        cast(p95_ms as double precision) as p95_duration_ms,
        cast(p99_ms as double precision) as p99_duration_ms
    from figures
    cross join bounds
{% endmacro %}

{% macro _fn_function(name) -%}
    {%- if target.type == 'postgres' -%}"{{ target.schema }}".{{ name }}{%- else -%}{{ name }}{%- endif -%}
{%- endmacro %}

{#- Evidence-based advice from the step figures of the scope and period (docs/API.md,
    recommendations): the rules and thresholds are the vars recommendation_*. -#}
{% macro _fn_recommendations_body() %}
    with steps as (
        select * from {{ _fn_function('function_based_slowest_steps') }}(
            in_task_name, in_namespace, in_hours, null, in_version)
    ),
    timeouts as (
        select * from {{ _fn_relation('step_timeouts') }}
    ),
    timeout_advice as (
        select
            'timeout_optimization' as recommendation_type,
            steps.namespace, steps.task_name, steps.version, steps.step_name as step,
            cast(timeouts.timeout_seconds as integer) as current_timeout,
            cast({{ var('recommendation_timeout_rounding_seconds') }} * ceil(
                steps.p99_duration_ms * {{ var('recommendation_timeout_headroom') }} / 1000
                / {{ var('recommendation_timeout_rounding_seconds') }}) as integer) as suggested_timeout,
            steps.p95_duration_ms as p95_ms,
            steps.p99_duration_ms as p99_ms,
            cast(null as double precision) as retry_rate,
            cast(null as bigint) as execution_count,
            cast(null as bigint) as retried,
            steps.p95_duration_ms as strength
        from steps
        inner join timeouts
            on steps.namespace = timeouts.namespace
            and steps.task_name = timeouts.task_name
            and steps.step_name = timeouts.step_name
        where steps.duration_count >= {{ var('recommendation_timeout_min_executions') }}
            and steps.p95_duration_ms >= {{ var('recommendation_timeout_pressure') }} * timeouts.timeout_seconds * 1000
    ),
    retry_advice as (
        select
            'retry_policy' as recommendation_type,
            namespace, task_name, version, step_name as step,
            cast(null as integer) as current_timeout,
            cast(null as integer) as suggested_timeout,
            cast(null as double precision) as p95_ms,
            cast(null as double precision) as p99_ms,
            retry_rate,
            execution_count,
            retried,
            retry_rate as strength
        from steps
        where execution_count >= {{ var('recommendation_retry_min_executions') }}
            and retry_rate >= {{ var('recommendation_retry_rate') }}
    ),
    advice as (
        select * from timeout_advice
        union all
        select * from retry_advice
    )
    select
        recommendation_type, namespace, task_name, version, step, current_timeout, suggested_timeout,
        p95_ms, p99_ms, retry_rate, execution_count, retried,
        case recommendation_type
            when 'timeout_optimization' then
                '95th percentile execution time is ' || {{ format_decimal('p95_ms / 1000', 1) }}
                || 's against a ' || cast(current_timeout as {{ dbt.type_string() }})
                || 's timeout (p99 ' || {{ format_decimal('p99_ms / 1000', 1) }} || 's)'
            else
                cast(retried as {{ dbt.type_string() }}) || ' of ' || cast(execution_count as {{ dbt.type_string() }})
                || ' executions (' || {{ format_decimal('100 * retry_rate', 1) }} || '%) needed more than one attempt'
        end as rationale
    from advice
    order by recommendation_type, strength desc, namespace, task_name, version, step
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{% macro create_analytics_functions() %}
    {{ return(adapter.dispatch('create_analytics_functions', 'tasker_analytics')()) }}
{% endmacro %}

{% macro duckdb__create_analytics_functions() %}
    {% set statements %}
    create or replace macro function_based_analytics_metrics(in_start_date, in_hours) as table
        {{ _fn_metrics_body() }};
    create or replace macro function_based_slowest_tasks(
        in_namespace, in_hours, in_limit := null, in_task_name := null, in_version := null
    ) as table {{ _fn_slowest_tasks_body() }};
    create or replace macro function_based_slowest_steps(
        in_task_name, in_namespace, in_hours, in_limit := null, in_version := null
    ) as table {{ _fn_slowest_steps_body() }};
    create or replace macro function_based_error_patterns(
        in_namespace, in_hours, in_limit := null, in_task_name := null, in_version := null
    ) as table {{ _fn_error_patterns_body() }};
    create or replace macro function_based_recommendations(
        in_namespace, in_hours, in_limit := null, in_task_name := null, in_version := null
    ) as table {{ _fn_recommendations_body() }};
    {% endset %}
    {% do run_query(statements) %}
{% endmacro %}

{% macro postgres__create_analytics_functions() %}
    {% set schema = target.schema %}
    {% set statements %}
    create or replace function "{{ schema }}".function_based_analytics_metrics(in_start_date timestamp, in_hours integer)
    returns table (window_start timestamp, window_end timestamp, total_tasks bigint, settled bigint,
        completed bigint, failed bigint, cancelled bigint, resolved_manually bigint, retried bigint,
        active_tasks bigint, completion_rate double precision, failure_rate double precision,
        retry_rate double precision, avg_duration_ms double precision, p50_duration_ms double precision,
        p95_duration_ms double precision, p99_duration_ms double precision)
    language sql stable as $fn$ {{ _fn_metrics_body() }} $fn$;

    create or replace function "{{ schema }}".function_based_slowest_tasks(
        in_namespace text, in_hours integer, in_limit integer default null,
        in_task_name text default null, in_version text default null)
    returns table (namespace text, task_name text, version text, execution_count bigint, completed bigint,
        failed bigint, avg_duration_ms double precision, p95_duration_ms double precision,
        failure_rate double precision, negative_durations bigint)
    language sql stable as $fn$ {{ _fn_slowest_tasks_body() }} $fn$;

    create or replace function "{{ schema }}".function_based_slowest_steps(
        in_task_name text, in_namespace text, in_hours integer, in_limit integer default null,
        in_version text default null)
    returns table (namespace text, task_name text, version text, step_name text, execution_count bigint,
        completed bigint, failed bigint, retried bigint, avg_duration_ms double precision,
        p95_duration_ms double precision, p99_duration_ms double precision, failure_rate double precision,
        retry_rate double precision, duration_count bigint, negative_durations bigint)
    language sql stable as $fn$ {{ _fn_slowest_steps_body() }} $fn$;

    create or replace function "{{ schema }}".function_based_error_patterns(
        in_namespace text, in_hours integer, in_limit integer default null,
        in_task_name text default null, in_version text default null)
    returns table (error_type text, frequency bigint, affected_steps text[], error_classes text[],
        first_seen timestamp, last_seen timestamp)
    language sql stable as $fn$ {{ _fn_error_patterns_body() }} $fn$;

    create or replace function "{{ schema }}".function_based_recommendations(
        in_namespace text, in_hours integer, in_limit integer default null,
        in_task_name text default null, in_version text default null)
    returns table (recommendation_type text, namespace text, task_name text, version text, step text,
        current_timeout integer, suggested_timeout integer, p95_ms double precision, p99_ms double precision,
        retry_rate double precision, execution_count bigint, retried bigint, rationale text)
    language sql stable as $fn$ {{ _fn_recommendations_body() }} $fn$;
    {% endset %}
    {% do run_query(statements) %}
{% endmacro %}
