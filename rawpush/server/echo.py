"""A WebSocket echo server, for conformance tests and interop (``rawpush echo``).

Every text or binary message comes back unchanged, with the same type.
The sans-IO core does the rest: it answers Pings (section 5.5.2), echoes
the Close (5.5.1), and fails the connection with the right close code on
any protocol error (7.1.7, 7.4.1). Any request target is accepted.

::

    server = EchoServer(port=0)
    await server.start()
    print(server.port)
    ...
    await server.close()

Closing TCP (section 7.1.1): the server closes first. So that a Close frame
sent on failure is not lost to a TCP reset (unread input at close() makes
the kernel send RST), the server half-closes, keeps reading and discarding
until the client closes too, and gives up after ``close_timeout``.

Compression: with ``EchoConfig(compression="deflate")`` (``rawpush echo
--compression deflate``) the server accepts a permessage-deflate offer
(RFC 7692) and compresses its echoes; off by default.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from ssl import SSLContext

from rawpush.proto.errors import HandshakeError, WebSocketError
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.connection import ServerConnection
from rawpush.proto.ws.deflate import DeflateParams, PerMessageDeflate, deflate_response
from rawpush.proto.ws.events import Binary, Text
from rawpush.proto.ws.frames import Opcode, serialize_frame
from rawpush.proto.ws.handshake import DEFAULT_MAX_HEADER_BYTES, ServerHandshake
from rawpush.proto.ws.state import State

__all__ = ["EchoConfig", "EchoServer", "run_echo"]

_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY


@dataclass(frozen=True, slots=True)
class EchoConfig:
    """Limits and timeouts of the echo server."""

    max_frame_size: int = 1 << 20
    max_message_size: int = 1 << 20
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    #: Seconds to receive the whole request head (slowloris guard): 408.
    header_timeout: float = 10.0
    #: Seconds to wait for the client to close TCP after the closing handshake.
    close_timeout: float = 5.0
    #: Bytes buffered for writing before we stop reading that client.
    write_limit: int = 256 * 1024
    #: "deflate" to accept permessage-deflate (RFC 7692); None: never.
    compression: str | None = None

    def __post_init__(self) -> None:
        if self.compression not in (None, "deflate"):
            raise ValueError(f"compression must be None or 'deflate', not {self.compression!r}")


class _EchoProtocol(asyncio.Protocol):
    def __init__(self, server: EchoServer) -> None:
        self._server = server
        self._config = server.config
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._handshake = ServerHandshake(max_header_bytes=self._config.max_header_bytes)
        self._conn: ServerConnection | None = None
        self._deflate: PerMessageDeflate | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=self._config.write_limit)
        self._server.connections.add(self)
        self._timer = self._loop.call_later(self._config.header_timeout, self._header_timeout)

    def _header_timeout(self) -> None:
        assert self._transport is not None
        # Section 4.2.1 leaves a slow client to the server: 408 and close.
        self._transport.write(self._handshake.reject(HandshakeError("request head timeout", 408)))
        self._transport.close()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return  # section 7.1.7: after closing, input is discarded
        if self._conn is None:
            self._handshake_received(data)
        else:
            self._frames_received(data)

    def _handshake_received(self, data: bytes) -> None:
        assert self._transport is not None
        try:
            request = self._handshake.receive_data(data)
        except HandshakeError:
            self._transport.write(self._handshake.reject())
            self._half_close()
            return
        if request is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        config = self._config
        headers: list[tuple[str, str]] = []
        if config.compression == "deflate":
            params = DeflateParams(max_message_size=config.max_message_size)
            found = deflate_response(request.extensions, params)
            if found is not None:
                headers.append(("Sec-WebSocket-Extensions", found[0]))
                self._deflate = found[1]
        self._transport.write(self._handshake.accept(extra_headers=headers))
        limits = WSConfig(
            max_frame_size=config.max_frame_size, max_message_size=config.max_message_size
        )
        self._conn = ServerConnection(limits, extension=self._deflate)
        trailing = self._handshake.trailing_data
        if trailing:
            self._frames_received(trailing)

    def _frames_received(self, data: bytes) -> None:
        conn = self._conn
        assert conn is not None
        # On a protocol error the core queues the Close with the right
        # code (section 7.1.7); it is flushed below like any output.
        with contextlib.suppress(WebSocketError):
            conn.receive_data(data)
        echoes = []
        for event in conn.events():
            # Serialized here rather than through conn.send_*: messages that
            # arrived before a Close (or a bad frame) in the same read are
            # still echoed, ahead of the core's Close, which it has already
            # queued and after which it refuses data (section 5.5.1). They
            # were received while the connection was open, so the echo is
            # owed (Autobahn's "strict" behaviour).
            if isinstance(event, Text):
                echoes.append(self._echo(_TEXT, event.data.encode()))
            elif isinstance(event, Binary):
                echoes.append(self._echo(_BINARY, event.data))
        if echoes:
            assert self._transport is not None
            self._transport.write(b"".join(echoes))
        self._flush()

    def _echo(self, opcode: int, payload: bytes) -> bytes:
        if self._deflate is None:
            return serialize_frame(opcode, payload)
        # Every data frame we send goes through the extension, so that its
        # compression context stays in step with the peer's (RFC 7692 7.2.1).
        rsv, payload = self._deflate.encode(opcode, True, payload)
        return serialize_frame(opcode, payload, rsv=rsv)

    def _flush(self) -> None:
        conn = self._conn
        transport = self._transport
        assert conn is not None and transport is not None
        data = conn.data_to_send()
        if data:
            transport.write(data)
        if conn.should_close:
            self._half_close()

    def _half_close(self) -> None:
        transport = self._transport
        assert transport is not None
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
        if transport.can_write_eof():
            transport.write_eof()
            self._timer = self._loop.call_later(self._config.close_timeout, transport.abort)
        else:
            transport.close()

    def go_away(self) -> None:
        """Server shutdown: 1001 "going away" (section 7.4.1) to an open client."""
        conn = self._conn
        if conn is None or self._closing or self._transport is None:
            if self._transport is not None:
                self._transport.close()
            return
        if conn.state is State.OPEN:
            conn.send_close(1001, "server shutting down")
            self._transport.write(conn.data_to_send())
        self._half_close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def eof_received(self) -> bool | None:
        if self._conn is not None and not self._closing:
            self._conn.receive_eof()
        return None  # close our side too

    def pause_writing(self) -> None:
        # Echo can never outrun its reader: stop reading while it is slow.
        if self._transport is not None and not self._closing:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._server.connections.discard(self)


class EchoServer:
    """A WebSocket echo server on ``host``:``port`` (0 picks a free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9001,
        config: EchoConfig | None = None,
        *,
        ssl: SSLContext | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self.config = config or EchoConfig()
        self._ssl = ssl
        self.connections: set[_EchoProtocol] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _EchoProtocol(self), self.host, self._port, ssl=self._ssl
        )

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self._server is not None, "start() first"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def url(self) -> str:
        scheme = "wss" if self._ssl is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}/"

    async def close(self, timeout: float = 2.0) -> None:
        """Stop listening, send 1001 to every client, wait for them to go."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self.connections):
            connection.go_away()
        try:
            async with asyncio.timeout(timeout):
                while self.connections:
                    await asyncio.sleep(0.01)
        except TimeoutError:
            for connection in list(self.connections):
                connection.abort()
        await self._server.wait_closed()

    async def __aenter__(self) -> EchoServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def run_echo(
    host: str = "127.0.0.1",
    port: int = 9001,
    config: EchoConfig | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run an echo server until ``stop`` is set (or forever)."""
    async with EchoServer(host, port, config):
        await (stop or asyncio.Event()).wait()
