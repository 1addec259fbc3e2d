"""ASGI ``send`` of ``WebSocketProtocol``, in process, on a recording transport.

A data message on an open connection under its high-water mark is
written during the call, and what the call returns is already complete;
everything else keeps the ASGI WebSocket spec's contract (version 2.4):
``RuntimeError`` for a message out of place, ``ClientDisconnected`` (an
``OSError``) once the connection is gone, both raised when awaited. The
loop is only yielded to, never slept on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from uvicorn.protocols.utils import ClientDisconnected

from rawpush.uvicorn import WebSocketProtocol
from rawpush.ws import Binary, ClientConnection, Close, Event, Text
from tests.uvicorn.support import RecordingTransport, in_process, turns


@dataclass
class Opened:
    protocol: WebSocketProtocol
    transport: RecordingTransport
    send: Any
    receive: Any

    def frames(self) -> list[Event]:
        """What the server wrote since the 101, as the client's events."""
        client = ClientConnection()
        client.receive_data(bytes(self.transport.written))
        return client.events()


@contextlib.asynccontextmanager
async def opened() -> AsyncIterator[Opened]:
    """An accepted connection whose application hands its callables over."""
    callables: list[Any] = []
    finish = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        callables.extend((send, receive))
        await finish.wait()

    protocol, transport, handshake = in_process(app)
    await turns()
    assert handshake.receive_data(bytes(transport.written)) is not None  # the 101
    transport.written.clear()
    transport.writes = 0
    send, receive = callables
    try:
        yield Opened(protocol, transport, send, receive)
    finally:
        finish.set()
        protocol.connection_lost(None)
        await turns()


async def test_asgi_send_of_a_data_message_writes_it_during_the_call() -> None:
    async with opened() as ws:
        pending = ws.send({"type": "websocket.send", "text": "hi"})
        # Written before anything awaits it; awaiting suspends nothing.
        assert ws.frames() == [Text("hi")]
        assert isinstance(pending, asyncio.Future) and pending.done()
        await pending
        await ws.send({"type": "websocket.send", "bytes": b"\x00\xff"})
        # Section 5.6: bytes go out as a binary frame, even beside a text.
        await ws.send({"type": "websocket.send", "bytes": b"b", "text": "t"})
        await ws.send({"type": "websocket.send", "bytes": None, "text": "t"})
        assert ws.frames() == [Text("hi"), Binary(b"\x00\xff"), Binary(b"b"), Text("t")]
        assert ws.transport.writes == 4  # one write per message


async def test_asgi_send_waits_once_a_write_crossed_the_high_water_mark() -> None:
    async with opened() as ws:
        # The first write pauses the protocol from inside transport.write.
        ws.transport.high_water = 0
        await ws.send({"type": "websocket.send", "text": "first"})
        later = [
            asyncio.ensure_future(ws.send({"type": "websocket.send", "text": text}))
            for text in ("second", "third")
        ]
        await turns()
        assert ws.frames() == [Text("first")]
        assert not any(task.done() for task in later)
        ws.protocol.resume_writing()
        await asyncio.gather(*later)
        assert ws.frames() == [Text("first"), Text("second"), Text("third")]
        # Writable again: back to writing during the call.
        pending = ws.send({"type": "websocket.send", "text": "fourth"})
        assert ws.frames()[-1] == Text("fourth")
        await pending


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"type": "websocket.send"}, "needs 'bytes' or 'text'"),
        ({"type": "websocket.send", "text": None, "bytes": None}, "needs 'bytes' or 'text'"),
        # A lone surrogate has no UTF-8 form (RFC 6455 section 5.6).
        ({"type": "websocket.send", "text": "\ud800"}, "cannot send"),
        ({"type": "websocket.accept"}, "Expected ASGI message"),
    ],
)
async def test_asgi_send_of_a_bad_message_raises_runtime_error_when_awaited(
    message: dict[str, Any], says: str
) -> None:
    async with opened() as ws:
        pending = ws.send(message)  # the call itself raises nothing
        with pytest.raises(RuntimeError, match=says):
            await pending
        # Nothing was written, and the connection still sends.
        await ws.send({"type": "websocket.send", "text": "still open"})
        assert ws.frames() == [Text("still open")]


async def test_7_1_2_send_after_the_apps_close_raises_runtime_error() -> None:
    async with opened() as ws:
        await ws.send({"type": "websocket.close", "code": 4001, "reason": "done"})
        with pytest.raises(RuntimeError, match=r"after 'websocket\.close'"):
            await ws.send({"type": "websocket.send", "text": "too late"})
        assert ws.frames() == [Close(4001, "done")]


async def test_7_1_4_send_after_the_peers_close_raises_client_disconnected() -> None:
    async with opened() as ws:
        client = ClientConnection()
        client.send_close(1000, "")
        ws.protocol.data_received(client.data_to_send())
        assert (await ws.receive())["type"] == "websocket.disconnect"
        with pytest.raises(ClientDisconnected):
            await ws.send({"type": "websocket.send", "text": "gone"})
        assert ws.frames() == [Close(1000, "")]  # the echo of the peer's Close


async def test_7_1_5_send_after_the_connection_was_lost_raises_client_disconnected() -> None:
    async with opened() as ws:
        ws.protocol.connection_lost(None)
        with pytest.raises(ClientDisconnected):
            await ws.send({"type": "websocket.send", "text": "gone"})
        with pytest.raises(ClientDisconnected):
            await ws.send({"type": "websocket.send", "bytes": b"gone"})
        assert ws.frames() == []


async def test_asgi_send_on_a_transport_that_failed_writes_nothing() -> None:
    async with opened() as ws:
        # asyncio marks a transport closing at once on a socket error and
        # reports connection_lost later: the send in between is dropped.
        ws.transport.closed = True
        await ws.send({"type": "websocket.send", "text": "lost"})
        assert ws.transport.writes == 0
