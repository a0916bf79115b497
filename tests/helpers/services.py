"""The services some tests need, where they answer, and what happens when one does not:
a skip with the reason locally, a failure under CI (the CI variable set; .ci/run sets it)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess

import pytest

POSTGRES_DSN = os.environ.get("TASKER_ANALYTICS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TASKER_ANALYTICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_missing(reason: str) -> None:
    """Skip locally, fail under CI, when a service a test needs does not answer."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing service fails the run)")
    pytest.skip(reason)


def require_spark() -> None:
    """Skip (fail under CI) unless the spark extra and a Java that Spark 4 runs on are here."""
    for module in ("pyspark", "dbt.adapters.spark"):
        if importlib.util.find_spec(module) is None:
            service_missing(f"{module} is not installed: pip install -e '.[spark]' (docs/SCALING.md)")
    java = shutil.which("java")
    if java is None:
        service_missing("Spark needs Java 17 and `java` is not on the PATH")
    version = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    if not any(f'version "{major}' in version for major in ("17", "21")):
        service_missing(f"Spark 4 needs Java 17 or 21, found: {version.splitlines()[:1]}")
