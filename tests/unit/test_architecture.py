"""docs/ARCHITECTURE.md's picture of the package is the package: every module it draws
exists, and every module of the package is drawn."""

from __future__ import annotations

import re

from tasker_analytics.config.settings import PROJECT_DIR

PACKAGE = PROJECT_DIR / "server" / "tasker_analytics"


def _drawn() -> set[str]:
    text = (PROJECT_DIR / "docs" / "ARCHITECTURE.md").read_text()
    block = text[text.index("## The package") :]
    block = block[block.index("```") + 3 :]
    block = block[: block.index("```")]
    drawn, folder = set(), ""
    for line in block.splitlines():
        match = re.match(r"^([│ ]*)[├└]── (\S+)", line)
        if not match:
            continue
        depth, name = len(match.group(1)) // 4, match.group(2)
        if depth == 0 and name.endswith("/"):
            folder = name
        elif depth == 0:
            drawn.add(name)
        else:
            drawn.add(folder + name)
    return drawn


def test_the_diagram_matches_the_package():
    modules = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.name != "__init__.py" or path.parent == PACKAGE
    }
    assert _drawn() == modules


def test_every_package_says_what_it_owns():
    for folder in sorted(path for path in PACKAGE.iterdir() if path.is_dir() and path.name != "__pycache__"):
        docstring = (folder / "__init__.py").read_text().strip()
        assert docstring.startswith('"""') and len(docstring) > 20, folder.name


def test_macros_are_filed_by_purpose_and_every_public_one_is_documented():
    import yaml

    macros = PROJECT_DIR / "macros"
    assert not list(macros.glob("*.sql")), "every macro file lives in a folder named for its purpose"
    public = set()
    for path in macros.rglob("*.sql"):
        for name in re.findall(r"\{%-?\s*macro\s+(\w+)\s*\(", path.read_text()):
            if not name.startswith("_") and not re.match(r"(default|duckdb|postgres|spark)__", name):
                public.add(name)
    documented = {
        entry["name"]: entry.get("description", "")
        for entry in yaml.safe_load((macros / "_macros.yml").read_text())["macros"]
    }
    assert set(documented) == public
    assert all(len(description) > 20 for description in documented.values())


def test_macro_descriptions_hold_no_jinja():
    """dbt renders descriptions: a `{{ ... }}` in one breaks every build."""
    text = (PROJECT_DIR / "macros" / "_macros.yml").read_text()
    assert "{{" not in text and "{%" not in text
