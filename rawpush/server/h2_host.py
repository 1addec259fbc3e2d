"""The HTTP/2 host: one TCP connection carrying many streams, each a
``Host`` of its own (``rawpush.server.h2_stream``).

It is reached two ways: TLS with ALPN ``h2`` (RFC 9113 section 3.2), or
cleartext with prior knowledge (section 3.3), where the HTTP/1.1 host
sees the connection preface and hands the transport over with the bytes
it read. The sans-IO core (``rawpush.proto.h2``) does the framing, the
limits and the flood defences; this class routes requests, carries out
the answers on their streams, turns core errors into a closed connection
(the GOAWAY is already queued) and relays flow control to the sessions.

Drain (RFC 9113 section 6.8): one GOAWAY naming the last stream opened,
then each stream's session says goodbye as over HTTP/1.1 (SSE retry hint,
WebSocket 1001, polls answered); the connection closes when no stream is
left. Idle (no stream open) for ``keepalive_timeout``, it closes too.
"""

from __future__ import annotations

import asyncio
import functools
from typing import cast

from rawpush.proto.errors import H2Error, LocalProtocolError
from rawpush.proto.h2 import (
    ConnectionEnded,
    DataReceived,
    ErrorCode,
    Event,
    H2Config,
    H2Connection,
    RequestReceived,
    RequestRefused,
    StreamEnded,
    StreamReset,
    WindowOpened,
)
from rawpush.proto.http import HTTPConfig
from rawpush.server import access_log, routes
from rawpush.server.context import Context
from rawpush.server.h2_stream import H2Stream
from rawpush.server.host import Session
from rawpush.server.linger import linger, reset
from rawpush.server.metrics import fold_counts, labels

__all__ = ["H2Protocol", "H2Stream", "h2_config"]

_PROTOCOL = (("protocol", "h2"),)
#: RFC 9113 section 6.9.1: the largest window
_MAX_WINDOW = (1 << 31) - 1


@functools.lru_cache(maxsize=8)
def h2_config(http: HTTPConfig, max_concurrent_streams: int) -> H2Config:
    """The core's limits for a server's configuration (one per server):
    a stream's window above the body limit (a body over it is refused
    before it stalls), the connection's twice that, at least 4 MiB."""
    stream = min(max(2 << 20, http.max_body_bytes + 1), _MAX_WINDOW)
    return H2Config(
        http=http,
        max_concurrent_streams=max_concurrent_streams,
        initial_window_size=stream,
        connection_window_size=min(max(4 << 20, 2 * stream), _MAX_WINDOW),
    )


