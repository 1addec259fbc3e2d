"""Embed the rawpush server in your own asyncio program.

Run it, then open the printed URL in a browser (the demo page shows the
three transports side by side), or in another terminal::

    curl -N http://127.0.0.1:PORT/sse/clock

The program publishes the time to channel ``clock`` every second, straight
into the hub (no HTTP round trip), and drains cleanly on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import rawpush
from rawpush.server.config import ServerConfig


async def main(seconds: float | None = None) -> None:
    server = rawpush.Server(ServerConfig(port=0))  # port 0: any free port
    await server.start()
    print(f"demo page: {server.url}/   SSE: curl -N {server.url}/sse/clock")
    try:
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        while deadline is None or loop.time() < deadline:
            event = await server.hub.publish("clock", time.strftime("%H:%M:%S"))
            print("published", event.id)
            await asyncio.sleep(1)
    finally:
        # Graceful drain: WebSocket 1001, SSE retry hint, polls answered.
        await server.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
