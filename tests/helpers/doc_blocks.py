"""The fenced code blocks of the repository's Markdown documents, read for the tests that run
them (tests/system/test_documented_commands.py) and check them
(tests/unit/test_documented_examples.py), so that what the documents say is what is tested.

A block that the documented-commands test cannot run carries, on the line right above its
opening fence, a marker saying why:

    <!-- docs-test skip: generates 20,000 tasks, then serves in the foreground -->
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from helpers.paths import REPOSITORY

# An opening or closing fence, indented when the block sits in a list item.
_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<language>[\w+-]*)[ \t]*$")
SKIP_MARKER = re.compile(r"^\s*<!--\s*docs-test skip:(?P<reason>.*?)-->\s*$")
# Any mention of the marker, to find misspelled or misplaced ones.
MARKER_MENTION = re.compile(r"<!--\s*docs-test")


@dataclass(frozen=True)
class CodeBlock:
    document: str  # relative to the repository
    line: int  # of the opening fence, counted from 1
    language: str  # as the fence names it ("" for none)
    text: str  # the body, without the list item's indentation
    skip: str | None  # the marker's reason, None when the block is meant to run

    @property
    def name(self) -> str:
        return f"{self.document}:{self.line}"


def code_blocks(document: str) -> list[CodeBlock]:
    """Every fenced block of `document` (a path relative to the repository), in order."""
    lines = (REPOSITORY / document).read_text().splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent = len(opening["indent"])
        start = index
        body = []
        index += 1
        while index < len(lines) and lines[index].strip() != "```":
            line = lines[index]
            body.append(line[indent:] if not line[:indent].strip() else line)
            index += 1
        assert index < len(lines), f"{document}:{start + 1}: a code block that is never closed"
        marker = SKIP_MARKER.match(lines[start - 1]) if start else None
        blocks.append(
            CodeBlock(
                document,
                start + 1,
                opening["language"],
                "\n".join(body) + "\n",
                (marker["reason"].strip() or None) if marker else None,  # no reason, no skip
            )
        )
        index += 1
    return blocks


def misplaced_markers(document: str) -> list[str]:
    """The marker mentions of `document` that are not a well-formed marker with a reason
    right above an opening fence: each would silently fail to skip anything."""
    lines = (REPOSITORY / document).read_text().splitlines()
    problems = []
    for number, line in enumerate(lines, start=1):
        if not MARKER_MENTION.search(line):
            continue
        marker = SKIP_MARKER.match(line)
        if marker is None or not marker["reason"].strip():
            problems.append(f"{document}:{number}: not `<!-- docs-test skip: <why> -->`")
        elif number >= len(lines) or not _FENCE.match(lines[number]) or not _FENCE.match(lines[number])["language"]:
            problems.append(f"{document}:{number}: the marker is not right above a code block's opening fence")
    return problems
