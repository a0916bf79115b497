"""How a figure is rounded and counted in every body (docs/API.md, Conventions)."""

from __future__ import annotations

from typing import Any


def ms(value: Any) -> float | None:
    """Milliseconds to 1 decimal. Rounding to 6 decimals first removes the last-bit noise
    in which engines differ (e.g. a percentile interpolated to x.05), so every engine
    serves the same figure."""
    return None if value is None else round(round(float(value), 6), 1)


def rate(value: Any) -> float:
    return round(round(float(value or 0.0), 9), 4)


def ratio(numerator: int, denominator: int) -> float:
    return 0.0 if denominator == 0 else numerator / denominator


def whole(value: Any) -> int:
    return int(value or 0)
