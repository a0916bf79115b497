"""The operators' dashboard's routes: one server-rendered HTML page over the same Analytics
calls as the JSON API, and the browser session that lets a web UI authenticate with a cookie.

- `GET  /tasker/analytics/dashboard` - the page. Its scope filters are the bottleneck
  endpoint's parameters (namespace, task_name/name, version, period, limit). A bad value
  answers 400 and a build that cannot be read 503: an HTML page saying why for a browser
  (Accept: text/html), the API's JSON error for any other client. System health, trends,
  task statistics and processing times are system-wide (the performance endpoint); the
  history, the step DAG and the bottleneck part follow the scope.
- `POST /tasker/analytics/session` - `Authorization: Bearer <token>`, validated by the
  app's authenticator exactly like the API (401/403), answers 204 and sets the
  `SESSION_COOKIE` (HttpOnly, Secure, SameSite=Strict, Path=/tasker/analytics) for the
  token's remaining lifetime (JWT `exp` - now; 3600 s for a service token).
- `DELETE /tasker/analytics/session` - clears that cookie.

This module owns the handlers, the page's response headers and the session cookie. The
page itself is ui/views.py's (Jinja templates in ui/templates, autoescaped; the inline
stylesheet and script from ui/static, allowed by the Content-Security-Policy's hashes),
with ui/format.py writing the figures and ui/charts.py computing the SVG charts. No
JavaScript framework, no CDN, nothing loaded from elsewhere; the filter form is a plain
GET form that works without script.

`route_handlers` lists the handlers for `create_app`.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl, urlencode

import jwt
from litestar import Request, Response, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from tasker_analytics.api.access import BASE_PATH, NO_STORE, SESSION_COOKIE, authorized_analytics, bottleneck_query
from tasker_analytics.api.admission import answer
from tasker_analytics.auth.tokens import Authenticator, AuthError
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import BottleneckQuery, InvalidQuery, Scope
from tasker_analytics.ui.views import (
    CONTENT_SECURITY_POLICY,
    DASHBOARD_PATH,
    SESSION_PATH,
    render_dashboard,
    render_error,
    render_sign_in,
)
from tasker_analytics.warehouse.snapshots import WarehouseUnavailable

logger = logging.getLogger(__name__)

# Lifetime of a session made from a service token (it has no expiry of its own), and of
# a JWT session when the token carries no `exp` (TASKER_ANALYTICS_JWT_REQUIRE_EXP=false).
DEFAULT_SESSION_SECONDS = 3600
# The options of the filter form come from the slowest-task list of this period.
OPTIONS_PERIOD_HOURS = 168
# The hour-by-hour history covers this many hours (at most the history kept).
HISTORY_PERIOD_HOURS = 168


def _html_headers(settings: Settings) -> dict[str, str]:
    # The page can hold scoped data: never shared caches; nothing stored when auth is on.
    kept = (
        NO_STORE if settings.auth.required else {"Cache-Control": f"private, max-age={settings.performance_cache_ttl}"}
    )
    return {
        **kept,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


# --- handlers -----------------------------------------------------------------------------


@get(DASHBOARD_PATH, include_in_schema=False)
async def dashboard(request: Request) -> Response:
    """The operators' dashboard (HTML)."""
    return await answer(request, ("dashboard", request.scope.get("query_string", b"")), _dashboard, request)


