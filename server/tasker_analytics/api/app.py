"""The Litestar application: `create_app(settings)` builds it; nothing happens at import."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import OpenAPIType, Operation, Schema
from litestar.openapi.spec import Parameter as OpenAPIParameter
from litestar.response.base import ASGIResponse

from tasker_analytics.api.access import (
    BASE_PATH,
    BOTTLENECK_PARAMETERS,
    NO_STORE,
    bottleneck_query,
    cached_headers,
    checked,
    no_query,
)
from tasker_analytics.api.admission import Admission, ClientGone, Overloaded, answer
from tasker_analytics.api.metrics import route_handlers as operator_handlers
from tasker_analytics.auth.tokens import Authenticator, AuthError
from tasker_analytics.build.background import BackgroundAggregator, state_dir_for
from tasker_analytics.cache.encoded import Encoded
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.analytics import Analytics
from tasker_analytics.core.query import InvalidQuery
from tasker_analytics.core.schemas import (
    Bottlenecks,
    CacheStatus,
    ErrorBody,
    Performance,
    ResourceUtilization,
    WarehouseStatus,
    utc,
    utc_now,
)
from tasker_analytics.ui.dashboard import route_handlers as dashboard_handlers
from tasker_analytics.warehouse.snapshots import BuildInfo, Warehouse, WarehouseUnavailable, open_warehouse

logger = logging.getLogger("tasker_analytics")
_JSON = msgspec.json.Encoder()
_JSON_TYPE = (b"content-type", b"application/json")


class _SentAsIs(ASGIResponse):
    """An encoded body with headers encoded once per body and cache policy: Litestar's
    header merging and re-encoding are skipped, which is most of a cache hit's cost."""

    __slots__ = ("_raw_headers",)

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status_code
        self._raw_headers = raw_headers
        self.body = body
        self.content_length = len(body)
        self.background = None
        self.is_head_response = False
        self.encoding = "utf-8"
        self._encoded_cookies = ()

    def encode_headers(self) -> list[tuple[bytes, bytes]]:
        return self._raw_headers


class _Prepared(Response):
    """The handler's return value for an encoded body: already the ASGI response."""

    __slots__ = ("_asgi",)

    def __init__(self, asgi: _SentAsIs) -> None:  # no Response.__init__: nothing is left to render
        self._asgi = asgi

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> ASGIResponse:
        return self._asgi


def _respond(request: Request, encoded: Encoded, ttl: int, resources: bytes | None = None) -> _SentAsIs:
    private = request.app.state.settings.auth.required
    headers = encoded.headers.get((ttl, private))
    if headers is None:
        named = {
            **cached_headers(private, ttl, encoded.built_at, encoded.build_id),
            "ETag": encoded.etag,
            "X-Cache": encoded.status,
        }
        headers = encoded.headers[(ttl, private)] = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in named.items()
        ]
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and encoded.etag in _etags(if_none_match):
        return _SentAsIs(304, headers, b"")
    body = encoded.json(resources)
    length = (b"content-length", str(len(body)).encode("latin-1"))
    return _SentAsIs(200, [*headers, _JSON_TYPE, length], body)


def _etags(header: str | None) -> set[str]:
    if not header:
        return set()
    tags = {tag.strip() for tag in header.split(",") if tag.strip()}
    # Weak comparison (RFC 9110 13.1.2): W/"x" and "x" match.
    return tags | {tag[2:] if tag.startswith("W/") else f"W/{tag}" for tag in tags}


def _resources(request: Request, build: BuildInfo) -> bytes:
    """The performance body's resource_utilization, encoded: the served build, the cache
    counters now, its entry count (counted at most once a second) and the background status."""
    analytics: Analytics = request.app.state.analytics
    cache = analytics.cache
    return _JSON.encode(
        ResourceUtilization(
            warehouse=WarehouseStatus(
                engine=analytics.warehouse.engine,
                location=build.public_location,
                size_bytes=build.size_bytes,
                build_id=build.build_id,
                built_at=utc(build.built_at),
                build_duration_seconds=build.build_seconds,
            ),
            cache=CacheStatus(
                backend=cache.store.backend,
                entries=cache.recent_entries(),
                hits=cache.stats.hits,
                misses=cache.stats.misses,
                hit_ratio=round(cache.stats.hit_ratio, 4),
            ),
            background_jobs=request.app.state.aggregator.status(),
        )
    )


