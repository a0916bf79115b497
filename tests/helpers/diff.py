"""Collecting every mismatch between the oracle (helpers.oracle) and the API before failing,
so one failed test lists them all: ``Diff`` for single figures, ``compare_ranked`` for the
sorted, limited lists. Shared by tests/integration/test_oracle.py, test_rollups.py and
test_critical_path.py (through helpers.bottleneck_compare)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from helpers.oracle import APPROX_REL_TOL, DURATION_ABS_TOL, DURATION_REL_TOL, RATE_ABS_TOL


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Diff:
    """Collects mismatches; ``check()`` fails the test listing all of them."""

    def __init__(self, context: str):
        self.context = context
        self.problems: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- scalar comparisons
    def count(self, path: str, oracle: int, api: Any) -> None:
        if not is_int(api):
            self.add(path, f"expected an integer count {oracle}, API gave {api!r}")
        elif api != oracle:
            self.add(path, f"oracle {oracle} != API {api}")

    def duration(self, path: str, oracle: float | None, api: Any, *, approximate: bool = False) -> None:
        if oracle is None:
            if api is not None:
                self.add(path, f"oracle null (no items) != API {api!r}")
            return
        if not is_num(api):
            self.add(path, f"oracle {oracle:.4f} ms != API {api!r}")
            return
        tol = max(DURATION_ABS_TOL, DURATION_REL_TOL * abs(oracle))
        if approximate:
            tol = max(tol, APPROX_REL_TOL * abs(oracle) + DURATION_ABS_TOL)
        if abs(api - oracle) > tol:
            self.add(
                path,
                f"oracle {oracle:.4f} ms != API {api} (diff {api - oracle:+.4f}, tol {tol:.4f}"
                f"{', approximate' if approximate else ''})",
            )
        elif abs(api * 10 - round(api * 10)) > 1e-6:
            self.add(path, f"API {api!r} is not rounded to 1 decimal")

    def rate(self, path: str, oracle: float, api: Any) -> None:
        if not is_num(api):
            self.add(path, f"oracle {oracle:.6f} != API {api!r}")
        elif abs(api - oracle) > RATE_ABS_TOL:
            self.add(path, f"oracle {oracle:.6f} != API {api} (diff {api - oracle:+.6f})")
        elif not 0 <= api <= 1:
            self.add(path, f"API rate {api} outside [0, 1]")
        elif abs(api * 1e4 - round(api * 1e4)) > 1e-6:
            self.add(path, f"API {api!r} is not rounded to 4 decimals")

    def equal(self, path: str, oracle: Any, api: Any) -> None:
        if oracle != api:
            self.add(path, f"oracle {oracle!r} != API {api!r}")

    def check(self, hint: str = "") -> None:
        if self.problems:
            lines = "\n  ".join(self.problems)
            pytest.fail(
                f"{self.context}: {len(self.problems)} mismatch(es)\n  {lines}" + (f"\n{hint}" if hint else ""),
                pytrace=False,
            )


def compare_ranked(
    diff: Diff,
    path: str,
    oracle_all: Sequence[dict],
    api_rows: Any,
    *,
    limit: int,
    key: Callable[[dict], tuple],
    sort_value: Callable[[dict], float | None],
    tie_tol: float,
    compare_row: Callable[[Diff, str, dict, dict], None],
    optional: frozenset = frozenset(),
) -> None:
    """Compare a sorted, limited API list with the oracle's full sorted list.

    Order is strict except between rows whose sort values the oracle finds equal
    within ``tie_tol`` (the API may sort by rounded values or see an approximate
    percentile); membership at the ``limit`` boundary follows the same tie rule.
    ``optional`` keys (e.g. recommendations on the edge of a threshold with approximate
    percentiles) may be present or absent.
    """
    if not isinstance(api_rows, list):
        diff.add(path, f"expected a list, API gave {type(api_rows).__name__}")
        return
    rank = {key(r): i for i, r in enumerate(oracle_all)}
    by_key = {key(r): r for r in oracle_all}

    def tied(a: dict, b: dict) -> bool:
        va, vb = sort_value(a), sort_value(b)
        if va is None or vb is None:
            return va is None and vb is None
        return abs(va - vb) <= tie_tol

    required = [r for r in oracle_all if key(r) not in optional]
    expected_len = min(limit, len(oracle_all))
    if not optional and len(api_rows) != expected_len:
        diff.add(path, f"oracle has {len(oracle_all)} rows (limit {limit} -> {expected_len}), API gave {len(api_rows)}")
    elif optional and not (min(limit, len(required)) <= len(api_rows) <= expected_len):
        diff.add(
            path,
            f"API gave {len(api_rows)} rows, oracle expects {min(limit, len(required))}"
            f"..{expected_len} (some rows are on a threshold edge)",
        )

    seen = set()
    api_keys = []
    for i, row in enumerate(api_rows):
        if not isinstance(row, dict):
            diff.add(f"{path}[{i}]", f"expected an object, got {row!r}")
            continue
        try:
            k = key(row)
        except KeyError as exc:
            diff.add(f"{path}[{i}]", f"missing key {exc}")
            continue
        if k in seen:
            diff.add(f"{path}[{i}]", f"duplicate row {k}")
            continue
        seen.add(k)
        if k not in by_key:
            diff.add(f"{path}[{i}]", f"row {k} not expected by the oracle")
            continue
        api_keys.append(k)
        oracle_row = by_key[k]
        if rank[k] >= limit and not optional:
            boundary = oracle_all[limit - 1]
            if not tied(oracle_row, boundary):
                diff.add(f"{path}[{i}]", f"row {k} has oracle rank {rank[k]} (beyond limit {limit})")
        compare_row(diff, f"{path}[{k}]", oracle_row, row)

    # order: every inversion against the oracle order must be a tie
    for a_i in range(len(api_keys)):
        for b_i in range(a_i + 1, len(api_keys)):
            a, b = api_keys[a_i], api_keys[b_i]
            if rank[a] > rank[b] and not tied(by_key[a], by_key[b]):
                diff.add(
                    path,
                    f"order: API puts {a} before {b}; oracle sort values "
                    f"{sort_value(by_key[a])} vs {sort_value(by_key[b])}",
                )

    # rows the oracle expects within the limit that the API lacks
    for r in oracle_all[:limit]:
        k = key(r)
        if k in seen or k in optional:
            continue
        if len(api_rows) >= limit and any(tied(r, by_key[x]) for x in api_keys):
            continue  # a tie at the boundary may have let another row in
        diff.add(path, f"oracle row {k} (rank {rank[k]}) missing from the API")
