"""The configuration, error codes and events of the HTTP/2 core.

Events are frozen, slotted dataclasses; ``H2Connection.receive_data``
returns a list of them. They speak rawpush's terms (a complete
``Request``, bytes of a tunnel, a stream that ended) rather than h2's, so
a host needs no knowledge of the ``h2`` library.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http_request import HTTPConfig, Request

__all__ = [
    "ConnectionEnded",
    "DataReceived",
    "ErrorCode",
    "Event",
    "H2Config",
    "RequestReceived",
    "RequestRefused",
    "StreamEnded",
    "StreamReset",
    "WindowOpened",
]


class ErrorCode(enum.IntEnum):
    """RFC 9113 section 7: the codes of RST_STREAM and GOAWAY."""

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
    #: "the peer might be generating excessive load": every flood defence
    ENHANCE_YOUR_CALM = 0xB
    INADEQUATE_SECURITY = 0xC
    HTTP_1_1_REQUIRED = 0xD


@dataclass(frozen=True, slots=True)
class H2Config:
    """Limits of one HTTP/2 connection (server side).

    ``http`` is shared with HTTP/1.1: ``max_header_bytes`` bounds both the
    decoded header list (SETTINGS_MAX_HEADER_LIST_SIZE, RFC 9113 section
    6.5.2, counted as RFC 7541 section 4.1 does) and the compressed header
    block across HEADERS and CONTINUATION frames (CVE-2024-27316), the
    body and target limits apply per request.

    ``initial_window_size`` is what each stream may send us before we
    acknowledge (SETTINGS_INITIAL_WINDOW_SIZE), ``connection_window_size``
    what the whole connection may (raised by a WINDOW_UPDATE at start: the
    65,535-byte default would throttle a hundred streams to a trickle). A
    request body keeps its credit until it is complete, so the connection
    window bounds what the bodies in progress on one connection buffer;
    a stream's window must exceed ``max_body_bytes`` (a body over the limit
    is then refused, 413, before its window runs dry) and the connection's
    must hold one stream's.

    Flood defences count frames in windows of ``flood_window`` received
    frames: more than ``max_resets`` RST_STREAMs (rapid reset,
    CVE-2023-44487), ``max_pings`` PINGs, ``max_settings`` SETTINGS or
    ``max_empty_frames`` empty DATA/CONTINUATION frames (that end nothing)
    in one window end the connection with ENHANCE_YOUR_CALM.
    """

    http: HTTPConfig = field(default_factory=HTTPConfig)
    max_concurrent_streams: int = 100
    initial_window_size: int = 2 << 20
    connection_window_size: int = 4 << 20
    flood_window: int = 1000
    max_resets: int = 100
    max_pings: int = 100
    max_settings: int = 100
    max_empty_frames: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.http, HTTPConfig):
            raise LocalProtocolError("H2Config.http must be an HTTPConfig")
        # RFC 9113 section 6.9.1: a window is at most 2**31 - 1.
        most = (1 << 31) - 1
        limits = (
            (self.max_concurrent_streams, 1, most),
            (self.initial_window_size, 65_535, most),
            (self.connection_window_size, 65_535, most),
            (self.flood_window, 1, most),
            (self.max_resets, 1, most),
            (self.max_pings, 1, most),
            (self.max_settings, 1, most),
            (self.max_empty_frames, 1, most),
        )
        for value, least, highest in limits:
            if isinstance(value, bool) or not isinstance(value, int):
                raise LocalProtocolError(f"H2Config limits must be ints: {self!r}")
            if not least <= value <= highest:
                raise LocalProtocolError(f"H2Config limits out of range: {self!r}")
        if self.initial_window_size <= self.http.max_body_bytes:
            raise LocalProtocolError("H2Config.initial_window_size must exceed max_body_bytes")
        if self.connection_window_size < self.initial_window_size:
            raise LocalProtocolError("H2Config.connection_window_size is below a stream's")


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A request to route. ``request`` is complete (body included) unless
    ``tunnel``: then it is an RFC 8441 extended CONNECT for a WebSocket,
    presented as the HTTP/1.1 upgrade it stands for (section 5), and its
    bytes follow as ``DataReceived``."""

    stream_id: int
    request: Request
    tunnel: bool = False


@dataclass(frozen=True, slots=True)
class RequestRefused:
    """A request the core refuses before routing (a bad target, a body over
    the limit, a CONNECT we do not offer): answer ``respond_error``."""

    stream_id: int
    error: HTTPError


@dataclass(frozen=True, slots=True)
class DataReceived:
    """Bytes of a tunnel stream (already acknowledged for flow control)."""

    stream_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The peer ended its side of a tunnel stream (END_STREAM): its EOF."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class StreamReset:
    """The stream is gone: reset by the peer (``remote``) or by the core
    for a stream error (RFC 9113 section 5.4.2)."""

    stream_id: int
    code: int
    remote: bool = True


@dataclass(frozen=True, slots=True)
class WindowOpened:
    """Flow-control credit arrived and queued bytes of this stream went
    out: ``H2Connection.pending`` is lower than it was."""

    stream_id: int


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """The peer sent GOAWAY (RFC 9113 section 6.8): it opens no more
    streams. With ``code`` NO_ERROR the open ones may finish (close once
    they did); with any other, nothing more can be sent: close now."""

    code: int
    last_stream_id: int


Event = (
    RequestReceived
    | RequestRefused
    | DataReceived
    | StreamEnded
    | StreamReset
    | WindowOpened
    | ConnectionEnded
)