def _performance_miss(request: Request) -> tuple[Encoded, bytes]:
    analytics: Analytics = request.app.state.analytics
    encoded = analytics.performance_encoded()
    return encoded, _resources(request, analytics.warehouse.current_build())


_ERRORS = {
    401: ResponseSpec(data_container=ErrorBody, description="Missing or invalid credentials (auth on)"),
    403: ResponseSpec(data_container=ErrorBody, description="A valid token without the permission"),
    503: ResponseSpec(data_container=ErrorBody, description="Warehouse unreachable or not built"),
}
_BAD_INPUT = {400: ResponseSpec(data_container=ErrorBody, description="A bad parameter, named in the body")}


# The two endpoints are async: authentication, parameter checks and a cache hit (an
# encoded body of the served build, analytics.encoded_hit) run on the event loop; a miss
# reads the warehouse or the shared cache in a worker thread. Every request of the two
# goes one way: TaskerAnalyticsApp.__call__ authenticates the caller and parses the query
# once (access.checked keeps both, or the error, in the request's scope) and answers a
# hit before routing; a miss goes on to the routed handler, which reuses them and goes
# straight to admission.answer; a refused request is rendered there by the app's
# exception handlers.
_MISSED = "tasker_analytics.missed"


def _performance_hit(request: Request) -> _SentAsIs | None:
    """The response of a cache hit of /performance, or None."""
    analytics = checked(request, no_query).analytics
    build = analytics.warehouse.known_build()
    encoded = analytics.encoded_hit("performance", {}, build) if build is not None else None
    if encoded is None or build is None:
        return None
    return _respond(request, encoded, analytics.settings.performance_cache_ttl, _resources(request, build))


def _bottleneck_hit(request: Request) -> _SentAsIs | None:
    """The response of a cache hit of /bottlenecks, or None."""
    ask = checked(request, bottleneck_query)
    encoded = ask.analytics.encoded_hit("bottlenecks", ask.query.parameters())
    return None if encoded is None else _respond(request, encoded, ask.analytics.settings.bottlenecks_cache_ttl)


def _routed_hit(request: Request, hit: Callable[[Request], _SentAsIs | None]) -> _Prepared | None:
    """The hit, unless the pass before routing already looked and found none."""
    if request.scope.get("state", {}).get(_MISSED):
        return None
    response = hit(request)
    return None if response is None else _Prepared(response)


class _QueryParameters(Operation):
    """The bottleneck endpoint's OpenAPI operation, with the query parameters that
    access.bottleneck_query parses (declared there once): the handler takes none from
    Litestar, so that every bad value gets the project's 400 body naming the parameter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parameters = [
            OpenAPIParameter(
                name=name,
                param_in="query",
                required=False,
                description=description,
                schema=Schema(type=OpenAPIType(kind), minimum=1 if kind == "integer" else None),
            )
            for name, (kind, description) in BOTTLENECK_PARAMETERS.items()
        ]


@get(f"{BASE_PATH}/performance", responses={**_BAD_INPUT, **_ERRORS})
async def performance(request: Request) -> Response[Performance]:
    """System health, 1h/4h/24h trends, task statistics and processing times at the build's as_of."""
    hit = _routed_hit(request, _performance_hit)
    if hit is not None:
        return hit
    analytics = checked(request, no_query).analytics
    encoded, resources = await answer(request, "performance", _performance_miss, request)
    return _Prepared(_respond(request, encoded, analytics.settings.performance_cache_ttl, resources))


