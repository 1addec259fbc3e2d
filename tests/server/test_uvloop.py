"""The server on uvloop (``rawpush serve --loop uvloop``): an SSE and a
WebSocket subscriber, a POST publish and a WebSocket publish, then the
graceful close, whose ``_stop_accepting`` takes the listener's reader away
through a loop API that uvloop implements on its own."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from tests.conftest import require
from tests.server.support import WAIT, request

try:
    import uvloop
except ImportError:  # pragma: no cover - the bench extra brings it
    HAVE_UVLOOP = False
else:
    HAVE_UVLOOP = True


async def _exchange() -> None:
    loop = asyncio.get_running_loop()
    assert type(loop).__module__.startswith("uvloop"), type(loop)
    server = Server(ServerConfig(host="127.0.0.1", port=0))
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"GET /sse/c HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
    )
    async with asyncio.timeout(WAIT):
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        async with connect(f"ws://127.0.0.1:{server.port}/ws/c") as ws:
            posted = await request(server.port, "POST", "/publish/c", body=b"by post")
            assert posted.status == 200
            first = json.loads(await ws.recv())
            assert first["data"] == "by post"
            await ws.send("by ws")
            second = json.loads(await ws.recv())
            assert second["data"] == "by ws"
        seen = b""
        while b"data: by ws" not in seen:
            chunk = await reader.read(4096)
            assert chunk, seen
            seen += chunk
        assert seen.index(b"data: by post") < seen.index(b"data: by ws")
        await server.close()
        # The drain ends the stream with its retry hint (then EOF).
        rest = await reader.read()
        assert b"retry:" in seen + rest
    writer.close()


# uvloop's TCPTransport is no subclass of asyncio.Transport (the hosts
# cast rather than assert it), and its loop has no selector: Server.close
# stops accepting through the loop's remove_reader all the same.
def test_sse_and_websocket_exchange_and_drain_on_uvloop() -> None:
    require("uvloop", HAVE_UVLOOP)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_exchange())
