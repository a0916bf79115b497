"""The bare endpoint of the API benchmark (bench/api.py): a minimal Litestar app that answers
`GET /bare` with a static JSON body, served by granian exactly like `tasker-analytics serve`
(ASGI interface, factory, same worker count). It is the floor a cached response of the
real server is compared with: routing, one handler call and writing the bytes, nothing else.

The body is the file named by BARE_BODY_FILE (bench/api.py writes the cached bottleneck
body there, so both answers carry the same bytes), else BARE_BODY_BYTES bytes of JSON.

    python bench/bare_app.py --port 8100 [--workers 1]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from litestar import Litestar, Response, get


def _body() -> bytes:
    path = os.environ.get("BARE_BODY_FILE")
    if path:
        return Path(path).read_bytes()
    size = int(os.environ.get("BARE_BODY_BYTES", "2048"))
    padding = max(0, size - len(b'{"pad":""}'))
    return b'{"pad":"' + b"x" * padding + b'"}'


def create_app() -> Litestar:
    body = _body()
    headers = {"Cache-Control": "public, max-age=120"}

    @get("/bare")
    async def bare() -> Response[bytes]:
        return Response(body, media_type="application/json", headers=headers)

    # The same handler run in the thread pool, as the real endpoints are
    # (sync_to_thread=True): the cost of that hop alone.
    @get("/bare-thread", sync_to_thread=True)
    def bare_thread() -> Response[bytes]:
        return Response(body, media_type="application/json", headers=headers)

    @get("/health/ready")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return Litestar(route_handlers=[bare, bare_thread, ready], openapi_config=None)


def main() -> int:
    from granian import Granian
    from granian.constants import Interfaces

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # The workers import this module by name.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    Granian(
        "bare_app:create_app",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=args.workers,
    ).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
