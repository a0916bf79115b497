{#- Rollups (docs/API.md, "Served from rollups"): hour buckets counted back from as_of
    and the log-bucket duration sketch that makes percentiles mergeable. -#}

{#- The hour bucket of a timestamp: k when ts falls in (as_of - k h, as_of - (k-1) h],
    i.e. when as_of - ts lies in [(k-1) h, k h). -#}
{% macro hour_index(ts) -%}
    {{ return(adapter.dispatch('hour_index', 'tasker_analytics')(ts)) }}
{%- endmacro %}

{% macro default__hour_index(ts) -%}
    cast(floor(extract(epoch from ({{ as_of() }} - {{ ts }})) / 3600) + 1 as integer)
{%- endmacro %}

{% macro duckdb__hour_index(ts) -%}
    cast(floor((epoch_us({{ as_of() }}) - epoch_us({{ ts }})) / 3600000000.0) + 1 as integer)
{%- endmacro %}

{% macro spark__hour_index(ts) -%}
    cast(floor((unix_micros({{ as_of() }}) - unix_micros({{ ts }})) / 3600000000.0) + 1 as integer)
{%- endmacro %}

{#- How many hour buckets the rollups keep: the longest period plus the regression
    baseline (var rollup_hours). -#}
{% macro rollup_hours() -%}
    {{ var('rollup_hours') | int }}
{%- endmacro %}

{% macro in_rollup_range(ts) -%}
    {{ ts }} <= {{ as_of() }} and {{ ts }} > {{ window_start(var('rollup_hours') | int) }}
{%- endmacro %}

{#- The rows of a task or step execution model settled within the rollup hours, with their
    hour bucket: all settled ones, or (timed) those settled complete with a duration that
    is not negative (negative ones are left out of every duration figure). -#}
{% macro rollup_rows(relation, timed=false) -%}
    select
        *,
        {{ hour_index('settled_at') }} as hour_index
    from {{ relation }}
    where {% if timed %}final_state = 'complete' and not has_negative_duration{% else %}is_settled{% endif %}
        and {{ in_rollup_range('settled_at') }}
{%- endmacro %}

{#- gamma = (1 + alpha) / (1 - alpha) of the sketch (var sketch_relative_accuracy). -#}
{% macro sketch_gamma() -%}
    {%- set alpha = var('sketch_relative_accuracy') | float -%}
    ((1 + {{ alpha }}) / (1 - {{ alpha }}))
{%- endmacro %}

{#- The bucket of a duration x >= 0: ceil(ln(x) / ln(gamma)); 0 has a bucket of its own. -#}
{% macro sketch_zero_index() %}-1000000{% endmacro %}

{% macro sketch_index(x) -%}
    case
        when {{ x }} > 0 then cast(ceil(ln({{ x }}) / ln({{ sketch_gamma() }})) as integer)
        when {{ x }} = 0 then {{ sketch_zero_index() }}
    end
{%- endmacro %}

{#- The representative value of bucket i: 2 gamma^i / (gamma + 1), within alpha of every
    value in the bucket. -#}
{% macro sketch_value(i) -%}
    case when {{ i }} = {{ sketch_zero_index() }} then cast(0.0 as {{ type_double() }})
        else 2 * power({{ sketch_gamma() }}, {{ i }}) / ({{ sketch_gamma() }} + 1)
    end
{%- endmacro %}

{#- CTEs `<name>` with one row per (keys..., metric; keys alone without with_metric): p50, p95 and p99 of the merged
    sketch rows of `source` (columns keys..., metric, sketch_index, item_count), as
    percentile_cont over the buckets' representative values. -#}
{% macro sketch_percentiles(name, source, keys, with_metric=true) -%}
    {%- set group = (keys + (['metric'] if with_metric else [])) | join(', ') -%}
    {{ name }}_merged as (
        select {{ group }}, sketch_index, sum(item_count) as n
        from {{ source }}
        group by {{ group }}, sketch_index
    ),
    {{ name }}_ranked as (
        select
            {{ group }}, sketch_index,
            sum(n) over (partition by {{ group }} order by sketch_index
                rows between unbounded preceding and current row) as cumulative,
            sum(n) over (partition by {{ group }}) as total
        from {{ name }}_merged
    ),
    {{ name }}_ranks as (
        select
            {{ group }},
            {%- for q, label in [(0.5, 'p50'), (0.95, 'p95'), (0.99, 'p99')] %}
            min(case when cumulative > floor({{ q }} * (total - 1)) then sketch_index end) as {{ label }}_lo,
            min(case when cumulative > ceil({{ q }} * (total - 1)) then sketch_index end) as {{ label }}_hi,
            cast(max({{ q }} * (total - 1) - floor({{ q }} * (total - 1))) as {{ type_double() }}) as {{ label }}_fraction{{ "," if not loop.last }}
            {%- endfor %}
        from {{ name }}_ranked
        group by {{ group }}
    ),
    {{ name }} as (
        select
            {{ group }},
            {%- for label in ['p50', 'p95', 'p99'] %}
            cast({{ sketch_value(label ~ '_lo') }} + {{ label }}_fraction
                * ({{ sketch_value(label ~ '_hi') }} - {{ sketch_value(label ~ '_lo') }}) as {{ type_double() }})
                as {{ label }}{{ "," if not loop.last }}
            {%- endfor %}
        from {{ name }}_ranks
    )
{%- endmacro %}

{#- Sketch spans (docs/ANALYSTS.md): the sketch of hour buckets 1..N in a few rows, so a
    period ending at as_of is read without merging its hours.
    sketch_keys: one integer key_id per (scope columns..., metric) of a sketch model.
    sketch_spans: per (key_id, sketch_index), the count of the values in hour buckets 1..N,
    one row per hour bucket where that count changes, valid for N in [from_hour, to_hour).
    The rows of a period of N hours: from_hour <= N and to_hour > N. -#}
{% macro sketch_keys(sketches, columns) -%}
    {%- set keys = (columns + ['metric']) | join(', ') -%}
select
    cast(row_number() over (order by {{ keys }}) as integer) as key_id,
    {{ keys }}
from (
    select distinct {{ keys }}
    from {{ sketches }}
) as distinct_keys
{%- endmacro %}

{% macro sketch_spans(sketches, keys, columns) -%}
select
    keys.key_id,
    sketches.sketch_index,
    sketches.hour_index as from_hour,
    {%- set cell = 'partition by keys.key_id, sketches.sketch_index order by sketches.hour_index' %}
    cast(coalesce(lead(sketches.hour_index) over ({{ cell }}), 2147483647) as integer) as to_hour,
    cast(sum(sketches.item_count) over ({{ cell }} rows between unbounded preceding and current row) as bigint)
        as cumulative_count
from {{ sketches }} as sketches
inner join {{ keys }} as keys
    on sketches.metric = keys.metric
    {%- for column in columns %}
    and sketches.{{ column }} = keys.{{ column }}
    {%- endfor %}
{%- endmacro %}
