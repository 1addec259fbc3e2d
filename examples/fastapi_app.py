"""rawpush inside a FastAPI application: one hub, shared.

The push endpoints are mounted at ``/push`` next to the app's own routes,
and a route publishes straight into the hub (no HTTP round trip)::

    python examples/fastapi_app.py [--port 8000]   # or: uvicorn examples.fastapi_app:api
    curl -N http://127.0.0.1:8000/push/sse/news     # in one terminal
    curl -X POST 'http://127.0.0.1:8000/announce?text=hello'

Every rawpush endpoint works under the mount: ``/push/ws/news``,
``/push/poll/news``, ``/push/publish/news``, ``/push/metrics``. Ctrl-C
drains: SSE streams get their ``retry:`` hint, WebSockets 1001.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI

import rawpush
import rawpush.asgi

hub = rawpush.Hub()
push = rawpush.asgi.App(hub)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # A mounted app gets no lifespan of its own: start and drain it here.
    await push.startup()
    yield
    await push.shutdown()
    await hub.close()  # ours, not the push app's


api = FastAPI(lifespan=lifespan)


@api.get("/")
async def home() -> dict[str, str]:
    return {"subscribe": "/push/sse/news", "announce": "POST /announce?text=..."}


@api.post("/announce")
async def announce(text: str) -> dict[str, str]:
    event = await hub.publish("news", text)
    return {"id": event.id}


api.mount("/push", push)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    args = parser.parse_args()
    sock = socket.create_server(("127.0.0.1", args.port))
    port = sock.getsockname()[1]
    print(f"SSE: curl -N http://127.0.0.1:{port}/push/sse/news", flush=True)
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning"))
    # uvicorn raises the signal it stopped on again once it is done.
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


if __name__ == "__main__":
    main()
