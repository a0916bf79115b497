"""Request handling every endpoint shares: access (endpoints enabled, authentication,
which runs before any cached body is looked at) and parameter parsing with 400s that
name the parameter."""

from __future__ import annotations

import re

from litestar import Request
from litestar.exceptions import NotFoundException

from tasker_analytics.auth.tokens import Authenticator, AuthError
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics, Scope

BASE_PATH = "/tasker/analytics"
# The cookie a browser session carries its token in (HttpOnly; see the dashboard).
SESSION_COOKIE = "tasker_analytics_session"
# With auth on, a response depends on the credentials, which come in the Authorization
# header or the session cookie: shared caches must key on both.
VARY_AUTHENTICATED = "Authorization, Cookie"
# Longest accepted scope values: the widths of Tasker's own columns (varchar(64) for the
# namespace and task names, varchar(16) for the version).
SCOPE_WIDTHS = {"namespace": 64, "task_name": 64, "version": 16}
BOTTLENECK_PARAMETERS = {"namespace", "task_name", "name", "version", "period", "limit"}
_INTEGER = re.compile(r"^[0-9]{1,9}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidParameter(Exception):
    def __init__(self, parameter: str, detail: str):
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail


def authorized_analytics(request: Request) -> Analytics:
    """The app's Analytics, once the endpoints are on and the caller is authenticated."""
    settings: Settings = request.app.state.settings
    if not settings.enabled:
        raise NotFoundException()
    authenticate(request)
    return request.app.state.analytics


def authenticate(request: Request) -> None:
    """Bearer token from the Authorization header, else from the session cookie."""
    authenticator: Authenticator = request.app.state.authenticator
    if not authenticator.settings.required:
        return
    if "access_token" in request.query_params:
        raise AuthError(401, "tokens are accepted in the Authorization header only", "invalid_request")
    header = request.headers.get("authorization")
    if header is None and request.cookies.get(SESSION_COOKIE):
        header = f"Bearer {request.cookies[SESSION_COOKIE]}"
    authenticator.authenticate(header)


def query_values(request: Request, allowed: set[str]) -> dict[str, str]:
    """Each query parameter's value, read in one pass; InvalidParameter for a parameter
    that is not allowed or is given more than once."""
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise InvalidParameter(name, f"unknown parameter {name!r}; allowed: {sorted(allowed)}")
        if name in values:
            count = len(request.query_params.getall(name))
            raise InvalidParameter(name, f"{name} is given {count} times; give it once")
        values[name] = value
    return values


def check_known(request: Request, allowed: set[str]) -> None:
    query_values(request, allowed)


def bounded_int(name: str, raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not _INTEGER.match(raw) or not 1 <= int(raw) <= maximum:
        raise InvalidParameter(name, f"{name} must be a whole number from 1 to {maximum}")
    return int(raw)


def scope_value(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    width = SCOPE_WIDTHS[name]
    if value == "" or len(value) > width or _CONTROL.search(value):
        raise InvalidParameter(name, f"{name} must be 1 to {width} characters without control characters")
    return value


def bottleneck_query(
    request: Request, settings: Settings, allowed: set[str] = BOTTLENECK_PARAMETERS
) -> tuple[Scope, int, int]:
    """Scope, period and limit of a bottleneck request (docs/API.md), or InvalidParameter."""
    values = query_values(request, allowed)
    task_name, alias = values.get("task_name"), values.get("name")
    if task_name is not None and alias is not None and task_name != alias:
        raise InvalidParameter("name", "name is an alias of task_name; give one of them")
    scope = Scope(
        namespace=scope_value("namespace", values.get("namespace")),
        task_name=scope_value("task_name", task_name if task_name is not None else alias),
        version=scope_value("version", values.get("version")),
    )
    period = bounded_int("period", values.get("period"), 24, settings.max_period_hours)
    limit = bounded_int(
        "limit", values.get("limit"), settings.default_bottleneck_results, settings.max_bottleneck_results
    )
    return scope, period, limit
