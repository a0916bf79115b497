"""Where the tests find the repository's files, wherever the test that asks lives."""

from __future__ import annotations

from pathlib import Path

HELPERS = Path(__file__).resolve().parent
TESTS = HELPERS.parent
REPOSITORY = TESTS.parent
