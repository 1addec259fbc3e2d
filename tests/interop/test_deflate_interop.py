"""permessage-deflate (RFC 7692) with the ``websockets`` library, over sockets.

``websockets`` negotiates permessage-deflate by default, so it is the
natural peer: rawpush's client against its server, its client against
``rawpush echo --compression deflate``, with several parameter sets; and,
when compression is not asked for, nothing is negotiated (off by default).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

from rawpush.cli import build_parser
from rawpush.client import InvalidHandshake, connect
from rawpush.server.echo import EchoConfig, EchoServer
from tests.client.test_ws_client import GUID, raw_server

MESSAGES: list[str | bytes] = [
    "Hello",
    "Hello",
    "",
    "ünïcödé ✓ 𝄞" * 50,
    "x" * 100_000,
    b"",
    bytes(range(256)) * 200,
    b"\x00" * 500_000,
]


async def _echo(ws: ServerConnection) -> None:
    async for message in ws:
        if message == "fragments":
            await ws.send(["frag", "men", "ted" * 1000])
        elif message == "extensions":
            await ws.send(repr(ws.protocol.extensions))
        else:
            await ws.send(message)


SERVER_FACTORIES = {
    "default": [ServerPerMessageDeflateFactory()],
    "no-takeover": [
        ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True
        )
    ],
    "small-windows": [
        ServerPerMessageDeflateFactory(server_max_window_bits=9, client_max_window_bits=10)
    ],
}


@pytest.fixture(params=sorted(SERVER_FACTORIES))
async def deflate_server(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    factories = SERVER_FACTORIES[request.param]
    async with serve(_echo, "127.0.0.1", 0, extensions=factories) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/"


async def test_7_rawpush_client_offers_deflate_to_websockets(deflate_server: str) -> None:
    async with connect(deflate_server, compression="deflate") as ws:
        assert ws.compression == "deflate"
        await ws.send("extensions")
        assert "PerMessageDeflate" in str(await ws.recv())
        for message in MESSAGES:
            await ws.send(message)
            assert await ws.recv() == message
        await ws.send("fragments")
        assert await ws.recv() == "fragmented" + "ted" * 999


async def test_off_by_default_rawpush_client_offers_nothing(deflate_server: str) -> None:
    async with connect(deflate_server) as ws:
        assert ws.compression is None
        await ws.send("extensions")
        assert await ws.recv() == "[]"


async def test_the_client_refuses_a_bad_compression_argument() -> None:
    with pytest.raises(ValueError):
        connect("ws://127.0.0.1:1/", compression="gzip")
    with pytest.raises(ValueError):
        connect(
            "ws://127.0.0.1:1/",
            compression="deflate",
            extra_headers=[("Sec-WebSocket-Extensions", "x")],
        )


CLIENT_FACTORIES = {
    "default": [ClientPerMessageDeflateFactory()],
    "no-takeover": [
        ClientPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True
        )
    ],
    "small-windows": [
        ClientPerMessageDeflateFactory(server_max_window_bits=10, client_max_window_bits=9)
    ],
}


@pytest.fixture
async def echo_url() -> AsyncIterator[str]:
    async with EchoServer(port=0, config=EchoConfig(compression="deflate")) as server:
        yield server.url


@pytest.mark.parametrize("name", sorted(CLIENT_FACTORIES))
async def test_7_websockets_client_against_rawpush_echo(echo_url: str, name: str) -> None:
    async with ws_connect(echo_url, extensions=CLIENT_FACTORIES[name]) as ws:
        assert [type(e).__name__ for e in ws.protocol.extensions] == ["PerMessageDeflate"]
        for message in MESSAGES:
            await ws.send(message)
            assert await ws.recv() == message
        await ws.send(["frag", "men", "ted"])
        assert await ws.recv() == "fragmented"


async def test_off_by_default_rawpush_echo_declines() -> None:
    async with EchoServer(port=0) as server, ws_connect(server.url) as ws:
        assert ws.protocol.extensions == []
        await ws.send("x" * 1000)
        assert await ws.recv() == "x" * 1000


async def test_rawpush_client_with_rawpush_echo() -> None:
    config = EchoConfig(compression="deflate")
    async with EchoServer(port=0, config=config) as server:
        async with connect(server.url, compression="deflate") as ws:
            assert ws.compression == "deflate"
            for message in MESSAGES:
                await ws.send(message)
                assert await ws.recv() == message
        async with connect(server.url) as ws:
            assert ws.compression is None
            await ws.send("plain")
            assert await ws.recv() == "plain"


def test_echo_config_refuses_an_unknown_compression() -> None:
    with pytest.raises(ValueError):
        EchoConfig(compression="gzip")


async def test_7_1_the_client_fails_on_an_answer_it_did_not_allow() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        assert b"permessage-deflate" in head
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        writer.write(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
            # Section 7.1.2.2: a response's client_max_window_bits needs a value.
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n".encode()
        )
        await writer.drain()
        await reader.read()

    async with raw_server(answer) as url:
        with pytest.raises(InvalidHandshake) as info:
            await connect(url, compression="deflate")
    assert "client_max_window_bits" in str(info.value)


def test_cli_echo_compression_flag() -> None:
    parser = build_parser()
    assert parser.parse_args(["echo"]).compression == "none"
    assert parser.parse_args(["echo", "--compression", "deflate"]).compression == "deflate"