@get(f"{BASE_PATH}/bottlenecks", responses={**_BAD_INPUT, **_ERRORS}, operation_class=_QueryParameters)
async def bottlenecks(request: Request) -> Response[Bottlenecks]:
    """Slowest tasks and steps, error patterns, duration distribution and recommendations."""
    hit = _routed_hit(request, _bottleneck_hit)
    if hit is not None:
        return hit
    ask = checked(request, bottleneck_query)
    encoded = await answer(request, ("bottlenecks", ask.query), ask.analytics.bottleneck_encoded, ask.query)
    return _Prepared(_respond(request, encoded, ask.analytics.settings.bottlenecks_cache_ttl))


_HITS = {f"{BASE_PATH}/performance": _performance_hit, f"{BASE_PATH}/bottlenecks": _bottleneck_hit}


class TaskerAnalyticsApp(Litestar):
    """The app, with cache hits of the two analytics endpoints answered before routing,
    and HEAD answered as GET without its body.

    A hit is the same response the routed handler gives (the same function makes it, after
    the one authentication and parameter check of the request), without Litestar's per-request work for
    a routed handler: its signature model, parameter extraction and response pipeline,
    which cost more than the rest of a hit. Anything that is not a hit goes the routed way.
    """

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        if scope["type"] == "http" and scope["method"] == "GET":
            hit = _HITS.get(scope["path"])
            if hit is not None:
                scope["app"] = scope["litestar_app"] = self
                scope.setdefault("state", {})
                try:
                    response = hit(Request(scope, receive, send))
                except Exception:  # noqa: BLE001 - the routed handler raises it again, rendered there
                    response = None
                if response is None:
                    scope["state"][_MISSED] = True
                else:
                    await send(
                        {
                            "type": "http.response.start",
                            "status": response.status_code,
                            "headers": response.encode_headers(),
                        }
                    )
                    await send({"type": "http.response.body", "body": response.body})
                    return
        await super().__call__(scope, receive, send)


def _without_body(send: Any) -> Any:
    """An ASGI send for a HEAD request: the GET's status and headers, no body bytes."""

    async def head_send(message: dict) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b""}
        await send(message)

    return head_send


@get("/health/live", sync_to_thread=False)
def live() -> dict[str, str]:
    """Liveness: the process answers (on the event loop, never behind warehouse work)."""
    return {"status": "ok"}


# How long a readiness answer is reused, and how long a check may take before it is a 503.
_READY_SECONDS = 1.5
_READY_TIMEOUT_SECONDS = 2.0


class Readiness:
    """`/health/ready`: a read of the served performance marts (so a missing, unreadable
    or corrupt build is not ready), at most once per _READY_SECONDS, in a thread of its own
    so that it never queues behind uncached bodies; the answer is reused meanwhile."""

    def __init__(self, warehouse: Warehouse):
        self.warehouse = warehouse
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="readiness")
        self._answer: tuple[float, int, dict[str, Any]] | None = None
        self._running: Future | None = None
        self._guard = threading.Lock()

    def _check(self) -> tuple[int, dict[str, Any]]:
        try:
            build = self.warehouse.probe()
        except WarehouseUnavailable as error:
            logger.warning("not ready: %s", error.internal)
            return 503, _error_body("warehouse_unavailable", str(error))
        answer = {"status": "ready", "build_id": build.build_id, "data_as_of": utc(build.data_as_of)}
        return 200, answer

    def _checked(self) -> tuple[int, dict[str, Any]]:
        status, body = self._check()
        self._answer = (time.monotonic(), status, body)
        return status, body

    def _reusable(self) -> tuple[int, dict[str, Any]] | None:
        """The last answer while it is recent and, if ready, its build is still the one
        served and not found corrupt since."""
        answer = self._answer
        if answer is None or time.monotonic() - answer[0] >= _READY_SECONDS:
            return None
        if answer[1] == 200:
            build = self.warehouse.known_build()
            if build is None or build.build_id != answer[2]["build_id"]:
                return None
        return answer[1], answer[2]

    async def answer(self) -> tuple[int, dict[str, Any]]:
        reusable = self._reusable()
        if reusable is not None:
            return reusable
        with self._guard:
            if self._running is None or self._running.done():
                self._running = self._executor.submit(self._checked)
            running = self._running
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(running)), _READY_TIMEOUT_SECONDS)
        except TimeoutError:
            detail = f"the readiness check did not finish within {_READY_TIMEOUT_SECONDS:.0f} s"
            return 503, _error_body("warehouse_unavailable", detail)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _error_body(error: str, detail: str) -> dict[str, Any]:
    return msgspec.to_builtins(ErrorBody(error=error, detail=detail, timestamp=utc_now()))


