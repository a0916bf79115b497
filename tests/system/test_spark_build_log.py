"""What a Spark build prints: dbt's progress, and only the Java warnings that say something
about this build. Spark's defaults printed some 870 warnings in a 1,355-line log for a
300-task build (392 "Using an existing Spark session", 367 CharVarcharUtils casts, 78
HiveConf), and stage progress bars over dbt's lines; spark-log4j2.properties and the
profile's spark.ui.showConsoleProgress=false keep the warnings that matter (WindowExec's
single-partition windows, DAGScheduler's large task binaries).

Needs the `spark` extra and Java 17 or 21: skips without them, fails under CI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.services import require_spark
from helpers.workloads import GENERATED_AS_OF
from tasker_analytics.generate.workload import generate_workload
from tasker_analytics.generate.writers import write_parquet

pytestmark = pytest.mark.spark

COMMAND = str(Path(sys.executable).with_name("tasker-analytics"))
# Spark's log lines (log4j2's pattern: yy/MM/dd HH:mm:ss LEVEL logger: message).
JAVA_LOG = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) ")
# dbt's lines: its time stamp, after a colour reset when it colours its output.
DBT_LINE = re.compile(r"^(\x1b\[0m)?\d\d:\d\d:\d\d ")
DBT_DONE = re.compile(r"\d+ of \d+ (OK|PASS)\b")


def test_a_spark_build_log_shows_dbt_progress_and_few_java_warnings(tmp_path):
    require_spark()
    source = tmp_path / "parquet"
    write_parquet(generate_workload(tasks=200, seed=13, as_of=GENERATED_AS_OF), str(source))
    env = {
        **os.environ,
        "TASKER_ANALYTICS_WAREHOUSE": "spark",
        "TASKER_ANALYTICS_DUCKDB_PATH": str(tmp_path / "served" / "tasker_analytics.duckdb"),
        "TASKER_ANALYTICS_SPARK_DIR": str(tmp_path / "spark"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
        "DBT_LOG_PATH": str(tmp_path / "logs"),
    }
    env.pop("TASKER_ANALYTICS_SPARK_LOG4J2", None)  # the project's own configuration
    completed = subprocess.run(
        [COMMAND, "build", "--source-parquet", str(source), "--as-of", GENERATED_AS_OF.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    output = completed.stdout
    assert completed.returncode == 0, output[-4000:]
    lines = output.splitlines()
    java = [line for line in lines if JAVA_LOG.match(line)]
    warnings = [line for line in java if " WARN " in line]
    dbt = [line for line in lines if DBT_LINE.match(line)]
    other = [line for line in lines if not DBT_LINE.match(line)]
    print(
        f"\nSpark build log: {len(lines)} lines, {len(dbt)} of dbt, {len(java)} of Spark's log "
        f"({len(warnings)} WARN), {len(other)} not dbt's"
    )
    assert "Using an existing Spark session" not in output
    assert "CharVarcharUtils" not in output and "HiveConf" not in output
    assert "[Stage " not in output, "Spark's console progress bars overwrite dbt's lines"
    assert "Using Spark's default log4j profile" not in output, "the project's log4j2 configuration is not used"
    assert len(warnings) <= 30, "\n".join(warnings[:40])
    assert len(other) <= 40, "\n".join(other[:60])
    # dbt's progress is all there: a line per node done, and its summary.
    assert len([line for line in dbt if DBT_DONE.search(line)]) >= 36, output[-4000:]
    assert "Completed successfully" in output
    assert re.search(r"built spark in full in [\d.]+s", output)
