"""``GET /sse/{channel}``: one Server-Sent Events stream.

The subscription, the outbox and their order (subscribe, head, gap notice,
replay, live) are ``StreamSession``'s; what is SSE's own:

1. the head is ``start_stream`` (chunked over HTTP/1.1, delimited by the
   close over HTTP/1.0), and the gap notice is ``event: gap``;
2. a comment line every ``sse_heartbeat_interval`` keeps proxies from
   timing the stream out (WHATWG HTML 9.2.7 suggests about 15 s).

SSE has no pong, so a dead reader shows only as a socket that accepts no
bytes: the transport stays paused (over its high watermark) with no
resume for ``write_stall_timeout`` and the stream is ended (DESIGN.md
"Idle and slow peers"). On overflow the policy decides (``Outbox``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rawpush.hub import HubError, HubEvent, parse_id
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request
from rawpush.proto.http_sse import resume_id, sse_headers
from rawpush.proto.sse import encode_comment
from rawpush.server.context import labels
from rawpush.server.encoding import (
    SSE_GAP,
    SSE_GAP_RAW,
    SSE_KEY,
    SSE_RAW_KEY,
    chunk,
    sse_event,
)
from rawpush.server.responses import Answer, cors, respond
from rawpush.server.session import StreamSession

if TYPE_CHECKING:
    from rawpush.server.protocol import HTTPProtocol

_HEARTBEAT = encode_comment()
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


class SSESession(StreamSession):
    transport_name = "sse"
    _labels = labels("sse")
    _status = "200"
    __slots__ = ("_beat", "_stall", "chunked")

    def __init__(
        self, proto: HTTPProtocol, channel: str, last_id: str | None, chunked: bool
    ) -> None:
        if chunked:
            super().__init__(proto, channel, last_id, SSE_GAP, SSE_KEY)
        else:
            super().__init__(proto, channel, last_id, SSE_GAP_RAW, SSE_RAW_KEY)
        self.chunked = chunked
        self._beat: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None

    def _frame(self, data: bytes) -> bytes:
        return chunk(data) if self.chunked else data

    # -- hooks of StreamSession ---------------------------------------------------

    def _send_head(self, head: list[tuple[str, str]]) -> None:
        proto = self.proto
        proto.write(proto.http.start_stream(200, head))
        # From here on the body is ours, framed by _frame (and _END_CHUNKED).
        proto.release_http()

    def _encode(self, event: HubEvent) -> bytes:
        return sse_event(event, self.chunked)

    def _started(self) -> None:
        self._arm_heartbeat()

    def _overflow(self) -> None:
        # The socket's buffer is already full of what this client did not
        # read: a graceful end would wait on the same reader, so abort.
        self.proto.disconnect("overflow")
        self._end(abort=True)

    def _drained(self) -> None:
        # A ``retry:`` hint so EventSource reconnects (to another node, or
        # this one restarted) in ``drain_retry_ms``, then the end of the body.
        retry = b"retry: %d\n\n" % self.proto.ctx.config.drain_retry_ms
        self.proto.write(self._frame(retry))
        if self.chunked:
            self.proto.write(_END_CHUNKED)
        self._end(abort=False)

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
        interval = self.proto.ctx.config.sse_heartbeat_interval
        self._beat = asyncio.get_running_loop().call_later(interval, self._heartbeat)

    def _heartbeat(self) -> None:
        outbox = self.outbox
        # Skipped while events wait: they keep the stream alive themselves,
        # and a paused socket is the stall timer's business.
        if not outbox.paused and not len(outbox):
            self.proto.write(self._frame(_HEARTBEAT))
        self._arm_heartbeat()

    # -- a reader that reads nothing ------------------------------------------------

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall is None:
            timeout = self.proto.ctx.config.write_stall_timeout
            self._stall = asyncio.get_running_loop().call_later(timeout, self._stalled)

    def resume_writing(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None
        super().resume_writing()

    def _stalled(self) -> None:
        self._stall = None
        self.proto.disconnect("write_stall")
        self._end(abort=True)
