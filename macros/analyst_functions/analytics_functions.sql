{#- The analyst SQL functions of the spec ("SQL-Driven Analytics"), created by the build
    itself (on-run-end): DuckDB table macros and Postgres set-returning functions, in the
    schema the package's marts are built in (a served Postgres build's are copied into
    the stable schema by the publish step). They read the marts; the HTTP API serves the same figures.
      function_based_analytics_metrics(start_date, hours)   (with the window's health score)
      function_based_slowest_tasks(namespace, hours [, limit, task_name, version])
      function_based_slowest_steps(task_name, namespace, hours [, limit, version])
      function_based_error_patterns(namespace, hours [, limit, task_name, version])
      function_based_critical_path(namespace, hours [, limit, task_name, version])
      function_based_duration_distribution(namespace, hours [, task_name, version])
      function_based_hourly_history(namespace, hours [, task_name, version])
      function_based_recommendations(namespace, hours [, limit, task_name, version])
    NULL arguments mean "all"; a period of `hours` ends at the build's as_of, except for
    analytics_metrics whose window starts at start_date (NULL: as_of - hours). -#}

{#- How a function body names a relation or another function: through the graph, so that
    the functions read the relation each model or seed of this package was built as (by
    its table name: the model tasker_analytics__<name>, whose alias is <name>),
    whatever schema (`+schema`), alias or database it landed in, when the package is
    installed in another dbt project. A database is named only when it is not the
    target's own: a DuckDB build file is served under another catalog name. The step
    timeouts are the seed `step_timeouts`, or the model or seed the var
    `tasker_step_timeouts` names (a team's own list, same columns). -#}
{% macro _fn_node(name) -%}
    {%- set own = 'tasker_analytics__' ~ name -%}
    {%- set wanted = var('tasker_step_timeouts', own) if name == 'step_timeouts' else own -%}
    {%- set any_package = wanted != own -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type in ('model', 'seed') and node.name == wanted
            and (any_package or node.package_name == 'tasker_analytics') -%}
            {{ return(node) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("tasker_analytics: the analyst functions read '" ~ wanted ~ "', which is not a model or seed of the project") }}
{%- endmacro %}

{% macro _fn_node_relation(node) -%}
    {{ return(api.Relation.create(
        database=node.database if node.database and node.database != target.database else none,
        schema=node.schema,
        identifier=node.alias,
    )) }}
{%- endmacro %}

{% macro _fn_relation(name) -%}
    {{ return(_fn_node_relation(_fn_node(name))) }}
{%- endmacro %}

{#- The schema (and database, as above) the functions are created in: the package's own,
    where its marts are built. -#}
{% macro _fn_schema() -%}
    {%- set relation = _fn_relation('performance_overview') -%}
    {{ return(relation.include(identifier=false)) }}
{%- endmacro %}

{% macro _fn_function(name) -%}
    {{ return(_fn_schema() ~ '.' ~ name) }}
{%- endmacro %}

{% macro _fn_scope(alias) -%}
    and (in_namespace is null or {{ alias }}.namespace_name = in_namespace)
    and (in_task_name is null or {{ alias }}.task_name = in_task_name)
    and (in_version is null or {{ alias }}.task_version = in_version)
{%- endmacro %}

{% macro _fn_period(alias, column) -%}
    {{ alias }}.{{ column }} > as_of.data_as_of - in_period * interval '1 hour'
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

{#- Rows of a rollup in the period (hour buckets 1..in_period) and scope, as `name`. -#}
{% macro _fn_rollup(relation, name, first_hour='1', last_hour='in_period') -%}
    {{ name }} as (
        select candidates.*
        from {{ _fn_relation(relation) }} as candidates
        where candidates.hour_index between {{ first_hour }} and {{ last_hour }}
        {{ _fn_scope('candidates') }}
    )
{%- endmacro %}

{#- The sketch of hour buckets 1..`hours` of the scope, as `name`: rows of key_id, the
    key's columns (scope, metric), sketch_index and item_count, one per (key, sketch
    bucket), read from the sketch spans of `kind` (task or step) without merging hours. -#}
{% macro _fn_sketch_period(kind, name, hours='in_period') -%}
    {{ name }} as (
        select keys.*, spans.sketch_index, spans.cumulative_count as item_count
        from {{ _fn_relation(kind ~ '_sketch_spans') }} as spans
        inner join {{ _fn_relation(kind ~ '_sketch_keys') }} as keys
            on spans.key_id = keys.key_id
        where spans.from_hour <= {{ hours }}
            and spans.to_hour > {{ hours }}
        {{ _fn_scope('keys') }}
    )
{%- endmacro %}

{#- p50, p95 and p99 per (columns..., metric) of the period's sketch, as `name`. -#}
{% macro _fn_period_percentiles(kind, name, columns) -%}
    {{ _fn_sketch_period(kind, name ~ '_sketches') }},
    {{ sketch_percentiles(name ~ '_by_key', name ~ '_sketches', ['key_id'], with_metric=false) }},
    {{ name }} as (
        select
            {%- for column in columns %}
            keys.{{ column }},
            {%- endfor %}
            keys.metric, by_key.p50, by_key.p95, by_key.p99
        from {{ name }}_by_key as by_key
        inner join {{ _fn_relation(kind ~ '_sketch_keys') }} as keys
            on by_key.key_id = keys.key_id
    )
{%- endmacro %}

{#- avg, p50, p95, p99 of one metric of a pivoted percentile CTE, as columns <stat>_<label>_ms. -#}
{% macro _fn_metric_columns(metric, label, sum_column, count_column) -%}
    cast(grouped.{{ sum_column }} / nullif(grouped.{{ count_column }}, 0) as double precision) as avg_{{ label }}_ms,
    {%- for p in ['p50', 'p95', 'p99'] %}
    cast(percentiles_{{ metric }}.{{ p }} as double precision) as {{ p }}_{{ label }}_ms{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro _fn_join_metric(metric, keys) -%}
    left join percentiles as percentiles_{{ metric }}
        on percentiles_{{ metric }}.metric = '{{ metric }}'
        {%- for key in keys %}
        and grouped.{{ key }} = percentiles_{{ metric }}.{{ key }}
        {%- endfor %}
{%- endmacro %}

{% macro _fn_slowest_tasks_body() %}
    with {{ _fn_rollup('task_hourly_rollup', 'rollup') }},
    {{ _fn_period_percentiles('task', 'percentiles', ['namespace_name', 'task_name', 'task_version']) }},
    grouped as (
        select
            namespace_name, task_name, task_version,
            sum(settled_count) as execution_count,
            sum(completed_count) as completed,
            sum(failed_count) as failed,
            sum(duration_sum_ms) as duration_sum_ms,
            sum(duration_count) as duration_count,
            sum(queue_wait_sum_ms) as queue_wait_sum_ms,
            sum(queue_wait_count) as queue_wait_count,
            sum(run_time_sum_ms) as run_time_sum_ms,
            sum(run_time_count) as run_time_count,
            sum(negative_duration_count) as negative_durations
        from rollup
        group by namespace_name, task_name, task_version
    )
    select
        grouped.namespace_name as namespace,
        grouped.task_name,
        grouped.task_version as version,
        cast(execution_count as bigint) as execution_count,
        cast(completed as bigint) as completed,
        cast(failed as bigint) as failed,
        {{ _fn_metric_columns('duration', 'duration', 'duration_sum_ms', 'duration_count') }},
        cast(failed as double precision) / execution_count as failure_rate,
        {{ _fn_metric_columns('queue_wait', 'queue_wait', 'queue_wait_sum_ms', 'queue_wait_count') }},
        {{ _fn_metric_columns('run_time', 'run_time', 'run_time_sum_ms', 'run_time_count') }},
        cast(duration_count as bigint) as duration_count,
        cast(negative_durations as bigint) as negative_durations
    from grouped
    {%- for metric in ['duration', 'queue_wait', 'run_time'] %}
    {{ _fn_join_metric(metric, ['namespace_name', 'task_name', 'task_version']) }}
    {%- endfor %}
    order by avg_duration_ms desc nulls last, namespace, task_name, version
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{% macro _fn_slowest_steps_body() %}
    with {{ _fn_rollup('step_hourly_rollup', 'rollup') }},
    {{ _fn_period_percentiles('step', 'percentiles', ['namespace_name', 'task_name', 'task_version', 'step_name']) }},
    grouped as (
        select
            namespace_name, task_name, task_version, step_name,
            sum(settled_count) as execution_count,
            sum(completed_count) as completed,
            sum(failed_count) as failed,
            sum(retried_count) as retried,
            sum(duration_sum_ms) as duration_sum_ms,
            sum(duration_count) as duration_count,
            sum(wait_sum_ms) as wait_sum_ms,
            sum(wait_count) as wait_count,
            sum(negative_duration_count) as negative_durations
        from rollup
        group by namespace_name, task_name, task_version, step_name
    )
    select
        grouped.namespace_name as namespace,
        grouped.task_name,
        grouped.task_version as version,
        grouped.step_name,
        cast(execution_count as bigint) as execution_count,
        cast(completed as bigint) as completed,
        cast(failed as bigint) as failed,
        cast(retried as bigint) as retried,
        {{ _fn_metric_columns('duration', 'duration', 'duration_sum_ms', 'duration_count') }},
        cast(failed as double precision) / execution_count as failure_rate,
        cast(retried as double precision) / execution_count as retry_rate,
        {{ _fn_metric_columns('queue_wait', 'queue_wait', 'wait_sum_ms', 'wait_count') }},
        {{ _fn_metric_columns('duration', 'run_time', 'duration_sum_ms', 'duration_count') }},
        cast(duration_count as bigint) as duration_count,
        cast(negative_durations as bigint) as negative_durations
    from grouped
    {%- for metric in ['duration', 'queue_wait'] %}
    {{ _fn_join_metric(metric, ['namespace_name', 'task_name', 'task_version', 'step_name']) }}
    {%- endfor %}
    order by avg_duration_ms desc nulls last, namespace, task_name, version, step_name
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{% macro _fn_error_patterns_body() %}
    with {{ _fn_rollup('error_hourly_rollup', 'events') }},
    {{ _fn_rollup('error_step_outcomes', 'outcomes') }},
    patterns as (
        select
            error_type,
            sum(event_count) as frequency,
            {{ distinct_list('step_name') }} as affected_steps,
            {{ distinct_list('error_class') }} as error_classes,
            min(first_seen_at) as first_seen,
            max(last_seen_at) as last_seen
        from events
        group by error_type
    ),
    recoveries as (
        select error_type, sum(errored_steps) as errored_steps, sum(recovered_steps) as recovered_steps
        from outcomes
        group by error_type
    )
    select
        patterns.error_type,
        cast(frequency as bigint) as frequency,
        affected_steps,
        error_classes,
        first_seen,
        last_seen,
        cast(coalesce(errored_steps, 0) as bigint) as errored_steps,
        cast(coalesce(recovered_steps, 0) as bigint) as recovered_steps,
        {{ safe_ratio('recovered_steps', 'errored_steps') }} as retry_success_rate
    from patterns
    left join recoveries
        on patterns.error_type = recoveries.error_type
    order by frequency desc, patterns.error_type
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{#- Task durations of the scope and period as one row: count, average, min and max
    (exact), p50/p95/p99 (from the sketch). -#}
{% macro _fn_distribution_body() %}
    with {{ _fn_rollup('task_hourly_rollup', 'rollup') }},
    {{ _fn_sketch_period('task', 'scoped_sketches') }},
    sketches as (
        select 'scope' as scope_key, metric, sketch_index, item_count
        from scoped_sketches
        where metric = 'duration'
    ),
    {{ sketch_percentiles('percentiles', 'sketches', ['scope_key']) }},
    summary as (
        select
            sum(duration_count) as duration_count,
            sum(duration_sum_ms) as duration_sum_ms,
            min(duration_min_ms) as min_ms,
            max(duration_max_ms) as max_ms,
            sum(negative_duration_count) as negative_durations,
            sum(completed_count) as completed_tasks
        from rollup
    )
    select
        cast(coalesce(summary.completed_tasks, 0) as bigint) as completed_tasks,
        cast(coalesce(summary.duration_count, 0) as bigint) as duration_count,
        cast(summary.duration_sum_ms / nullif(summary.duration_count, 0) as double precision) as avg_ms,
        cast(summary.min_ms as double precision) as min_ms,
        cast(summary.max_ms as double precision) as max_ms,
        cast(percentiles.p50 as double precision) as p50_ms,
        cast(percentiles.p95 as double precision) as p95_ms,
        cast(percentiles.p99 as double precision) as p99_ms,
        cast(coalesce(summary.negative_durations, 0) as bigint) as negative_durations,
        cast({{ var('sketch_relative_accuracy') }} as double precision) as percentile_relative_error
    from summary
    left join percentiles
        on true
{% endmacro %}

{#- The scope's tasks hour by hour over the period: per hour bucket (1 = the hour ending at
    as_of), the tasks settled in it, completed and failed, and the p95 duration of those
    completed (from the hour's sketch). Hours without a settled task have no row. -#}
{% macro _fn_history_body() %}
    with {{ _fn_rollup('task_hourly_rollup', 'rollup') }},
    {{ _fn_rollup('task_duration_sketches', 'scoped_sketches') }},
    sketches as (
        select hour_index, metric, sketch_index, item_count
        from scoped_sketches
        where metric = 'duration'
    ),
    {{ sketch_percentiles('percentiles', 'sketches', ['hour_index']) }},
    hours as (
        select
            hour_index,
            sum(settled_count) as settled,
            sum(completed_count) as completed,
            sum(failed_count) as failed
        from rollup
        group by hour_index
    )
    select
        cast(hours.hour_index as integer) as hour_index,
        cast(hours.settled as bigint) as settled,
        cast(hours.completed as bigint) as completed,
        cast(hours.failed as bigint) as failed,
        cast(hours.completed as double precision) / nullif(hours.settled, 0) as completion_rate,
        cast(percentiles.p95 as double precision) as p95_duration_ms
    from hours
    left join percentiles
        on hours.hour_index = percentiles.hour_index
    where hours.settled > 0
    order by hours.hour_index
{% endmacro %}

{#- Critical-path and gating figures per (task type, step name) (docs/API.md,
    dependency_analysis); tasks_analyzed and the critical-path total are the type's. -#}
{% macro _fn_critical_path_body() %}
    with {{ _fn_rollup('step_dependency_rollup', 'dependencies') }},
    {{ _fn_rollup('task_hourly_rollup', 'tasks') }},
    task_totals as (
        select
            namespace_name, task_name, task_version,
            sum(completed_count) as tasks_analyzed,
            sum(critical_path_sum_ms) as critical_path_total_ms
        from tasks
        group by namespace_name, task_name, task_version
    ),
    steps as (
        select
            namespace_name, task_name, task_version, step_name,
            sum(on_critical_path) as on_critical_path,
            sum(critical_path_ms) as critical_path_ms,
            sum(dependents_blocked) as dependents_blocked,
            sum(blocked_wait_ms) as blocked_wait_ms
        from dependencies
        group by namespace_name, task_name, task_version, step_name
    )
    select
        steps.namespace_name as namespace,
        steps.task_name,
        steps.task_version as version,
        steps.step_name,
        cast(coalesce(task_totals.tasks_analyzed, 0) as bigint) as tasks_analyzed,
        cast(steps.on_critical_path as bigint) as on_critical_path,
        cast(steps.critical_path_ms as double precision) as critical_path_ms,
        {{ safe_ratio('steps.critical_path_ms', 'task_totals.critical_path_total_ms') }} as critical_path_share,
        cast(steps.dependents_blocked as bigint) as dependents_blocked,
        cast(steps.blocked_wait_ms as double precision) as blocked_wait_ms
    from steps
    left join task_totals
        on steps.namespace_name = task_totals.namespace_name
        and steps.task_name = task_totals.task_name
        and steps.task_version = task_totals.task_version
    order by critical_path_ms desc, namespace, task_name, version, step_name
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{% macro _fn_metrics_body() %}
    with as_of as (
        select data_as_of from {{ _fn_relation('performance_overview') }}
    ),
    bounds as (
        select
            coalesce(cast(in_start_date as timestamp), as_of.data_as_of - in_period * interval '1 hour') as window_start,
            coalesce(cast(in_start_date as timestamp), as_of.data_as_of - in_period * interval '1 hour')
                + in_period * interval '1 hour' as window_end
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
                order by case when is_settled_in and final_state = 'complete' then duration_ms end) as p99_ms,
            count(case when is_settled_in and final_state = 'complete' then duration_ms end) as duration_count
        from tasks
    ),
    {#- The system health score of the window, as the API's (macros/semantics/health.sql):
        the window is the current one, the baseline the health_baseline_hours before its end. #}
    step_outcomes as (
        select
            count(*) as settled_steps,
            sum(case when steps.final_state = 'complete' and steps.attempts = 1 then 1 else 0 end) as first_attempt_steps
        from {{ _fn_relation('int_step_executions') }} as steps
        cross join bounds
        where steps.settled_at > bounds.window_start and steps.settled_at <= bounds.window_end
    ),
    baseline as (
        select
            count(executions.duration_ms) as duration_count,
            percentile_cont(0.95) within group (order by executions.duration_ms) as p95_ms
        from {{ _fn_relation('int_task_executions') }} as executions
        cross join bounds
        where executions.final_state = 'complete'
            and executions.settled_at > bounds.window_end - {{ var('health_baseline_hours') }} * interval '1 hour'
            and executions.settled_at <= bounds.window_end
    ),
    window_components as (
        select
            'success_share' as component,
            {{ health_judged(safe_ratio('figures.completed', 'figures.settled'), ['figures.settled']) }} as component_value,
            {{ var('health_weight_success') }} as weight
        from figures
        union all
        select
            'first_attempt_step_success' as component,
            {{ health_judged(
                safe_ratio('step_outcomes.first_attempt_steps', 'step_outcomes.settled_steps'),
                ['step_outcomes.settled_steps']
            ) }} as component_value,
            {{ var('health_weight_first_attempt') }} as weight
        from step_outcomes
        union all
        select
            'latency' as component,
            {{ health_judged(
                health_latency('figures.p95_ms', 'baseline.p95_ms'),
                ['figures.duration_count', 'baseline.duration_count']
            ) }} as component_value,
            {{ var('health_weight_latency') }} as weight
        from figures
        cross join baseline
    ),
    health as (
        select
            max(case when component = 'success_share' then component_value end) as success_share,
            max(case when component = 'first_attempt_step_success' then component_value end)
                as first_attempt_step_success,
            max(case when component = 'latency' then component_value end) as latency,
            {{ health_score('component_value', 'weight') }} as system_health_score
        from window_components
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
        cast(p99_ms as double precision) as p99_duration_ms,
        cast(health.success_share as double precision) as success_share,
        cast(health.first_attempt_step_success as double precision) as first_attempt_step_success,
        cast(health.latency as double precision) as latency,
        cast(health.system_health_score as double precision) as system_health_score
    from figures
    cross join bounds
    cross join health
{% endmacro %}


{#- The columns of function_based_recommendations: the target, every rule's evidence
    (NULL where a rule has none), the impact and the rationale. -#}
{% macro _rec_columns() %}
    {{ return([
        ('recommendation_type', 'text'), ('pattern', 'text'), ('namespace', 'text'),
        ('task_name', 'text'), ('version', 'text'), ('step', 'text'), ('error_type', 'text'),
        ('previous_version', 'text'), ('current_timeout', 'integer'), ('suggested_timeout', 'integer'),
        ('p95_ms', 'double precision'), ('p99_ms', 'double precision'), ('timeout_ms', 'double precision'),
        ('completed', 'bigint'), ('over_timeout', 'bigint'), ('errored_steps', 'bigint'),
        ('recovered_steps', 'bigint'), ('retry_success_rate', 'double precision'),
        ('avg_duration_ms', 'double precision'), ('execution_count', 'bigint'), ('retried', 'bigint'),
        ('retry_rate', 'double precision'), ('retried_completed', 'bigint'),
        ('avg_retried_ms', 'double precision'), ('avg_first_attempt_ms', 'double precision'),
        ('avg_queue_wait_ms', 'double precision'), ('avg_run_time_ms', 'double precision'),
        ('p95_queue_wait_ms', 'double precision'), ('queue_share', 'double precision'),
        ('tasks_analyzed', 'bigint'), ('on_critical_path', 'bigint'), ('critical_path_ms', 'double precision'),
        ('share', 'double precision'), ('baseline_p95_ms', 'double precision'), ('ratio', 'double precision'),
        ('baseline_completed', 'bigint'), ('avg_ms', 'double precision'), ('baseline_avg_ms', 'double precision'),
        ('estimated_impact_ms_per_day', 'double precision'),
    ]) }}
{% endmacro %}

{% macro _rec_row(values) -%}
    {%- for name, type in _rec_columns() %}
        cast({{ values.get(name, 'null') }} as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro _seconds(expression) -%}
    {{ format_decimal('(' ~ expression ~ ') / 1000', 1) }} || 's'
{%- endmacro %}

{% macro _percent(expression) -%}
    {{ format_decimal('100 * (' ~ expression ~ ')', 1) }} || '%'
{%- endmacro %}

{% macro _text(expression) -%}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}

{#- Evidence-based advice for the scope and period (docs/API.md, recommendations): the
    rules' thresholds are the vars recommendation_*; impact is per day. -#}
{% macro _fn_recommendations_body() %}
    {%- set per_day = '(24.0 / in_period)' -%}
    with steps as (
        select * from {{ _fn_function('function_based_slowest_steps') }}(
            in_task_name, in_namespace, in_period, null, in_version)
    ),
    task_types as (
        select * from {{ _fn_function('function_based_slowest_tasks') }}(
            in_namespace, in_period, null, in_task_name, null)
    ),
    critical_path as (
        select * from {{ _fn_function('function_based_critical_path') }}(
            in_namespace, in_period, null, in_task_name, in_version)
    ),
    timeouts as (
        select * from {{ _fn_relation('step_timeouts') }}
    ),
    versions as (
        select * from {{ _fn_relation('task_version_history') }}
    ),
    {{ _fn_rollup('step_hourly_rollup', 'step_rollup') }},
    {{ _fn_rollup('error_step_outcomes', 'outcomes') }},
    {{ _fn_rollup('task_hourly_rollup', 'task_rollup', '1', 'in_period + ' ~ var('recommendation_baseline_hours')) }},
    {{ _fn_sketch_period('task', 'window_sketches') }},
    {{ _fn_sketch_period('task', 'through_baseline_sketches', 'in_period + ' ~ var('recommendation_baseline_hours')) }},
    step_extra as (
        select
            namespace_name, task_name, task_version, step_name,
            sum(over_timeout_count) as over_timeout,
            sum(retried_completed_count) as retried_completed,
            sum(retried_duration_sum_ms) / nullif(sum(retried_duration_count), 0) as avg_retried_ms,
            sum(first_attempt_duration_sum_ms) / nullif(sum(first_attempt_duration_count), 0) as avg_first_attempt_ms
        from step_rollup
        group by namespace_name, task_name, task_version, step_name
    ),
    step_figures as (
        select steps.*, step_extra.over_timeout, step_extra.retried_completed,
            step_extra.avg_retried_ms, step_extra.avg_first_attempt_ms
        from steps
        inner join step_extra
            on steps.namespace = step_extra.namespace_name
            and steps.task_name = step_extra.task_name
            and steps.version = step_extra.task_version
            and steps.step_name = step_extra.step_name
    ),
    timeout_advice as (
        select {{ _rec_row({
            'recommendation_type': "'timeout_optimization'",
            'namespace': 'step_figures.namespace', 'task_name': 'step_figures.task_name',
            'version': 'step_figures.version', 'step': 'step_figures.step_name',
            'current_timeout': 'timeouts.timeout_seconds',
            'suggested_timeout': var('recommendation_timeout_rounding_seconds') ~ ' * ceil(step_figures.p99_duration_ms * '
                ~ var('recommendation_timeout_headroom') ~ ' / 1000 / ' ~ var('recommendation_timeout_rounding_seconds') ~ ')',
            'p95_ms': 'step_figures.p95_duration_ms', 'p99_ms': 'step_figures.p99_duration_ms',
            'timeout_ms': 'timeouts.timeout_seconds * 1000.0', 'completed': 'step_figures.completed',
            'over_timeout': 'step_figures.over_timeout',
            'estimated_impact_ms_per_day': 'step_figures.over_timeout * ' ~ per_day ~ ' * timeouts.timeout_seconds * 1000.0',
        }) }}
        from step_figures
        inner join timeouts
            on step_figures.namespace = timeouts.namespace
            and step_figures.task_name = timeouts.task_name
            and step_figures.step_name = timeouts.step_name
        where step_figures.duration_count >= {{ var('recommendation_timeout_min_executions') }}
            and step_figures.p95_duration_ms
                >= {{ var('recommendation_timeout_pressure') }} * timeouts.timeout_seconds * 1000
    ),
    futile_outcomes as (
        select
            namespace_name, task_name, task_version, step_name, error_type,
            sum(errored_steps) as errored_steps,
            sum(recovered_steps) as recovered_steps
        from outcomes
        group by namespace_name, task_name, task_version, step_name, error_type
    ),
    futile_advice as (
        select {{ _rec_row({
            'recommendation_type': "'retry_policy'", 'pattern': "'futile_retries'",
            'namespace': 'futile_outcomes.namespace_name', 'task_name': 'futile_outcomes.task_name',
            'version': 'futile_outcomes.task_version', 'step': 'futile_outcomes.step_name',
            'error_type': 'futile_outcomes.error_type',
            'errored_steps': 'futile_outcomes.errored_steps', 'recovered_steps': 'futile_outcomes.recovered_steps',
            'retry_success_rate': 'cast(futile_outcomes.recovered_steps as double precision) / futile_outcomes.errored_steps',
            'avg_duration_ms': 'steps.avg_duration_ms',
            'estimated_impact_ms_per_day': '(futile_outcomes.errored_steps - futile_outcomes.recovered_steps) * '
                ~ per_day ~ ' * coalesce(steps.avg_duration_ms, 0)',
        }) }}
        from futile_outcomes
        left join steps
            on futile_outcomes.namespace_name = steps.namespace
            and futile_outcomes.task_name = steps.task_name
            and futile_outcomes.task_version = steps.version
            and futile_outcomes.step_name = steps.step_name
        where futile_outcomes.errored_steps >= {{ var('recommendation_futile_min_steps') }}
            and futile_outcomes.recovered_steps
                <= {{ var('recommendation_futile_max_success') }} * futile_outcomes.errored_steps
    ),
    first_attempt_advice as (
        select {{ _rec_row({
            'recommendation_type': "'retry_policy'", 'pattern': "'first_attempt_failures'",
            'namespace': 'namespace', 'task_name': 'task_name', 'version': 'version', 'step': 'step_name',
            'execution_count': 'execution_count', 'retried': 'retried', 'retry_rate': 'retry_rate',
            'retried_completed': 'retried_completed',
            'retry_success_rate': 'cast(retried_completed as double precision) / retried',
            'avg_retried_ms': 'avg_retried_ms', 'avg_first_attempt_ms': 'avg_first_attempt_ms',
            'estimated_impact_ms_per_day': 'retried_completed * ' ~ per_day
                ~ ' * greatest(coalesce(avg_retried_ms - avg_first_attempt_ms, 0), 0)',
        }) }}
        from step_figures
        where execution_count >= {{ var('recommendation_retry_min_executions') }}
            and retried > 0
            and retry_rate >= {{ var('recommendation_retry_rate') }}
            and retried_completed >= {{ var('recommendation_retry_recovery') }} * retried
    ),
    capacity_advice as (
        select {{ _rec_row({
            'recommendation_type': "'capacity'",
            'namespace': 'namespace', 'task_name': 'task_name', 'version': 'version',
            'completed': 'completed', 'avg_queue_wait_ms': 'avg_queue_wait_ms',
            'avg_run_time_ms': 'avg_run_time_ms', 'p95_queue_wait_ms': 'p95_queue_wait_ms',
            'queue_share': 'avg_queue_wait_ms / (avg_queue_wait_ms + avg_run_time_ms)',
            'estimated_impact_ms_per_day': 'completed * ' ~ per_day ~ ' * avg_queue_wait_ms',
        }) }}
        from task_types
        where (in_version is null or version = in_version)
            and completed >= {{ var('recommendation_capacity_min_tasks') }}
            and avg_queue_wait_ms > 0
            and avg_queue_wait_ms >= {{ var('recommendation_capacity_queue_ratio') }} * avg_run_time_ms
    ),
    critical_path_advice as (
        select {{ _rec_row({
            'recommendation_type': "'critical_path'",
            'namespace': 'namespace', 'task_name': 'task_name', 'version': 'version', 'step': 'step_name',
            'tasks_analyzed': 'tasks_analyzed', 'on_critical_path': 'on_critical_path',
            'critical_path_ms': 'critical_path_ms', 'share': 'critical_path_share',
            'estimated_impact_ms_per_day': 'critical_path_ms * ' ~ per_day,
        }) }}
        from critical_path
        where tasks_analyzed >= {{ var('recommendation_critical_path_min_tasks') }}
            and critical_path_share >= {{ var('recommendation_critical_path_share') }}
    ),
    {#- The baseline's sketch is hours 1..in_period + baseline less hours 1..in_period. -#}
    sided_sketches as (
        select namespace_name, task_name, task_version, metric, sketch_index, item_count,
            {{ _text("'window'") }} as side
        from window_sketches
        where metric = 'duration'
        union all
        select namespace_name, task_name, task_version, metric, sketch_index, sum(item_count) as item_count,
            {{ _text("'baseline'") }} as side
        from (
            select namespace_name, task_name, task_version, metric, sketch_index, item_count
            from through_baseline_sketches
            where metric = 'duration'
            union all
            select namespace_name, task_name, task_version, metric, sketch_index, -item_count
            from window_sketches
            where metric = 'duration'
        ) as differences
        group by namespace_name, task_name, task_version, metric, sketch_index
        having sum(item_count) <> 0
    ),
    {{ sketch_percentiles('sided_percentiles', 'sided_sketches', ['namespace_name', 'task_name', 'task_version', 'side']) }},
    sided as (
        select
            namespace_name, task_name, task_version,
            case when hour_index <= in_period then 'window' else 'baseline' end as side,
            sum(completed_count) as completed,
            sum(duration_sum_ms) / nullif(sum(duration_count), 0) as avg_ms
        from task_rollup
        group by namespace_name, task_name, task_version,
            case when hour_index <= in_period then 'window' else 'baseline' end
    ),
    sided_figures as (
        select sided.*, sided_percentiles.p95
        from sided
        inner join sided_percentiles
            on sided.namespace_name = sided_percentiles.namespace_name
            and sided.task_name = sided_percentiles.task_name
            and sided.task_version = sided_percentiles.task_version
            and sided.side = sided_percentiles.side
    ),
    baseline_advice as (
        select {{ _rec_row({
            'recommendation_type': "'regression'", 'pattern': "'baseline'",
            'namespace': 'current.namespace_name', 'task_name': 'current.task_name',
            'version': 'current.task_version',
            'p95_ms': 'current.p95', 'baseline_p95_ms': 'baseline.p95', 'ratio': 'current.p95 / baseline.p95',
            'completed': 'current.completed', 'baseline_completed': 'baseline.completed',
            'avg_ms': 'current.avg_ms', 'baseline_avg_ms': 'baseline.avg_ms',
            'estimated_impact_ms_per_day': 'current.completed * ' ~ per_day
                ~ ' * greatest(current.avg_ms - baseline.avg_ms, 0)',
        }) }}
        from sided_figures as current
        inner join sided_figures as baseline
            on current.namespace_name = baseline.namespace_name
            and current.task_name = baseline.task_name
            and current.task_version = baseline.task_version
            and baseline.side = 'baseline'
        where current.side = 'window'
            and current.completed >= {{ var('recommendation_regression_min_tasks') }}
            and baseline.completed >= {{ var('recommendation_regression_min_tasks') }}
            and baseline.p95 > 0
            and current.p95 >= {{ var('recommendation_regression_ratio') }} * baseline.p95
    ),
    version_advice as (
        select {{ _rec_row({
            'recommendation_type': "'regression'", 'pattern': "'previous_version'",
            'namespace': 'current.namespace', 'task_name': 'current.task_name', 'version': 'current.version',
            'previous_version': 'previous.version',
            'p95_ms': 'current.p95_duration_ms', 'baseline_p95_ms': 'previous.p95_duration_ms',
            'ratio': 'current.p95_duration_ms / previous.p95_duration_ms',
            'completed': 'current.completed', 'baseline_completed': 'previous.completed',
            'avg_ms': 'current.avg_duration_ms', 'baseline_avg_ms': 'previous.avg_duration_ms',
            'estimated_impact_ms_per_day': 'current.completed * ' ~ per_day
                ~ ' * greatest(current.avg_duration_ms - previous.avg_duration_ms, 0)',
        }) }}
        from task_types as current
        inner join versions as current_version
            on current.namespace = current_version.namespace_name
            and current.task_name = current_version.task_name
            and current.version = current_version.task_version
        inner join versions as previous_version
            on current_version.namespace_name = previous_version.namespace_name
            and current_version.task_name = previous_version.task_name
            and previous_version.version_rank = current_version.version_rank - 1
        inner join task_types as previous
            on previous.namespace = previous_version.namespace_name
            and previous.task_name = previous_version.task_name
            and previous.version = previous_version.task_version
        where (in_version is null or current.version = in_version)
            and current.completed >= {{ var('recommendation_regression_min_tasks') }}
            and previous.completed >= {{ var('recommendation_regression_min_tasks') }}
            and previous.p95_duration_ms > 0
            and current.p95_duration_ms >= {{ var('recommendation_regression_ratio') }} * previous.p95_duration_ms
    ),
    advice as (
        select * from timeout_advice
        union all select * from futile_advice
        union all select * from first_attempt_advice
        union all select * from capacity_advice
        union all select * from critical_path_advice
        union all select * from baseline_advice
        union all select * from version_advice
    )
    select
        advice.*,
        case
            when recommendation_type = 'timeout_optimization' then
                'p95 ' || {{ _seconds('p95_ms') }} || ' and p99 ' || {{ _seconds('p99_ms') }}
                || ' against a ' || {{ _text('current_timeout') }} || 's timeout; '
                || {{ _text('over_timeout') }} || ' of ' || {{ _text('completed') }}
                || ' completed executions ran longer'
            when pattern = 'futile_retries' then
                {{ _text('recovered_steps') }} || ' of ' || {{ _text('errored_steps') }}
                || ' steps that failed with ' || error_type || ' later completed ('
                || {{ _percent('retry_success_rate') }} || '); retrying rarely helps'
            when pattern = 'first_attempt_failures' then
                {{ _text('retried') }} || ' of ' || {{ _text('execution_count') }} || ' executions ('
                || {{ _percent('retry_rate') }} || ') needed a retry and ' || {{ _text('retried_completed') }}
                || ' of those completed (' || {{ _percent('retry_success_rate') }} || '); first attempts fail often'
            when recommendation_type = 'capacity' then
                'tasks waited ' || {{ _seconds('avg_queue_wait_ms') }} || ' in queue on average against '
                || {{ _seconds('avg_run_time_ms') }} || ' of run time (' || {{ _percent('queue_share') }}
                || ' queued) over ' || {{ _text('completed') }} || ' completed tasks'
            when recommendation_type = 'critical_path' then
                step || ' makes up ' || {{ _percent('share') }} || ' of critical-path time, on the critical path of '
                || {{ _text('on_critical_path') }} || ' of ' || {{ _text('tasks_analyzed') }} || ' tasks'
            when pattern = 'baseline' then
                'p95 rose to ' || {{ _seconds('p95_ms') }} || ' from ' || {{ _seconds('baseline_p95_ms') }}
                || ' over the previous 7 days (' || {{ format_decimal('ratio', 2) }} || 'x) across '
                || {{ _text('completed') }} || ' completed tasks'
            else
                'p95 of version ' || version || ' is ' || {{ _seconds('p95_ms') }} || ' against '
                || {{ _seconds('baseline_p95_ms') }} || ' for version ' || previous_version
                || ' (' || {{ format_decimal('ratio', 2) }} || 'x)'
        end as rationale
    from advice
    order by estimated_impact_ms_per_day desc, recommendation_type, namespace, task_name, version, step
    limit coalesce(in_limit, 2147483647)
{% endmacro %}

{#- The relations the function bodies read (by model or seed name). -#}
{% macro _fn_reads() -%}
    {{ return([
        'performance_overview', 'int_task_executions', 'int_step_executions', 'step_timeouts',
        'task_version_history', 'task_hourly_rollup', 'step_hourly_rollup', 'error_hourly_rollup',
        'error_step_outcomes', 'step_dependency_rollup', 'task_duration_sketches',
        'task_sketch_spans', 'task_sketch_keys', 'step_sketch_spans', 'step_sketch_keys',
    ]) }}
{%- endmacro %}

{#- Create the functions (on-run-end, and `dbt run-operation create_analytics_functions`):
    unless the var `tasker_analytics_functions` is false, and only once every relation
    they read exists, so that a run that did not build this package's models (a team's
    `dbt run -s their_model`) never fails here; it logs why the functions were left. -#}
{% macro create_analytics_functions() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- if not var('tasker_analytics_functions', true) -%}
        {% do log("tasker_analytics: analyst SQL functions not created (var tasker_analytics_functions is false)", info=true) %}
        {{ return('') }}
    {%- endif -%}
    {%- set missing = [] -%}
    {#- In a hook, only once the relations exist. `dbt run-operation create_analytics_functions`
        (the served DuckDB copy of a Spark build) asks for them outright: there a catalog
        lookup would open a transaction that run-operation never commits. -#}
    {%- for name in (_fn_reads() if flags.WHICH != 'run-operation' else []) -%}
        {%- set relation = _fn_relation(name) -%}
        {%- if target.type != 'spark' and adapter.get_relation(
            database=relation.database or target.database, schema=relation.schema, identifier=relation.identifier
        ) is none -%}
            {%- do missing.append(relation | string) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
        {% do log("tasker_analytics: analyst SQL functions not created: not built yet: " ~ missing | join(', '), info=true) %}
        {{ return('') }}
    {%- endif -%}
    {{ return(adapter.dispatch('create_analytics_functions', 'tasker_analytics')()) }}
{% endmacro %}

{% macro duckdb__create_analytics_functions() %}
    {% set statements %}
    create or replace macro {{ _fn_function('function_based_analytics_metrics') }}(in_start_date, in_period) as table
        {{ _fn_metrics_body() }};
    create or replace macro {{ _fn_function('function_based_slowest_tasks') }}(
        in_namespace, in_period, in_limit := null, in_task_name := null, in_version := null
    ) as table {{ _fn_slowest_tasks_body() }};
    create or replace macro {{ _fn_function('function_based_slowest_steps') }}(
        in_task_name, in_namespace, in_period, in_limit := null, in_version := null
    ) as table {{ _fn_slowest_steps_body() }};
    create or replace macro {{ _fn_function('function_based_error_patterns') }}(
        in_namespace, in_period, in_limit := null, in_task_name := null, in_version := null
    ) as table {{ _fn_error_patterns_body() }};
    create or replace macro {{ _fn_function('function_based_duration_distribution') }}(
        in_namespace, in_period, in_task_name := null, in_version := null
    ) as table {{ _fn_distribution_body() }};
    create or replace macro {{ _fn_function('function_based_hourly_history') }}(
        in_namespace, in_period, in_task_name := null, in_version := null
    ) as table {{ _fn_history_body() }};
    create or replace macro {{ _fn_function('function_based_critical_path') }}(
        in_namespace, in_period, in_limit := null, in_task_name := null, in_version := null
    ) as table {{ _fn_critical_path_body() }};
    create or replace macro {{ _fn_function('function_based_recommendations') }}(
        in_namespace, in_period, in_limit := null, in_task_name := null, in_version := null
    ) as table {{ _fn_recommendations_body() }};
    {% endset %}
    {% do run_query(statements) %}
{% endmacro %}

{#- Spark: not created. Spark 4 has SQL table functions, but their bodies cannot take a
    LIMIT from a parameter and they would serve no one here: a Spark build is served from
    a DuckDB copy of its marts (tasker_analytics.build.spark), where these functions are created
    as DuckDB macros. docs/SCALING.md. -#}
{% macro spark__create_analytics_functions() %}
    {% if execute %}
        {% do log("analyst SQL functions are not created on spark (docs/SCALING.md); the served DuckDB copy has them", info=true) %}
    {% endif %}
{% endmacro %}

{#- Postgres: the columns of a returns table (...) clause. -#}
{% macro _pg_figures(label) -%}
    avg_{{ label }}_ms double precision, p50_{{ label }}_ms double precision,
    p95_{{ label }}_ms double precision, p99_{{ label }}_ms double precision
{%- endmacro %}

{% macro postgres__create_analytics_functions() %}
    {% set scope_arguments %}in_limit integer default null, in_task_name text default null, in_version text default null{% endset %}
    {% set statements %}
    create or replace function {{ _fn_function('function_based_analytics_metrics') }}(in_start_date timestamp, in_period integer)
    returns table (window_start timestamp, window_end timestamp, total_tasks bigint, settled bigint,
        completed bigint, failed bigint, cancelled bigint, resolved_manually bigint, retried bigint,
        active_tasks bigint, completion_rate double precision, failure_rate double precision,
        retry_rate double precision, avg_duration_ms double precision, p50_duration_ms double precision,
        p95_duration_ms double precision, p99_duration_ms double precision,
        success_share double precision, first_attempt_step_success double precision,
        latency double precision, system_health_score double precision)
    language sql stable as $fn$ {{ _fn_metrics_body() }} $fn$;

    create or replace function {{ _fn_function('function_based_slowest_tasks') }}(
        in_namespace text, in_period integer, {{ scope_arguments }})
    returns table (namespace text, task_name text, version text, execution_count bigint, completed bigint,
        failed bigint, {{ _pg_figures('duration') }}, failure_rate double precision,
        {{ _pg_figures('queue_wait') }}, {{ _pg_figures('run_time') }},
        duration_count bigint, negative_durations bigint)
    language sql stable as $fn$ {{ _fn_slowest_tasks_body() }} $fn$;

    create or replace function {{ _fn_function('function_based_slowest_steps') }}(
        in_task_name text, in_namespace text, in_period integer, in_limit integer default null,
        in_version text default null)
    returns table (namespace text, task_name text, version text, step_name text, execution_count bigint,
        completed bigint, failed bigint, retried bigint, {{ _pg_figures('duration') }},
        failure_rate double precision, retry_rate double precision,
        {{ _pg_figures('queue_wait') }}, {{ _pg_figures('run_time') }},
        duration_count bigint, negative_durations bigint)
    language sql stable as $fn$ {{ _fn_slowest_steps_body() }} $fn$;

    create or replace function {{ _fn_function('function_based_error_patterns') }}(
        in_namespace text, in_period integer, {{ scope_arguments }})
    returns table (error_type text, frequency bigint, affected_steps text[], error_classes text[],
        first_seen timestamp, last_seen timestamp, errored_steps bigint, recovered_steps bigint,
        retry_success_rate double precision)
    language sql stable as $fn$ {{ _fn_error_patterns_body() }} $fn$;

    create or replace function {{ _fn_function('function_based_duration_distribution') }}(
        in_namespace text, in_period integer, in_task_name text default null, in_version text default null)
    returns table (completed_tasks bigint, duration_count bigint, avg_ms double precision, min_ms double precision,
        max_ms double precision, p50_ms double precision, p95_ms double precision, p99_ms double precision,
        negative_durations bigint, percentile_relative_error double precision)
    language sql stable as $fn$ {{ _fn_distribution_body() }} $fn$;

    create or replace function {{ _fn_function('function_based_hourly_history') }}(
        in_namespace text, in_period integer, in_task_name text default null, in_version text default null)
    returns table (hour_index integer, settled bigint, completed bigint, failed bigint,
        completion_rate double precision, p95_duration_ms double precision)
    language sql stable as $fn$ {{ _fn_history_body() }} $fn$;

    create or replace function {{ _fn_function('function_based_critical_path') }}(
        in_namespace text, in_period integer, {{ scope_arguments }})
    returns table (namespace text, task_name text, version text, step_name text, tasks_analyzed bigint,
        on_critical_path bigint, critical_path_ms double precision, critical_path_share double precision,
        dependents_blocked bigint, blocked_wait_ms double precision)
    language sql stable as $fn$ {{ _fn_critical_path_body() }} $fn$;

    create or replace function {{ _fn_function('function_based_recommendations') }}(
        in_namespace text, in_period integer, {{ scope_arguments }})
    returns table (
        {%- for name, type in _rec_columns() %}{{ name }} {{ type }}, {% endfor -%}
        rationale text)
    language sql stable as $fn$ {{ _fn_recommendations_body() }} $fn$;
    {% endset %}
    {% do run_query(statements) %}
{% endmacro %}
