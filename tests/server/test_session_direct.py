"""The session's write-past-the-outbox path (``StreamSession._direct``).

While nothing waits and the socket takes more, a delivery writes at once
without going through ``Outbox.put``. These drive a real HTTP/1.1 host and
session on an in-memory transport that can pause the protocol from inside
a write, as asyncio's does when its buffer crosses the high watermark: the
next events must wait in the outbox and follow in order after the resume,
and the fast path must come back once the outbox is empty again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rawpush.hub import Hub
from rawpush.server.app import _index_html
from rawpush.server.config import OverflowPolicy, ServerConfig
from rawpush.server.context import Context
from rawpush.server.metrics import Metrics
from rawpush.server.protocol import HTTPProtocol
from rawpush.server.session import StreamSession

_SSE = b"GET /sse/c HTTP/1.1\r\nHost: x\r\n\r\n"
_WS = (
    b"GET /ws/c HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class Memory(asyncio.Transport):
    """Takes every write; pauses the protocol inside the write when asked."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[bytes] = []
        self.protocol: HTTPProtocol | None = None
        self.pause_on_next_write = False
        self.closing = False

    def write(self, data: Any) -> None:
        self.chunks.append(bytes(data))
        if self.pause_on_next_write and self.protocol is not None:
            self.pause_on_next_write = False
            self.protocol.pause_writing()

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def data(self) -> bytes:
        return b"".join(self.chunks)


async def _open(request: bytes, **config: Any) -> tuple[Hub, HTTPProtocol, Memory]:
    hub = Hub()
    ctx = Context(ServerConfig(**config), hub, Metrics(), _index_html())
    proto = HTTPProtocol(ctx)
    transport = Memory()
    transport.protocol = proto
    proto.connection_made(transport)
    proto.data_received(request)
    async with asyncio.timeout(5):
        while hub.stats().subscribers < 1:
            await asyncio.sleep(0)
    for _ in range(10):  # the head goes out once the subscription is made
        await asyncio.sleep(0)
    return hub, proto, transport


def _session(proto: HTTPProtocol) -> StreamSession:
    session = proto.session
    assert isinstance(session, StreamSession)
    return session


@pytest.mark.parametrize("request_bytes", [_SSE, _WS], ids=["sse", "ws"])
async def test_a_pause_inside_a_direct_write_queues_what_follows_in_order(
    request_bytes: bytes,
) -> None:
    hub, proto, transport = await _open(request_bytes)
    session = _session(proto)
    assert session._direct
    transport.pause_on_next_write = True
    await hub.publish("c", "e1")  # written at once; the write pauses the protocol
    assert not session._direct and session.outbox.paused
    written = len(transport.chunks)
    await hub.publish("c", "e2")
    await hub.publish("c", "e3")
    await hub.delivery.idle()
    assert len(transport.chunks) == written  # both wait in the outbox
    assert len(session.outbox) == 2
    proto.resume_writing()
    assert session._direct
    await hub.publish("c", "e4")
    await hub.delivery.idle()
    data = transport.data()
    positions = [data.index(b"e%d" % n) for n in range(1, 5)]
    assert positions == sorted(positions)
    assert proto.messages_out == 4
    transport.closing = True
    await hub.close()


async def test_the_fast_path_stops_once_the_session_ends() -> None:
    hub, proto, _transport = await _open(_SSE)
    session = _session(proto)
    assert session._direct
    proto.connection_lost(None)
    assert not session._direct
    await hub.close()


async def test_drop_oldest_counts_drops_while_paused_then_writes_directly_again() -> None:
    hub, proto, transport = await _open(
        _SSE, overflow=OverflowPolicy.DROP_OLDEST, queue_max_messages=2
    )
    session = _session(proto)
    proto.pause_writing()
    for n in range(5):
        await hub.publish("c", f"e{n}")
    await hub.delivery.idle()
    assert session.outbox.dropped == 3
    proto.resume_writing()
    assert session._direct
    await hub.publish("c", "e5")
    await hub.delivery.idle()
    data = transport.data()
    assert b"event: gap" in data
    assert data.index(b"e3") < data.index(b"e4") < data.index(b"e5")
    assert b"e0" not in data
    transport.closing = True
    await hub.close()
