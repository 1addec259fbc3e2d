"""The application the ASGI tests run under a real server (a subprocess):
a Starlette app with rawpush mounted at ``/push`` next to its own routes,
sharing one hub; ``POST /hello/{channel}`` publishes from a route.

Small watermarks, queues and history, so that a stalled reader overflows
within a few hundred kilobytes and a resume from eight events back is a gap.
``RAWPUSH_TEST_OVERFLOW`` in the environment picks the overflow policy
(default ``disconnect``), for the policy tests; ``RAWPUSH_TEST_HEARTBEAT``
the SSE heartbeat interval in seconds (default 15).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

import rawpush.asgi
from rawpush import Hub, HubConfig, ServerConfig

HISTORY = 8

config = ServerConfig(
    write_high_water=16 * 1024,
    write_low_water=4 * 1024,
    queue_max_bytes=256 * 1024,
    overflow=os.environ.get("RAWPUSH_TEST_OVERFLOW", "disconnect"),  # type: ignore[arg-type]
    drain_retry_ms=1234,
    drain_timeout=5.0,
    sse_heartbeat_interval=float(os.environ.get("RAWPUSH_TEST_HEARTBEAT", "15")),
    hub=HubConfig(history_size=HISTORY),
)
hub = Hub(config.hub)
push = rawpush.asgi.App(hub, config)


async def hello(request: Request) -> JSONResponse:
    data = (await request.body()).decode() or "hello"
    event = await hub.publish(request.path_params["channel"], data)
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
