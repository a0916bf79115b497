"""The Litestar application: `create_app(settings)` builds it; nothing happens at import."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import format_datetime

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi import OpenAPIConfig, ResponseSpec

from tasker_analytics.analytics import Analytics, Scope, Served
from tasker_analytics.auth import Authenticator, AuthError
from tasker_analytics.background import BackgroundAggregator, state_dir_for
from tasker_analytics.schemas import (
    Bottlenecks,
    CacheStatus,
    ErrorBody,
    Performance,
    ResourceUtilization,
    WarehouseStatus,
)
from tasker_analytics.settings import Settings
from tasker_analytics.warehouse import WarehouseUnavailable, open_warehouse

logger = logging.getLogger("tasker_analytics")

BASE_PATH = "/tasker/analytics"
# Longest accepted scope values: the widths of Tasker's own columns (DESIGN.md section 2).
SCOPE_WIDTHS = {"namespace": 64, "task_name": 64, "version": 16}
_INTEGER = re.compile(r"^[0-9]{1,9}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidParameter(Exception):
    def __init__(self, parameter: str, detail: str):
        super().__init__(detail)
        self.parameter = parameter
        self.detail = detail


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getall(name, [])
    if len(values) > 1:
        raise InvalidParameter(name, f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _check_known(request: Request, allowed: set[str]) -> None:
    for name in request.query_params.keys():
        if name not in allowed:
            raise InvalidParameter(name, f"unknown parameter {name!r}; allowed: {sorted(allowed)}")


def _bounded_int(request: Request, name: str, default: int, maximum: int) -> int:
    raw = _single(request, name)
    if raw is None:
        return default
    if not _INTEGER.match(raw) or not 1 <= int(raw) <= maximum:
        raise InvalidParameter(name, f"{name} must be a whole number from 1 to {maximum}")
    return int(raw)


def _scope_value(request: Request, name: str, value: str | None) -> str | None:
    if value is None:
        return None
    width = SCOPE_WIDTHS[name]
    if value == "" or len(value) > width or _CONTROL.search(value):
        raise InvalidParameter(
            name, f"{name} must be 1 to {width} characters without control characters"
        )
    return value


def _analytics(request: Request) -> Analytics:
    settings: Settings = request.app.state.settings
    if not settings.enabled:
        raise NotFoundException()
    _authenticate(request)
    return request.app.state.analytics


def _authenticate(request: Request) -> None:
    """Runs before any body, cached or not, is looked at."""
    authenticator: Authenticator = request.app.state.authenticator
    if authenticator.settings.required and "access_token" in request.query_params:
        raise AuthError(401, "tokens are accepted in the Authorization header only", "invalid_request")
    authenticator.authenticate(request.headers.get("authorization"))


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)


def _respond(request: Request, served: Served, ttl: int) -> Response:
    settings: Settings = request.app.state.settings
    visibility = "private" if settings.auth.required else "public"
    headers = {
        "Cache-Control": f"{visibility}, max-age={ttl}",
        "ETag": served.etag,
        "Last-Modified": _http_date(served.body.built_at),
        "X-Build-Id": served.body.build_id,
        "X-Cache": served.cache.status,
    }
    if settings.auth.required:
        headers["Vary"] = "Authorization"
    if served.etag in _etags(request.headers.get("if-none-match")):
        return Response(b"", status_code=304, headers=headers)
    return Response(served.body, headers=headers)


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    tags = {tag.strip() for tag in header.split(",") if tag.strip()}
    # Weak comparison (RFC 9110 13.1.2): W/"x" and "x" match.
    return tags | {tag[2:] if tag.startswith("W/") else f"W/{tag}" for tag in tags}


def _resources(request: Request) -> ResourceUtilization:
    analytics: Analytics = request.app.state.analytics
    build = analytics.warehouse.current_build()
    cache = analytics.cache
    return ResourceUtilization(
        warehouse=WarehouseStatus(
            engine=analytics.warehouse.engine,
            location=build.location,
            size_bytes=build.size_bytes,
            build_id=build.build_id,
            built_at=build.built_at,
            build_duration_seconds=build.build_seconds,
        ),
        cache=CacheStatus(
            backend=cache.store.backend,
            entries=cache.store.entries(),
            hits=cache.stats.hits,
            misses=cache.stats.misses,
            hit_ratio=round(cache.stats.hit_ratio, 4),
        ),
        background_jobs=request.app.state.aggregator.status(),
    )


_ERRORS = {
    401: ResponseSpec(data_container=ErrorBody, description="Missing or invalid credentials (auth on)"),
    403: ResponseSpec(data_container=ErrorBody, description="A valid token without the permission"),
    503: ResponseSpec(data_container=ErrorBody, description="Warehouse unreachable or not built"),
}
_BAD_INPUT = {400: ResponseSpec(data_container=ErrorBody, description="A bad parameter, named in the body")}


@get(f"{BASE_PATH}/performance", sync_to_thread=True, responses={**_BAD_INPUT, **_ERRORS})
def performance(request: Request) -> Response[Performance]:
    """System health, 1h/4h/24h trends, task statistics and processing times at the build's as_of."""
    analytics = _analytics(request)
    _check_known(request, set())
    served = analytics.performance_report()
    served = Served(
        msgspec.structs.replace(served.body, resource_utilization=_resources(request)), served.cache, served.etag
    )
    return _respond(request, served, analytics.settings.performance_cache_ttl)


