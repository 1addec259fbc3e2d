"""Slow subscribers (DESIGN.md "Backpressure"): a client that stops reading
is dealt with by its policy while the others receive everything.

The slow client has a small SO_RCVBUF and the server's socket a small
SO_SNDBUF, so kernel buffers fill after kilobytes; the fast client reads
each event before the next is published, so only the slow one lags.
"""

from __future__ import annotations

import asyncio
import json
import socket

from websockets.asyncio.client import ClientConnection, connect

from rawpush.server.app import Server
from rawpush.server.config import OverflowPolicy
from rawpush.ws import Close, Text
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, RawWS, raw_ws, shrink_server_buffers

SMALL = {
    "write_high_water": 2048,
    "write_low_water": 512,
    "queue_max_messages": 4,
    "queue_max_bytes": 64 * 1024,
    "close_timeout": 0.5,
}
PAYLOAD = "x" * 4000
#: far more than the few kilobytes of buffers between server and slow client
MAX_EVENTS = 400


async def _subscribers(server: Server, n: int) -> None:
    async with asyncio.timeout(WAIT):
        while server.hub.stats().subscribers < n:
            await asyncio.sleep(0.01)


async def _setup(server: Server, channel: str) -> tuple[ClientConnection, RawWS]:
    fast = await connect(f"ws://127.0.0.1:{server.port}/ws/{channel}", max_size=None)
    slow = await raw_ws(server.port, f"/ws/{channel}", rcvbuf=2048)
    await _subscribers(server, 2)
    shrink_server_buffers(server)
    return fast, slow


async def _lockstep(
    server: Server, fast: ClientConnection, channel: str, done: object
) -> list[str]:
    """Publish one event at a time, each read by the fast client, until done()."""
    assert callable(done)
    ids: list[str] = []
    async with asyncio.timeout(WAIT * 3):
        for _ in range(MAX_EVENTS):
            if done():
                break
            event = await server.hub.publish(channel, PAYLOAD)
            ids.append(event.id)
            assert json.loads(await fast.recv())["id"] == event.id
    return ids


async def test_stalled_reader_is_disconnected_others_get_everything(
    make_server: MakeServer,
) -> None:
    server = await make_server(**SMALL)
    fast, slow = await _setup(server, "s")
    overflowed = (("reason", "overflow"),)
    ids = await _lockstep(
        server, fast, "s", lambda: server.metrics.get("rawpush_disconnects_total", overflowed)
    )
    assert server.metrics.get("rawpush_disconnects_total", overflowed) == 1
    # The slow socket is closed by the server (after close_timeout) ...
    events = await slow.read_all()
    slow.close()
    closes = [e.code for e in events if isinstance(e, Close)]
    assert closes[:1] in ([1008], [1006])  # 1006 when the abort beat the frame
    # ... while the fast client keeps receiving, with nothing missing.
    more = await server.hub.publish("s", "after")
    async with asyncio.timeout(WAIT):
        assert json.loads(await fast.recv())["id"] == more.id
    assert len(ids) < MAX_EVENTS
    await fast.close()


async def test_drop_oldest_tells_the_slow_client_about_the_gap(make_server: MakeServer) -> None:
    server = await make_server(**SMALL, overflow=OverflowPolicy.DROP_OLDEST)
    fast, slow = await _setup(server, "d")
    await _lockstep(server, fast, "d", lambda: server.metrics.get(
        "rawpush_dropped_total", (("transport", "ws"),)) > 0)  # fmt: skip
    # Publish one more so the queue holds an event after the drop, then
    # let the slow client read: it sees {"gap": true} before newer events.
    await server.hub.publish("d", "latest")
    loop = asyncio.get_running_loop()
    texts: list[str] = []
    async with asyncio.timeout(WAIT):
        while not texts or json.loads(texts[-1]).get("data") != "latest":
            slow.conn.receive_data(await loop.sock_recv(slow.sock, 65536))
            texts += [e.data for e in slow.conn.events() if isinstance(e, Text)]
    assert '{"gap":true}' in texts
    slow.close()
    await fast.close()


async def test_block_policy_makes_the_publisher_wait(make_server: MakeServer) -> None:
    server = await make_server(**SMALL, overflow=OverflowPolicy.BLOCK)
    fast, slow = await _setup(server, "b")
    # Publish without waiting until one publish is held by the slow client.
    pending: list[asyncio.Task[object]] = []
    async with asyncio.timeout(WAIT * 3):
        for _ in range(MAX_EVENTS):
            task = asyncio.ensure_future(server.hub.publish("b", PAYLOAD))
            pending.append(task)
            await asyncio.sleep(0.005)
            if not task.done():
                break
    blocked = pending[-1]
    assert not blocked.done()
    # The fast client still gets every event published so far, unslowed.
    async with asyncio.timeout(WAIT):
        for _ in pending:
            await fast.recv()
    # Once the slow client reads, the publisher is released; nothing lost.
    loop = asyncio.get_running_loop()
    count = 0
    async with asyncio.timeout(WAIT):
        while count < len(pending):
            slow.conn.receive_data(await loop.sock_recv(slow.sock, 65536))
            count += sum(isinstance(e, Text) for e in slow.conn.events())
        await blocked
    slow.close()
    await fast.close()


async def test_stalled_sse_reader_is_ended_by_the_write_stall_timeout(
    make_server: MakeServer,
) -> None:
    server = await make_server(
        write_stall_timeout=0.3, write_high_water=1024, write_low_water=256,
        queue_max_messages=10_000, queue_max_bytes=1 << 30,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    await loop.sock_sendall(sock, b"GET /sse/stall HTTP/1.1\r\nHost: x\r\n\r\n")
    await _subscribers(server, 1)
    shrink_server_buffers(server)
    stalled = (("reason", "write_stall"),)
    async with asyncio.timeout(WAIT):
        while server.metrics.get("rawpush_disconnects_total", stalled) == 0:
            await server.hub.publish("stall", PAYLOAD)
            await asyncio.sleep(0.02)
    await _subscribers(server, 0)  # the subscription is gone with it
    sock.close()
