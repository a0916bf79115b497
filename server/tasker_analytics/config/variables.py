"""Environment variables, each declared once: its name, its parser, its default and the
default as the README's configuration table shows it. `settings.SERVER_VARIABLES` and
`auth.AUTH_VARIABLES` are the declarations; a test holds the README's table to them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


# A parser turns a variable's stripped, non-empty text into its value, or raises `error`
# with a message naming the variable.
Parser = Callable[[str, str, type[Exception]], Any]


@dataclass(frozen=True)
class Variable:
    name: str
    parse: Parser
    default: Any
    shown: str  # the default as documentation shows it ("unset" for None)

    def read(self, env: Mapping[str, str], error: type[Exception] = SettingsError, default: Any = None) -> Any:
        """The variable's value in `env`: unset or blank gives the default (`default`
        when given, for a default that depends on another variable)."""
        raw = env.get(self.name)
        if raw is None or raw.strip() == "":
            return self.default if default is None else default
        return self.parse(self.name, raw.strip(), error)


def text(name: str, raw: str, error: type[Exception]) -> str:
    return raw


def path(name: str, raw: str, error: type[Exception]) -> Path:
    return Path(raw).expanduser()


def boolean(name: str, raw: str, error: type[Exception]) -> bool:
    value = raw.lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise error(f"{name} must be true or false, got {raw!r}")


def integer(minimum: int = 1, unit: str = "an integer") -> Parser:
    def parse(name: str, raw: str, error: type[Exception]) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise error(f"{name} must be {unit}, got {raw!r}") from None
        if value < minimum:
            raise error(f"{name} must be at least {minimum}, got {value}")
        return value

    return parse


def choice(*options: str) -> Parser:
    def parse(name: str, raw: str, error: type[Exception]) -> str:
        value = raw.lower()
        if value not in options:
            raise error(f"{name} must be {', '.join(options[:-1])} or {options[-1]}, got {value!r}")
        return value

    return parse
