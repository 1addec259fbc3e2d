"""``GET /ws``: one WebSocket, many channels, chosen by JSON control messages.

The WebSocket driver (handshake, frames through the core's state table,
Ping/Pong, closing, the drain hint, the outbox) is ``WSSession``'s; this
subclass replaces the one subscription it makes before the 101 by the
ones the client asks for afterwards (``rawpush.proto.multichannel``):

- ``subscribe`` (optional ``since``), ``unsubscribe`` and ``publish`` are
  handled one at a time, in the order they arrived, and each is answered
  with an ``ack`` or an ``error`` carrying the client's ``ref``: a client
  matches answers to questions without counting. Anything that is not a
  valid control message is an ``error`` reply (``bad_request``), never a
  close: one bad message does not cost the client its other channels.
- a subscription's ``ack`` goes out before its replay, and its replay
  before its live events (those that arrive while the hub subscribes
  wait in a per-channel list), all through the outbox, so replies and
  events keep their order and the queue bound covers both.
- authorization: the first subscribe or publish is checked with
  ``security.admit`` (the credential, and for a ticket or cookie the
  origin), which gives the grant the connection runs under; every later
  one is decided under that grant, since a ticket is used up by the first.
- publishing follows the rules of ``/ws/{channel}`` text messages (the
  ``ws_publish`` switch, the connection's rate bucket, the publish right),
  with error replies instead of a close.
- a binary event is one binary message (the JSON header, ``\\n``, the
  bytes); a binary message from the client is a ``bad_request`` reply.
- the drop-oldest policy, which may lose events of any channel, sends
  ``{"type":"gap"}`` with no channel: every channel has a gap.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from rawpush.auth import Action, AuthError, TokenBucket
from rawpush.hub import HubError, HubEvent, Subscription, validate_channel
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Headers, Request
from rawpush.proto.multichannel import (
    ControlError,
    Ping,
    Publish,
    Subscribe,
    Unsubscribe,
    parse_control,
    ws_ack,
    ws_binary_event,
    ws_error,
    ws_event,
    ws_gap,
    ws_pong,
)
from rawpush.proto.ws.deflate import PerMessageDeflate
from rawpush.proto.ws.frames import PreparedFrame, prepare_binary, prepare_text
from rawpush.server.answers import Answer, Refusal, Takeover
from rawpush.server.channels import error_code
from rawpush.server.context import Context
from rawpush.server.host import Host
from rawpush.server.security import Caller, admit, refusal
from rawpush.server.ws_session import _NOBODY, WSSession, handshake

#: where a channel-tagged /ws form of an event is cached in ``HubEvent.encoded``
WS_MULTI_KEY = "ws.multi"
#: control messages waiting to be handled before reading pauses
_INBOX_LIMIT = 16
#: the drop-oldest notice: no channel named, so every channel has a gap
_EVERY_GAP = prepare_text(b'{"type":"gap"}')


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Answer:
    shaken = handshake(ctx, request)
    if isinstance(shaken, Refusal):
        return shaken
    _, head, extension = shaken

    def open_session(host: Host) -> MultiWSSession:
        # A host that carries WebSocket messages rather than bytes (ASGI)
        # names its own subclass, as for /ws/{channel}.
        kind: type[MultiWSSession] = getattr(host, "ws_multi_session_class", MultiWSSession)
        return kind(host, head, extension=extension, who=who)

    return Takeover("ws", open_session)


def multi_frame(event: HubEvent) -> PreparedFrame:
    """The /ws message of ``event``, prepared once for every subscriber:
    text JSON, or for bytes the binary header-newline-payload message."""
    frame: PreparedFrame | None = event.encoded.get(WS_MULTI_KEY)
    if frame is None:
        data = event.data
        if isinstance(data, bytes):
            frame = prepare_binary(ws_binary_event(event.channel, event.id, event.event, data))
        else:
            frame = prepare_text(ws_event(event.channel, event.id, event.event, data))
        event.encoded[WS_MULTI_KEY] = frame
    return frame


class MultiWSSession(WSSession):
    __slots__ = ("_caller", "_controls", "_opening", "_worker", "subs")

    def __init__(
        self,
        host: Host,
        head: Headers,
        *,
        extension: PerMessageDeflate | None = None,
        who: Caller | None = None,
    ) -> None:
        super().__init__(host, "", None, head, extension=extension, who=None)
        self.outbox.gap_notice = _EVERY_GAP
        #: the request, until the first check has made the connection's grant
        self._caller = who
        self.subs: dict[str, Subscription] = {}
        #: live events of a channel being subscribed, held until its replay is out
        self._opening: dict[str, list[HubEvent]] = {}
        #: what waits on the hub, in order (a ping is answered at once)
        self._controls: deque[Subscribe | Unsubscribe | Publish] = deque()
        self._worker: asyncio.Task[None] | None = None

    # -- opening: no subscription before the 101 --------------------------------

    async def _subscribe_and_start(self, head: Headers, who: Caller | None) -> None:
        self._send_head(head)
        self._opened = True
        if not self._paused:
            self.outbox.resume()
        self._started()

    # -- input ----------------------------------------------------------------

    def _on_text(self, text: str) -> None:
        try:
            message = parse_control(text)
        except ControlError as exc:
            self._error(exc.code, exc.message, exc.op, exc.channel, exc.ref)
            return
        if isinstance(message, Ping):
            # At once, ahead of controls still waiting on the hub: a pong
            # says the connection carries messages, not that they are done.
            self._reply(ws_pong(message.ref))
            return
        controls = self._controls
        controls.append(message)
        # Each message may wait on the hub: stop reading rather than queue
        # without bound.
        self._set_reading()
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._work())

    def _inbound_full(self) -> bool:
        mark = _INBOX_LIMIT // 2 if self._reading_paused else _INBOX_LIMIT
        return len(self._controls) >= mark

    def _on_binary(self, data: bytes) -> None:
        self._error("bad_request", "binary messages carry no control message on /ws")

    async def _work(self) -> None:
        controls = self._controls
        try:
            while controls and not self._ended:
                message = controls.popleft()
                if isinstance(message, Subscribe):
                    await self._subscribe(message)
                elif isinstance(message, Publish):
                    await self._publish_one(message)
                else:
                    self._unsubscribe(message.channel, message.ref)
                self._set_reading()
        finally:
            self._worker = None

    # -- replies ----------------------------------------------------------------

    def _reply(self, payload: bytes) -> None:
        self.outbox.put(prepare_text(payload))

    def _error(
        self,
        code: str,
        message: str,
        op: str | None = None,
        channel: str | None = None,
        ref: str | None = None,
    ) -> None:
        self._reply(ws_error(code, message[:200], op=op, channel=channel, ref=ref))

    # -- authorization --------------------------------------------------------------

    async def _refused(self, action: Action, channel: str) -> HTTPError | None:
        """None when this connection may do ``action`` on ``channel``, else
        the refusal (its status picks the error code)."""
        ctx = self.host.ctx
        try:
            if self.grant is None:
                who = self._caller
                if who is None:  # an embedder's session with no request
                    self.grant = ctx.auth.config.anonymous
                else:
                    grant = self.grant = await admit(ctx.config, ctx.auth, who, action, channel)
                    if grant.expires_at is not None:
                        left = max(0.0, grant.expires_at - time.time())
                        self._expiry = self.host.call_later(left, self._expire)
                    if ctx.auth.config.hook is None:
                        self._caller = None  # only a hook looks at the request again
                    return None
            who = self._caller if self._caller is not None else _NOBODY
            await ctx.auth.decide(who.info, self.grant, action, channel)
        except AuthError as exc:
            return refusal(exc)
        except HTTPError as exc:
            return exc
        return None

    # -- subscribe / unsubscribe ------------------------------------------------------

    async def _subscribe(self, message: Subscribe) -> None:
        channel, ref = message.channel, message.ref
        fail = self._failing("subscribe", channel, ref)
        if channel in self.subs:
            return fail("bad_request", "already subscribed")
        try:
            validate_channel(channel)
        except HubError as exc:
            return fail("bad_request", str(exc))
        limit = self.host.ctx.config.max_channels_per_connection
        if len(self.subs) >= limit:
            return fail("too_many_channels", f"at most {limit} channels per connection")
        refused = await self._refused(Action.SUBSCRIBE, channel)
        if refused is not None:
            self.host.ctx.metrics.inc(
                "rawpush_auth_refused_total", (("status", str(refused.status)),)
            )
            return fail(error_code(refused.status), str(refused))
        hub = self.host.ctx.hub
        self._opening[channel] = []
        try:
            latest = await hub.latest_id(channel)
            sub = await hub.subscribe(channel, self._listener(channel), message.since)
        except HubError as exc:
            return fail(error_code(exc.status), str(exc))
        except OSError as exc:
            return fail("unavailable", f"backplane unavailable: {exc}")
        finally:
            held = self._opening.pop(channel)
        if self._ended:
            sub.close()
            return None
        self.subs[channel] = sub
        replay = sub.replay
        self._reply(
            ws_ack("subscribe", channel, replay.events[-1].id if replay.events else latest, ref)
        )
        if replay.gap:
            self._reply(ws_gap(channel))
        for event in (*replay.events, *held):
            self._deliver(event)
        return None

    def _failing(self, op: str, channel: str, ref: str | None) -> Callable[[str, str], None]:
        return lambda code, message: self._error(code, message, op, channel, ref)

    def _listener(self, channel: str) -> Callable[[HubEvent], asyncio.Future[None] | None]:
        def deliver(event: HubEvent) -> asyncio.Future[None] | None:
            held = self._opening.get(channel)
            if held is not None:
                held.append(event)
                return None
            return self._deliver(event)

        return deliver

    def _encode(self, event: HubEvent) -> PreparedFrame:
        if event.gap:
            return prepare_text(ws_gap(event.channel))
        return multi_frame(event)

    def _deliver(self, event: HubEvent) -> asyncio.Future[None] | None:
        if not self._live:
            return None
        outbox = self.outbox
        frame = self._encode(event)
        dropped = outbox.dropped
        waiter = outbox.put(frame)
        host = self.host
        host.messages_out += 1
        if outbox.dropped != dropped:
            host.ctx.metrics.inc("rawpush_dropped_total", self._labels, outbox.dropped - dropped)
        return waiter

    def _unsubscribe(self, channel: str, ref: str | None) -> None:
        sub = self.subs.pop(channel, None)
        if sub is None:
            self._error("bad_request", "not subscribed", "unsubscribe", channel, ref)
            return
        sub.close()
        self._reply(ws_ack("unsubscribe", channel, None, ref))

    # -- publish ------------------------------------------------------------------------

    async def _publish_one(self, message: Publish) -> None:
        channel, ref = message.channel, message.ref
        fail = self._failing("publish", channel, ref)
        ctx = self.host.ctx
        cfg = ctx.config
        if not cfg.ws_publish:
            return fail("forbidden", "publishing over WebSocket is off")
        rate = cfg.ws_publish_rate
        if rate is not None:
            bucket = self._bucket
            if bucket is None:
                bucket = self._bucket = TokenBucket(rate, cfg.ws_publish_burst)
            if not bucket.take():
                ctx.metrics.inc("rawpush_rate_limited_total", (("what", "ws_publish"),))
                return fail("rate_limited", "publishing too fast")
        try:
            validate_channel(channel)
        except HubError as exc:
            return fail("bad_request", str(exc))
        refused = await self._refused(Action.PUBLISH, channel)
        if refused is not None:
            return fail(error_code(refused.status), str(refused))
        try:
            item = await ctx.hub.publish(channel, message.data, message.event)
        except HubError as exc:
            return fail(error_code(exc.status), str(exc))
        except OSError as exc:
            return fail("unavailable", f"backplane unavailable: {exc}")
        ctx.metrics.inc("rawpush_published_total")
        self._reply(ws_ack("publish", channel, item.id, ref))
        return None

    # -- ending ---------------------------------------------------------------------------

    def close(self, code: int, reason: str) -> None:
        for sub in self.subs.values():
            sub.close()
        super().close(code, reason)

    def _teardown(self) -> None:
        for sub in self.subs.values():
            sub.close()
        worker = self._worker
        if worker is not None and not worker.done() and worker is not asyncio.current_task():
            worker.cancel()
        super()._teardown()
