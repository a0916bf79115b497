"""The figures the attack and fault tests measure, for docs/RELIABILITY.md."""

from __future__ import annotations

import json
import os


def record_figure(name: str, value: float | int | str) -> None:
    """Keep a figure a test measured, for docs/RELIABILITY.md: appended as a JSON line to
    the file TASKER_ANALYTICS_RECORD_FIGURES names (`make reliability`), else dropped."""
    path = os.environ.get("TASKER_ANALYTICS_RECORD_FIGURES")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"figure": name, "value": value}) + "\n")
