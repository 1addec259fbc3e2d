"""The client side of one HTTP/2 exchange, sans I/O: bytes in, events out.

It wraps python-hyper's ``h2`` (``H2Connection`` in the client role) for
what the push clients need: one connection carrying one request stream
(RFC 9113 section 5.1.1: a client's first stream is 1). The caller feeds
what the socket read (``receive_data``, ``receive_eof``), writes what
``data_to_send`` returns, and says when the application has taken a
body chunk (``consumed``): only then is the flow-control credit given
back (section 6.9), so a reader that falls behind slows the server down
instead of buffering without bound, and one that keeps reading never
stalls, however long the event stream runs.

Choices:

- Our SETTINGS (section 6.5.2): no server push, a 1 MiB stream window
  and the connection window raised to match (the 65,535-byte default
  would cost a round trip every 64 KiB of events), and a header list
  limit.
- GOAWAY is read here, not by ``h2``: ``h2`` refuses every frame after
  one, where section 6.8 lets the streams up to its last stream id
  finish (a draining server sends its SSE ``retry:`` hint on them). A
  graceful GOAWAY that still covers our stream changes nothing; one that
  does not, or one with an error code, is an ``H2ConnectionError``.
- Every failure of the peer is one exception, ``H2ConnectionError`` (a
  ``ConnectionError``, so the clients' retry loops take it as a network
  failure), with the RFC 9113 section 7 error code when there is one: a
  RST_STREAM on our stream, a GOAWAY, a frame ``h2`` refuses, the end of
  the connection before the response did. ``HTTP2Unavailable`` is the
  one a retry cannot fix: the server answered the connection preface
  (section 3.4) in HTTP/1.1.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

__all__ = [
    "WINDOW",
    "Body",
    "End",
    "H2ClientConnection",
    "H2ConnectionError",
    "HTTP2Unavailable",
    "Head",
]

#: the receive window of the stream and of the connection (section 6.9.2)
WINDOW = 1 << 20
#: SETTINGS_MAX_HEADER_LIST_SIZE we announce: the HTTP/1.1 client's head limit
MAX_HEADER_LIST = 64 * 1024
_DEFAULT_WINDOW = 65_535
#: RFC 9110 section 5.1 (a field name is a token) and RFC 9113 section
#: 8.2.1 (no NUL, CR or LF in a value, no whitespace around it)
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00\r\n]|^[ \t]|[ \t]$")
_FRAME_HEADER = 9
_GOAWAY = 0x7
#: section 8.2.2: connection-specific fields are malformed in HTTP/2;
#: ``host`` becomes ``:authority`` (section 8.3.1)
_DROPPED = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                      "upgrade", "host", "te"})  # fmt: skip


class H2ConnectionError(ConnectionError):
    """The HTTP/2 exchange failed; ``code`` is the RFC 9113 section 7 error
    code the peer (or ``h2``) gave, or None when the connection just ended."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class HTTP2Unavailable(H2ConnectionError):
    """The server does not speak HTTP/2 here: it answered the preface in
    HTTP/1.1, or (over TLS) did not choose ALPN ``h2``."""


@dataclass(frozen=True, slots=True)
class Head:
    """The final response head (1xx heads are skipped: RFC 9110 section 15.2)."""

    status: int
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Body:
    """A piece of the body; ``flow`` is its flow-controlled size (padding
    included), what ``consumed`` gives back once it is taken."""

    data: bytes
    flow: int


@dataclass(frozen=True, slots=True)
class End:
    """The body is complete (END_STREAM, section 8.1)."""


Event = Head | Body | End


def _code_name(code: int) -> str:
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return f"error code {code:#x}"