@get("/health/ready")
async def ready(request: Request) -> Response[dict]:
    """Readiness: the served build's performance marts can be read."""
    status, body = await request.app.state.readiness.answer()
    return Response(body, status_code=status, headers=NO_STORE)


def _invalid_parameter(_: Request, error: InvalidQuery) -> Response[ErrorBody]:
    body = ErrorBody(error="invalid_parameter", parameter=error.parameter, detail=error.detail)
    return Response(body, status_code=400)


def _unauthorized(request: Request, error: AuthError) -> Response[ErrorBody]:
    body = ErrorBody(error="unauthorized" if error.status == 401 else "forbidden", detail=error.detail)
    headers = dict(NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = request.app.state.authenticator.www_authenticate(error)
    return Response(body, status_code=error.status, headers=headers)


def _unavailable(_: Request, error: WarehouseUnavailable) -> Response[ErrorBody]:
    logger.warning("warehouse unavailable: %s", error.internal)
    body = ErrorBody(error="warehouse_unavailable", detail=str(error), timestamp=utc_now())
    return Response(body, status_code=503, headers=NO_STORE)


def _overloaded(_: Request, error: Overloaded) -> Response[ErrorBody]:
    body = ErrorBody(error="overloaded", detail=str(error), timestamp=utc_now())
    headers = {"Retry-After": str(error.retry_after), **NO_STORE}
    return Response(body, status_code=503, headers=headers)


def _client_gone(_: Request, error: ClientGone) -> Response[ErrorBody]:
    # Nobody reads this: the client disconnected before its body was computed.
    body = ErrorBody(error="client_gone", detail="the client disconnected", timestamp=utc_now())
    return Response(body, status_code=503, headers=NO_STORE)


def _http_error(_: Request, error: HTTPException) -> Response[ErrorBody]:
    body = ErrorBody(error="http_error", detail=str(error.detail))
    return Response(body, status_code=error.status_code, headers=error.headers)


def _unexpected(_: Request, error: Exception) -> Response[ErrorBody]:
    logger.exception("unexpected error", exc_info=error)
    body = ErrorBody(error="internal_error", detail="unexpected error; see the server log", timestamp=utc_now())
    return Response(body, status_code=500)


def create_app(settings: Settings | None = None, analytics: Analytics | None = None) -> Litestar:
    """Build the app. The warehouse is opened in the lifespan and closed on shutdown."""
    settings = settings or Settings.from_env()

    authenticator = Authenticator(settings.auth)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.analytics = analytics or Analytics(settings, open_warehouse(settings))
        app.state.readiness = Readiness(app.state.analytics.warehouse)
        app.state.admission = Admission(settings.concurrent_misses, settings.max_waiting_misses)
        app.state.aggregator = BackgroundAggregator(settings, state_dir_for(settings))
        app.state.aggregator.start()
        try:
            yield
        finally:
            app.state.aggregator.stop()
            app.state.readiness.close()
            app.state.analytics.close()

    return TaskerAnalyticsApp(
        route_handlers=[performance, bottlenecks, live, ready, *dashboard_handlers, *operator_handlers],
        lifespan=[lifespan],
        state=State({"settings": settings, "authenticator": authenticator}),
        exception_handlers={
            InvalidQuery: _invalid_parameter,
            AuthError: _unauthorized,
            WarehouseUnavailable: _unavailable,
            Overloaded: _overloaded,
            ClientGone: _client_gone,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        # The schema as JSON only, at /schema and /schema/openapi.json: the HTML viewers
        # Litestar offers load their scripts from third-party CDNs.
        openapi_config=OpenAPIConfig(
            title="Tasker Analytics",
            version="0.1.0",
            path="/schema",
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        ),
    )
