"""Real-socket helpers for the server tests: raw HTTP, raw WebSocket, SSE.

Every wait is bounded (``WAIT``), so a broken server fails a test instead
of hanging the suite.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import h11

from rawpush.proto.ws.handshake_client import ClientHandshake
from rawpush.server.app import Server
from rawpush.server.protocol import HTTPProtocol
from rawpush.sse import Decoder, Event
from rawpush.ws import ClientConnection, Close, Text
from rawpush.ws import Event as WSEvent

#: upper bound on any single wait in these tests (seconds)
WAIT = 10.0


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


async def request(
    port: int,
    method: str,
    path: str,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Response:
    """One request on a fresh connection, answered in full."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await exchange(reader, writer, method, path, headers=headers, body=body)
    finally:
        writer.close()


async def exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    *,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    conn: h11.Connection | None = None,
) -> Response:
    conn = conn or h11.Connection(h11.CLIENT)
    all_headers = [("Host", "127.0.0.1"), *(headers or [])]
    if body or method in ("POST", "PUT"):
        all_headers.append(("Content-Length", str(len(body))))
    writer.write(conn.send(h11.Request(method=method, target=path, headers=all_headers)) or b"")
    if body:
        writer.write(conn.send(h11.Data(data=body)) or b"")
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    return await read_response(reader, conn)


async def read_response(reader: asyncio.StreamReader, conn: h11.Connection) -> Response:
    head: h11.Response | None = None
    chunks: list[bytes] = []
    async with asyncio.timeout(WAIT):
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    assert head is not None
    hdrs = {k.decode().lower(): v.decode() for k, v in head.headers}
    return Response(head.status_code, hdrs, b"".join(chunks))


async def read_until_eof(reader: asyncio.StreamReader) -> bytes:
    data = bytearray()
    async with asyncio.timeout(WAIT):
        while chunk := await reader.read(65536):
            data += chunk
    return bytes(data)


# -- SSE ----------------------------------------------------------------------


@dataclass
class SSEStream:
    """A raw SSE client: the head, then events decoded as they arrive."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    decoder: Decoder = field(default_factory=Decoder)
    conn: h11.Connection = field(default_factory=lambda: h11.Connection(h11.CLIENT))
    raw: bytearray = field(default_factory=bytearray)
    ended: bool = False

    async def events(self, n: int) -> list[Event]:
        """Read until ``n`` events (or the end of the stream)."""
        got: list[Event] = []
        async with asyncio.timeout(WAIT):
            while len(got) < n and not self.ended:
                got += await self._more()
        return got

    async def rest(self) -> list[Event]:
        """Every event until the server ends the stream."""
        got: list[Event] = []
        async with asyncio.timeout(WAIT):
            while not self.ended:
                got += await self._more()
        return got

    async def _more(self) -> list[Event]:
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.reader.read(65536))
                continue
            if isinstance(event, h11.Data):
                self.raw += event.data
                return self.decoder.feed(bytes(event.data))
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                self.ended = True
                return self.decoder.end()

    def close(self) -> None:
        self.writer.close()


async def open_sse(port: int, path: str, headers: list[tuple[str, str]] | None = None) -> SSEStream:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    stream = SSEStream(reader, writer)
    req = h11.Request(method="GET", target=path, headers=[("Host", "x"), *(headers or [])])
    writer.write((stream.conn.send(req) or b"") + (stream.conn.send(h11.EndOfMessage()) or b""))
    async with asyncio.timeout(WAIT):
        while True:
            event = stream.conn.next_event()
            if event is h11.NEED_DATA:
                stream.conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                stream.status = event.status_code
                stream.headers = {k.decode().lower(): v.decode() for k, v in event.headers}
                return stream


# -- raw WebSocket ---------------------------------------------------------------


class RawWS:
    """A WebSocket client on a plain non-blocking socket, driven by hand:
    the tests decide when (and whether) it reads, and what it sends."""

    def __init__(self, sock: socket.socket, conn: ClientConnection, status: int) -> None:
        self.sock = sock
        self.conn = conn
        self.status = status
        self.loop = asyncio.get_running_loop()

    async def send_raw(self, data: bytes) -> None:
        await self.loop.sock_sendall(self.sock, data)

    async def send_text(self, text: str) -> None:
        self.conn.send_text(text)
        await self.send_raw(self.conn.data_to_send())

    async def read_all(self) -> list[WSEvent]:
        """Read (without answering anything) until the server closes TCP."""
        events: list[WSEvent] = []
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    data = await self.loop.sock_recv(self.sock, 65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    self.conn.receive_eof()
                    return events + self.conn.events()
                self.conn.receive_data(data)
                events += self.conn.events()

    async def recv_until(self, predicate: type[Text] | type[Close], n: int = 1) -> list[WSEvent]:
        """Read until ``n`` events of the given type arrived."""
        events: list[WSEvent] = []
        async with asyncio.timeout(WAIT):
            while sum(isinstance(e, predicate) for e in events) < n:
                data = await self.loop.sock_recv(self.sock, 65536)
                if not data:
                    break
                self.conn.receive_data(data)
                events += self.conn.events()
        return events

    def close(self) -> None:
        self.sock.close()


async def raw_ws(
    port: int,
    path: str,
    *,
    rcvbuf: int | None = None,
    origin: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> RawWS:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        # Before connect, so the advertised TCP window is small from the start.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    handshake = ClientHandshake(
        f"127.0.0.1:{port}", path, origin=origin, extra_headers=headers or ()
    )
    await loop.sock_sendall(sock, handshake.data_to_send())
    conn = ClientConnection()
    async with asyncio.timeout(WAIT):
        while True:
            data = await loop.sock_recv(sock, 4096)
            if not data:
                raise ConnectionError("closed during the handshake")
            try:
                if handshake.receive_data(data) is not None:
                    break
            except Exception:
                return RawWS(sock, conn, 0)
    conn.receive_data(handshake.trailing_data)
    return RawWS(sock, conn, 101)


def shrink_server_buffers(server: Server, size: int = 4096) -> None:
    """Make the server's kernel send buffers small, so a client that stops
    reading fills them (and pauses the transport) after a few kilobytes
    rather than megabytes. Touches the running server's sockets: test only."""
    ctx = server._ctx
    assert ctx is not None
    for conn in ctx.connections:
        assert isinstance(conn, HTTPProtocol)
        if conn.transport is not None:
            sock = conn.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


async def eventually(predicate: object, *, what: str = "condition") -> None:
    """Poll ``predicate()`` (bounded) for state the test cannot await directly."""
    assert callable(predicate)
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0.01)


def metric(server: Server, line_prefix: str) -> float:
    """The value of the first /metrics sample line starting with ``line_prefix``."""
    for line in server.metrics.render().splitlines():
        if line.startswith(line_prefix + " ") or line.startswith(line_prefix + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
