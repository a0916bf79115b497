"""Tasker Analytics: performance metrics and bottleneck analysis over the built marts.

The Python API returns the same typed objects (msgspec Structs, core/schemas.py) with the same
figures as the HTTP API, cached with the same TTLs. It reads the warehouse the
TASKER_ANALYTICS_* environment names (README, Configuration):

    import tasker_analytics
    metrics = tasker_analytics.performance_metrics()
    report = tasker_analytics.bottleneck_analysis(namespace="payments", period=24)
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasker_analytics.core.analytics import Analytics
    from tasker_analytics.core.schemas import Bottlenecks, Performance, SlowStep, SlowTask

__all__ = ["bottleneck_analysis", "performance_metrics", "slowest_steps", "slowest_tasks", "reset"]

_default: Analytics | None = None
_lock = threading.Lock()


def _analytics() -> Analytics:
    global _default
    with _lock:
        if _default is None:
            from tasker_analytics.core.analytics import Analytics

            _default = Analytics()
        return _default


def reset() -> None:
    """Forget the default connection (e.g. after changing TASKER_ANALYTICS_* variables)."""
    global _default
    with _lock:
        if _default is not None:
            _default.close()
        _default = None


def performance_metrics() -> Performance:
    """The performance endpoint's figures (cached for the performance TTL, 90 s by default)."""
    return _analytics().performance_metrics()


def bottleneck_analysis(
    namespace: str | None = None,
    period: int = 24,
    task_name: str | None = None,
    version: str | None = None,
    limit: int | None = None,
) -> Bottlenecks:
    """The bottleneck endpoint's figures for a scope and period (hours); ValueError (an
    InvalidQuery, its `parameter` the argument's name) for a bad argument, as the HTTP API
    answers 400."""
    from tasker_analytics.core.query import BottleneckQuery

    analytics = _analytics()
    query = BottleneckQuery.validated(
        analytics.settings, namespace=namespace, task_name=task_name, version=version, period=period, limit=limit
    )
    return analytics.bottleneck_analysis(query)


def slowest_tasks(
    namespace: str | None = None,
    hours: int = 24,
    limit: int | None = None,
    task_name: str | None = None,
    version: str | None = None,
) -> list[SlowTask]:
    """Slowest task types of a scope over the last `hours`, slowest first; ValueError (an
    InvalidQuery naming `hours`, not the HTTP API's `period`) for a bad argument."""
    return _in_hours(namespace, hours, task_name, version, limit).slowest_tasks


def slowest_steps(
    task_name: str | None = None,
    namespace: str | None = None,
    hours: int = 24,
    limit: int | None = None,
    version: str | None = None,
) -> list[SlowStep]:
    """Slowest steps of a scope over the last `hours`, slowest first; ValueError (an
    InvalidQuery naming `hours`, not the HTTP API's `period`) for a bad argument."""
    return _in_hours(namespace, hours, task_name, version, limit).slowest_steps


_PERIOD_WORD = re.compile(r"\bperiod\b")


def _in_hours(
    namespace: str | None, hours: int, task_name: str | None, version: str | None, limit: int | None
) -> Bottlenecks:
    """bottleneck_analysis for the wrappers whose period argument is called `hours`: an
    error about the period names `hours`, the argument their caller gave."""
    from tasker_analytics.core.query import InvalidQuery

    try:
        return bottleneck_analysis(namespace, hours, task_name, version, limit)
    except InvalidQuery as error:
        if error.parameter != "period":
            raise
        raise InvalidQuery("hours", _PERIOD_WORD.sub("hours", error.detail)) from None
