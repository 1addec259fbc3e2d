"""``GET /ws/{channel}``: one WebSocket subscriber (and publisher).

After the handshake (checked by ``rawpush.proto.ws.handshake``) the bytes
belong to the sans-IO ``ServerConnection``, starting with h11's trailing
data (RFC 9110 section 7.8: never drop what followed the request).

- The subscription and the outbox are ``StreamSession``'s, as for SSE:
  the hub subscription is made before the 101 goes out, so a client that
  sees the connection open is already subscribed.
- Each event goes out as the shared, pre-encoded text frame
  ``{"id","event","data"}``; a gap as ``{"gap": true}``.
- A text message from the client is published to the channel, in order.
  A binary message has no meaning here: close 1003 (RFC 6455 7.4.1).
- Heartbeat: a Ping every ``ws_ping_interval``; no Pong within
  ``ws_ping_timeout`` closes with 1011. Pongs are read by this session
  itself, whatever the application does (DESIGN.md "Heartbeat").
- Closing: after our Close, the peer has ``close_timeout`` to answer
  before the TCP connection is aborted; the server closes TCP as soon as
  the handshake is done (section 7.1.1). A protocol error fails the
  connection with the core's code (section 7.1.7).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from rawpush.hub import HubError, HubEvent, parse_id
from rawpush.proto.errors import HandshakeError, HTTPError, WebSocketError
from rawpush.proto.http import Request
from rawpush.proto.ws.handshake import accept_headers, check_request
from rawpush.server.context import labels
from rawpush.server.encoding import WS_GAP, WS_KEY, ws_frame
from rawpush.server.responses import Answer, error_response
from rawpush.server.session import StreamSession
from rawpush.ws import (
    Binary,
    Close,
    CloseCode,
    Event,
    Pong,
    ServerConnection,
    State,
    Text,
)

if TYPE_CHECKING:
    from rawpush.server.protocol import HTTPProtocol

#: messages from one client waiting to be published before reading pauses
_INBOX_LIMIT = 16


def start(proto: HTTPProtocol, request: Request, channel: str) -> Answer:
    cfg = proto.ctx.config
    try:
        handshake = check_request(
            request.method,
            request.http_version,
            request.headers,
            target=request.target,
            allowed_origins=cfg.allowed_origins,
        )
    except HandshakeError as exc:
        return error_response(proto, exc)
    last_id = request.query.get("lastEventId") or None
    if last_id is not None:
        try:
            parse_id(last_id)
        except HubError as exc:
            raise HTTPError(str(exc), 400) from None
    session = WSSession(proto, channel, last_id)
    proto.session = session
    proto.set_kind("ws")
    # Only the 101's headers are needed from the handshake (the request's
    # headers are garbage once they are built).
    session.begin(accept_headers(handshake))
    return None


class WSSession(StreamSession):
    transport_name = "ws"
    _labels = labels("ws")
    _status = "101"
    __slots__ = (
        "_closer",
        "_early",
        "_inbox",
        "_ping",
        "_pong",
        "_publisher",
        "_reading_paused",
        "conn",
    )

    def __init__(self, proto: HTTPProtocol, channel: str, last_id: str | None) -> None:
        super().__init__(proto, channel, last_id, WS_GAP, WS_KEY)
        self.conn = ServerConnection(proto.ctx.ws_config)
        self._publisher: asyncio.Task[None] | None = None
        # Made on first use (an empty deque is ~760 B; most subscribers
        # never publish).
        self._inbox: deque[str] | None = None
        self._early: bytes | None = None  # bytes received before the 101 went out
        self._ping: asyncio.TimerHandle | None = None
        self._pong: asyncio.TimerHandle | None = None
        self._closer: asyncio.TimerHandle | None = None
        self._reading_paused = False

    # -- hooks of StreamSession ---------------------------------------------------

    def _send_head(self, head: list[tuple[str, str]]) -> None:
        proto = self.proto
        proto.write(proto.http.switch_protocols(head))
        # The bytes after the request are the first of the WebSocket
        # stream, ahead of any that arrived while we subscribed.
        trailing = proto.http.trailing_data
        if trailing:
            self._early = trailing if self._early is None else trailing + self._early
        proto.release_http()

    def _encode(self, event: HubEvent) -> bytes:
        return ws_frame(event)

    def _started(self) -> None:
        self._arm_ping()
        early = self._early
        if early is not None:
            self._early = None
            self.data_received(early)

    def _overflow(self) -> None:
        # RFC 6455 7.4.1: 1008 is "a message that violates its policy".
        self.proto.disconnect("overflow")
        self.close(CloseCode.POLICY_VIOLATION, "subscriber too slow")

    def _drained(self) -> None:
        self.close(CloseCode.GOING_AWAY, "server shutting down")

    def _cancel_timers(self) -> None:
        for timer in (self._ping, self._pong, self._closer):
            if timer is not None:
                timer.cancel()
        self._ping = self._pong = self._closer = None

    def _flush(self) -> None:
        # Control frames (Pong, Close) go straight to the transport, ahead
        # of queued data: they are tiny and the peer needs them now.
        self.proto.write(self.conn.data_to_send())

    # -- receiving --------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._ended:
            return
        if not self._opened:
            self._early = data if self._early is None else self._early + data
            if len(self._early) > self.proto.ctx.config.max_frame_size:
                self._end(abort=True)
            return
        try:
            self.conn.receive_data(data)
        except WebSocketError:
            self.proto.disconnect("protocol_error")
            self._handle(self.conn.events())
            self._flush()  # the Close frame carrying the core's code
            self._end(abort=False)
            return
        self._handle(self.conn.events())
        self._flush()
        if self.conn.should_close:
            self._end(abort=False)

    def _handle(self, events: list[Event]) -> None:
        # Whatever the core just did (a Close received, a failure) shows in
        # its state; the per-event path reads this flag instead.
        self._live = self.conn.state is State.OPEN
        for event in events:
            if isinstance(event, Text):
                self.proto.messages_in += 1
                if self._live:
                    self._publish(event.data)
            elif isinstance(event, Pong):
                self._got_pong()
            elif isinstance(event, Binary):
                self.close(CloseCode.UNSUPPORTED_DATA, "binary messages are not supported")
            elif isinstance(event, Close) and event.code != CloseCode.ABNORMAL_CLOSURE:
                self.proto.disconnect("peer_close")

    def _publish(self, text: str) -> None:
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = deque()
        inbox.append(text)
        if len(inbox) >= _INBOX_LIMIT and not self._reading_paused:
            # The hub (block policy) holds this publisher: stop reading
            # rather than queue without bound.
            self._reading_paused = True
            self.proto.transport_or_fail().pause_reading()
        if self._publisher is None:
            self._publisher = asyncio.ensure_future(self._publish_all())

    async def _publish_all(self) -> None:
        hub = self.proto.ctx.hub
        inbox = self._inbox
        assert inbox is not None
        try:
            while inbox:
                text = inbox.popleft()
                try:
                    await hub.publish(self.channel, text)
                except HubError:
                    # 1013 Try Again Later: the hub is closing or full.
                    inbox.clear()
                    self.close(CloseCode.TRY_AGAIN_LATER, "the hub refused the message")
                    return
                self.proto.ctx.metrics.inc("rawpush_published_total")
                if self._reading_paused and len(inbox) < _INBOX_LIMIT // 2:
                    self._reading_paused = False
                    if not self._ended:
                        self.proto.transport_or_fail().resume_reading()
        finally:
            self._publisher = None
            self._inbox = None  # empty now: back to the idle footprint

    def eof_received(self) -> None:
        self.conn.receive_eof()
        self._handle(self.conn.events())
        self._end(abort=False)

    # -- heartbeat ----------------------------------------------------------------

    def _arm_ping(self) -> None:
        interval = self.proto.ctx.config.ws_ping_interval
        self._ping = asyncio.get_running_loop().call_later(interval, self._send_ping)

    def _send_ping(self) -> None:
        self._ping = None
        if self.conn.state is not State.OPEN:
            return
        self.conn.send_ping(b"rawpush")
        self._flush()
        timeout = self.proto.ctx.config.ws_ping_timeout
        self._pong = asyncio.get_running_loop().call_later(timeout, self._pong_missing)

    def _got_pong(self) -> None:
        # Any Pong proves the peer alive (section 5.5.3 allows unsolicited
        # ones); the next Ping is due an interval after it.
        if self._pong is not None:
            self._pong.cancel()
            self._pong = None
            self._arm_ping()

    def _pong_missing(self) -> None:
        self._pong = None
        self.proto.disconnect("ping_timeout")
        self.close(CloseCode.INTERNAL_ERROR, "no pong")

    # -- closing --------------------------------------------------------------------

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake; abort if the peer does not finish it."""
        if self._ended or self.conn.state is not State.OPEN:
            return
        if self.sub is not None:
            self.sub.close()
        self.outbox.close()
        self.conn.send_close(code, reason)
        self._live = False
        self._flush()
        timeout = self.proto.ctx.config.close_timeout
        self._closer = asyncio.get_running_loop().call_later(timeout, self._close_timeout)

    def _close_timeout(self) -> None:
        self._closer = None
        self.proto.disconnect("close_timeout")
        self._end(abort=True)
