"""``GET /ws/{channel}``: one WebSocket subscriber (and publisher), and the
one WebSocket driver every WebSocket route runs (``ws_echo`` is a variant).

After the handshake (checked by ``rawpush.proto.ws.handshake``) the bytes
belong to the sans-IO ``ServerConnection``, starting with the bytes that
followed the request (RFC 9110 section 7.8: never drop them).

- The subscription and the outbox are ``StreamSession``'s, as for SSE:
  the hub subscription is made before the 101 goes out, so a client that
  sees the connection open is already subscribed.
- Each event is a text frame ``{"id","event","data"}`` prepared once and
  shared by every subscriber; each send still runs the core's state table
  (``send_prepared``), and with permessage-deflate (RFC 7692, negotiated
  when ``compression="deflate"``) is compressed in this connection's own
  context, in queue order. A gap is ``{"gap":true}``.
- Input is pulled one event at a time (``next_event``), so whatever this
  session sends in answer to a message goes out after the core's replies
  to the frames before it (a Pong for a Ping that arrived between two
  fragments precedes the echo of that message, RFC 6455 section 5.5.3)
  and before the Close echo of a Close that followed it.
- A message from the client is published to the channel, in order: text
  as text, binary as bytes (delivered as binary messages here, base64
  with a marker on SSE and long poll).
- Heartbeat: a Ping every ``ws_ping_interval``; no Pong within
  ``ws_ping_timeout`` closes with 1011. Pongs are read by this session
  itself, whatever the application does.
- Closing: after our Close, the peer has ``close_timeout`` to answer
  before the connection is aborted; the server ends TCP as soon as the
  handshake is done (section 7.1.1). A protocol error fails the
  connection with the core's code (section 7.1.7).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from rawpush.auth import (
    CLOSE_TOKEN_EXPIRED,
    Action,
    AuthError,
    Grant,
    RequestInfo,
    TokenBucket,
)
from rawpush.hub import HubError, HubEvent, parse_id
from rawpush.proto.errors import HandshakeError, HTTPError, WebSocketError, WebSocketLocalError
from rawpush.proto.http import Headers, Request
from rawpush.proto.ws.deflate import DeflateParams, PerMessageDeflate, deflate_response
from rawpush.proto.ws.frames import PreparedFrame
from rawpush.proto.ws.handshake import HandshakeRequest, accept_headers, check_request
from rawpush.server.answers import Answer, Refusal, Takeover
from rawpush.server.context import Context
from rawpush.server.encoding import WS_GAP, WS_KEY, ws_frame
from rawpush.server.host import Host
from rawpush.server.metrics import labels
from rawpush.server.security import Caller, allowed
from rawpush.server.session import StreamSession, retry_delay_ms
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

#: messages from one client waiting to be published before reading pauses
_INBOX_LIMIT = 16
#: data messages a peer may still send after our Close (RFC 6455 section
#: 5.5.1: they are discarded until its Close); one that sends more is not
#: closing, and parsing its flood would only cost everyone else the CPU
_AFTER_CLOSE = 256
#: messages one connection handles per loop iteration before the others
#: get their turn (the rest of its read waits in the core's buffer)
_SLICE = 64
#: the request a publish decision sees when the session kept none
_NOBODY = Caller(RequestInfo("GET", ""), None, None, None)


def handshake(
    ctx: Context, request: Request
) -> tuple[HandshakeRequest, list[tuple[str, str]], PerMessageDeflate | None] | Refusal:
    """Check the opening handshake (section 4.2.1) and negotiate the
    extension; the 101's headers, or the refusal to answer with."""
    cfg = ctx.config
    try:
        found = check_request(
            request.method,
            request.http_version,
            request.headers,
            target=request.target,
            allowed_origins=cfg.allowed_origins,
        )
    except HandshakeError as exc:
        return Refusal(exc)
    headers = accept_headers(found)
    extension = None
    if cfg.compression == "deflate":
        params = DeflateParams(max_message_size=cfg.ws.max_message_size)
        chosen = deflate_response(found.extensions, params)
        if chosen is not None:
            headers.append(("Sec-WebSocket-Extensions", chosen[0]))
            extension = chosen[1]
    return found, headers, extension


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Answer:
    shaken = handshake(ctx, request)
    if isinstance(shaken, Refusal):
        return shaken
    _, head, extension = shaken
    last_id = request.query.get("lastEventId") or None
    if last_id is not None:
        try:
            parse_id(last_id)
        except HubError as exc:
            raise HTTPError(str(exc), 400) from None

    def open_session(host: Host) -> WSSession:
        # A host that carries WebSocket messages rather than bytes (ASGI)
        # names its own subclass; every other host runs the frames here.
        kind: type[WSSession] = getattr(host, "ws_session_class", WSSession)
        return kind(host, channel, last_id, head, extension=extension, who=who)

    return Takeover("ws", open_session)


