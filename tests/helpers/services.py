"""The services some tests need, where they answer, and what happens when one does not:
a skip with the reason locally, a failure under CI (the CI variable set; .ci/run sets it)."""

from __future__ import annotations

import os

import pytest

POSTGRES_DSN = os.environ.get("TASKER_ANALYTICS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TASKER_ANALYTICS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def service_missing(reason: str) -> None:
    """Skip locally, fail under CI, when a service a test needs does not answer."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so a missing service fails the run)")
    pytest.skip(reason)
