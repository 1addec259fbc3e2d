"""An HTTP/2 client for the host tests: python-hyper's h2 (a peer nobody
here wrote) over one loopback connection.

Every wait is bounded (``WAIT`` seconds), so a server that says nothing
fails the test instead of hanging it. Data is acknowledged as it is read,
except on streams a test marks ``stalled``: those never get a stream
WINDOW_UPDATE (the connection's window is still given back, so only that
stream runs dry).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings

from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from rawpush.sse import Decoder, Event

__all__ = ["WAIT", "H2Client", "StreamState", "client", "serving"]

#: upper bound on any one wait (seconds), generous for a loaded machine
WAIT = 10.0


@dataclass
class StreamState:
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    reset: int | None = None
    events: list[Event] = field(default_factory=list)
    decoder: Decoder = field(default_factory=Decoder)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


class H2Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config)
        self.streams: dict[int, StreamState] = {}
        self.stalled: set[int] = set()
        self.goaways: list[tuple[int, int]] = []
        self._buf = bytearray()
        self.remote_settings: dict[int, int] = {}
        self.closed = False

    @classmethod
    async def connect(
        cls, port: int, *, ssl_context: ssl.SSLContext | None = None
    ) -> H2Client:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=ssl_context), WAIT
        )
        client = cls(reader, writer)
        client.conn.initiate_connection()
        await client.flush()
        return client

    async def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await asyncio.wait_for(self.writer.wait_closed(), WAIT)

    # -- requests ----------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes | None = None,
        *,
        end: bool = True,
        extra_pseudo: Sequence[tuple[str, str]] = (),
    ) -> int:
        sid = self.conn.get_next_available_stream_id()
        fields = [
            (":method", method),
            (":scheme", "http"),
            (":authority", "127.0.0.1"),
            (":path", path),
            *extra_pseudo,
            *headers,
        ]
        self.streams[sid] = StreamState()
        self.conn.send_headers(sid, fields, end_stream=end and body is None)
        if body is not None:
            self.conn.send_data(sid, body, end_stream=end)
        await self.flush()
        return sid

    async def send(self, sid: int, data: bytes, *, end: bool = False) -> None:
        self.conn.send_data(sid, data, end_stream=end)
        await self.flush()

    # -- reading -------------------------------------------------------------------

    async def pump(self) -> None:
        """Read once and take in what it holds."""
        data = await self.reader.read(65536)
        if not data:
            self.closed = True
            return
        for event in self.conn.receive_data(self._without_goaway(data)):
            self._take(event)
        await self.flush()

    def _without_goaway(self, data: bytes) -> bytes:
        """h2 sends and reads nothing after a GOAWAY, where RFC 9113 section
        6.8 lets open streams finish: GOAWAY frames are read here instead
        (``goaways``: last stream id and error code) and the rest goes on."""
        self._buf += data
        kept = bytearray()
        buf = self._buf
        while len(buf) >= 9:
            length = int.from_bytes(buf[0:3], "big")
            if len(buf) < 9 + length:
                break
            frame, buf = buf[: 9 + length], buf[9 + length :]
            if frame[3] == 0x7:
                last, code = struct.unpack_from("!LL", frame, 9)
                self.goaways.append((last & 0x7FFFFFFF, code))
            else:
                kept += frame
        self._buf = buf
        return bytes(kept)

    def _take(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.ResponseReceived):
            state = self.streams[event.stream_id]
            for name, value in event.headers or ():
                assert isinstance(name, str) and isinstance(value, str)
                if name == ":status":
                    state.status = int(value)
                else:
                    state.headers.append((name, value))
        elif isinstance(event, h2.events.DataReceived):
            sid = event.stream_id
            state = self.streams[sid]
            data = event.data or b""
            state.body += data
            state.events += state.decoder.feed(data)
            size = event.flow_controlled_length or 0
            if sid in self.stalled:
                if size:  # the connection's credit only
                    self.conn.increment_flow_control_window(size)
            elif size:
                self.conn.acknowledge_received_data(size, sid)
        elif isinstance(event, h2.events.StreamEnded):
            self.streams[event.stream_id].ended = True
        elif isinstance(event, h2.events.StreamReset):
            self.streams[event.stream_id].reset = int(event.error_code or 0)
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            for code, change in event.changed_settings.items():
                self.remote_settings[int(code)] = change.new_value

    async def until(self, done: Callable[[], bool], what: str = "the condition") -> None:
        """Pump until ``done()`` holds (bounded by ``WAIT``)."""
        try:
            async with asyncio.timeout(WAIT):
                while not done():
                    if self.closed:
                        raise AssertionError(f"connection closed before {what}")
                    await self.pump()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def response(self, sid: int) -> StreamState:
        state = self.streams[sid]
        await self.until(lambda: state.ended or state.reset is not None, f"stream {sid} to end")
        return state

    async def head(self, sid: int) -> StreamState:
        state = self.streams[sid]
        await self.until(lambda: state.status is not None, f"the head of stream {sid}")
        return state

    async def events(self, sid: int, count: int) -> list[Event]:
        state = self.streams[sid]
        await self.until(lambda: len(state.events) >= count, f"{count} events on {sid}")
        return state.events


@contextlib.asynccontextmanager
async def serving(**fields: Any) -> AsyncIterator[Server]:
    """A rawpush server on 127.0.0.1, port 0, with these config fields."""
    server = Server(ServerConfig(host="127.0.0.1", port=0, **fields))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def client(
    port: int, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[H2Client]:
    conn = await H2Client.connect(port, ssl_context=ssl_context)
    try:
        yield conn
    finally:
        await conn.close()
