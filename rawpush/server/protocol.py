"""The HTTP/1.1 host: one TCP connection, its h11 request loop, its timers,
and the hand-off to a session (``rawpush.server.host``).

An ``asyncio.Protocol`` rather than streams: the transport's callbacks
(``pause_writing``/``resume_writing``) are exactly the backpressure signal
the subscriber queues need, and no task per connection is needed while a
connection sits idle between requests.

Routes answer with data (``rawpush.server.answers``) and this class carries
it out: a ``Reply`` or ``Refusal`` is written through h11, a ``Deferred``
runs as a task whose result is written when it completes, a ``Takeover``
installs a session, which then talks to this connection only through the
``Host`` operations.

Timers (one handle at a time, as only one of them can apply):

- header timeout: from the first byte of a request until the request is
  complete (a slowloris client trickling a head or a body); 408, then close.
  It also bounds the WebSocket opening handshake, which is one request.
- keep-alive timeout: no request in flight and nothing received; close.
- a connection that never sends a byte gets the header timeout too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import cast

from rawpush.proto.chunked import LAST_CHUNK
from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.h2 import PREFACE
from rawpush.proto.http import Headers, HTTPConnection, Request, refusal_before_request
from rawpush.server import access_log, routes
from rawpush.server.answers import Answer, Deferred, Refusal, Reply, Takeover
from rawpush.server.context import Context
from rawpush.server.h1_counts import H1, H1Counts
from rawpush.server.h2_host import H2Protocol
from rawpush.server.host import Framing, Session
from rawpush.server.linger import linger, reset
from rawpush.server.metrics import labels

logger = logging.getLogger("rawpush.server")

# Built once: what every connection over the limit gets, before it sent
# anything (RFC 9110 section 15.6.4; Retry-After, section 10.2.3).
_RESPONSE_503 = refusal_before_request(
    HTTPError("too many connections", 503, (("Retry-After", "1"),))
)
# One address over its share of connections (RFC 6585 section 4).
_RESPONSE_429 = refusal_before_request(
    HTTPError("too many connections from this address", 429, (("Retry-After", "1"),))
)


class HTTPProtocol(H1Counts, asyncio.Protocol):
    # The counters and the access-log exchange: rawpush.server.h1_counts.
    # Slots: one of these lives as long as each connection, idle or not.
    __slots__ = (
        "_buffered",
        "_cancel_on_eof",
        "_closing",
        "_counted",
        "_http10",
        "_reading",
        "_sniff",
        "_task",
        "_timer",
        "bytes_in",
        "bytes_out",
        "ctx",
        "http",
        "messages_in",
        "messages_out",
        "session",
        "transport",
    )

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.http = HTTPConnection(ctx.config.http)
        self.session: Session | None = None
        self.kind = "http"
        self._labels = labels("http")
        self._task: asyncio.Task[Reply | Refusal] | None = None
        self._http10 = False  # the request being answered is HTTP/1.0
        self._cancel_on_eof = False
        self._timer: asyncio.TimerHandle | None = None
        self._reading = False  # bytes of a request are arriving
        self._counted = False
        self._closing = False
        self._buffered = 0
        # The first bytes, while they may still be the HTTP/2 preface (RFC
        # 9113 section 3.3: prior knowledge); None once they are not.
        self._sniff: bytes | None = b"" if ctx.config.http2 else None
        # The exchange being served, for the access log; None while it is off.
        self._exchange: access_log.Exchange | None = None
        # Counted here as plain ints, on the per-event path, and added to
        # the metrics by fold_counters() (when /metrics is read, when the
        # transport label changes, when the connection ends): a dict update
        # per write and per event was ~10% of fan-out CPU.
        self.bytes_in = 0
        self.bytes_out = 0
        self.messages_in = 0
        self.messages_out = 0

    # -- asyncio callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but
        # offer the same interface.
        transport = cast("asyncio.Transport", transport)
        self.transport = transport
        ctx = self.ctx
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
            self._to_h2(transport, b"")  # RFC 9113 section 3.2
            return
        ctx.connections.add(self)
        if ctx.accepted >= ctx.config.max_connections or ctx.draining:
            self._refuse_early("max_connections", "503", _RESPONSE_503)
            return
        limiter = ctx.per_address
        if limiter is not None and not limiter.acquire(self._address()):
            self._refuse_early("max_connections_per_address", "429", _RESPONSE_429)
            return
        ctx.accepted += 1
        self._counted = True
        cfg = ctx.config
        transport.set_write_buffer_limits(cfg.write_high_water, cfg.write_low_water)
        ctx.metrics.inc("rawpush_connections", self._labels)
        ctx.metrics.inc("rawpush_protocol_connections", H1)
        if self._sniff is None:  # HTTP/1.1 for sure; else once the first bytes say
            self._count_total()
        self._arm(cfg.header_timeout, self._header_timeout)

    def _to_h2(self, transport: asyncio.Transport, data: bytes) -> None:
        """Hand the connection to the HTTP/2 host with what was read of it."""
        if self.transport is transport and self._counted:
            self.connection_lost(None)  # out of the HTTP/1.1 counts
        h2 = H2Protocol(self.ctx)
        transport.set_protocol(h2)
        h2.connection_made(transport)
        if data:
            h2.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self._sniff is not None and not self._closing:
            data = self._sniff + data
            self._sniff = None
            if PREFACE.startswith(data[: len(PREFACE)]):
                if len(data) < len(PREFACE):
                    self._sniff = data  # a preface cut short, so far
                    return
                assert self.transport is not None
                self._to_h2(self.transport, data)
                return
            if self._counted:
                self._count_total()
        self.bytes_in += len(data)
        if self.session is not None:
            self.session.data_received(data)
            return
        if self._closing:
            return
        if self._task is not None:
            # A request is being answered: the next one waits in h11's buffer
            # (pipelining, RFC 9112 section 9.3.2) and reading stops when
            # that buffer would exceed what one request may hold.
            self.http.receive_data(data)
            self._buffered += len(data)
            cfg = self.ctx.config.http
            if self._buffered > cfg.max_header_bytes + cfg.max_body_bytes:
                self.pause_reading()
            return
        if not self._reading:
            self._reading = True
            self._arm(self.ctx.config.header_timeout, self._header_timeout)
        self.http.receive_data(data)
        self._process()

    def eof_received(self) -> bool | None:
        if self.session is not None:
            self.session.eof_received()
            return True  # the session decides when to close
        if self._closing:
            self.close()
            return None
        if self._task is not None:
            if self._cancel_on_eof:
                # The long-poll client is gone: stop waiting (the hub leaves
                # nothing registered when its wait is cancelled).
                self._task.cancel()
                return None
            return True  # a publish finishes, then we close
        self.http.receive_eof()
        self._process()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        self._end_exchange()  # a session's, or one whose client left mid-request
        if self._task is not None:
            self._task.cancel()
        if self.session is not None:
            self.session.connection_lost()
        ctx = self.ctx
        self.fold_counters()
        ctx.connections.discard(self)
        if self._counted:
            if self._sniff is not None:  # gone before its first bytes: HTTP/1.1's
                self._count_total()
            self._counted = False  # out of every gauge from here on
            ctx.accepted -= 1
            ctx.metrics.inc("rawpush_connections", self._labels, -1)
            ctx.metrics.inc("rawpush_protocol_connections", H1, -1)
            if ctx.per_address is not None:
                ctx.per_address.release(self._address())

    def _refuse_early(self, reason: str, status: str, response: bytes) -> None:
        # No request was read: the answer is the one built at import.
        metrics = self.ctx.metrics
        metrics.inc("rawpush_disconnects_total", (("reason", reason),))
        metrics.inc("rawpush_http_responses_total", (("status", status),))
        assert self.transport is not None
        self.transport.write(response)
        access_log.refused(self.peer, int(status), len(response), reason)
        self._linger()

    def _address(self) -> str:
        peer = self.peer
        return peer[0] if peer is not None else ""

    @property
    def peer(self) -> tuple[str, int] | None:
        """The client's (address, port), None when unknown."""
        if self.transport is None:
            return None
        name = self.transport.get_extra_info("peername")
        return (str(name[0]), int(name[1])) if isinstance(name, tuple) else None

    def pause_writing(self) -> None:
        if self.session is not None:
            self.session.pause_writing()

    def resume_writing(self) -> None:
        if self.session is not None:
            self.session.resume_writing()

    # -- the Host operations (rawpush.server.host) ------------------------

    def write(self, data: bytes) -> None:
        transport = self.transport
        if data and transport is not None and not transport.is_closing():
            self.bytes_out += len(data)
            transport.write(data)

    def pause_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def open_stream(self, status: int, headers: Headers) -> Framing:
        self._count_status(status)
        self.write(self.http.start_stream(status, headers))
        # h11 frames a body of unknown length with chunked coding over
        # HTTP/1.1 and by the close over HTTP/1.0 (RFC 9112 section 6.3);
        # from here on the session frames its own writes accordingly.
        self._release_http()
        return Framing.RAW if self._http10 else Framing.CHUNKED

    def end_stream(self) -> None:
        if not self._http10:
            self.write(LAST_CHUNK)

    def switch_protocols(self, headers: Headers) -> bytes:
        self._count_status(101)
        self.write(self.http.switch_protocols(headers))
        trailing = self.http.trailing_data
        self._release_http()
        return trailing

    def refuse(self, error: HTTPError) -> None:
        self._count_status(error.status)
        self.write(self.http.respond_error(error, close=True))
        self.close()

    def disconnect(self, reason: str) -> None:
        self.ctx.metrics.inc("rawpush_disconnects_total", (("reason", reason),))

    def close(self) -> None:
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._cancel_timer()
        if self.transport is not None:
            reset(self.transport)

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    # -- the connection's socket -----------------------------------------------------

    def _cap_send_buffer(self) -> None:
        """A subscriber's socket keeps at most ``subscriber_sndbuf`` in the
        kernel: beyond it, events wait in the outbox, where they are counted
        and bounded; a reader that stops cannot pin megabytes of kernel
        memory the outbox never sees (Linux reserves up to 4 MiB otherwise)."""
        size = self.ctx.config.subscriber_sndbuf
        transport = self.transport
        if size is None or transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)

    def _release_http(self) -> None:
        """A session owns the connection for good (after a 101, or once an
        event stream's head is out): the HTTP parser and its state (~600 B
        per connection) are no longer needed. Every use of ``self.http``
        after this is a bug, and fails loudly (AttributeError)."""
        del self.http

    # -- the request loop ----------------------------------------------------

    def _process(self) -> None:
        while self._task is None and self.session is None and not self._closing:
            try:
                request = self.http.next_request()
            except HTTPError as exc:
                self.disconnect("bad_request")
                self._respond_and_linger(exc)
                return
            if request is None:
                self.write(self.http.data_to_send())  # a 100 Continue, if due
                if self.http.should_close:
                    self.close()
                elif not self._reading:
                    self._arm(self.ctx.config.keepalive_timeout, self._idle_timeout)
                return
            self._cancel_timer()
            self._reading = False
            self._dispatch(request)

    def _dispatch(self, request: Request) -> None:
        self._http10 = request.http_version == "1.0"
        if access_log.enabled():
            self._begin_exchange(request.method, request.target, f"HTTP/{request.http_version}")
        self._carry_out(routes.dispatch(self.ctx, request, self.peer))

    def _carry_out(self, answer: Answer) -> None:
        if isinstance(answer, Reply | Refusal):
            self._finish(answer)
        elif isinstance(answer, Deferred):
            if answer.kind != self.kind:
                self.set_kind(answer.kind)
            self._task = asyncio.ensure_future(answer.answer)
            self._cancel_on_eof = answer.cancel_on_eof
            self._task.add_done_callback(self._task_done)
        else:
            self._install(answer)

    def _install(self, takeover: Takeover) -> None:
        # Only the host installs sessions: the route said what to build.
        self._cap_send_buffer()
        session = takeover.open(self)
        self.session = session
        self.set_kind(takeover.kind)
        session.start()

    def _task_done(self, task: asyncio.Task[Reply | Refusal]) -> None:
        self._task = None
        self._buffered = 0
        try:
            if self.transport is None or self.transport.is_closing():
                return
            if task.cancelled():
                self.close()
                return
            exc = task.exception()
            if exc is not None:
                logger.error("request handler failed", exc_info=exc)
                self._respond_and_linger(HTTPError("internal server error", 500))
                return
            self.transport.resume_reading()
            self._finish(task.result())
        finally:
            # Once the answer is written: its bytes are the transport's that
            # answered (a poll's), then the connection is "http" again.
            if self.kind != "http" and self.session is None:
                self.set_kind("http", new=False)  # between requests again
        if self._task is None and not self._closing and self.session is None:
            self._process()

    def _serialize(self, answer: Reply | Refusal) -> bytes:
        http = self.http
        if isinstance(answer, Refusal):
            self._count_status(answer.error.status)
            return http.respond_error(answer.error, close=answer.close)
        self._count_status(answer.status)
        if answer.stream_head:
            # HEAD of a stream: the head GET would get, and no body.
            return http.start_stream(answer.status, answer.headers) + http.end_stream()
        return http.respond(answer.status, answer.headers, answer.body)

    def _finish(self, answer: Reply | Refusal) -> None:
        self.write(self._serialize(answer))
        self._end_exchange()
        if self.http.should_close or self.ctx.draining:
            self._closing = True
            self.close()
        elif self.transport is not None and self.transport.is_closing():
            self._closing = True

    def _respond_and_linger(self, error: HTTPError) -> None:
        if self._exchange is None and access_log.enabled():
            self._begin_exchange("", "", "")  # no request was read
        # LocalProtocolError: a response was already under way; add nothing.
        with contextlib.suppress(LocalProtocolError):
            self.write(self._serialize(Refusal(error, close=True)))
        self._end_exchange()
        self._linger()

    def _linger(self) -> None:
        self._closing = True
        assert self.transport is not None
        self._cancel_timer()
        self._timer = linger(self.transport, self.close)

    # -- timers ------------------------------------------------------------------

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = asyncio.get_running_loop().call_later(delay, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _header_timeout(self) -> None:
        self._timer = None
        self.disconnect("header_timeout")
        # RFC 9110 section 15.5.9: 408 tells the client the server gave up.
        self._respond_and_linger(HTTPError("request not received in time", 408))

    def _idle_timeout(self) -> None:
        self._timer = None
        self.disconnect("idle_timeout")
        self.close()

    # -- drain ---------------------------------------------------------------------

    def drain(self) -> None:
        """The server is shutting down: end this connection as gracefully
        as its state allows: nothing accepted is lost)."""
        if self.session is not None:
            self.session.drain()
        elif self._task is None:
            # Idle or part-way through a request head: no response is owed.
            self.close()
        # else: a poll answers when it sees the drain event, a publish when
        # the hub returns; _finish() closes the connection after either.