class H2Protocol(asyncio.Protocol):
    """One HTTP/2 connection; a ``Carrier`` for drain and abort."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.h2 = H2Connection(h2_config(cfg.http, cfg.h2_max_concurrent_streams))
        self.transport: asyncio.Transport | None = None
        #: a connection carries no session itself; its streams do
        self.session: Session | None = None
        self.streams: dict[int, H2Stream] = {}
        self.writing_paused = False
        self._counted = False
        self._draining = False
        self._timer: asyncio.TimerHandle | None = None
        self._labels = labels("h2")
        self.bytes_in = 0
        self.bytes_out = 0
        self.messages_in = 0
        self.messages_out = 0

    # -- asyncio callbacks ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but
        # offer the same interface.
        transport = cast("asyncio.Transport", transport)
        self.transport = transport
        ctx = self.ctx
        ctx.connections.add(self)
        metrics = ctx.metrics
        over = ctx.accepted >= ctx.config.max_connections or ctx.draining
        limiter = ctx.per_address
        if not over and limiter is not None and not limiter.acquire(self._address()):
            metrics.inc("rawpush_disconnects_total", (("reason", "max_connections_per_address"),))
            over = True
        elif over:
            metrics.inc("rawpush_disconnects_total", (("reason", "max_connections"),))
        if over:
            # Our SETTINGS, then GOAWAY naming no stream: the client may retry
            # every request elsewhere (section 6.8).
            self.write(self.h2.data_to_send())
            self.goaway()
            transport.close()
            return
        ctx.accepted += 1
        self._counted = True
        transport.set_write_buffer_limits(ctx.config.write_high_water, ctx.config.write_low_water)
        metrics.inc("rawpush_connections", self._labels)
        metrics.inc("rawpush_connections_total", self._labels)
        metrics.inc("rawpush_protocol_connections", _PROTOCOL)
        metrics.inc("rawpush_protocol_connections_total", _PROTOCOL)
        self.write(self.h2.data_to_send())  # our SETTINGS and WINDOW_UPDATE
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        try:
            events = self.h2.receive_data(data)
        except H2Error as exc:
            self._failed(exc)
            return
        except LocalProtocolError:
            return  # failed already; the close is under way
        for event in events:
            self._handle(event)
        self.write(self.h2.data_to_send())

    def eof_received(self) -> bool | None:
        # No half-close in HTTP/2: the peer is gone (section 5.1's streams
        # end with the connection).
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        for stream in list(self.streams.values()):
            stream.lost()
        self.streams.clear()
        ctx = self.ctx
        self.fold_counters()
        ctx.connections.discard(self)
        if self._counted:
            self._counted = False
            ctx.accepted -= 1
            ctx.metrics.inc("rawpush_connections", self._labels, -1)
            ctx.metrics.inc("rawpush_protocol_connections", _PROTOCOL, -1)
            if ctx.per_address is not None:
                ctx.per_address.release(self._address())

    def pause_writing(self) -> None:
        self.writing_paused = True
        for stream in list(self.streams.values()):
            stream.transport_paused()

    def resume_writing(self) -> None:
        self.writing_paused = False
        for stream in list(self.streams.values()):
            stream.transport_resumed()

    # -- events of the core ------------------------------------------------------

    def _handle(self, event: Event) -> None:
        if isinstance(event, RequestReceived):
            self._open(event)
            return
        if isinstance(event, ConnectionEnded):
            # Section 6.8: a graceful GOAWAY lets open streams finish.
            self._draining = True
            if event.code != ErrorCode.NO_ERROR or not self.streams:
                self.close()
            return
        stream = self.streams.get(event.stream_id)
        if isinstance(event, RequestRefused):
            refused = H2Stream(self, event.stream_id)
            self._track(refused)
            refused.refuse(event.error)
        elif stream is None:
            return  # a stream answered already; nothing to tell it
        elif isinstance(event, DataReceived):
            stream.data_received(event.data)
        elif isinstance(event, StreamEnded):
            stream.eof_received()
        elif isinstance(event, StreamReset):
            if event.remote:
                self.ctx.metrics.inc("rawpush_h2_resets_received_total")
            stream.lost()
        elif isinstance(event, WindowOpened):  # pragma: no branch
            stream.window_opened()

    def _open(self, event: RequestReceived) -> None:
        stream = H2Stream(self, event.stream_id, tunnel=event.tunnel)
        self._track(stream)
        request = event.request
        stream.exchange = access_log.begin(request.method, request.target, "HTTP/2")
        stream.carry_out(routes.dispatch(self.ctx, request, self.peer))

    def _track(self, stream: H2Stream) -> None:
        self._cancel_timer()
        self.streams[stream.stream_id] = stream
        metrics = self.ctx.metrics
        metrics.inc("rawpush_h2_streams")
        metrics.inc("rawpush_h2_streams_total")

    def stream_done(self, stream: H2Stream) -> None:
        """A stream's exchange is over (answered, ended, reset, lost)."""
        if self.streams.get(stream.stream_id) is not stream:
            return
        del self.streams[stream.stream_id]
        self.ctx.metrics.inc("rawpush_h2_streams", (), -1)
        self.resume_reading_for(stream)
        if self.streams:
            return
        if self._draining:
            self.close()
        else:
            self._arm_idle()

    def _failed(self, exc: H2Error) -> None:
        self._count_goaway(exc.code)
        self.ctx.metrics.inc("rawpush_disconnects_total", (("reason", "protocol_error"),))
        self.write(self.h2.data_to_send())  # the GOAWAY
        for stream in list(self.streams.values()):
            stream.lost()
        # Lingering close (as over HTTP/1.1): the peer's flood is read and
        # dropped, so that no reset destroys the GOAWAY before it is read.
        self._cancel_timer()
        if self.transport is not None:
            self._timer = linger(self.transport, self.close)

    def _count_goaway(self, code: int) -> None:
        try:
            name = ErrorCode(code).name
        except ValueError:
            name = str(code)
        self.ctx.metrics.inc("rawpush_h2_goaways_sent_total", (("code", name),))

    # -- what streams ask of the connection -----------------------------------------

    def write(self, data: bytes) -> None:
        transport = self.transport
        if data and transport is not None and not transport.is_closing():
            self.bytes_out += len(data)
            transport.write(data)

    def pause_reading_for(self, stream: H2Stream) -> None:
        """One stream's reader stops: its flow-control credit is held
        (RFC 9113 section 5.2), so its peer stops within one window while
        every other stream of the connection keeps flowing."""
        self.h2.hold(stream.stream_id)

    def resume_reading_for(self, stream: H2Stream) -> None:
        self.write(self.h2.release(stream.stream_id))

    def goaway(self) -> None:
        """The graceful GOAWAY (once): streams open carry on, no new ones."""
        if self.h2.goaway_last_stream_id is None and not self.h2.should_close:
            self._count_goaway(ErrorCode.NO_ERROR)
            self.write(self.h2.goaway())

    @property
    def peer(self) -> tuple[str, int] | None:
        if self.transport is None:
            return None
        name = self.transport.get_extra_info("peername")
        return (str(name[0]), int(name[1])) if isinstance(name, tuple) else None

    def _address(self) -> str:
        peer = self.peer
        return peer[0] if peer is not None else ""

    # -- the Carrier operations ---------------------------------------------------------

    def fold_counters(self) -> None:
        fold_counts(self.ctx.metrics, self._labels, self)
        for stream in self.streams.values():
            stream.fold_counters()

    def drain(self) -> None:
        self._draining = True
        self.goaway()
        for stream in list(self.streams.values()):
            stream.drain()
        if not self.streams:
            self.close()

    def close(self) -> None:
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._cancel_timer()
        if self.transport is not None:
            reset(self.transport)

    # -- timers -------------------------------------------------------------------------

    def _arm_idle(self) -> None:
        self._cancel_timer()
        if self.transport is None or self.transport.is_closing():
            return  # closing already: no timer may outlive it
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.ctx.config.keepalive_timeout, self._idle_timeout)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _idle_timeout(self) -> None:
        self._timer = None
        self.ctx.metrics.inc("rawpush_disconnects_total", (("reason", "idle_timeout"),))
        self.goaway()
        self.close()
