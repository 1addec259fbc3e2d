"""A raw HTTP/2 client for frame-level tests, and the servers it talks to.

``RawH2`` writes whatever bytes a test asks for (well-formed frames built
with ``hyperframe``, or hand-made malformed ones with ``raw_frame``) and
reads the server's frames back one at a time. Every read is bounded
(``WAIT`` seconds, ``MAX_FRAMES`` frames), so a server that says nothing
fails the test instead of hanging the suite.

An HTTP/2 error reply is one of two frames (RFC 9113 section 5.4): a
GOAWAY for a connection error, a RST_STREAM for a stream error. An
endpoint may always treat a stream error as a connection error (section
5.4.1), so ``expect_stream_error`` accepts either, with the exact code.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import AsyncIterator, Callable, Iterable
from enum import IntEnum
from pathlib import Path

import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

from rawpush.server.app import Server
from rawpush.sse import Decoder, Event
from tests.server.conftest import FAST, MakeServer, make_server, server
from tests.tls_support import self_signed

__all__ = [
    "FAST",
    "MAX_FRAMES",
    "PREFACE",
    "WAIT",
    "Code",
    "ConnectionEnded",
    "Flag",
    "MakeServer",
    "RawH2",
    "SSEStream",
    "Setting",
    "Type",
    "cert",
    "client_tls",
    "conn",
    "make_server",
    "raw_frame",
    "request_headers",
    "server",
    "settings_payload",
    "tls_server",
]

#: upper bound on any single wait (seconds): a loaded 2-core machine
WAIT = 10.0
#: upper bound on frames read while looking for one
MAX_FRAMES = 100_000
#: RFC 9113 section 3.4: what every client connection starts with
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class Code(IntEnum):
    """RFC 9113 section 7: error codes.

    Written out from the RFC rather than imported from
    ``rawpush.proto.h2.events.ErrorCode``: the tests hold the server to the
    RFC's numbers, not to its own table."""

    NO_ERROR = 0x0
    PROTOCOL_ERROR = 0x1
    INTERNAL_ERROR = 0x2
    FLOW_CONTROL_ERROR = 0x3
    SETTINGS_TIMEOUT = 0x4
    STREAM_CLOSED = 0x5
    FRAME_SIZE_ERROR = 0x6
    REFUSED_STREAM = 0x7
    CANCEL = 0x8
    COMPRESSION_ERROR = 0x9
    CONNECT_ERROR = 0xA
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


class Type(IntEnum):
    """RFC 9113 section 6: frame types."""

    DATA = 0x0
    HEADERS = 0x1
    PRIORITY = 0x2
    RST_STREAM = 0x3
    SETTINGS = 0x4
    PUSH_PROMISE = 0x5
    PING = 0x6
    GOAWAY = 0x7
    WINDOW_UPDATE = 0x8
    CONTINUATION = 0x9


class Flag:
    """RFC 9113 section 6: flag bits (their meaning depends on the type)."""

    END_STREAM = 0x1
    ACK = 0x1
    END_HEADERS = 0x4
    PADDED = 0x8
    PRIORITY = 0x20


class Setting(IntEnum):
    """RFC 9113 section 6.5.2, and RFC 8441 section 3."""

    HEADER_TABLE_SIZE = 0x1
    ENABLE_PUSH = 0x2
    MAX_CONCURRENT_STREAMS = 0x3
    INITIAL_WINDOW_SIZE = 0x4
    MAX_FRAME_SIZE = 0x5
    MAX_HEADER_LIST_SIZE = 0x6
    ENABLE_CONNECT_PROTOCOL = 0x8


def raw_frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """One frame as bytes, whatever it says (section 4.1): nothing checked,
    so a test can send a frame no library would build."""
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes((kind, flags))
        + struct.pack(">I", stream_id)
        + payload
    )


def settings_payload(*pairs: tuple[int, int]) -> bytes:
    """Section 6.5.1: identifier (16 bits) and value (32 bits) per setting."""
    return b"".join(struct.pack(">HI", ident, value) for ident, value in pairs)


