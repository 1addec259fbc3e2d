"""One HTTP/2 stream as a ``Host`` (``rawpush.server.host``).

Each request on an HTTP/2 connection gets one of these: the routes answer
it exactly as over HTTP/1.1, and a session (SSE, WebSocket over RFC 8441)
runs on it through the same Host operations. Body bytes are framed by the
connection as DATA frames (``Framing.RAW``).

Flow control is backpressure (RFC 9113 section 5.2): what a stream's
window does not let out waits in the core, per stream; past
``write_high_water`` the session is paused (its outbox then queues, and
its policy decides on overflow), below ``write_low_water`` it resumes. A
socket over its own watermark pauses every stream of the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.h2 import ErrorCode
from rawpush.proto.http import Headers
from rawpush.server import access_log
from rawpush.server.answers import Answer, Deferred, Refusal, Reply, Takeover
from rawpush.server.context import Context
from rawpush.server.host import Framing, Session
from rawpush.server.metrics import Labels, fold_counts, labels

if TYPE_CHECKING:
    from rawpush.server.h2_host import H2Protocol

logger = logging.getLogger("rawpush.server")

__all__ = ["H2Stream"]


class H2Stream:
    """A ``Host`` and a ``Carrier`` for one stream of an ``H2Protocol``."""

    __slots__ = (
        "_done",
        "_labels",
        "_task",
        "_window_paused",
        "bytes_in",
        "bytes_out",
        "cancel_on_eof",
        "conn",
        "ctx",
        "exchange",
        "kind",
        "messages_in",
        "messages_out",
        "session",
        "stream_id",
        "tunnel",
    )

    def __init__(self, conn: H2Protocol, stream_id: int, *, tunnel: bool = False) -> None:
        self.conn = conn
        self.ctx: Context = conn.ctx
        self.stream_id = stream_id
        self.tunnel = tunnel
        self.session: Session | None = None
        self.kind = "http"
        self._labels: Labels = labels("http")
        self._task: asyncio.Task[Reply | Refusal] | None = None
        self.cancel_on_eof = False
        self._window_paused = False
        self._done = False
        #: its access-log line while the log is on (rawpush.server.access_log)
        self.exchange: access_log.Exchange | None = None
        # Bytes are counted by the connection; a stream counts messages.
        self.bytes_in = 0
        self.bytes_out = 0
        self.messages_in = 0
        self.messages_out = 0

    @property
    def done(self) -> bool:
        return self._done

    # -- answers ---------------------------------------------------------------

    def carry_out(self, answer: Answer) -> None:
        if isinstance(answer, Reply | Refusal):
            self._finish(answer)
        elif isinstance(answer, Deferred):
            self.kind = answer.kind
            if self.exchange is not None:
                self.exchange.transport = answer.kind
            self._labels = labels(answer.kind)
            self.cancel_on_eof = answer.cancel_on_eof
            self._task = asyncio.ensure_future(answer.answer)
            self._task.add_done_callback(self._task_done)
        else:
            self._install(answer)

    def _install(self, takeover: Takeover) -> None:
        self.kind = takeover.kind
        if self.exchange is not None:
            self.exchange.transport = takeover.kind
        self._labels = labels(takeover.kind)
        session = takeover.open(self)
        self.session = session
        # A Carrier of its own: drained, folded and sampled like any session.
        self.ctx.connections.add(self)
        session.start()

    def _task_done(self, task: asyncio.Task[Reply | Refusal]) -> None:
        self._task = None
        if self._done:
            return
        if task.cancelled():
            self.abort()
            return
        exc = task.exception()
        if exc is not None:
            logger.error("request handler failed", exc_info=exc)
            self._finish(Refusal(HTTPError("internal server error", 500)))
            return
        self._finish(task.result())

    def _finish(self, answer: Reply | Refusal) -> None:
        conn = self.conn
        if isinstance(answer, Refusal):
            self.refuse(answer.error)
            return
        self._count_status(answer.status)
        try:
            if answer.stream_head:
                data = conn.h2.send_head(
                    self.stream_id, answer.status, answer.headers, end_stream=True
                )
            else:
                data = conn.h2.respond(self.stream_id, answer.status, answer.headers, answer.body)
        except LocalProtocolError:
            data = b""  # the peer reset the stream meanwhile
        self._out(data)
        self._end()

    def _count_status(self, status: int) -> None:
        self.ctx.metrics.inc("rawpush_http_responses_total", (("status", str(status)),))
        if self.exchange is not None:
            self.exchange.status = status

    def _out(self, data: bytes) -> None:
        if self.exchange is not None:
            self.exchange.sent += len(data)
        self.conn.write(data)

    # -- the Host operations -------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._done or not data:
            return
        conn = self.conn
        try:
            self._out(conn.h2.send_data(self.stream_id, data))
        except LocalProtocolError:
            return  # reset by the peer; the reset event ends the session
        high = self.ctx.config.write_high_water
        if not self._window_paused and conn.h2.pending(self.stream_id) > high:
            self._window_paused = True
            if not conn.writing_paused and self.session is not None:
                self.session.pause_writing()

    def window_opened(self) -> None:
        """Credit arrived: resume the session once its queue is low."""
        if not self._window_paused:
            return
        if self.conn.h2.pending(self.stream_id) <= self.ctx.config.write_low_water:
            self._window_paused = False
            if not self.conn.writing_paused and self.session is not None:
                self.session.resume_writing()

    def transport_paused(self) -> None:
        if not self._window_paused and self.session is not None:
            self.session.pause_writing()

    def transport_resumed(self) -> None:
        if not self._window_paused and self.session is not None:
            self.session.resume_writing()

    def close(self) -> None:
        """End the stream gracefully: END_STREAM after what is queued."""
        if self._done:
            return
        conn = self.conn
        # LocalProtocolError: ended already (a session's end_stream), or reset.
        with contextlib.suppress(LocalProtocolError):
            self._out(conn.h2.end_stream(self.stream_id))
        self._end()

    def abort(self) -> None:
        """RST_STREAM CANCEL: what is queued for this stream is dropped."""
        if self._done:
            return
        self._out(self.conn.h2.reset(self.stream_id, ErrorCode.CANCEL))
        self._end()

    def pause_reading(self) -> None:
        # The stream's credit is held: its peer may send one window more
        # (the session buffers it), the other streams are not held back.
        self.conn.pause_reading_for(self)

    def resume_reading(self) -> None:
        self.conn.resume_reading_for(self)

    def open_stream(self, status: int, headers: Headers) -> Framing:
        self._count_status(status)
        self._out(self.conn.h2.send_head(self.stream_id, status, headers))
        return Framing.RAW

    def end_stream(self) -> None:
        if self._done:
            return
        with contextlib.suppress(LocalProtocolError):  # reset meanwhile
            self._out(self.conn.h2.end_stream(self.stream_id))

    def switch_protocols(self, headers: Headers) -> bytes:
        # RFC 8441 section 5: a 200 to the extended CONNECT; the WebSocket
        # bytes then travel as DATA, and none came before this answer.
        self._count_status(200)
        self._out(self.conn.h2.accept_tunnel(self.stream_id, headers))
        return b""

    def refuse(self, error: HTTPError) -> None:
        if self._done:
            return
        self._count_status(error.status)
        try:
            data = self.conn.h2.respond_error(self.stream_id, error)
        except LocalProtocolError:
            data = b""
        self._out(data)
        self._end()

    def disconnect(self, reason: str) -> None:
        self.ctx.metrics.inc("rawpush_disconnects_total", (("reason", reason),))

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    # -- the connection's callbacks ----------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.data_received(data)

    def eof_received(self) -> None:
        if self.session is not None:
            self.session.eof_received()

    def lost(self) -> None:
        """The stream is gone (reset, or the connection lost)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.session is not None and not self._done:
            self._done = True
            self.session.connection_lost()
        self._end()

    def _end(self) -> None:
        self._done = True
        exchange, self.exchange = self.exchange, None  # _end may run twice
        if exchange is not None:
            access_log.end(exchange, self.conn.peer)
        self.fold_counters()
        self.ctx.connections.discard(self)
        self.conn.stream_done(self)

    # -- the Carrier operations -------------------------------------------------------

    def fold_counters(self) -> None:
        fold_counts(self.ctx.metrics, self._labels, self)

    def drain(self) -> None:
        self.conn.goaway()
        if self.session is not None and not self._done:
            self.session.drain()
        # else a poll answers when it sees the drain event, a publish when
        # the hub returns.