class WSSession(StreamSession):
    transport_name = "ws"
    _labels = labels("ws")
    __slots__ = (
        "_bucket",
        "_closer",
        "_early",
        "_ignored",
        "_inbox",
        "_ping",
        "_pong",
        "_publisher",
        "_reading_paused",
        "_slice",
        "conn",
        "grant",
        "who",
    )

    def __init__(
        self,
        host: Host,
        channel: str,
        last_id: str | None,
        head: Headers,
        *,
        extension: PerMessageDeflate | None = None,
        who: Caller | None = None,
    ) -> None:
        super().__init__(
            host, channel, last_id, head, gap_notice=WS_GAP, encoded_key=WS_KEY, who=who
        )
        #: this connection's publish rate, made on its first publish
        self._bucket: TokenBucket | None = None
        #: the rights it runs under, once admitted
        self.grant: Grant | None = None
        #: the request, kept only when an embedder's hook decides publishes
        self.who: Caller | None = None
        self.conn = ServerConnection(host.ctx.config.ws, extension=extension)
        self._publisher: asyncio.Task[None] | None = None
        # Made on first use (an empty deque is ~760 B; most subscribers
        # never publish).
        self._inbox: deque[str | bytes] | None = None
        self._early: bytes | None = None  # bytes received before the 101 went out
        self._ignored = 0  # data messages received after our Close
        self._ping: asyncio.TimerHandle | None = None
        self._pong: asyncio.TimerHandle | None = None
        self._closer: asyncio.TimerHandle | None = None
        self._reading_paused = False
        self._slice = False  # the rest of the input waits for the next iteration

    # -- hooks of StreamSession ---------------------------------------------------

    def _send_head(self, head: Headers) -> None:
        # The bytes after the request are the first of the WebSocket
        # stream, ahead of any that arrived while we subscribed.
        trailing = self.host.switch_protocols(head)
        if trailing:
            self._early = trailing if self._early is None else trailing + self._early

    def _encode(self, event: HubEvent) -> PreparedFrame:
        return ws_frame(event)

    def _writer(self) -> Callable[[PreparedFrame], None]:
        # Each frame passes the core's state table on its way out (a bound
        # method, not a closure: an idle session stays as small as it was).
        return self._write

    def _write(self, data: PreparedFrame) -> None:
        try:
            wire = self.conn.prepared_bytes(data)
        except WebSocketLocalError:
            return  # closing: no data frame may follow our Close (5.5.1)
        self.host.write(wire)

    def _started(self) -> None:
        self._arm_ping()
        early = self._early
        if early is not None:
            self._early = None
            self.data_received(early)

    def _overflow(self) -> None:
        # RFC 6455 7.4.1: 1008 is "a message that violates its policy".
        self.host.disconnect("overflow")
        self.close(CloseCode.POLICY_VIOLATION, "subscriber too slow")

    def _drained(self) -> None:
        # The WebSocket counterpart of the SSE retry: hint (RFC 6455 section
        # 7.1.6 leaves the reason free text): "retry=<ms>" tells a client
        # when to come back, spread per connection over drain_retry_ms to
        # twice that so that thousands do not return in the same instant.
        # rawpush's clients read it (rawpush.client.ws_errors.retry_hint).
        delay = retry_delay_ms(self.host.ctx.config)
        self.close(CloseCode.GOING_AWAY, f"server shutting down; retry={delay}")

    def _expired(self) -> None:
        self.close(CLOSE_TOKEN_EXPIRED, "token expired")

    def _admitted(self, grant: Grant, who: Caller | None) -> None:
        # Each publish is decided again under this grant; only an embedder's
        # hook looks at the request, so only then is it worth keeping.
        self.grant = grant
        if self.host.ctx.auth.config.hook is not None:
            self.who = who

    def _cancel_timers(self) -> None:
        for timer in (self._ping, self._pong, self._closer):
            if timer is not None:
                timer.cancel()
        self._ping = self._pong = self._closer = None

    def _flush(self) -> None:
        # Control frames (Pong, Close) go straight to the transport, ahead
        # of queued data: they are tiny and the peer needs them now.
        self.host.write(self.conn.data_to_send())

    # -- receiving --------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._ended:
            return
        if not self._opened:
            self._early = data if self._early is None else self._early + data
            if len(self._early) > self.host.ctx.config.ws.max_frame_size:
                self._end(abort=True)
            return
        self.conn.feed(data)
        if not self._slice:
            self._pump()

    def _pump(self) -> None:
        """Handle the buffered input, one slice of it per loop iteration."""
        conn = self.conn
        handled = 0
        try:
            while (event := conn.next_event()) is not None:
                # Whatever the core just did (a Close received) shows in its
                # state; the per-event delivery path reads this flag instead.
                self._live = conn.state is State.OPEN
                self._on_event(event)
                if conn.state is State.CLOSING and isinstance(event, Text | Binary):
                    self._ignored += 1
                    if self._ignored > _AFTER_CLOSE:
                        self.host.disconnect("close_ignored")
                        self._end(abort=True)
                        return
                handled += 1
                if handled == _SLICE:
                    # Fairness: one busy peer does not keep the loop from
                    # everyone else's; its reading waits for the rest.
                    self._slice = True
                    self._set_reading()
                    self.host.call_later(0, self._next_slice)
                    break
        except WebSocketError:
            self._live = False
            self.host.disconnect("protocol_error")
            self._flush()  # the Close frame carrying the core's code
            self._end(abort=False)
            return
        self._flush()
        if conn.should_close:
            self._end(abort=False)

    def _next_slice(self) -> None:
        self._slice = False
        if not self._ended:
            self._pump()
            self._set_reading()

    def _inbound_full(self) -> bool:
        """Messages wait for the hub: the peer's input is held back (a lower
        mark to resume than to pause, so reading does not flap)."""
        inbox = self._inbox
        mark = _INBOX_LIMIT // 2 if self._reading_paused else _INBOX_LIMIT
        return inbox is not None and len(inbox) >= mark

    def _set_reading(self) -> None:
        """Read from the peer unless a slice or a full inbox holds it back."""
        hold = self._slice or self._inbound_full()
        if hold != self._reading_paused and not self._ended:
            self._reading_paused = hold
            if hold:
                self.host.pause_reading()
            else:
                self.host.resume_reading()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Text):
            self.host.messages_in += 1
            if self._live:
                self._on_text(event.data)
        elif isinstance(event, Binary):
            self.host.messages_in += 1
            if self._live:
                self._on_binary(event.data)
        elif isinstance(event, Pong):
            self._got_pong()
        elif isinstance(event, Close) and event.code != CloseCode.ABNORMAL_CLOSURE:
            self.host.disconnect("peer_close")

    def _on_text(self, text: str) -> None:
        self._on_message(text)

    def _on_message(self, data: str | bytes) -> None:
        cfg = self.host.ctx.config
        if not cfg.ws_publish:
            self.close(CloseCode.POLICY_VIOLATION, "publishing over WebSocket is off")
            return
        rate = cfg.ws_publish_rate
        if rate is not None:
            bucket = self._bucket
            if bucket is None:
                bucket = self._bucket = TokenBucket(rate, cfg.ws_publish_burst)
            if not bucket.take():
                self.host.ctx.metrics.inc("rawpush_rate_limited_total", (("what", "ws_publish"),))
                self.close(CloseCode.POLICY_VIOLATION, "publishing too fast")
                return
        self._publish(data)

    def _on_binary(self, data: bytes) -> None:
        # A binary message is a binary publish, under the same rules.
        self._on_message(data)

    def _publish(self, text: str | bytes) -> None:
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = deque()
        inbox.append(text)
        # The hub (block policy) may hold this publisher: stop reading
        # rather than queue without bound.
        self._set_reading()
        if self._publisher is None:
            self._publisher = asyncio.ensure_future(self._publish_all())

    async def _publish_all(self) -> None:
        hub = self.host.ctx.hub
        inbox = self._inbox
        assert inbox is not None
        try:
            while inbox:
                text = inbox.popleft()
                refused = await self._may_publish()
                if refused is not None:
                    inbox.clear()
                    self.close(refused.close_code, str(refused)[:100])
                    return
                try:
                    await hub.publish(self.channel, text)
                except HubError:
                    # 1013 Try Again Later: the hub is closing or full.
                    inbox.clear()
                    self.close(CloseCode.TRY_AGAIN_LATER, "the hub refused the message")
                    return
                self.host.ctx.metrics.inc("rawpush_published_total")
                self._set_reading()
        finally:
            self._publisher = None
            self._inbox = None  # empty now: back to the idle footprint

    async def _may_publish(self) -> AuthError | None:
        """The same rule as ``POST /publish``, asked for every message."""
        auth = self.host.ctx.auth
        grant = self.grant if self.grant is not None else auth.config.anonymous
        if auth.config.hook is None and grant.allows(Action.PUBLISH, self.channel):
            return None
        who = self.who if self.who is not None else _NOBODY
        return await allowed(auth, who, grant, self.channel)

    def eof_received(self) -> None:
        conn = self.conn
        conn.receive_eof()
        try:
            while (event := conn.next_event()) is not None:
                self._on_event(event)
        except WebSocketError:
            pass  # the connection is over either way
        self._end(abort=False)

    # -- heartbeat ----------------------------------------------------------------

    def _arm_ping(self) -> None:
        interval = self.host.ctx.config.ws_ping_interval
        self._ping = self.host.call_later(interval, self._send_ping)

    def _send_ping(self) -> None:
        self._ping = None
        if self.conn.state is not State.OPEN:
            return
        self.conn.send_ping(b"rawpush")
        self._flush()
        timeout = self.host.ctx.config.ws_ping_timeout
        self._pong = self.host.call_later(timeout, self._pong_missing)

    def _got_pong(self) -> None:
        # Any Pong proves the peer alive (section 5.5.3 allows unsolicited
        # ones); the next Ping is due an interval after it.
        if self._pong is not None:
            self._pong.cancel()
            self._pong = None
            self._arm_ping()

    def _pong_missing(self) -> None:
        self._pong = None
        self.host.disconnect("ping_timeout")
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
        timeout = self.host.ctx.config.close_timeout
        self._closer = self.host.call_later(timeout, self._close_timeout)

    def _close_timeout(self) -> None:
        self._closer = None
        self.host.disconnect("close_timeout")
        self._end(abort=True)