def request_headers(
    path: str = "/healthz", method: str = "GET", **extra: str
) -> list[tuple[str, str]]:
    """A request's header list: the four pseudo-headers first (section
    8.3.1), then ``extra`` (underscores in names become hyphens)."""
    headers = [(":method", method), (":scheme", "http"), (":path", path)]
    headers.append((":authority", "127.0.0.1"))
    headers += [(name.replace("_", "-"), value) for name, value in extra.items()]
    return headers


class ConnectionEnded(AssertionError):
    """The server closed the connection (or said nothing) where the test
    expected a frame."""


class RawH2:
    """One HTTP/2 client connection whose every byte a test chooses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        #: header blocks this client sends (its dynamic table is the
        #: server decoder's, so blocks must reach the server in order)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        #: the server's SETTINGS, as received (section 6.5.2 defaults apply
        #: to the missing ones)
        self.server_settings: dict[int, int] = {}
        #: every frame read so far, in order
        self.frames: list[Frame] = []
        #: the header lists the server sent, per stream, in order
        self.received_headers: dict[int, list[dict[str, str]]] = {}
        #: give back the window of every DATA frame as it is read
        self.auto_window = True
        self._block = bytearray()
        self._ping = 0

    @classmethod
    async def open(
        cls, port: int, *, tls: ssl.SSLContext | None = None, handshake: bool = True
    ) -> RawH2:
        """Connect to 127.0.0.1:``port``; with ``handshake``, send the
        preface and an empty SETTINGS and read the server's SETTINGS."""
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="127.0.0.1" if tls else None
        )
        client = cls(reader, writer)
        if handshake:
            await client.handshake()
        return client

    async def handshake(self, settings: bytes = b"") -> None:
        """Section 3.4: the preface and a SETTINGS frame, then the server's
        SETTINGS (which must come first), acknowledged."""
        self.send(PREFACE + raw_frame(Type.SETTINGS, 0, 0, settings))
        first = await self.read_frame()
        if not isinstance(first, SettingsFrame) or "ACK" in first.flags:
            raise AssertionError(f"the server's first frame is {first!r}, not SETTINGS")
        # read_frame has acknowledged it (section 6.5.3)

    # -- sending ---------------------------------------------------------

    def send(self, data: bytes | Frame) -> None:
        self.writer.write(data.serialize() if isinstance(data, Frame) else data)

    async def drain(self) -> None:
        async with asyncio.timeout(WAIT):
            await self.writer.drain()

    def block(self, headers: Iterable[tuple[str, str]]) -> bytes:
        """A header block for ``headers``, from this connection's encoder."""
        return self.encoder.encode(list(headers))

    def headers(
        self,
        stream_id: int,
        headers: Iterable[tuple[str, str]] | None = None,
        *,
        end_stream: bool = True,
        end_headers: bool = True,
        block: bytes | None = None,
    ) -> None:
        """A HEADERS frame: ``headers`` encoded, or the bytes ``block``."""
        flags = (Flag.END_STREAM if end_stream else 0) | (Flag.END_HEADERS if end_headers else 0)
        payload = block if block is not None else self.block(headers or request_headers())
        self.send(raw_frame(Type.HEADERS, flags, stream_id, payload))

    def data(self, stream_id: int, payload: bytes, *, end_stream: bool = False) -> None:
        self.send(raw_frame(Type.DATA, Flag.END_STREAM if end_stream else 0, stream_id, payload))

    def ping(self, payload: bytes | None = None) -> bytes:
        if payload is None:
            self._ping += 1
            payload = struct.pack(">Q", self._ping)
        self.send(raw_frame(Type.PING, 0, 0, payload))
        return payload

    def rst(self, stream_id: int, code: int = Code.CANCEL) -> None:
        self.send(raw_frame(Type.RST_STREAM, 0, stream_id, struct.pack(">I", code)))

    def window_update(self, stream_id: int, increment: int) -> None:
        self.send(raw_frame(Type.WINDOW_UPDATE, 0, stream_id, struct.pack(">I", increment)))

    # -- receiving -------------------------------------------------------

    async def read_frame(self) -> Frame | None:
        """The server's next frame, or None once it closed the connection."""
        try:
            async with asyncio.timeout(WAIT):
                head = await self.reader.readexactly(9)
                frame, length = Frame.parse_frame_header(memoryview(head))
                body = await self.reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        except TimeoutError:
            raise ConnectionEnded(f"no frame from the server within {WAIT} s") from None
        frame.parse_body(memoryview(body))
        self.frames.append(frame)
        if isinstance(frame, SettingsFrame) and "ACK" not in frame.flags:
            # Section 6.5.3: every SETTINGS is acknowledged.
            self.server_settings.update(frame.settings)
            self.send(raw_frame(Type.SETTINGS, Flag.ACK, 0))
        elif isinstance(frame, HeadersFrame | ContinuationFrame):
            # Every block is decoded as it comes, skipped or not: the
            # decoder's dynamic table follows the server's (RFC 7541 2.3.2).
            self._block += frame.data
            if "END_HEADERS" in frame.flags:
                block, self._block = bytes(self._block), bytearray()
                self.received_headers.setdefault(frame.stream_id, []).append(self.decode(block))
        elif isinstance(frame, DataFrame) and frame.flow_controlled_length and self.auto_window:
            # What the server sent is given back at once (section 6.9), so
            # frames a test skips never stall the connection.
            self.window_update(0, frame.flow_controlled_length)
            if "END_STREAM" not in frame.flags:
                self.window_update(frame.stream_id, frame.flow_controlled_length)
        return frame

    async def until(self, want: Callable[[Frame], bool], what: str) -> Frame:
        """Read frames until one for which ``want`` is true; a GOAWAY or
        the end of the connection before it fails the test."""
        for _ in range(MAX_FRAMES):
            frame = await self.read_frame()
            if frame is None:
                raise ConnectionEnded(f"the server closed the connection before {what}")
            if want(frame):
                return frame
            if isinstance(frame, GoAwayFrame):
                raise AssertionError(
                    f"GOAWAY {Code(frame.error_code).name} before {what}: "
                    f"{bytes(frame.additional_data)!r}"
                )
        raise AssertionError(f"{MAX_FRAMES} frames without {what}")

    async def expect_goaway(self, *codes: int) -> GoAwayFrame:
        """A connection error: a GOAWAY with one of ``codes``, and then the
        server closes the connection (section 5.4.1)."""
        frame = await self.until(lambda f: isinstance(f, GoAwayFrame), "a GOAWAY")
        assert isinstance(frame, GoAwayFrame)
        assert frame.error_code in codes, (
            f"GOAWAY {_name(frame.error_code)}, expected {' or '.join(_name(c) for c in codes)}"
        )
        return frame

    async def expect_stream_error(self, stream_id: int, *codes: int) -> Frame:
        """A stream error on ``stream_id`` with one of ``codes``: a
        RST_STREAM, or a GOAWAY (a stream error may be treated as a
        connection error, section 5.4.1)."""

        def error(frame: Frame) -> bool:
            if isinstance(frame, GoAwayFrame):
                return True
            return isinstance(frame, RstStreamFrame) and frame.stream_id == stream_id

        frame = await self.until(error, f"a RST_STREAM on stream {stream_id}")
        assert isinstance(frame, GoAwayFrame | RstStreamFrame)
        assert frame.error_code in codes, (
            f"{type(frame).__name__} {_name(frame.error_code)}, "
            f"expected {' or '.join(_name(c) for c in codes)}"
        )
        return frame

    async def expect_alive(self) -> None:
        """The connection still works: a PING is answered (section 6.7)."""
        payload = self.ping()
        await self.until(
            lambda f: isinstance(f, PingFrame) and "ACK" in f.flags and f.opaque_data == payload,
            "the PING's ACK",
        )

    async def response(self, stream_id: int) -> tuple[dict[str, str], bytes]:
        """The response on ``stream_id``: its headers and its whole body."""
        body = bytearray()
        for _ in range(MAX_FRAMES):
            frame = await self.until(lambda f: f.stream_id == stream_id, f"stream {stream_id}")
            if isinstance(frame, DataFrame):
                body += frame.data
            elif isinstance(frame, RstStreamFrame):
                raise AssertionError(f"RST_STREAM {_name(frame.error_code)} on {stream_id}")
            if "END_STREAM" in frame.flags:
                return self.received_headers[stream_id][0], bytes(body)
        raise AssertionError(f"{MAX_FRAMES} frames without the end of stream {stream_id}")

    async def status(self, stream_id: int) -> int:
        """The ``:status`` the server answers on ``stream_id`` with (the
        response may have come already, while looking for another)."""
        if stream_id not in self.received_headers:
            await self.until(
                lambda f: f.stream_id == stream_id and stream_id in self.received_headers,
                f"the response on stream {stream_id}",
            )
        return int(self.received_headers[stream_id][0][":status"])

    def decode(self, block: bytes) -> dict[str, str]:
        """A header block the server sent, as a dict (names are unique in
        rawpush's responses)."""
        return {_text(name): _text(value) for name, value in self.decoder.decode(block)}

    async def close(self) -> None:
        self.writer.close()
        try:
            async with asyncio.timeout(WAIT):
                await self.writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass


