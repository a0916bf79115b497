"""The Litestar application: `create_app(settings)` builds it; nothing happens at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from email.utils import format_datetime
from typing import Annotated

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.params import Parameter

from tasker_analytics.analytics import Analytics, Served
from tasker_analytics.auth import Authenticator, AuthError
from tasker_analytics.background import BackgroundAggregator, state_dir_for
from tasker_analytics.dashboard import route_handlers as dashboard_handlers
from tasker_analytics.operators import route_handlers as operator_handlers
from tasker_analytics.schemas import (
    Bottlenecks,
    CacheStatus,
    ErrorBody,
    Performance,
    ResourceUtilization,
    WarehouseStatus,
    utc,
    utc_now,
)
from tasker_analytics.settings import Settings
from tasker_analytics.warehouse import WarehouseUnavailable, open_warehouse
from tasker_analytics.web import (
    BASE_PATH,
    InvalidParameter,
    authorized_analytics,
    bottleneck_query,
    check_known,
)

logger = logging.getLogger("tasker_analytics")

def _now() -> datetime:
    return utc_now()


def _http_date(moment: datetime) -> str:
    return format_datetime(utc(moment), usegmt=True)


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
            built_at=utc(build.built_at),
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
    analytics = authorized_analytics(request)
    check_known(request, set())
    served = analytics.performance_report()
    served = Served(
        msgspec.structs.replace(served.body, resource_utilization=_resources(request)), served.cache, served.etag
    )
    return _respond(request, served, analytics.settings.performance_cache_ttl)


@get(f"{BASE_PATH}/bottlenecks", sync_to_thread=True, responses={**_BAD_INPUT, **_ERRORS})
def bottlenecks(
    request: Request,
    # Declared for the OpenAPI schema only; web.bottleneck_query parses and validates them
    # so that every bad value gets the project's 400 body naming the parameter.
    namespace: Annotated[str | None, Parameter(description="namespace (exact, 1-64 characters)")] = None,
    task_name: Annotated[str | None, Parameter(description="task name (exact, 1-64 characters)")] = None,
    name: Annotated[str | None, Parameter(description="alias of task_name")] = None,
    version: Annotated[str | None, Parameter(description="task version (exact, 1-16 characters)")] = None,
    period: Annotated[str | None, Parameter(description="hours, a whole number from 1 to the maximum")] = None,
    limit: Annotated[str | None, Parameter(description="rows per list, a whole number from 1 to the maximum")] = None,
) -> Response[Bottlenecks]:
    """Slowest tasks and steps, error patterns, duration distribution and recommendations."""
    analytics = authorized_analytics(request)
    settings = analytics.settings
    scope, period, limit = bottleneck_query(request, settings)
    return _respond(request, analytics.bottleneck_report(scope, period, limit), settings.bottlenecks_cache_ttl)


@get("/health/live", sync_to_thread=False)
def live() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@get("/health/ready", sync_to_thread=True)
def ready(request: Request) -> Response[dict]:
    """Readiness: a complete build is loaded and readable."""
    build = request.app.state.analytics.warehouse.current_build()
    return Response({"status": "ready", "build_id": build.build_id, "data_as_of": utc(build.data_as_of)})


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
        route_handlers=[performance, bottlenecks, live, ready, *dashboard_handlers, *operator_handlers],
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
