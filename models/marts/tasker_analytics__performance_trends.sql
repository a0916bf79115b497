{{ config(alias='performance_trends') }}
{#- Served: the performance trends (1h / 4h / 24h by default) of the performance endpoint. -#}
with window_stats as (
    select * from {{ ref('tasker_analytics__int_window_task_stats') }}
    where window_hours in ({{ var('trend_windows_hours') | join(', ') }})
),

final as (
    select
        window_hours,
        cast(window_hours as {{ dbt.type_string() }}) || 'h' as window_label,
        created_count,
        settled_count,
        completed_count,
        failed_count,
        cancelled_count,
        resolved_manually_count,
        retried_count,
        {{ safe_ratio('completed_count', 'settled_count') }} as completion_rate,
        {{ safe_ratio('failed_count', 'settled_count') }} as error_rate,
        {{ safe_ratio('retried_count', 'settled_count') }} as retry_rate,
        avg_duration_ms,
        p50_duration_ms,
        p95_duration_ms,
        p99_duration_ms,
        duration_count,
        negative_duration_count
    from window_stats
)

select * from final
