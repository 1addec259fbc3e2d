"""``GET /sse/{channel}``: one Server-Sent Events stream.

Order of things, and why:

1. subscribe to the hub *before* the response head goes out, so a client
   that has seen the head is subscribed: nothing published after that
   moment can miss it. A hub that refuses still gets a proper 503 then.
2. the head (``start_stream``, chunked over HTTP/1.1), ``event: gap`` if
   the history no longer reaches back to ``Last-Event-ID``, the replay,
   then live events, in id order.
3. a comment line every ``sse_heartbeat_interval`` keeps proxies from
   timing the stream out (WHATWG HTML 9.2.7 suggests about 15 s).

SSE has no pong, so a dead reader shows only as a socket that accepts no
bytes: the transport stays paused (over its high watermark) with no
resume for ``write_stall_timeout`` and the stream is ended (DESIGN.md
"Idle and slow peers"). On overflow the policy decides (``Outbox``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rawpush.hub import HubError, HubEvent, Subscription, parse_id
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request
from rawpush.proto.http_sse import resume_id, sse_headers
from rawpush.proto.sse import encode_comment
from rawpush.server.context import labels
from rawpush.server.encoding import SSE_GAP, SSE_GAP_RAW, chunk, sse_event
from rawpush.server.outbox import Outbox
from rawpush.server.responses import Answer, cors, error_response, respond

if TYPE_CHECKING:
    from rawpush.server.protocol import HTTPProtocol

_HEARTBEAT = encode_comment()
_LABELS = labels("sse")
# The end of a stream's body: the last chunk, or nothing when the close
# delimits it (HTTP/1.0); what h11's end_stream() would say, known without
# keeping h11 around for the whole stream.
_END_CHUNKED = b"0\r\n\r\n"


def start(proto: HTTPProtocol, request: Request, channel: str) -> Answer:
    cors_headers = cors(proto, request)
    if cors_headers is None:
        raise HTTPError("origin not allowed", 403)
    last_id = resume_id(request)
    if last_id is not None:
        try:
            parse_id(last_id)
        except HubError as exc:
            raise HTTPError(str(exc), 400) from None
    headers = sse_headers(cors_headers)
    if request.method == "HEAD":
        return respond(proto, 200, headers)
    # h11 frames a body of unknown length with chunked coding over HTTP/1.1
    # and by closing the connection over HTTP/1.0 (RFC 9112 section 6.3).
    chunked = request.http_version != "1.0"
    session = SSESession(proto, channel, last_id, chunked)
    proto.session = session
    proto.set_kind("sse")
    session.begin(headers)
    return None


class SSESession:
    transport_name = "sse"
    # Slots: one lives as long as each subscriber connection.
    __slots__ = (
        "_beat",
        "_ended",
        "_opened",
        "_paused",
        "_stall",
        "_task",
        "channel",
        "chunked",
        "last_id",
        "outbox",
        "proto",
        "sub",
    )

    def __init__(
        self, proto: HTTPProtocol, channel: str, last_id: str | None, chunked: bool
    ) -> None:
        cfg = proto.ctx.config
        self.proto = proto
        self.channel = channel
        self.last_id = last_id
        self.chunked = chunked
        self.outbox: Outbox | None = Outbox(
            proto.write,
            max_bytes=cfg.queue_max_bytes,
            max_messages=cfg.queue_max_messages,
            policy=cfg.overflow,
            on_overflow=self._overflow,
            gap_notice=SSE_GAP if chunked else SSE_GAP_RAW,
        )
        self.sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._beat: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None
        self._opened = False
        self._paused = False
        self._ended = False

    def _frame(self, data: bytes) -> bytes:
        return chunk(data) if self.chunked else data

    # -- opening ------------------------------------------------------------

    def begin(self, headers: list[tuple[str, str]]) -> None:
        assert self.outbox is not None
        # Live events that arrive while we subscribe wait until the head is out.
        self.outbox.pause()
        self._task = asyncio.ensure_future(self._open(headers))

    async def _open(self, headers: list[tuple[str, str]]) -> None:
        # The headers live in this coroutine's frame, not on the session:
        # they are garbage once the head is out.
        try:
            await self._subscribe_and_start(headers)
        finally:
            # A finished task is ~730 B nobody needs; while it runs the
            # reference lets _teardown cancel it.
            self._task = None

    async def _subscribe_and_start(self, headers: list[tuple[str, str]]) -> None:
        proto = self.proto
        try:
            sub = await proto.ctx.hub.subscribe(self.channel, self._deliver, self.last_id)
        except HubError as exc:
            proto.write(error_response(proto, HTTPError(str(exc), exc.status), close=True))
            self._end(graceful=True)
            return
        self.sub = sub
        if self._ended:
            sub.close()
            return
        proto.ctx.metrics.inc("rawpush_http_responses_total", (("status", "200"),))
        proto.write(proto.http.start_stream(200, headers))
        proto.release_http()
        self._opened = True
        outbox = self.outbox
        assert outbox is not None
        if not self._paused:
            outbox.resume()
        # Never a silent gap (DESIGN.md "Resume"): the notice comes first.
        if sub.replay.gap:
            outbox.put(self._frame(SSE_GAP_RAW))
        for event in sub.replay.events:
            self._deliver(event)
        self._arm_heartbeat()

    # -- delivery -------------------------------------------------------------

    def _deliver(self, event: HubEvent) -> asyncio.Future[None] | None:
        outbox = self.outbox
        if outbox is None:
            return None
        dropped = outbox.dropped
        waiter = outbox.put(sse_event(event, self.chunked))
        self.proto.messages_out += 1
        if outbox.dropped != dropped:
            self.proto.ctx.metrics.inc("rawpush_dropped_total", _LABELS, outbox.dropped - dropped)
        return waiter

    def _arm_heartbeat(self) -> None:
        interval = self.proto.ctx.config.sse_heartbeat_interval
        self._beat = asyncio.get_running_loop().call_later(interval, self._heartbeat)

    def _heartbeat(self) -> None:
        outbox = self.outbox
        # Skipped while events wait: they keep the stream alive themselves,
        # and a paused socket is the stall timer's business.
        if outbox is not None and not outbox.paused and not len(outbox):
            self.proto.write(self._frame(_HEARTBEAT))
        self._arm_heartbeat()

    # -- backpressure -----------------------------------------------------------

    def pause_writing(self) -> None:
        self._paused = True
        if self.outbox is not None:
            self.outbox.pause()
        if self._stall is None:
            timeout = self.proto.ctx.config.write_stall_timeout
            self._stall = asyncio.get_running_loop().call_later(timeout, self._stalled)

    def resume_writing(self) -> None:
        self._paused = False
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        if self.outbox is not None and self._opened:
            self.outbox.resume()

    def _stalled(self) -> None:
        self._stall = None
        self.proto.disconnect("write_stall")
        self._end(graceful=False)

    def _overflow(self) -> None:
        # The socket's buffer is already full of what this client did not
        # read: a graceful end would wait on the same reader, so abort.
        self.proto.disconnect("overflow")
        self._end(graceful=False)

    # -- ending -------------------------------------------------------------------

    def drain(self) -> None:
        """Server shutdown: flush what is queued, send a ``retry:`` hint so
        EventSource reconnects (to another node, or this one restarted) in
        ``drain_retry_ms``, and end the stream (DESIGN.md "Drain")."""
        if self._ended:
            return
        self.proto.disconnect("drain")
        if not self._opened:
            self._end(graceful=True)
            return
        outbox = self.outbox
        if outbox is not None:
            # Written past the watermark on purpose: it is bounded by the
            # queue limits, and close() below waits for it to be flushed.
            self._paused = False
            outbox.paused = False
            outbox.flush()
        retry = b"retry: %d\n\n" % self.proto.ctx.config.drain_retry_ms
        self.proto.write(self._frame(retry))
        if self.chunked:
            self.proto.write(_END_CHUNKED)
        self._end(graceful=True)

    def _end(self, *, graceful: bool) -> None:
        if self._ended:
            return
        self._ended = True
        self._teardown()
        if graceful:
            self.proto.close()
        else:
            self.proto.abort()

    def _teardown(self) -> None:
        if self.sub is not None:
            self.sub.close()
        if self.outbox is not None:
            self.outbox.close()
        for timer in (self._beat, self._stall):
            if timer is not None:
                timer.cancel()
        self._beat = self._stall = None
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    def data_received(self, data: bytes) -> None:
        # An event stream is one-way; anything the client sends is ignored.
        pass

    def eof_received(self) -> None:
        self._end(graceful=True)

    def connection_lost(self) -> None:
        self._ended = True
        self._teardown()
