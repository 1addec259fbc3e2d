"""Interop with the ``websockets`` library, an independent implementation,
over real sockets, both ways:

- rawpush's client against a ``websockets`` server;
- a ``websockets`` client against ``rawpush echo``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed as WsClosed
from websockets.exceptions import ConnectionClosedError as WsClosedError
from websockets.exceptions import ConnectionClosedOK as WsClosedOK
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from rawpush.client import ConnectionClosedError, ConnectionClosedOK, InvalidHandshake, connect
from rawpush.server.echo import EchoConfig, EchoServer

# -- rawpush client -> websockets server -------------------------------------------

PROTOCOLS = [Subprotocol("chat"), Subprotocol("superchat")]


async def _handler(ws: ServerConnection) -> None:
    """Echo, plus a few commands the tests send as text."""
    async for message in ws:
        if message == "fragments":
            await ws.send(["frag", "men", "ted"])  # three frames, one message
        elif message == "binary-fragments":
            await ws.send([b"\x00", b"\x01\x02", b""])
        elif message == "ping-me":
            pong = await ws.ping(b"from websockets")
            await pong
            await ws.send("pong received")
        elif isinstance(message, str) and message.startswith("close:"):
            _, code, reason = message.split(":", 2)
            await ws.close(int(code), reason)
        else:
            await ws.send(message)


@pytest.fixture
async def ws_server_url() -> AsyncIterator[str]:
    async with serve(_handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/path"


async def test_rawpush_client_text_binary_echo(ws_server_url: str) -> None:
    async with connect(ws_server_url) as ws:
        for message in ["hello", "", "ünïcödé ✓ 𝄞", "x" * 70_000]:
            await ws.send(message)
            assert await ws.recv() == message
        for data in [b"", b"\x00\xff", bytes(range(256)) * 300]:
            await ws.send(data)
            assert await ws.recv() == data
    assert ws.close_code == 1000


async def test_rawpush_client_receives_fragmented_messages(ws_server_url: str) -> None:
    async with connect(ws_server_url) as ws:
        await ws.send("fragments")
        assert await ws.recv() == "fragmented"
        await ws.send("binary-fragments")
        assert await ws.recv() == b"\x00\x01\x02"


async def test_rawpush_client_ping_and_being_pinged(ws_server_url: str) -> None:
    async with connect(ws_server_url) as ws:
        assert await ws.ping(b"from rawpush") >= 0
        assert await ws.ping() >= 0
        # websockets pings us and waits for our core's automatic pong.
        await ws.send("ping-me")
        assert await ws.recv() == "pong received"


async def test_rawpush_client_subprotocol_negotiated() -> None:
    async with serve(_handler, "127.0.0.1", 0, subprotocols=PROTOCOLS) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/", subprotocols=["superchat", "x"]) as ws:
            assert ws.subprotocol == "superchat"
            await ws.send("hi")
            assert await ws.recv() == "hi"
        # websockets refuses a client that offers none of its subprotocols.
        with pytest.raises(InvalidHandshake) as info:
            await connect(f"ws://127.0.0.1:{port}/")
        assert info.value.status == 400


@pytest.mark.parametrize(
    ("code", "exc"),
    [(1000, ConnectionClosedOK), (1001, ConnectionClosedOK), (1008, ConnectionClosedError),
     (4000, ConnectionClosedError)],
)
async def test_rawpush_client_sees_server_close_code(
    ws_server_url: str, code: int, exc: type[Exception]
) -> None:
    async with connect(ws_server_url) as ws:
        await ws.send(f"close:{code}:reason {code}")
        with pytest.raises(exc):
            await ws.recv()
    assert (ws.close_code, ws.close_reason) == (code, f"reason {code}")


async def test_rawpush_client_close_code_reaches_websockets() -> None:
    seen: asyncio.Future[tuple[int | None, str | None]] = asyncio.get_running_loop().create_future()

    async def record(ws: ServerConnection) -> None:
        try:
            await ws.recv()
        except WsClosed as exc:
            assert exc.rcvd is not None
            seen.set_result((exc.rcvd.code, exc.rcvd.reason))

    async with serve(record, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.close(4321, "rawpush says bye")
        assert await asyncio.wait_for(seen, 5) == (4321, "rawpush says bye")
    assert ws.close_code == 4321


async def test_rawpush_client_refused_by_websockets() -> None:
    async def handler(ws: ServerConnection) -> None:
        raise AssertionError("never reached")

    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(403, "go away\n")

    async with serve(handler, "127.0.0.1", 0, process_request=refuse) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        with pytest.raises(InvalidHandshake) as info:
            await connect(f"ws://127.0.0.1:{port}/")
    assert info.value.status == 403


# -- websockets client -> rawpush echo --------------------------------------------


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    async with EchoServer(port=0, config=EchoConfig(max_message_size=100_000)) as server:
        yield server


async def test_websockets_client_echo(echo: EchoServer) -> None:
    async with ws_connect(echo.url) as ws:
        for message in ["hello", "", "ünïcödé ✓ 𝄞", "y" * 65_536]:
            await ws.send(message)
            assert await ws.recv() == message
        for data in [b"", b"\x00\xff", bytes(range(256)) * 100]:
            await ws.send(data)
            assert await ws.recv() == data


async def test_websockets_client_fragmented_send(echo: EchoServer) -> None:
    async with ws_connect(echo.url) as ws:
        await ws.send(["κό", "σμε", "", "!"])
        assert await ws.recv() == "κόσμε!"
        await ws.send([b"ab", b"", b"cd"])
        assert await ws.recv() == b"abcd"

        async def parts() -> AsyncIterator[str]:
            for part in ("async ", "frag", "ments"):
                yield part

        await ws.send(parts())
        assert await ws.recv() == "async fragments"


async def test_websockets_client_ping(echo: EchoServer) -> None:
    async with ws_connect(echo.url) as ws:
        pong = await ws.ping(b"are you there")
        assert await asyncio.wait_for(pong, 5) >= 0


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4999])
async def test_websockets_client_close_code_echoed(echo: EchoServer, code: int) -> None:
    ws = await ws_connect(echo.url)
    await ws.close(code, "bye")
    assert ws.close_code == code


async def test_websockets_client_message_too_big_gets_1009(echo: EchoServer) -> None:
    async with ws_connect(echo.url) as ws:
        await ws.send("z" * 100_001)
        with pytest.raises(WsClosedError) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_websockets_client_sees_1001_on_shutdown(echo: EchoServer) -> None:
    async with ws_connect(echo.url) as ws:
        await ws.send("before")
        assert await ws.recv() == "before"
        await echo.close()
        with pytest.raises(WsClosedOK) as info:
            await ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1001


async def test_websockets_client_and_rawpush_client_share_the_echo(echo: EchoServer) -> None:
    async with ws_connect(echo.url) as theirs, connect(echo.url) as ours:
        await theirs.send("theirs")
        await ours.send("ours")
        assert await theirs.recv() == "theirs"
        assert await ours.recv() == "ours"