def _dashboard(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    try:
        analytics: Analytics = authorized_analytics(request)
    except AuthError as error:
        headers = _error_headers(settings)
        if error.status == 401:
            headers["WWW-Authenticate"] = request.app.state.authenticator.www_authenticate(error)
        return Response(
            render_sign_in(error, settings.auth.permission),
            status_code=error.status,
            media_type="text/html",
            headers=headers,
        )
    # A plain GET form sends its empty selects ("all"): redirect to the URL without them.
    items = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if any(value == "" for _, value in items):
        kept = [(name, value) for name, value in items if value != ""]
        return Redirect(DASHBOARD_PATH + (f"?{urlencode(kept)}" if kept else ""), status_code=303)
    # A browser gets an HTML page for a bad filter or an unreadable build; any other
    # client the API's JSON errors.
    html = "text/html" in request.headers.get("accept", "")
    try:
        query = bottleneck_query(request, settings)
    except InvalidQuery as error:
        if not html:
            raise
        heading = f"The filter {error.parameter} cannot be used"
        return _error_page(settings, 400, heading, error.detail, error.parameter)
    scope, period, limit = query.scope, query.period, query.limit

    def longest(of: Scope, hours: int) -> BottleneckQuery:
        """`of` over `hours`, or the history kept when that is shorter; every row."""
        return BottleneckQuery(of, min(hours, settings.longest_period), settings.max_bottleneck_results)

    try:
        performance = analytics.performance_metrics()
        bottlenecks = analytics.bottleneck_analysis(query)
        history = analytics.hourly_history(longest(scope, HISTORY_PERIOD_HOURS))
        dag = analytics.step_dag(query)
        catalog = analytics.bottleneck_analysis(longest(Scope(), OPTIONS_PERIOD_HOURS))
    except WarehouseUnavailable as error:
        if not html:
            raise
        logger.warning("dashboard: %s", error.internal)
        return _error_page(settings, 503, "No analytics build can be read", str(error))
    page = render_dashboard(
        performance,
        bottlenecks,
        history,
        dag,
        catalog,
        scope,
        period,
        limit,
        settings,
        limit_given="limit" in request.query_params,
    )
    headers = {**_html_headers(settings), "X-Build-Id": bottlenecks.build_id}
    return Response(page, media_type="text/html", headers=headers)


def _error_headers(settings: Settings) -> dict[str, str]:
    return {**_html_headers(settings), **NO_STORE}


def _error_page(settings: Settings, status: int, heading: str, detail: str, parameter: str | None = None) -> Response:
    page = render_error(status, heading, detail, parameter)
    return Response(page, status_code=status, media_type="text/html", headers=_error_headers(settings))


def _cookie(value: str, max_age: int) -> str:
    return f"{SESSION_COOKIE}={value}; Max-Age={max_age}; Path={BASE_PATH}; HttpOnly; Secure; SameSite=Strict"


def session_lifetime(token: str, kind: str, now: float | None = None) -> int:
    """Seconds a session cookie lives: the JWT's remaining lifetime, else DEFAULT_SESSION_SECONDS."""
    if kind != "jwt":
        return DEFAULT_SESSION_SECONDS
    try:
        # Already verified by the authenticator; read again only for `exp`.
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return 0
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        return DEFAULT_SESSION_SECONDS
    return max(0, int(expires - (time.time() if now is None else now)))


@post(SESSION_PATH, sync_to_thread=False, status_code=204, include_in_schema=False)
def create_session(request: Request) -> Response[None]:
    """Trade `Authorization: Bearer <token>` for an HttpOnly session cookie holding it."""
    settings: Settings = request.app.state.settings
    if not settings.enabled:
        raise NotFoundException()
    authenticator: Authenticator = request.app.state.authenticator
    if authenticator.settings.required and "access_token" in request.query_params:
        raise AuthError(401, "tokens are accepted in the Authorization header only", "invalid_request")
    header = request.headers.get("authorization")
    principal = authenticator.authenticate(header)  # AuthError -> 401/403, no cookie
    headers = dict(NO_STORE)
    if principal is not None and header is not None:
        token = header.strip().partition(" ")[2].strip()
        headers["Set-Cookie"] = _cookie(token, session_lifetime(token, principal.kind))
    return Response(None, status_code=204, headers=headers)


@delete(SESSION_PATH, sync_to_thread=False, status_code=204, include_in_schema=False)
def delete_session(request: Request) -> Response[None]:
    """Sign out: the browser drops the session cookie."""
    if not request.app.state.settings.enabled:
        raise NotFoundException()
    headers = {
        **NO_STORE,
        "Set-Cookie": _cookie("", 0) + "; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    }
    return Response(None, status_code=204, headers=headers)


route_handlers: list = [dashboard, create_session, delete_session]
