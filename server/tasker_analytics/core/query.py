"""What a bottleneck analysis is asked for: one validated `Scope` and `BottleneckQuery`,
built the same way for the HTTP API, the dashboard, the Python API and the CLI, and the
cache key parameters a body depends on.

`period` is the one name of the analysis period (whole hours ending at the build's
`as_of`) from the query string to the SQL functions' `in_period` argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tasker_analytics.config.settings import Settings

DEFAULT_PERIOD = 24
# Longest accepted scope values: the widths of Tasker's own columns (varchar(64) for the
# namespace and task names, varchar(16) for the version).
SCOPE_WIDTHS = {"namespace": 64, "task_name": 64, "version": 16}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidQuery(ValueError):
    """A bad value, with the name of the parameter it was given for."""

    def __init__(self, parameter: str, detail: str):
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail


def _scope_value(name: str, value: Any) -> str | None:
    if value is None:
        return None
    width = SCOPE_WIDTHS[name]
    if not isinstance(value, str) or value == "" or len(value) > width or _CONTROL.search(value):
        raise InvalidQuery(name, f"{name} must be 1 to {width} characters without control characters")
    return value


def _whole(name: str, value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InvalidQuery(name, f"{name} must be a whole number from 1 to {maximum}")
    return value


@dataclass(frozen=True, slots=True)
class Scope:
    """Which task types a bottleneck analysis covers; None means all."""

    namespace: str | None = None
    task_name: str | None = None
    version: str | None = None

    @classmethod
    def validated(cls, namespace: Any = None, task_name: Any = None, version: Any = None) -> Scope:
        """A scope of values no wider than Tasker's columns, without control characters;
        InvalidQuery names the first bad one."""
        return cls(
            _scope_value("namespace", namespace),
            _scope_value("task_name", task_name),
            _scope_value("version", version),
        )

    def as_dict(self) -> dict[str, str]:
        values = {"namespace": self.namespace, "task_name": self.task_name, "version": self.version}
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True, slots=True)
class BottleneckQuery:
    """A scope, a period in hours and a row limit per list, checked against the settings'
    maxima. Build it with `validated`; equal queries share a cached body."""

    scope: Scope = field(default_factory=Scope)
    period: int = DEFAULT_PERIOD
    limit: int = 10

    @classmethod
    def validated(
        cls,
        settings: Settings,
        *,
        namespace: Any = None,
        task_name: Any = None,
        version: Any = None,
        period: Any = DEFAULT_PERIOD,
        limit: Any = None,
    ) -> BottleneckQuery:
        """The query, or InvalidQuery naming the first bad value. A missing limit is the
        settings' default, so that leaving it out and giving the default are one query."""
        scope = Scope.validated(namespace, task_name, version)
        period = _whole("period", period, settings.max_period_hours)
        if period > settings.longest_period:
            kept = settings.longest_period
            raise InvalidQuery(
                "period",
                f"period {period} is longer than the history the builds keep: "
                f"TASKER_ANALYTICS_RETENTION_DAYS={settings.retention_days} keeps {kept} hours "
                f"(TASKER_ANALYTICS_MAX_PERIOD_HOURS={settings.max_period_hours}); give at most {kept}",
            )
        limit = settings.default_bottleneck_results if limit is None else limit
        return cls(scope, period, _whole("limit", limit, settings.max_bottleneck_results))

    def parameters(self) -> dict[str, Any]:
        """What a bottleneck body depends on besides the build: its cache key's parameters."""
        return {**self.scope.as_dict(), "period": self.period, "limit": self.limit}
