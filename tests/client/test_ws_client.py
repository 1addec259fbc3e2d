"""rawpush.client.connect against real sockets on 127.0.0.1.

Against ``rawpush echo`` for the happy paths, and against small raw
servers (a few lines of asyncio streams each) for what an echo server
never does: refuse the upgrade, close with a chosen code, never answer a
Ping, never close TCP, never read.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
import ssl
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from rawpush.client import (
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidURI,
    connect,
)
from rawpush.client.limits import MAX_PUBLISH
from rawpush.client.ws import parse_uri
from rawpush.proto.ws.deflate import DeflateParams
from rawpush.server.echo import EchoServer
from tests.client.test_sse_server import LIMIT, publish, rawpush_server
from tests.conftest import require

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# -- helpers ---------------------------------------------------------------


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    async with EchoServer(port=0) as server:
        yield server


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[str]:
    """A TCP server running ``handler`` per connection; yields its ws:// URL."""
    tasks: list[asyncio.Task[None]] = []

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.append(task)
        try:
            await handler(reader, writer)
        except asyncio.CancelledError:
            pass  # torn down by the fixture; asyncio would log the cancellation
        finally:
            writer.close()

    server = await asyncio.start_server(run, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


async def accept_upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request head and answer a valid 101 (section 4.2.2)."""
    head = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    writer.write(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        ).encode()
    )
    await writer.drain()


async def read_client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One masked client frame: (opcode, unmasked payload)."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    assert second & 0x80, "section 5.1: client frames are masked"
    key = await reader.readexactly(4)
    data = await reader.readexactly(length)
    return first & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


def server_frame(opcode: int, payload: bytes = b"") -> bytes:
    assert len(payload) < 126
    return bytes([0x80 | opcode, len(payload)]) + payload


# -- send, recv, iterate ---------------------------------------------------------


async def test_send_recv_text_and_binary(echo: EchoServer) -> None:
    async with connect(echo.url) as ws:
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\xff" * 40_000)
        assert await ws.recv() == b"\x00\xff" * 40_000
        await ws.send(bytearray(b"ba"))
        assert await ws.recv() == b"ba"
        assert ws.subprotocol is None
        assert ws.close_code is None
    assert ws.close_code == 1000
    assert ws.close_reason == ""


async def test_awaitable_form_and_explicit_close(echo: EchoServer) -> None:
    ws = await connect(echo.url.rstrip("/") + "/some/path?q=1")
    await ws.send("x")
    assert await ws.recv() == "x"
    await ws.close(3001, "done here")
    assert (ws.close_code, ws.close_reason) == (3001, "")  # the core echoes the code only
    await ws.close()  # idempotent
    with pytest.raises(ConnectionClosedError):  # 3001 is not a "normal" code
        await ws.recv()
    with pytest.raises(ConnectionClosed):
        await ws.send("after close")


async def test_async_for_ends_on_normal_close(echo: EchoServer) -> None:
    async with connect(echo.url) as ws:
        for i in range(5):
            await ws.send(f"m{i}")
        got = []
        async for message in ws:
            got.append(message)
            if len(got) == 5:
                # Messages still in flight are delivered before the end.
                await ws.send("last")
                await ws.close()
    assert got == ["m0", "m1", "m2", "m3", "m4", "last"]


async def test_server_shutdown_surfaces_1001(echo: EchoServer) -> None:
    async with connect(echo.url) as ws:
        await ws.send("before")
        assert await ws.recv() == "before"
        await echo.close()
        with pytest.raises(ConnectionClosedOK) as info:
            await ws.recv()
    assert info.value.code == 1001
    assert ws.close_code == 1001


async def test_send_rejects_other_types(echo: EchoServer) -> None:
    async with connect(echo.url) as ws:
        with pytest.raises(TypeError):
            await ws.send(42)  # type: ignore[arg-type]


async def test_concurrent_recv_is_refused(echo: EchoServer) -> None:
    async with connect(echo.url) as ws:
        first = asyncio.create_task(ws.recv())
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already"):
            await ws.recv()
        await ws.send("for the first reader")
        assert await first == "for the first reader"


# -- ping / pong ------------------------------------------------------------------


async def test_ping_resolves_on_pong(echo: EchoServer) -> None:
    async with connect(echo.url) as ws:
        latency = await ws.ping()
        assert latency >= 0
        waiter = ws.ping(b"named")
        with pytest.raises(ValueError, match="already waiting"):
            ws.ping(b"named")
        assert await waiter >= 0
        several = [ws.ping(str(i)) for i in range(5)]
        assert len(await asyncio.gather(*several)) == 5


async def test_pending_ping_fails_when_connection_drops() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        await read_client_frame(reader)  # the Ping; then drop TCP without a Close

    async with raw_server(silent) as url:
        ws = await connect(url, ping_interval=None)
        with pytest.raises(ConnectionClosedError) as info:
            await ws.ping(b"lost")
        assert info.value.code == 1006


async def test_keepalive_closes_dead_server_with_1011() -> None:
    seen: list[tuple[int, bytes]] = []
    done = asyncio.Event()

    async def never_pongs(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        while True:
            try:
                seen.append(await read_client_frame(reader))
            except asyncio.IncompleteReadError:
                done.set()
                return

    async with raw_server(never_pongs) as url:
        ws = await connect(url, ping_interval=0.05, ping_timeout=0.2, close_timeout=1)
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.code == 1011
        assert ws.close_code == 1011
        await ws.wait_closed()
        await asyncio.wait_for(done.wait(), 5)
    assert seen[0][0] == 0x9
    close_frames = [payload for opcode, payload in seen if opcode == 0x8]
    assert close_frames and struct.unpack("!H", close_frames[0][:2])[0] == 1011


# -- closing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason", "exc"),
    [(1000, "", ConnectionClosedOK), (1001, "bye", ConnectionClosedOK),
     (4001, "custom", ConnectionClosedError), (1011, "oops", ConnectionClosedError)],
)
async def test_server_close_code_surfaced(
    code: int, reason: str, exc: type[ConnectionClosed]
) -> None:
    echoed: list[tuple[int, bytes]] = []
    done = asyncio.Event()

    async def closes(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        writer.write(server_frame(0x1, b"first") + server_frame(0x8, struct.pack("!H", code)
                                                                + reason.encode()))
        echoed.append(await read_client_frame(reader))
        done.set()

    async with raw_server(closes) as url:
        ws = await connect(url, close_timeout=1)
        assert await ws.recv() == "first"
        with pytest.raises(exc) as info:
            await ws.recv()
        assert (info.value.code, info.value.reason) == (code, reason)
        await ws.wait_closed()
        await asyncio.wait_for(done.wait(), 5)
    assert (ws.close_code, ws.close_reason) == (code, reason)
    # Section 5.5.1: the client echoed the Close with the same code.
    assert echoed[0] == (0x8, struct.pack("!H", code))


async def test_protocol_error_from_server_fails_with_1002() -> None:
    got: list[tuple[int, bytes]] = []
    done = asyncio.Event()

    async def masks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        writer.write(b"\x81\x82abcd\x00\x00")  # masked server frame: section 5.1
        got.append(await read_client_frame(reader))
        done.set()

    async with raw_server(masks) as url:
        ws = await connect(url, close_timeout=1)
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.code == 1002
        await asyncio.wait_for(done.wait(), 5)
    assert got[0][0] == 0x8 and struct.unpack("!H", got[0][1][:2])[0] == 1002


async def test_7_1_7_a_message_is_answered_before_the_failure_after_it() -> None:
    # Autobahn 3.2, 5.15: a message then a bad frame in one write. The echo
    # goes out before the 1002 Close (the whole read used to be parsed first).
    got: list[tuple[int, bytes]] = []
    done = asyncio.Event()

    async def then_rsv2(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        writer.write(server_frame(0x1, b"Hello") + b"\xa1\x00")  # RSV2, no extension
        got.extend([await read_client_frame(reader), await read_client_frame(reader)])
        done.set()

    async with raw_server(then_rsv2) as url:
        ws = await connect(url, close_timeout=1)
        await ws.send(await ws.recv())
        await asyncio.wait_for(done.wait(), 5)
        await ws.wait_closed()
    assert got[0] == (0x1, b"Hello")
    assert got[1][0] == 0x8 and struct.unpack("!H", got[1][1][:2])[0] == 1002
    assert ws.close_code == 1002


async def test_a_max_publish_of_control_characters_arrives_under_the_defaults() -> None:
    # A 1 MiB publish (the server's limit) escapes to a ~6 MiB JSON frame.
    data = "\x01" * MAX_PUBLISH
    async with rawpush_server() as server, connect(f"ws{server.url[4:]}/ws/c") as ws:
        ident = await publish(server.url, "c", data)
        event = json.loads(await asyncio.wait_for(ws.recv(), LIMIT))
    assert (event["id"], event["data"]) == (ident, data)


async def test_rfc7692_7_1_1_2_compression_takes_deflate_params() -> None:
    offers: list[bytes] = []

    async def refuses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        offers.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

    params = DeflateParams(client_no_context_takeover=True, max_message_size=1)
    async with raw_server(refuses) as url:
        with pytest.raises(InvalidHandshake):
            await connect(url, compression=params)
    assert b"permessage-deflate; client_no_context_takeover; client_max_window_bits" in offers[0]


async def test_client_drops_tcp_when_server_never_closes() -> None:
    # Section 7.1.1: the client waits for the server's FIN, but not forever.
    eof = asyncio.Event()

    async def lingers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        opcode, payload = await read_client_frame(reader)
        writer.write(server_frame(opcode, payload))  # echo the Close, keep TCP open
        await reader.read()
        eof.set()

    async with raw_server(lingers) as url:
        ws = await connect(url, close_timeout=0.2)
        await ws.close()
        assert ws.close_code == 1000
        await asyncio.wait_for(eof.wait(), 5)


async def test_message_too_big_from_server_is_1009(echo: EchoServer) -> None:
    async with connect(echo.url, max_message_size=1000) as ws:
        await ws.send("x" * 1001)  # the echo is over our limit
        with pytest.raises(ConnectionClosedError) as info:
            await ws.recv()
        assert info.value.code == 1009


# -- backpressure ------------------------------------------------------------------


async def test_read_backpressure_pauses_then_delivers_everything(echo: EchoServer) -> None:
    async with connect(echo.url, max_queue=2) as ws:
        for i in range(50):
            await ws.send(f"{i}")
        for _ in range(200):  # bounded wait for the queue to fill
            if ws._reading_paused:
                break
            await asyncio.sleep(0.01)
        assert ws._reading_paused
        assert [await ws.recv() for _ in range(50)] == [f"{i}" for i in range(50)]
        assert not ws._reading_paused


async def test_write_backpressure_makes_send_wait() -> None:
    release = asyncio.Event()

    async def never_reads(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await accept_upgrade(reader, writer)
        await release.wait()

    async with raw_server(never_reads) as url:
        ws = await connect(url, write_limit=1024, ping_interval=None, close_timeout=0.2)
        blocked = False
        for _ in range(64):  # the kernel buffers are a few MiB at most
            try:
                await asyncio.wait_for(ws.send(b"x" * (1 << 20)), 0.5)
            except TimeoutError:
                blocked = True
                break
        assert blocked
        release.set()
        ws.abort()
        await ws.wait_closed()


# -- opening handshake ------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404, 426, 500])
async def test_refused_upgrade_raises_with_status(status: int) -> None:
    async def refuses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(f"HTTP/1.1 {status} No\r\nContent-Length: 4\r\n\r\nnope".encode())
        await writer.drain()

    async with raw_server(refuses) as url:
        with pytest.raises(InvalidHandshake) as info:
            await connect(url)
    assert info.value.status == status
    assert info.value.response is not None and info.value.response.body == b"nope"


async def test_bad_accept_key_raises_with_101() -> None:
    async def wrong_key(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n")
        await writer.drain()

    async with raw_server(wrong_key) as url:
        with pytest.raises(InvalidHandshake) as info:
            await connect(url)
    assert info.value.status == 101


async def test_open_timeout() -> None:
    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with raw_server(mute) as url:
        with pytest.raises(TimeoutError):
            await connect(url, open_timeout=0.2)


async def test_connection_refused() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(OSError):
        await connect(f"ws://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    "url", ["http://x/", "ws:///nohost", "ws://x/#frag", "ws://x:99999/", "wss://x/#"]
)
def test_invalid_uri(url: str) -> None:
    with pytest.raises(InvalidURI):
        parse_uri(url)


def test_parse_uri() -> None:
    uri = parse_uri("wss://[::1]:8443/a/b?c=d")
    assert (uri.secure, uri.host, uri.port, uri.resource) == (True, "::1", 8443, "/a/b?c=d")
    assert uri.host_header == "[::1]:8443"
    assert parse_uri("ws://example.com").host_header == "example.com"
    assert parse_uri("ws://example.com").resource == "/"


# -- TLS -------------------------------------------------------------------------------------


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    require("the openssl command line tool", shutil.which("openssl") is not None)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


async def test_wss_with_self_signed_cert(self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    async with EchoServer(port=0, ssl=server_ctx) as server:
        assert server.url.startswith("wss://")
        async with connect(server.url, ssl=client_ctx) as ws:
            await ws.send("over tls")
            assert await ws.recv() == "over tls"
            assert await ws.ping() >= 0
        assert ws.close_code == 1000
        # The default context verifies: a self-signed certificate is refused.
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(server.url)