class H2ClientConnection:
    """One request over one client connection (see the module docstring)."""

    def __init__(self, authority: str, peer: str | None = None) -> None:
        self._authority = authority
        self._peer = peer or authority  # for messages
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self._h2 = h2.connection.H2Connection(config)
        self._h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW,
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST,
            },
        )
        self._h2.initiate_connection()
        self._h2.increment_flow_control_window(WINDOW - _DEFAULT_WINDOW)
        self._buffer = bytearray()
        self._first = bytearray()  # the peer's first bytes, until we know it is HTTP/2
        self._sniffed = False
        self._stream: int | None = None
        self._body = b""  # request body not yet sent (flow control)
        self._end_body = False
        self._head = False
        self._ended = False
        self._failed: H2ConnectionError | None = None

    @property
    def ended(self) -> bool:
        """The response is complete."""
        return self._ended

    def data_to_send(self) -> bytes:
        """The bytes to write to the socket now (our frames, SETTINGS acks,
        PING answers), emptying the buffer."""
        return bytes(self._h2.data_to_send())

    def send_request(
        self, method: str, scheme: str, target: str,
        headers: Iterable[tuple[str, str]] = (), body: bytes | None = None,
    ) -> None:  # fmt: skip
        """Open the stream. ``body`` None: no body (END_STREAM on HEADERS).
        Header names are lowercased (section 8.2.1); connection-specific
        ones are dropped; values go out UTF-8 encoded (a Last-Event-ID may
        be any text: WHATWG HTML 9.2.4)."""
        if self._stream is not None:
            raise RuntimeError("one request per H2ClientConnection")
        fields = [
            (b":method", method.encode()),
            (b":scheme", scheme.encode()),
            (b":authority", self._authority.encode()),
            (b":path", target.encode()),
        ]
        for name, value in headers:
            if _BAD_VALUE.search(value) or not _TOKEN.fullmatch(name):
                # Section 8.2.1: such a field is malformed; never let it out.
                raise ValueError(f"cannot send this request: bad header {name!r}: {value!r}")
            if name.lower() not in _DROPPED:
                fields.append((name.lower().encode(), value.encode()))
        self._stream = self._h2.get_next_available_stream_id()
        try:
            self._h2.send_headers(self._stream, fields, end_stream=body is None)
        except h2.exceptions.ProtocolError as exc:  # pragma: no cover - checked above
            raise ValueError(f"cannot send this request: {exc}") from exc
        if body is not None:
            self._body, self._end_body = body, True
            self._send_body()

    @property
    def body_pending(self) -> bool:
        """Part of the request body waits for the server's window."""
        return self._end_body

    def _send_body(self) -> None:
        # Section 6.9.1: never more than the smaller of the two send windows,
        # in frames no larger than the peer's SETTINGS_MAX_FRAME_SIZE.
        sid = self._stream
        assert sid is not None
        while self._end_body and not self._ended:
            room = min(self._h2.local_flow_control_window(sid), self._h2.max_outbound_frame_size)
            if room <= 0 and self._body:
                return
            piece, self._body = self._body[:room], self._body[room:]
            last = not self._body
            self._h2.send_data(sid, piece, end_stream=last)
            if last:
                self._end_body = False

    def consumed(self, flow: int) -> None:
        """The application took a ``Body`` of this flow-controlled size:
        give the credit back (``h2`` sends WINDOW_UPDATE once half a window
        is used, section 6.9)."""
        if flow and self._stream is not None and self._failed is None:
            self._h2.acknowledge_received_data(flow, self._stream)

    def receive_data(self, data: bytes) -> list[Event]:
        """Take bytes the server sent; the events they complete."""
        if self._failed is not None:
            raise self._failed
        if not self._sniffed:
            data = self._sniff(data)
            if not data:
                return []
        self._buffer += data
        try:
            out: list[Event] = []
            for event in self._h2.receive_data(self._frames()):
                out += self._take(event)
        except h2.exceptions.ProtocolError as exc:
            code = int(getattr(exc, "error_code", h2.errors.ErrorCodes.PROTOCOL_ERROR))
            self._fail(f"HTTP/2 error from {self._peer}: {exc or type(exc).__name__}", code)
        if self._end_body:
            self._send_body()  # a WINDOW_UPDATE may have opened the window
        return out

    def receive_eof(self) -> None:
        """The server closed the connection: an error unless the response is complete."""
        if not self._ended:
            said = "answering" if not self._head else "the response ended"
            self._fail(f"{self._peer} closed the connection before {said}", None)

    def _sniff(self, data: bytes) -> bytes:
        # Section 3.4: the server's preface is a SETTINGS frame, whose type
        # byte (offset 3) is 0x4; "HTTP/" is an HTTP/1.1 server's answer.
        self._first += data
        if len(self._first) < 5:
            return b""
        self._sniffed = True
        if bytes(self._first[:5]) == b"HTTP/":
            self._failed = HTTP2Unavailable(
                f"{self._peer} does not speak HTTP/2: it answered in HTTP/1.1"
            )
            raise self._failed
        data, self._first = bytes(self._first), bytearray()
        return data

    def _frames(self) -> bytes:
        """The whole frames buffered, GOAWAY frames taken out (see the docstring)."""
        buf = self._buffer
        kept = bytearray()
        at = 0
        while len(buf) - at >= _FRAME_HEADER:
            length = int.from_bytes(buf[at : at + 3], "big")
            if length > self._h2.max_inbound_frame_size:
                # Section 4.2: larger than our SETTINGS_MAX_FRAME_SIZE.
                self._h2.close_connection(h2.errors.ErrorCodes.FRAME_SIZE_ERROR)
                self._fail(f"HTTP/2 error from {self._peer}: a {length}-byte frame", 0x6)
            end = at + _FRAME_HEADER + length
            if end > len(buf):
                break
            if buf[at + 3] == _GOAWAY and length >= 8:
                last, code = struct.unpack_from("!LL", buf, at + _FRAME_HEADER)
                self._goaway(last & 0x7FFFFFFF, code)
            else:
                kept += buf[at:end]
            at = end
        del buf[:at]
        return bytes(kept)

    def _goaway(self, last: int, code: int) -> None:
        if code != h2.errors.ErrorCodes.NO_ERROR:
            self._fail(f"{self._peer} ended the connection: GOAWAY {_code_name(code)}", code)
        if self._stream is not None and self._stream > last and not self._ended:
            # Section 6.8: a stream above the last id was not processed: safe to retry.
            self._fail(f"{self._peer} is going away (GOAWAY before our request)", code)

    def _take(self, event: h2.events.Event) -> list[Event]:
        if isinstance(event, h2.events.ResponseReceived) and event.stream_id == self._stream:
            self._head = True
            return [self._head_of(event.headers or [])]
        if isinstance(event, h2.events.DataReceived) and event.stream_id == self._stream:
            return [Body(bytes(event.data or b""), int(event.flow_controlled_length or 0))]
        if isinstance(event, h2.events.StreamEnded) and event.stream_id == self._stream:
            self._ended = True
            return [End()]
        if isinstance(event, h2.events.StreamReset) and event.stream_id == self._stream:
            if self._ended:
                # Section 8.1: after a complete response a RST_STREAM
                # (NO_ERROR) only stops the rest of the request body.
                self._end_body = False
                return []
            code = int(event.error_code or 0)
            self._fail(f"{self._peer} reset the stream: {_code_name(code)}", code)
        # PING (answered by h2), SETTINGS acks, 1xx heads, trailers, PRIORITY.
        return []

    def _head_of(self, raw: Iterable[tuple[bytes | str, bytes | str]]) -> Head:
        status = 0
        headers: list[tuple[str, str]] = []
        for name, value in raw:
            key = name.decode("latin-1") if isinstance(name, bytes) else name
            text = value.decode("latin-1") if isinstance(value, bytes) else value
            if key == ":status":
                status = int(text)
            elif not key.startswith(":"):
                headers.append((key, text))
        return Head(status, tuple(headers))

    def _fail(self, message: str, code: int | None) -> None:
        self._failed = H2ConnectionError(message, code)
        raise self._failed
