"""Every reference in the repository points inside it: no document, comment or test names
a file a reader of this repository cannot open."""

from __future__ import annotations

import re
import subprocess

from tasker_analytics.config.settings import PROJECT_DIR

# Spelled in pieces so that this file does not match itself.
_OUTSIDE = re.compile(
    "|".join(
        [
            r"DESIGN" + r"\.md",
            r"(?<![\w.])/" + r"work/",
            r"\.\./" + r"shared",
            r"(?<![\w.])/" + r"(?:home|root|Users)/\w",
        ]
    )
)


def test_no_file_refers_outside_the_repository():
    listed = subprocess.run(["git", "ls-files"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True)
    offenders = []
    for name in listed.stdout.splitlines():
        path = PROJECT_DIR / name
        if not path.is_file() or path.suffix in {".csv", ".parquet", ".png", ".duckdb"}:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if _OUTSIDE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()[:120]}")
    assert offenders == [], "\n".join(offenders)
