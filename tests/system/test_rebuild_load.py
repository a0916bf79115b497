"""The CI-sized run of bench/rebuild_load.py: wrk at 64 connections against the served
API while a rebuild runs and is swapped in (at least 10 s, until it is done): zero
errors, zero non-200s, every body from the build its X-Build-Id names. `make load` runs
the full 60 s with three rebuilds; tests/system/test_refresh.py checks three rebuilds under load
with every body compared to its build."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from helpers.paths import REPOSITORY
from helpers.services import service_missing

BENCH = REPOSITORY / "bench"

pytestmark = pytest.mark.load


def test_a_rebuild_under_64_connections(tmp_path):
    if shutil.which("wrk") is None:
        service_missing("wrk is not installed (apt-get install wrk)")
    output = tmp_path / "rebuild_load.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH / "rebuild_load.py"),
            "--seconds",
            "10",
            "--connections",
            "64",
            "--tasks",
            "1000",
            "--rebuilds",
            "1",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    result = json.loads(output.read_text())
    assert completed.returncode == 0, (result, completed.stderr[-2000:])
    assert result["ok"] and len(result["rebuilds"]) == 1
    assert result["requests"] > 1000 and result["checked"] == result["requests"]
    for key in ("errors_connect", "errors_read", "errors_write", "errors_timeout", "non_2xx", "mixed"):
        assert result[key] == 0, key
    assert result["builds"] > result["wrk_rounds"]  # rounds saw more than one build: rebuilds landed
