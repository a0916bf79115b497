"""Request handling every endpoint shares: access (endpoints enabled, authentication,
which runs before any cached body is looked at) and parameter parsing with 400s that
name the parameter."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from typing import Generic, TypeVar

from litestar import Request
from litestar.exceptions import NotFoundException

from tasker_analytics.auth.tokens import Authenticator, AuthError
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import DEFAULT_PERIOD, BottleneckQuery, InvalidQuery
from tasker_analytics.core.schemas import utc

BASE_PATH = "/tasker/analytics"
# The cookie a browser session carries its token in (HttpOnly; see the dashboard).
SESSION_COOKIE = "tasker_analytics_session"
# With auth on, a response depends on the credentials, which come in the Authorization
# header or the session cookie: shared caches must key on both.
VARY_AUTHENTICATED = "Authorization, Cookie"
# The bottleneck endpoint's query parameters (docs/API.md): parsed by `bottleneck_query`,
# described once here for the OpenAPI schema.
BOTTLENECK_PARAMETERS = {
    "namespace": ("string", "namespace (exact, 1-64 characters)"),
    "task_name": ("string", "task name (exact, 1-64 characters)"),
    "name": ("string", "alias of task_name"),
    "version": ("string", "task version (exact, 1-16 characters)"),
    "period": ("integer", "hours, a whole number from 1 to the maximum (default 24)"),
    "limit": ("integer", "rows per list, a whole number from 1 to the maximum"),
}
Query = TypeVar("Query")
_INTEGER = re.compile(r"^[0-9]{1,9}$")
# Where a request's caller and query, once worked out, are kept for the rest of it.
_CHECKED = "tasker_analytics.checked"
# Parsed queries by (parser, query string), each beside the settings it was parsed under:
# a repeated query string (every cache hit) skips the parse. Only accepted queries are
# kept, so a refused one is refused each time; the map is emptied when it reaches
# _PARSED_LIMIT entries, so no stream of distinct query strings makes it grow unbounded.
_PARSED: dict[tuple[Callable, bytes], tuple[Settings, object]] = {}
_PARSED_LIMIT = 4096


# For a response no cache may keep: errors, readiness, refusals.
NO_STORE = {"Cache-Control": "no-store"}


def cached_headers(private: bool, ttl: int, built_at: datetime, build_id: str) -> dict[str, str]:
    """The caching headers of a body of one build, kept `ttl` seconds: by the caller only
    (`private`, auth on: it varies with the credentials) or by shared caches too."""
    headers = {
        "Cache-Control": f"{'private' if private else 'public'}, max-age={ttl}",
        "Last-Modified": format_datetime(utc(built_at), usegmt=True),
        "X-Build-Id": build_id,
    }
    if private:
        headers["Vary"] = VARY_AUTHENTICATED
    return headers


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


def query_values(request: Request, allowed: Collection[str]) -> dict[str, str]:
    """Each query parameter's value, read in one pass; InvalidQuery for a parameter
    that is not allowed or is given more than once."""
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise InvalidQuery(name, f"unknown parameter {name!r}; allowed: {sorted(allowed)}")
        if name in values:
            count = len(request.query_params.getall(name))
            raise InvalidQuery(name, f"{name} is given {count} times; give it once")
        values[name] = value
    return values


def check_known(request: Request, allowed: Collection[str]) -> None:
    query_values(request, allowed)


def _integer(name: str, raw: str | None, maximum: int) -> int | None:
    if raw is not None and not _INTEGER.match(raw):
        raise InvalidQuery(name, f"{name} must be a whole number from 1 to {maximum}")
    return None if raw is None else int(raw)


def bottleneck_query(request: Request, settings: Settings) -> BottleneckQuery:
    """The bottleneck query of a request's parameters (docs/API.md), or InvalidQuery."""
    values = query_values(request, BOTTLENECK_PARAMETERS)
    task_name, alias = values.get("task_name"), values.get("name")
    if task_name is not None and alias is not None and task_name != alias:
        raise InvalidQuery("name", "name is an alias of task_name; give one of them")
    period = _integer("period", values.get("period"), settings.max_period_hours)
    return BottleneckQuery.validated(
        settings,
        namespace=values.get("namespace"),
        task_name=task_name if task_name is not None else alias,
        version=values.get("version"),
        period=DEFAULT_PERIOD if period is None else period,
        limit=_integer("limit", values.get("limit"), settings.max_bottleneck_results),
    )


def no_query(request: Request, settings: Settings) -> None:
    """The parser of an endpoint without parameters: InvalidQuery for any."""
    check_known(request, ())


@dataclass(slots=True)
class Checked(Generic[Query]):
    """A request's Analytics (endpoints on, caller authenticated) and its parsed query."""

    analytics: Analytics
    query: Query


def checked(request: Request, parse: Callable[[Request, Settings], Query]) -> Checked[Query]:
    """Authenticate the caller and parse the query once per request: the answer (or the
    error) is kept in the request's ASGI scope, so the cache-hit pass before routing and the
    routed handler after it share one. `parse` is the endpoint's parser; InvalidQuery,
    AuthError or NotFoundException when the request is refused."""
    state = request.scope.setdefault("state", {})
    found = state.get(_CHECKED)
    if found is None:
        try:
            analytics = authorized_analytics(request)
            found = Checked(analytics, _parsed(request, parse, analytics.settings))
        except (InvalidQuery, AuthError, NotFoundException) as error:
            found = error
        state[_CHECKED] = found
    if isinstance(found, Exception):
        raise found
    return found


def _parsed(request: Request, parse: Callable[[Request, Settings], Query], settings: Settings) -> Query:
    """`parse(request, settings)`, remembered per query string for the same settings
    object (held in the entry, so its id is never reused while the entry lives)."""
    key = (parse, request.scope.get("query_string", b""))
    entry = _PARSED.get(key)
    if entry is not None and entry[0] is settings:
        return entry[1]  # type: ignore[return-value]
    query = parse(request, settings)
    if len(_PARSED) >= _PARSED_LIMIT:
        _PARSED.clear()
    _PARSED[key] = (settings, query)
    return query
