"""Flow control of ``WebSocketProtocol``, in process, on a recording transport.

What a real socket hides: whether a send waited for ``resume_writing``
and whether reading paused while the application did not take its
messages. The application steps are driven by events it sets; the loop
is only yielded to (never slept on) so that queued callbacks run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rawpush.ws import ClientConnection, Text, WSConfig
from tests.uvicorn.support import in_process, turns


async def test_asgi_send_waits_while_the_transport_is_over_its_high_water_mark() -> None:
    accepted = asyncio.Event()
    go = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        accepted.set()
        await go.wait()
        await send({"type": "websocket.send", "text": "held back"})
        await receive()

    protocol, transport, handshake = in_process(app)
    await accepted.wait()
    assert handshake.receive_data(bytes(transport.written)) is not None  # the 101
    transport.written.clear()
    protocol.pause_writing()
    go.set()
    await turns()
    assert transport.written == b""
    protocol.resume_writing()
    await turns()
    client = ClientConnection()
    client.receive_data(bytes(transport.written))
    assert client.events() == [Text("held back")]
    protocol.connection_lost(None)
    await turns()


async def test_5_4_reading_pauses_while_the_app_does_not_take_messages() -> None:
    may_receive = asyncio.Event()
    taken: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await may_receive.wait()
        for _ in range(3):
            taken.append(await receive())

    protocol, transport, _ = in_process(app)
    await turns()
    client = ClientConnection(WSConfig())
    for _ in range(3):
        client.send_binary(b"m" * 40_000)
        protocol.data_received(client.data_to_send())
    # One message waits for the application; the rest (80 KB) stay
    # unparsed, over the backlog bound: reading paused.
    assert not transport.reading
    may_receive.set()
    await turns()
    assert transport.reading
    assert [m["bytes"] for m in taken] == [b"m" * 40_000] * 3
    protocol.connection_lost(None)
    await turns()


async def test_asgi_denials_in_process_403_and_http_response() -> None:
    async def deny(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.close"})
        assert (await receive())["type"] == "websocket.disconnect"

    _, transport, _ = in_process(deny)
    await turns()
    assert transport.written.startswith(b"HTTP/1.1 403 ")
    assert transport.closed

    async def respond(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        headers = [(b"content-length", b"4")]
        await send({"type": "websocket.http.response.start", "status": 418, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": b"te", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"a!"})

    _, transport, _ = in_process(respond)
    await turns()
    assert transport.written.startswith(b"HTTP/1.1 418 ")
    assert transport.written.endswith(b"\r\n\r\ntea!")
    assert transport.closed


async def test_7_1_2_peer_close_in_process_reaches_the_app_and_ends_tcp() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept", "subprotocol": None})
        seen.append(await receive())
        seen.append(await receive())  # the disconnect again, not a hang

    protocol, transport, _ = in_process(app)
    await turns()
    client = ClientConnection()
    client.send_close(4000, "bye")
    protocol.data_received(client.data_to_send())
    await turns()
    assert seen == [{"type": "websocket.disconnect", "code": 4000, "reason": "bye"}] * 2
    assert transport.closed
    protocol.connection_lost(None)
    await turns()
