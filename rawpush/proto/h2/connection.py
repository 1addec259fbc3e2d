"""The server side of one HTTP/2 connection, sans-IO, on python-hyper's h2.

``H2Connection`` does for HTTP/2 what ``rawpush.proto.http`` does for
HTTP/1.1: the I/O layer feeds it bytes, gets rawpush events back
(``rawpush.proto.h2.events``), and writes the bytes each send method
returns. On top of h2 it adds:

- rawpush's limits, advertised at once (RFC 9113 section 6.5.2):
  SETTINGS_MAX_CONCURRENT_STREAMS, SETTINGS_MAX_HEADER_LIST_SIZE (the
  HTTP/1.1 head limit), a raised SETTINGS_INITIAL_WINDOW_SIZE and a
  connection WINDOW_UPDATE (section 6.9.2), and
  SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 section 3);
- the flood and header-block defences of ``FloodGuard``, answered with
  GOAWAY ENHANCE_YOUR_CALM;
- complete requests (body included, bounded by ``max_body_bytes``: 413)
  as ``Request``s the routes read, and WebSocket tunnels (RFC 8441);
- send-side flow control: a send never blocks and never fails for want of
  window; what does not fit waits per stream (``pending``) and goes out,
  one frame per stream in turn, as WINDOW_UPDATEs arrive, so one stream
  with no window never holds up its siblings. The caller bounds it;
- a graceful GOAWAY (``goaway``: streams already open carry on, later ones
  are refused, section 6.8), and one exception: ``H2Error`` with the code
  of the GOAWAY already queued; after it every ``receive_data`` raises
  ``LocalProtocolError``. Sends that misuse a stream raise
  ``LocalProtocolError`` too.

A GOAWAY from the peer (``ConnectionEnded``) is read by the guard, never by
h2 (which would stop all sending): with NO_ERROR the open streams may
finish and the caller closes once they did; with any other code nothing
more is sent (``should_close``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack
from hyperframe.frame import GoAwayFrame

from rawpush.proto.errors import H2Error, HTTPError, LocalProtocolError
from rawpush.proto.h2.events import (
    ConnectionEnded,
    DataReceived,
    ErrorCode,
    Event,
    H2Config,
    RequestReceived,
    RequestRefused,
    StreamEnded,
    StreamReset,
    WindowOpened,
)
from rawpush.proto.h2.guard import FloodGuard
from rawpush.proto.h2.request import response_fields, to_request
from rawpush.proto.http_request import json_bytes

__all__ = ["H2Connection"]

_SETTING = h2.settings.SettingCodes
_CLOSED = h2.connection.ConnectionState.CLOSED
_UNBOUNDED = (1 << 31) - 1
#: RFC 9113 section 6.9.2: every window starts at 65,535 bytes
_DEFAULT_WINDOW = 65_535
_JSON_TYPE = ("content-type", "application/json")


class _Outgoing:
    """Bytes of one stream waiting for flow-control credit."""

    __slots__ = ("chunks", "end", "size")

    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.end = False


class H2Connection:
    """The server side of one HTTP/2 connection (see the module docstring)."""

    def __init__(self, config: H2Config | None = None) -> None:
        self.config = config if config is not None else H2Config()
        cfg = self.config
        conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                _SETTING.MAX_CONCURRENT_STREAMS: cfg.max_concurrent_streams,
                _SETTING.INITIAL_WINDOW_SIZE: cfg.initial_window_size,
                _SETTING.MAX_HEADER_LIST_SIZE: cfg.http.max_header_bytes,
                _SETTING.ENABLE_CONNECT_PROTOCOL: 1,
            },
        )
        # In force from the first header block, before the peer's ACK: an
        # HPACK bomb expands within this bound or ends the connection.
        conn.decoder.max_header_list_size = cfg.http.max_header_bytes
        conn.initiate_connection()
        # The limit is advertised above and enforced in _request: h2 would
        # answer a stream over it with GOAWAY (its HPACK state lost), where
        # RFC 9113 section 5.1.2 asks for a stream error, REFUSED_STREAM.
        conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                _SETTING.MAX_CONCURRENT_STREAMS: _UNBOUNDED,
                _SETTING.INITIAL_WINDOW_SIZE: cfg.initial_window_size,
                _SETTING.MAX_HEADER_LIST_SIZE: cfg.http.max_header_bytes,
                _SETTING.ENABLE_CONNECT_PROTOCOL: 1,
            },
        )
        if cfg.connection_window_size > _DEFAULT_WINDOW:
            conn.increment_flow_control_window(cfg.connection_window_size - _DEFAULT_WINDOW)
        self._h2 = conn
        self._guard = FloodGuard(cfg)
        self._out = bytearray()
        #: requests whose body is still arriving: their header list and body
        self._bodies: dict[int, tuple[list[tuple[bytes, bytes]], bytearray]] = {}
        self._tunnels: set[int] = set()
        self._heads: set[int] = set()  # HEAD requests: responses carry no body
        self._pending: dict[int, _Outgoing] = {}
        #: the last stream id of our graceful GOAWAY, once sent
        self.goaway_last_stream_id: int | None = None
        self._failed = False
        self._peer_gone = False
        #: the peer sent GOAWAY: it opens no more streams (section 6.8)
        self.peer_goaway = False
        #: streams refused for going over the limit (a flood of them ends it)
        self._refused = 0
        #: streams let in and perhaps still open (h2 reads a whole chunk
        #: before we see its events, so its own count runs ahead of ours)
        self._accepted: set[int] = set()
        #: flow-control credit each body in progress holds
        self._held: dict[int, int] = {}
        #: tunnel streams whose reader stopped: their credit waits too
        self._holding: set[int] = set()

    # -- state ---------------------------------------------------------------

    @property
    def should_close(self) -> bool:
        """True once nothing more can be exchanged: flush and close."""
        return self._failed or self._peer_gone

    @property
    def highest_stream_id(self) -> int:
        """The highest stream id the peer opened."""
        return self._h2.highest_inbound_stream_id

    def pending(self, stream_id: int) -> int:
        """Bytes of ``stream_id`` waiting for flow-control credit."""
        out = self._pending.get(stream_id)
        return out.size if out is not None else 0

    def data_to_send(self) -> bytes:
        """What receiving produced (SETTINGS and PING ACKs, WINDOW_UPDATEs,
        queued DATA that credit released, a GOAWAY), in order."""
        out = bytes(self._out) + self._h2.data_to_send()
        self._out.clear()
        return out

    # -- receiving -----------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Events for the bytes the peer sent; ``H2Error`` ends the connection."""
        if self._failed:
            raise LocalProtocolError("the connection failed; flush data_to_send() and close")
        guard = self._guard
        # Up to the frame that broke a limit, h2 reads what it would have
        # read byte by byte, so the error does not depend on the cuts.
        taken = guard.feed(data)
        try:
            raw = self._h2.receive_data(taken)
        except h2.exceptions.ProtocolError as exc:
            code = int(exc.error_code)
            cause = exc.__cause__
            bomb = isinstance(exc, h2.exceptions.DenialOfServiceError)
            if not bomb and isinstance(cause, hpack.HPACKDecodingError | IndexError):
                # RFC 9113 section 4.3: a block that does not decode is a
                # COMPRESSION_ERROR; h2 says PROTOCOL_ERROR, in the GOAWAY
                # it queued last (no debug data: 17 bytes), replaced here.
                code = ErrorCode.COMPRESSION_ERROR
                queued = self._h2.data_to_send()
                self._out += queued[:-17] if queued[-14:-13] == b"\x07" else queued
                self._out += GoAwayFrame(
                    0, last_stream_id=self._h2.highest_inbound_stream_id, error_code=code
                ).serialize()
            elif self._h2.state_machine.state is not _CLOSED:
                # A bad preface fails before h2 queues its GOAWAY (RFC 9113
                # section 3.4 lets it be left out; one is clearer).
                self._h2.close_connection(code)
            raise self._fail(str(exc) or type(exc).__name__, code) from None
        if guard.reason is not None:
            self._h2.close_connection(guard.code)
            raise self._fail(str(guard.reason), guard.code)
        events: list[Event] = []
        for event in raw:
            self._translate(event, events)
        for last, code in guard.goaways:
            if code != ErrorCode.NO_ERROR:
                self._peer_gone = True
                self._bodies.clear()
                self._pending.clear()
            self.peer_goaway = True
            events.append(ConnectionEnded(code, last))
        guard.goaways.clear()
        return events

    def _fail(self, message: str, code: int) -> H2Error:
        self._failed = True
        self._bodies.clear()
        self._pending.clear()
        return H2Error(message, code, self._h2.highest_inbound_stream_id)

    def _translate(self, event: h2.events.Event, out: list[Event]) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._request(event.stream_id, list(event.headers or ()), out)
        elif isinstance(event, h2.events.DataReceived):
            self._data(event, out)
        elif isinstance(event, h2.events.StreamEnded):
            sid = event.stream_id
            opened = self._bodies.pop(sid, None)
            if opened is not None:
                self._release(sid)
                self._route(sid, opened[0], bytes(opened[1]), out)
            elif sid in self._tunnels:
                out.append(StreamEnded(sid))
        elif isinstance(event, h2.events.StreamReset):
            sid = event.stream_id
            self._forget(sid)
            out.append(StreamReset(sid, int(event.error_code or 0), event.remote_reset))
        elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
            self._flush_all(out)
        # Else nothing to do: h2 answered PINGs and SETTINGS itself, and
        # priorities, trailers and unknown frames mean nothing here.

    def _request(self, sid: int, fields: list[tuple[bytes, bytes]], out: list[Event]) -> None:
        last = self.goaway_last_stream_id
        if last is not None and sid > last:
            # Section 6.8: after our GOAWAY, a newer stream is not processed;
            # REFUSED_STREAM tells the client it may retry it elsewhere.
            self._h2.reset_stream(sid, ErrorCode.REFUSED_STREAM)
            return
        if self._count_open() >= self.config.max_concurrent_streams:
            # Section 5.1.2: over SETTINGS_MAX_CONCURRENT_STREAMS. A client
            # that keeps trying is a flood (section 10.5).
            self._refused += 1
            if self._refused > self.config.max_resets:
                self._h2.close_connection(ErrorCode.ENHANCE_YOUR_CALM)
                raise self._fail("too many streams over the limit", ErrorCode.ENHANCE_YOUR_CALM)
            self._h2.reset_stream(sid, ErrorCode.REFUSED_STREAM)
            return
        self._accepted.add(sid)
        if (b":method", b"CONNECT") in fields:
            # A tunnel is routed on its head; its bytes follow as DATA.
            self._route(sid, fields, b"", out)
        else:
            self._bodies[sid] = (fields, bytearray())

    def _count_open(self) -> int:
        streams = self._h2.streams
        closed = [sid for sid in self._accepted if sid not in streams or streams[sid].closed]
        self._accepted.difference_update(closed)
        return len(self._accepted)

    def _route(
        self, sid: int, fields: list[tuple[bytes, bytes]], body: bytes, out: list[Event]
    ) -> None:
        try:
            request, tunnel = to_request(fields, self.config.http, body)
        except HTTPError as exc:
            out.append(RequestRefused(sid, exc))
            return
        if request.method == "HEAD":
            self._heads.add(sid)
        if tunnel:
            self._tunnels.add(sid)
        out.append(RequestReceived(sid, request, tunnel))

    def _data(self, event: h2.events.DataReceived, out: list[Event]) -> None:
        sid = event.stream_id
        size = event.flow_controlled_length or 0
        data = event.data or b""
        opened = self._bodies.get(sid)
        if opened is None:
            # Read at once, so the credit goes back at once; unless the
            # stream's reader is held (``hold``): then its peer may send one
            # window more and waits, while the other streams flow on.
            if sid in self._holding:
                self._held[sid] = self._held.get(sid, 0) + size
            elif size:
                self._h2.acknowledge_received_data(size, sid)
        else:
            # A body in progress keeps the credit it used until it is whole
            # (section 5.2): what all bodies in progress buffer is bounded
            # by the connection window, not by streams x max_body_bytes.
            self._held[sid] = self._held.get(sid, 0) + size
            body = opened[1]
            body += data
            if len(body) > self.config.http.max_body_bytes:
                del self._bodies[sid]  # the rest of it is read and dropped
                self._release(sid)
                out.append(RequestRefused(sid, HTTPError("request body too large", 413)))
        if opened is None and sid in self._tunnels and data:
            out.append(DataReceived(sid, bytes(data)))

    # -- sending ---------------------------------------------------------------

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            method(*args, **kwargs)
        except h2.exceptions.H2Error as exc:
            raise LocalProtocolError(f"{type(exc).__name__}: {exc}") from exc

    def send_head(
        self, stream_id: int, status: int, headers: Sequence[tuple[str, str]] = (),
        *, end_stream: bool = False,
    ) -> bytes:
        """The response head on ``stream_id`` (a body follows by ``send_data``
        unless ``end_stream``)."""
        fields = response_fields(status, headers)
        self._call(self._h2.send_headers, stream_id, fields, end_stream=end_stream)
        if end_stream:
            self._forget(stream_id)
        return self.data_to_send()

    def accept_tunnel(self, stream_id: int, headers: Sequence[tuple[str, str]] = ()) -> bytes:
        """The 200 that opens an RFC 8441 WebSocket (section 5), from the
        headers of the 101 it stands for (its HTTP/1.1 fields left out)."""
        if stream_id not in self._tunnels:
            raise LocalProtocolError(f"stream {stream_id} is not an extended CONNECT")
        fields = response_fields(200, headers, tunnel=True)
        self._call(self._h2.send_headers, stream_id, fields)
        return self.data_to_send()

    def respond(
        self, stream_id: int, status: int, headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> bytes:
        """A complete response with ``content-length`` (none, and no body,
        for 204 and 304; no body for HEAD: RFC 9110 sections 8.6, 9.3.2)."""
        if not isinstance(body, bytes | bytearray | memoryview):
            raise LocalProtocolError(f"a body is bytes, not {type(body).__name__}")
        if any(name.lower() == "content-length" for name, _ in headers):
            raise LocalProtocolError("respond() sets content-length itself")
        fields = list(headers)
        if status in (204, 304):
            if body:
                raise LocalProtocolError(f"a {status} response has no body")
        else:
            fields.append(("content-length", str(len(body))))
        if not body or stream_id in self._heads:
            return self.send_head(stream_id, status, fields, end_stream=True)
        head = self.send_head(stream_id, status, fields)
        return head + self.send_data(stream_id, bytes(body), end_stream=True)

    def respond_error(self, stream_id: int, error: HTTPError) -> bytes:
        """The response ``error`` implies: its status and headers, and a
        JSON body ``{"error": message}``, as over HTTP/1.1."""
        message = error.args[0] if error.args else error.__class__.__name__
        body = json_bytes({"error": str(message)})
        return self.respond(stream_id, error.status, [_JSON_TYPE, *error.headers], body)

    def send_data(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> bytes:
        """Body bytes of ``stream_id``: sent as far as flow control allows,
        the rest queued (``pending``) until the peer gives credit."""
        stream = self._h2.streams.get(stream_id)
        if self._failed or stream is None or stream.closed:
            raise LocalProtocolError(f"stream {stream_id} is not open for sending")
        out = self._pending.get(stream_id)
        if out is None:
            out = self._pending[stream_id] = _Outgoing()
        if out.end:
            raise LocalProtocolError(f"stream {stream_id} was already ended")
        if data and stream_id not in self._heads:
            out.chunks.append(bytes(data))
            out.size += len(data)
        out.end = end_stream
        self._flush(stream_id, out, None)
        return self.data_to_send()

    def end_stream(self, stream_id: int) -> bytes:
        """END_STREAM after what was sent (once the queued bytes are out)."""
        return self.send_data(stream_id, b"", end_stream=True)

    def reset(self, stream_id: int, code: int = ErrorCode.CANCEL) -> bytes:
        """RST_STREAM (section 6.4); queued bytes of the stream are dropped.
        Nothing for a stream that is closed already."""
        self._pending.pop(stream_id, None)
        stream = self._h2.streams.get(stream_id)
        if not self._failed and not self._peer_gone and stream is not None and not stream.closed:
            self._call(self._h2.reset_stream, stream_id, code)
        self._forget(stream_id)
        return self.data_to_send()

    def goaway(self, code: int = ErrorCode.NO_ERROR) -> bytes:
        """GOAWAY with the last stream id the peer opened (section 6.8).

        NO_ERROR is graceful: open streams carry on (h2 itself would stop
        all sending), newer ones are refused. Any other code ends the
        connection as ``H2Error`` does. Once sent, later calls send nothing.
        """
        graceful = code == ErrorCode.NO_ERROR
        if self._failed or self._peer_gone or (graceful and self.goaway_last_stream_id is not None):
            return self.data_to_send()
        last = self._h2.highest_inbound_stream_id
        if not graceful:
            self._h2.close_connection(code, last_stream_id=last)
            self._failed = True
            self._pending.clear()
            return self.data_to_send()
        self.goaway_last_stream_id = last
        self._out += self._h2.data_to_send()  # keep the order of frames
        self._out += GoAwayFrame(0, last_stream_id=last, error_code=code).serialize()
        return self.data_to_send()

    # -- flow control ------------------------------------------------------------

    def _flush(self, sid: int, out: _Outgoing, frames: int | None) -> bool:
        """Send up to ``frames`` DATA frames (all that fit if None) of
        ``sid``'s queue; True if anything went out."""
        conn = self._h2
        sent = ended = False
        chunks = out.chunks
        while chunks and frames != 0:
            window = conn.local_flow_control_window(sid)
            if window <= 0:
                break
            size = min(window, conn.max_outbound_frame_size)
            chunk = chunks[0]
            if len(chunk) > size:
                piece = chunk[:size]
                chunks[0] = chunk[size:]
            else:
                piece = chunks.popleft()
            out.size -= len(piece)
            ended = out.end and not chunks
            conn.send_data(sid, piece, end_stream=ended)
            sent = True
            if frames is not None:
                frames -= 1
        if not chunks:
            if out.end:
                if not ended:
                    conn.end_stream(sid)  # END_STREAM alone needs no credit
                self._forget(sid)
            else:
                del self._pending[sid]
        return sent

    def _flush_all(self, out: list[Event]) -> None:
        # One frame per stream per round: the connection window is shared
        # in turn, not by whoever queued first.
        moved: dict[int, None] = {}
        progress = True
        while progress:
            progress = False
            for sid, queued in list(self._pending.items()):
                if self._flush(sid, queued, 1):
                    progress = True
                    moved[sid] = None
        out.extend(WindowOpened(sid) for sid in moved)

    def hold(self, stream_id: int) -> None:
        """Keep a tunnel stream's flow-control credit (section 5.2): the
        backpressure of one stream's reader, which must not stop the
        connection's other streams (section 5.2.2)."""
        self._holding.add(stream_id)

    def release(self, stream_id: int) -> bytes:
        """Give back what a held stream was sent meanwhile: its
        WINDOW_UPDATE, to send."""
        self._holding.discard(stream_id)
        if not self._failed and not self._peer_gone and stream_id in self._tunnels:
            self._release(stream_id)
        return self.data_to_send()

    def _release(self, sid: int) -> None:
        held = self._held.pop(sid, 0)
        if held:
            self._h2.acknowledge_received_data(held, sid)

    def _forget(self, sid: int) -> None:
        if not self._failed and not self._peer_gone:
            self._release(sid)  # a reset stream's credit goes back to the connection
        self._pending.pop(sid, None)
        self._bodies.pop(sid, None)
        self._tunnels.discard(sid)
        self._holding.discard(sid)
        self._heads.discard(sid)
