"""Reading a dbt build's output, and comparing the tables of two builds (an incremental
build and a full refresh: tests/integration/test_incremental.py, tests/system/test_spark.py)."""

from __future__ import annotations

import math
import re

from tasker_analytics.build.postgres import COMPLETE_MARKER

# Differ between any two builds by design.
BUILD_COLUMNS = {"build_id", "built_at"}
# Bookkeeping of the incremental runs themselves.
# The builds' own bookkeeping (watermarks, touched tasks, the Postgres completion marker's
# wall-clock time) differs between any two builds by design.
STATE_RELATIONS = {"int_build_watermarks", "int_touched_tasks", COMPLETE_MARKER}


def dbt_summary(output: str) -> dict[str, int]:
    """dbt's closing `Done. PASS=.. WARN=.. ERROR=.. SKIP=..` line as counts."""
    match = re.search(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)", output)
    assert match, output[-2000:]
    return dict(zip(("pass", "warn", "error", "skip"), map(int, match.groups()), strict=True))


def dbt_unit_tests(output: str) -> int:
    """How many of dbt's unit tests passed."""
    return len(re.findall(r"PASS \w+::\w+", output))


def rows_equal(left: list[tuple], right: list[tuple]) -> bool:
    """Equal row multisets, floats to 1e-9 relative (sums may add in another order)."""

    def key(row):
        return tuple((value is None, str(type(value)), value if value is not None else 0) for value in row)

    if len(left) != len(right):
        return False
    for a, b in zip(sorted(left, key=key), sorted(right, key=key), strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif x != y:
                return False
    return True
