"""The README's configuration table is the declared variables: every variable a setting
reads is in it with the default it declares, and the table names no other."""

from __future__ import annotations

import re

import pytest

from tasker_analytics.auth.settings import AUTH_VARIABLES, AuthSettings
from tasker_analytics.config.settings import PROJECT_DIR, SERVER_VARIABLES, Settings
from tasker_analytics.config.variables import SettingsError

DECLARED = {**SERVER_VARIABLES, **AUTH_VARIABLES}


def _readme_table() -> dict[str, str]:
    """Each variable of the README's configuration table and its default cell."""
    text = (PROJECT_DIR / "README.md").read_text()
    section = text[text.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    table: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        names_cell, default_cell = (cell.strip() for cell in line.split("|")[1:3])
        names = re.findall(r"`([A-Z_]+)`", names_cell)
        defaults = [part.strip() for part in default_cell.split(" / ")]
        for index, name in enumerate(names):
            table[name] = defaults[index] if len(defaults) == len(names) else default_cell
    return table


def test_the_readme_table_lists_exactly_the_declared_variables():
    assert sorted(_readme_table()) == sorted(DECLARED)


def test_the_readme_table_shows_each_declared_default():
    table = _readme_table()
    for name, variable in DECLARED.items():
        assert variable.shown in table[name], (name, variable.shown, table[name])


def test_unset_variables_give_the_declared_defaults():
    settings, auth = Settings.from_env({}), AuthSettings.from_env({})
    assert settings.port == SERVER_VARIABLES["TASKER_ANALYTICS_PORT"].default
    assert settings.performance_cache_ttl == SERVER_VARIABLES["TASKER_ANALYTICS_CACHE_TTL"].default
    assert settings.duckdb_path == PROJECT_DIR / SERVER_VARIABLES["TASKER_ANALYTICS_DUCKDB_PATH"].default
    assert auth.jwt_leeway_seconds == AUTH_VARIABLES["TASKER_ANALYTICS_JWT_LEEWAY_SECONDS"].default
    assert Settings() == settings and AuthSettings() == auth


@pytest.mark.parametrize(
    "name, value",
    [
        ("TASKER_ANALYTICS_PORT", "eighty"),
        ("TASKER_ANALYTICS_ENABLED", "maybe"),
        ("TASKER_ANALYTICS_WAREHOUSE", "oracle"),
        ("TASKER_ANALYTICS_MAX_WAITING_MISSES", "-1"),
        ("TASKER_ANALYTICS_JWT_LEEWAY_SECONDS", "soon"),
    ],
)
def test_a_bad_value_is_an_error_naming_its_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