def _text(item: str | bytes) -> str:
    return item if isinstance(item, str) else item.decode("latin-1")


def _name(code: int) -> str:
    try:
        return Code(code).name
    except ValueError:
        return hex(code)


class SSEStream:
    """An SSE subscription on one stream of a ``RawH2`` connection."""

    def __init__(self, conn: RawH2, stream_id: int) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.decoder = Decoder()
        self.pending: list[Event] = []

    @classmethod
    async def open(cls, conn: RawH2, stream_id: int, channel: str) -> SSEStream:
        conn.headers(stream_id, request_headers(f"/sse/{channel}", accept="text/event-stream"))
        assert await conn.status(stream_id) == 200
        return cls(conn, stream_id)

    async def next_event(self) -> Event:
        """The next event (comments and heartbeats skipped)."""
        for _ in range(MAX_FRAMES):
            if self.pending:
                return self.pending.pop(0)
            frame = await self.conn.until(
                lambda f: f.stream_id == self.stream_id, f"an event on {self.stream_id}"
            )
            if isinstance(frame, RstStreamFrame):
                raise AssertionError(f"RST_STREAM {_name(frame.error_code)} on the SSE stream")
            if isinstance(frame, DataFrame):
                self.pending += self.decoder.feed(bytes(frame.data))
            if "END_STREAM" in frame.flags and not self.pending:
                raise ConnectionEnded("the SSE stream ended")
        raise AssertionError("no event")


def client_tls(cafile: str) -> ssl.SSLContext:
    """A client context trusting ``cafile`` and offering only ALPN h2."""
    context = ssl.create_default_context(cafile=cafile)
    context.set_alpn_protocols(["h2"])
    return context


# -- servers ---------------------------------------------------------------

# FAST, make_server and server are tests/server's (imported above): one
# definition of the test servers for both suites.


@pytest.fixture
async def conn(server: Server) -> AsyncIterator[RawH2]:
    """A raw HTTP/2 connection to ``server``, handshake done."""
    client = await RawH2.open(server.port)
    yield client
    await client.close()


@pytest.fixture
def cert(tmp_path: Path) -> tuple[str, str]:
    """The test certificate for 127.0.0.1 and its key (PEM files)."""
    return self_signed(tmp_path)


@pytest.fixture
async def tls_server(make_server: MakeServer, cert: tuple[str, str]) -> Server:
    """A server on TLS (ALPN h2 and http/1.1)."""
    return await make_server(certfile=cert[0], keyfile=cert[1])
