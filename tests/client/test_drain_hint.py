"""The WebSocket drain hint (rawpush.client.ws_errors): a draining server
closes with 1001 "server shutting down; retry=<ms>", spread per connection
over drain_retry_ms..2x, and subscribe() comes back after it, within the
same documented bound as over SSE (2 x drain_retry_ms plus the connect)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from rawpush.client import subscribe
from rawpush.client.ws import connect, retry_hint
from rawpush.hub import Hub
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig

LIMIT = 20.0
DRAIN_MS = 200
#: what a loaded machine may need to connect and replay, on top of the
#: documented 2 x drain_retry_ms
CONNECT_SLACK = 2.0


def test_6455_7_1_6_retry_hint_is_read_from_the_close_reason() -> None:
    assert retry_hint("server shutting down; retry=1500") == 1.5
    assert retry_hint("retry=0") == 0.0
    assert retry_hint("server shutting down") is None
    assert retry_hint("retry=soon; retry=-1") is None
    assert retry_hint("") is None


async def test_6455_7_1_6_drain_close_carries_a_jittered_retry_hint() -> None:
    async with Server(ServerConfig(port=0, drain_retry_ms=DRAIN_MS)) as server:
        sockets = [await connect(f"ws://127.0.0.1:{server.port}/ws/c") for _ in range(20)]
        await server.close()
    hints = set()
    for ws in sockets:
        async with asyncio.timeout(LIMIT):
            await ws.wait_closed()
        assert ws.close_code == 1001
        assert (ws.close_reason or "").startswith("server shutting down; retry=")
        hint = ws.retry_after
        assert hint is not None and DRAIN_MS / 1000 <= hint <= 2 * DRAIN_MS / 1000
        hints.add(hint)
    assert len(hints) > 1  # spread, not one instant for everyone


@pytest.mark.parametrize("transport", ["ws", "sse"])
async def test_subscribe_comes_back_after_a_drain_within_the_bound(transport: str) -> None:
    hub = Hub()
    config = ServerConfig(port=0, drain_retry_ms=DRAIN_MS)
    first = Server(config, hub)
    await first.start()
    port = first.port
    # retry=5 s: without the server's hint the client would wait that long.
    messages = subscribe(first.url, "c", transports=(transport,), retry=5.0, max_retry=5.0)
    second: Server | None = None
    try:
        async with contextlib.aclosing(messages), asyncio.timeout(LIMIT):
            task = asyncio.ensure_future(anext(messages))
            while not task.done():  # publish until the subscription is live
                await hub.publish("c", "first")
                await asyncio.wait({task}, timeout=0.05)
            assert task.result().data == "first"
            drained = time.monotonic()
            await first.close()
            second = Server(ServerConfig(port=port, drain_retry_ms=DRAIN_MS), hub)
            await second.start()
            await hub.publish("c", "after")
            while (message := await anext(messages)).data != "after":
                pass
            back = time.monotonic() - drained
    finally:
        if second is not None:
            await second.close()
        await hub.close()
    assert message.transport == transport
    assert back <= 2 * DRAIN_MS / 1000 + CONNECT_SLACK, back
