"""How the dashboard writes a figure: the text an operator reads (thousands separators,
milliseconds, percentages, ages, duration labels) and the exact value a `data-value`
attribute carries (the figure as the JSON API serves it, which the tests and scripts
read). Plain strings only, no markup: the templates' autoescaping owns the HTML.
ui/views.py registers these as the templates' filters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tasker_analytics.core.schemas import rfc3339

MISSING = "—"


def api_value(value: Any) -> str:
    """The figure exactly as the JSON API has it, for data-value attributes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value)


def thousands(value: int | None) -> str:
    """A count: 12,345."""
    return MISSING if value is None else f"{value:,}"


def ms(value: float | None) -> str:
    """A duration (given in milliseconds) in the unit a person reads it in: 850 ms,
    12.3 s, 4.5 min, 2.1 h, 1.5 days; the exact figure is in the data-value attribute."""
    if value is None:
        return MISSING
    seconds = value / 1000
    if abs(value) < 1000:
        return f"{value:.0f} ms"
    if abs(seconds) < 60:
        return f"{seconds:.1f} s"
    if abs(seconds) < 3600:
        return f"{seconds / 60:.1f} min"
    if abs(seconds) < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def pct(rate: float | None) -> str:
    """A rate as a percentage: 97.25%."""
    # Rates are served with 4 decimals, so 2 decimals of a percentage show them exactly.
    return MISSING if rate is None else f"{rate * 100:.2f}%"


def duration_label(ms: float) -> str:
    """Histogram buckets and their axis: 3 significant digits, ms below a second."""
    if ms < 1000:
        return f"{ms:.3g} ms"
    return f"{ms / 1000:.3g} s"


def short_ms(ms: float) -> str:
    """Axis labels: 850 ms, 12.2 s."""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def age(seconds: float) -> str:
    """How old the data is: 45 s, 12 min, 3.5 h, 2.1 days."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
