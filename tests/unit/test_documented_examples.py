"""The documents' code blocks, read without running them: every example that opens a
DuckDB file opens it read-only (the server holds the served file, and DuckDB lets no writer
open a file a reader holds), and every block the documented-commands test leaves out says
why (tests/system/test_documented_commands.py runs the others)."""

from __future__ import annotations

import re

import pytest

from helpers.doc_blocks import code_blocks, misplaced_markers
from helpers.paths import REPOSITORY

DOCUMENTS = ["README.md", *sorted(str(path.relative_to(REPOSITORY)) for path in (REPOSITORY / "docs").glob("*.md"))]

# duckdb.connect("some file" ...) in Python; DuckDB's shell as a command on a file
# (`duckdb data/x.duckdb`, `.venv/bin/duckdb ...`), comments left out.
_PYTHON_CONNECT = re.compile(r"duckdb\.connect\((?P<arguments>[^)]*)\)")
_SHELL_OPEN = re.compile(r"(?m)(?:^|[;&|(])\s*(?:\S*/)?duckdb[ \t]+(?P<arguments>[^|;&\n]*\.duckdb[^|;&\n]*)")
_SHELL_COMMENT = re.compile(r"(?m)(?:^|\s)#.*$")


def _opens_for_writing(language: str, text: str) -> list[str]:
    if language == "python":
        return [
            match[0]
            for match in _PYTHON_CONNECT.finditer(text)
            if match["arguments"].strip() not in {"", '":memory:"', "':memory:'"}
            and not re.search(r"read_only\s*=\s*True", match["arguments"])
        ]
    if language in {"bash", "sh", "shell", "console"}:
        commands = _SHELL_COMMENT.sub("", text)
        return [match[0].strip() for match in _SHELL_OPEN.finditer(commands) if "-readonly" not in match["arguments"]]
    return []


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_duckdb_example_opens_read_only(document):
    offenders = [
        f"{block.name}: {call}"
        for block in code_blocks(document)
        for call in _opens_for_writing(block.language, block.text)
    ]
    assert offenders == [], "open the served DuckDB file with read_only=True (duckdb -readonly):\n" + "\n".join(
        offenders
    )


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_skip_marker_is_well_formed(document):
    assert misplaced_markers(document) == []


def test_the_read_only_check_can_fail():
    assert _opens_for_writing("python", 'c = duckdb.connect("data/tasker_analytics.duckdb")\n')
    assert _opens_for_writing("bash", "duckdb data/tasker_analytics.duckdb\n")
    assert not _opens_for_writing("python", 'c = duckdb.connect("data/tasker_analytics.duckdb", read_only=True)\n')
    assert not _opens_for_writing("python", "c = duckdb.connect()\n")
    assert not _opens_for_writing("bash", "duckdb -readonly data/tasker_analytics.duckdb\n")
    assert not _opens_for_writing("bash", "dbt build --target duckdb   # into data/tasker_analytics_dev.duckdb\n")
    assert _opens_for_writing("bash", "cd x && .venv/bin/duckdb data/tasker_analytics.duckdb -c 'select 1'\n")


def test_the_marker_check_can_fail(tmp_path):
    document = tmp_path / "doc.md"
    document.write_text(
        "<!-- docs-test skip: a foreground server -->\n"
        "```bash\nmake run\n```\n"
        "- a list item:\n"
        "  <!-- docs-test skip: placeholder credentials -->\n"
        "  ```bash\n  export A=1\n  ```\n"
        "<!-- docs-test skip: not above a block -->\n\n"
        "```sql\nselect 1\n```\n"
        "<!-- docs-test skip: -->\n"
        "```python\nprint(1)\n```\n"
    )
    blocks = code_blocks(str(document))  # an absolute path is taken as it is
    assert [(block.line, block.language, block.text, block.skip) for block in blocks] == [
        (2, "bash", "make run\n", "a foreground server"),
        (7, "bash", "export A=1\n", "placeholder credentials"),
        (12, "sql", "select 1\n", None),
        (16, "python", "print(1)\n", None),
    ]
    assert [problem.split(": ", 1)[0].rsplit(":", 1)[1] for problem in misplaced_markers(str(document))] == [
        "10",
        "15",
    ]