@get(f"{BASE_PATH}/bottlenecks", sync_to_thread=True, responses={**_BAD_INPUT, **_ERRORS})
def bottlenecks(request: Request) -> Response[Bottlenecks]:
    """Slowest tasks and steps, error patterns, duration distribution and recommendations."""
    analytics = _analytics(request)
    settings = analytics.settings
    _check_known(request, {"namespace", "task_name", "name", "version", "period", "limit"})
    task_name = _single(request, "task_name")
    alias = _single(request, "name")
    if task_name is not None and alias is not None and task_name != alias:
        raise InvalidParameter("name", "name is an alias of task_name; give one of them")
    scope = Scope(
        namespace=_scope_value(request, "namespace", _single(request, "namespace")),
        task_name=_scope_value(request, "task_name", task_name if task_name is not None else alias),
        version=_scope_value(request, "version", _single(request, "version")),
    )
    period = _bounded_int(request, "period", 24, settings.max_period_hours)
    limit = _bounded_int(request, "limit", settings.default_bottleneck_results, settings.max_bottleneck_results)
    return _respond(request, analytics.bottleneck_report(scope, period, limit), settings.bottlenecks_cache_ttl)


@get("/health/live", sync_to_thread=False)
def live() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@get("/health/ready", sync_to_thread=True)
def ready(request: Request) -> Response[dict]:
    """Readiness: a complete build is loaded and readable."""
    build = request.app.state.analytics.warehouse.current_build()
    return Response({"status": "ready", "build_id": build.build_id, "data_as_of": build.data_as_of})


def _invalid_parameter(_: Request, error: InvalidParameter) -> Response[ErrorBody]:
    body = ErrorBody(error="invalid_parameter", parameter=error.parameter, detail=error.detail)
    return Response(body, status_code=400)


def _unauthorized(request: Request, error: AuthError) -> Response[ErrorBody]:
    body = ErrorBody(error="unauthorized" if error.status == 401 else "forbidden", detail=error.detail)
    headers = {"Cache-Control": "no-store"}
    if error.status == 401:
        headers["WWW-Authenticate"] = request.app.state.authenticator.www_authenticate(error)
    return Response(body, status_code=error.status, headers=headers)


def _unavailable(_: Request, error: WarehouseUnavailable) -> Response[ErrorBody]:
    logger.warning("warehouse unavailable: %s", error)
    body = ErrorBody(error="warehouse_unavailable", detail=str(error), timestamp=_now())
    return Response(body, status_code=503)


def _http_error(_: Request, error: HTTPException) -> Response[ErrorBody]:
    body = ErrorBody(error="http_error", detail=str(error.detail))
    return Response(body, status_code=error.status_code, headers=error.headers)


def _unexpected(_: Request, error: Exception) -> Response[ErrorBody]:
    logger.exception("unexpected error", exc_info=error)
    body = ErrorBody(error="internal_error", detail="unexpected error; see the server log", timestamp=_now())
    return Response(body, status_code=500)


def create_app(settings: Settings | None = None, analytics: Analytics | None = None) -> Litestar:
    """Build the app. The warehouse is opened in the lifespan and closed on shutdown."""
    settings = settings or Settings.from_env()

    authenticator = Authenticator(settings.auth)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.analytics = analytics or Analytics(settings, open_warehouse(settings))
        app.state.aggregator = BackgroundAggregator(settings, state_dir_for(settings))
        app.state.aggregator.start()
        try:
            yield
        finally:
            app.state.aggregator.stop()
            app.state.analytics.close()

    return Litestar(
        route_handlers=[performance, bottlenecks, live, ready],
        lifespan=[lifespan],
        state=State({"settings": settings, "authenticator": authenticator}),
        exception_handlers={
            InvalidParameter: _invalid_parameter,
            AuthError: _unauthorized,
            WarehouseUnavailable: _unavailable,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        openapi_config=OpenAPIConfig(title="Tasker Analytics", version="0.1.0"),
    )
