"""``GET /sse/{channel}``: one Server-Sent Events stream.

The subscription, the outbox and their order (subscribe, head, gap notice,
replay, live) are ``StreamSession``'s; what is SSE's own:

1. the head goes out through the host (``open_stream``), which says how
   the body is framed (chunked over HTTP/1.1, raw where the host frames
   it or the close delimits it), and the gap notice is ``event: gap``;
2. a comment line every ``sse_heartbeat_interval`` keeps proxies from
   timing the stream out (WHATWG HTML 9.2.7 suggests about 15 s).

SSE has no pong, so a dead reader shows only as a socket that accepts no
bytes: the transport stays paused (over its high watermark) with no
resume for ``write_stall_timeout`` and the stream is ended. On overflow
the policy decides (``Outbox``).
"""

from __future__ import annotations

import asyncio

from rawpush.hub import HubError, HubEvent, parse_id
from rawpush.proto.chunked import chunk
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Headers, Request
from rawpush.proto.http_sse import resume_id, sse_headers
from rawpush.proto.sse import encode_comment, encode_retry
from rawpush.server.answers import Answer, Reply, Takeover
from rawpush.server.context import Context
from rawpush.server.encoding import (
    SSE_GAP,
    SSE_GAP_RAW,
    SSE_KEY,
    SSE_RAW_KEY,
    sse_event,
)
from rawpush.server.host import Framing, Host
from rawpush.server.metrics import labels
from rawpush.server.responses import cors
from rawpush.server.security import Caller
from rawpush.server.session import StreamSession, retry_delay_ms

_HEARTBEAT = encode_comment()


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Answer:
    cors_headers = cors(ctx, request)
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
        return Reply(200, headers, stream_head=True)
    return Takeover("sse", lambda host: SSESession(host, channel, last_id, headers, who))


class SSESession(StreamSession):
    transport_name = "sse"
    _labels = labels("sse")
    __slots__ = ("_beat", "_stall", "chunked")

    def __init__(
        self,
        host: Host,
        channel: str,
        last_id: str | None,
        head: Headers,
        who: Caller | None = None,
    ) -> None:
        # Chunked until the host says otherwise (HTTP/1.0, HTTP/2) in _send_head.
        super().__init__(
            host, channel, last_id, head, gap_notice=SSE_GAP, encoded_key=SSE_KEY, who=who
        )
        self.chunked = True
        self._beat: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None

    def _frame(self, data: bytes) -> bytes:
        return chunk(data) if self.chunked else data

    # -- hooks of StreamSession ---------------------------------------------------

    def _send_head(self, head: Headers) -> None:
        if self.host.open_stream(200, head) is Framing.RAW:
            # The host frames (or the close delimits) the body itself: share
            # the unframed form of each event instead.
            self.chunked = False
            self._encoded_key = SSE_RAW_KEY
            self.outbox.gap_notice = SSE_GAP_RAW

    def _encode(self, event: HubEvent) -> bytes:
        return sse_event(event, self.chunked)

    def _started(self) -> None:
        self._arm_heartbeat()

    def _overflow(self) -> None:
        # The socket's buffer is already full of what this client did not
        # read: a graceful end would wait on the same reader, so abort.
        self.host.disconnect("overflow")
        self._end(abort=True)

    def _drained(self) -> None:
        # A ``retry:`` hint so EventSource reconnects (to another node, or
        # this one restarted) in ``drain_retry_ms``, then the end of the body.
        self._goodbye()

    def _expired(self) -> None:
        # The token expired: end the stream with the same hint, so the
        # client comes back (with a fresh token or ticket) and resumes.
        self._goodbye()

    def _goodbye(self) -> None:
        # Spread per connection, so a drained node's clients come back over
        # a window, not as one wave.
        retry = encode_retry(retry_delay_ms(self.host.ctx.config))
        self.host.write(self._frame(retry))
        self.host.end_stream()
        self._end(abort=False)

    def _unavailable(self, exc: HubError, head: Headers) -> None:
        # An EventSource never reconnects after a non-200 answer (WHATWG
        # HTML 9.2.3), so a 503 would lose the browser for good: a 200 that
        # says when to come back, and ends, is what it recovers from.
        host = self.host
        host.disconnect("backplane_busy")
        if host.open_stream(200, head) is Framing.RAW:
            self.chunked = False
        host.write(self._frame(encode_retry(retry_delay_ms(host.ctx.config))))
        host.end_stream()
        host.close()
    def _cancel_timers(self) -> None:
        for timer in (self._beat, self._stall):
            if timer is not None:
                timer.cancel()
        self._beat = self._stall = None

    def data_received(self, data: bytes) -> None:
        # An event stream is one-way; anything the client sends is ignored.
        pass

    def eof_received(self) -> None:
        self._end(abort=False)

    # -- heartbeat ----------------------------------------------------------------

    def _arm_heartbeat(self) -> None:
        interval = self.host.ctx.config.sse_heartbeat_interval
        self._beat = self.host.call_later(interval, self._heartbeat)

    def _heartbeat(self) -> None:
        outbox = self.outbox
        # Skipped while events wait: they keep the stream alive themselves,
        # and a paused socket is the stall timer's business.
        if not outbox.paused and not len(outbox):
            self.host.write(self._frame(_HEARTBEAT))
        self._arm_heartbeat()

    # -- a reader that reads nothing ------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            timeout = self.host.ctx.config.write_stall_timeout
            self._stall = self.host.call_later(timeout, self._stalled)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        super().resume_writing()

    def _stalled(self) -> None:
        self._stall = None
        self.host.disconnect("write_stall")
        self._end(abort=True)
