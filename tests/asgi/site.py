"""The application the ASGI tests run under a real server (a subprocess):
a Starlette app with rawpush mounted at ``/push`` next to its own routes,
sharing one hub; ``POST /hello/{channel}`` publishes from a route."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

import rawpush.asgi
from rawpush import Hub, ServerConfig

#: small watermarks and queues, so a stalled reader overflows in a few
#: hundred kilobytes (RAWPUSH_TEST_SMALL=1)
SMALL = os.environ.get("RAWPUSH_TEST_SMALL") == "1"

config = ServerConfig(
    write_high_water=16 * 1024 if SMALL else 64 * 1024,
    write_low_water=4 * 1024 if SMALL else 16 * 1024,
    queue_max_bytes=128 * 1024 if SMALL else 8 * 1024 * 1024,
    drain_retry_ms=1234,
    drain_timeout=5.0,
)
hub = Hub(config.hub)
push = rawpush.asgi.App(hub, config)


async def hello(request: Request) -> JSONResponse:
    event = await hub.publish(request.path_params["channel"], await request.body() and
                              (await request.body()).decode() or "hello")
    return JSONResponse({"id": event.id})


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("the host app\n")


app = Starlette(
    routes=[
        Route("/", home),
        Route("/hello/{channel}", hello, methods=["POST"]),
        Mount("/push", push),
    ]
)
