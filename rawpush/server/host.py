"""What a transport session may ask of whatever carries it: the Host.

A session (an SSE stream, a WebSocket, a long poll, a publish) is written
once against this small interface and never against a concrete
connection class, so the same session runs on an HTTP/1.1 connection
today and on an HTTP/2 stream or an ASGI connection tomorrow. No session
module imports a host module (import-linter checks it); a host installs
the session a route asked for and calls it back (``Session``).

A host owns the wire framing of its protocol: a session hands it bytes of
its own protocol (event-stream text, WebSocket frames) and the host wraps
them as its protocol needs (HTTP/1.1 chunks, HTTP/2 DATA frames). Because
an event is encoded once per transport and shared by every subscriber, a
host also says which framing its body bytes need (``open_stream``), so
the per-event cache can hold the final bytes for all hosts of one kind.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Headers

if TYPE_CHECKING:
    from rawpush.server.context import Context
    from rawpush.server.outbox import Outbox


class Framing(enum.Enum):
    """How the body bytes of a stream response travel on this host."""

    #: each write becomes one HTTP/1.1 chunk (RFC 9112 section 7.1)
    CHUNKED = "chunked"
    #: written as they are: the close delimits the body (HTTP/1.0), or the
    #: host frames each write itself (an HTTP/2 DATA frame, an ASGI message)
    RAW = "raw"


class Host(Protocol):
    """The operations a session uses; every host implements all of them."""

    #: the server this session belongs to (configuration, hub, metrics)
    ctx: Context
    #: counted by sessions as plain ints on the per-event path; the host
    #: folds them into the metrics (never a dict update per event)
    messages_in: int
    messages_out: int

    def write(self, data: bytes) -> None:
        """Send ``data``: a session's own protocol bytes, already framed as
        ``open_stream`` said (whole chunks for ``CHUNKED``, built by the
        core and cached per event; plain bytes for ``RAW``)."""

    def close(self) -> None:
        """End the exchange gracefully once written data is flushed."""

    def abort(self) -> None:
        """End it now, dropping whatever is unsent (a dead or hostile peer)."""

    def pause_reading(self) -> None:
        """Stop delivering the peer's bytes (backpressure on its input)."""

    def resume_reading(self) -> None: ...

    def open_stream(self, status: int, headers: Headers) -> Framing:
        """Send the head of a response whose body is a stream (SSE) and
        say how its body must be framed."""

    def end_stream(self) -> None:
        """Send the end of that body (the last chunk, END_STREAM)."""

    def switch_protocols(self, headers: Headers) -> bytes:
        """Accept a WebSocket: send the 101 (or the 200 of an RFC 8441
        CONNECT) and return the bytes the peer sent after its request."""

    def refuse(self, error: HTTPError) -> None:
        """Answer ``error`` before any head went out, then end the exchange."""

    def disconnect(self, reason: str) -> None:
        """Count why the server ends this exchange (``/metrics``)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        """Arm a timer on this host's loop."""


class Session(Protocol):
    """A long-lived exchange a host carries after its request (WS, SSE);
    the host calls these as its transport's callbacks fire."""

    transport_name: str

    @property
    def outbox(self) -> Outbox[Any] | None:
        """The subscriber queue, if this session has one (queue gauges)."""

    def start(self) -> None:
        """The host installed this session: begin (subscribe, send the head)."""

    def data_received(self, data: bytes) -> None: ...
    def eof_received(self) -> None: ...
    def connection_lost(self) -> None: ...
    def pause_writing(self) -> None: ...
    def resume_writing(self) -> None: ...
    def drain(self) -> None: ...


class Carrier(Protocol):
    """What the server needs of every live host: to fold its counters into
    the metrics, to drain it on shutdown, to abort it past the deadline."""

    session: Session | None

    def fold_counters(self) -> None: ...
    def drain(self) -> None: ...
    def abort(self) -> None: ...
