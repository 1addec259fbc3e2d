"""``GET /sse?channel=A&channel=B``: one event stream for many channels.

An ``SSESession`` in all but the subscription (the head, heartbeats, the
stall timer, the drain retry hint are its own); what differs:

- one hub subscription per channel, each resumed from its slot of the
  position (``Last-Event-ID`` or ``?lastEventId=``,
  ``rawpush.proto.multichannel``), all made before the head goes out, so
  a client that sees the 200 is subscribed to every channel;
- every event says its channel in its data, and its ``id:`` is the
  position *after* it: the ids of every channel as this stream last sent
  them. The position goes out in queue order, so whatever the browser
  saw last is what it resumes from, for every channel at once: no loss,
  no repeat, on any of them;
- a gap is told per channel (``event: gap``, data ``{"channel":...}``, no
  id); the drop-oldest policy, which loses events of any channel, tells it
  for every channel.

Each channel's replay is queued right after its subscription returns,
with no await in between, so live events of that channel (queued by the
hub's listener from then on) follow it in id order; the outbox stays
paused until the head is out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rawpush.auth import Action
from rawpush.hub import HubError, HubEvent, Subscription
from rawpush.proto.chunked import chunk
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Headers, Request
from rawpush.proto.http_sse import resume_id, sse_headers
from rawpush.proto.multichannel import (
    channel_event_json,
    format_position,
    parse_position,
    sse_channel_frame,
    sse_channel_gap,
)
from rawpush.server.answers import Answer, Reply, Takeover
from rawpush.server.channels import admit_all, requested
from rawpush.server.context import Context
from rawpush.server.host import Framing, Host
from rawpush.server.responses import cors
from rawpush.server.security import Caller
from rawpush.server.sse_session import SSESession

#: where an event's channel-tagged JSON is cached in ``HubEvent.encoded``:
#: shared by every stream, while the ``id:`` line (a position) is each
#: stream's own
SSE_MULTI_KEY = "sse.multi"


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Answer:
    cors_headers = cors(ctx, request)
    if cors_headers is None:
        raise HTTPError("origin not allowed", 403)
    channels = requested(ctx, request)
    raw = resume_id(request)
    position = (None,) * len(channels) if raw is None else parse_position(raw, len(channels))
    headers = sse_headers(cors_headers)
    if request.method == "HEAD":
        return Reply(200, headers, stream_head=True)
    return Takeover(
        "sse", lambda host: MultiSSESession(host, channels, list(position), headers, who)
    )


class MultiSSESession(SSESession):
    __slots__ = ("channels", "positions", "subs")

    def __init__(
        self,
        host: Host,
        channels: tuple[str, ...],
        positions: list[str | None],
        head: Headers,
        who: Caller | None = None,
    ) -> None:
        super().__init__(host, channels[0], None, head, who)
        self.channels = channels
        #: the hub id last queued per channel (None: nothing yet)
        self.positions = positions
        self.subs: list[Subscription] = []
        self.outbox.gap_notice = self._every_gap()

    def _every_gap(self) -> bytes:
        notice = b"".join(sse_channel_gap(channel) for channel in self.channels)
        return self._frame(notice)

    def _send_head(self, head: Headers) -> None:
        if self.host.open_stream(200, head) is Framing.RAW:
            self.chunked = False
            self.outbox.gap_notice = self._every_gap()

    async def _admit(self, who: Caller | None) -> bool:
        host = self.host
        ctx = host.ctx
        if who is None:
            return True
        try:
            grant = await admit_all(ctx, who, Action.SUBSCRIBE, self.channels)
        except HTTPError as exc:
            ctx.metrics.inc("rawpush_auth_refused_total", (("status", str(exc.status)),))
            self._ended = True
            self._teardown()
            host.refuse(exc)
            return False
        if grant.expires_at is not None:
            left = max(0.0, grant.expires_at - time.time())
            self._expiry = host.call_later(left, self._expire)
        return True

    async def _subscribe_and_start(self, head: Headers, who: Caller | None) -> None:
        host = self.host
        if not await self._admit(who):
            return
        hub = host.ctx.hub
        for index, channel in enumerate(self.channels):
            try:
                sub = await hub.subscribe(channel, self._listener(index), self.positions[index])
            except HubError as exc:
                self._ended = True
                self._teardown()
                if exc.status == 503:
                    self._unavailable(exc, head)
                else:
                    host.refuse(HTTPError(str(exc), exc.status))
                return
            self.subs.append(sub)
            if self._ended:
                self._teardown()
                return
            # No await from here to the next subscription: the replay goes
            # into the paused outbox ahead of this channel's live events.
            if sub.replay.gap:
                self._gap(index)
            for event in sub.replay.events:
                self._put(index, event)
        self._send_head(head)
        self._opened = True
        if not self._paused:
            self.outbox.resume()
        self._started()

    def _listener(self, index: int) -> Callable[[HubEvent], asyncio.Future[None] | None]:
        def deliver(event: HubEvent) -> asyncio.Future[None] | None:
            if not self._live:
                return None
            if event.gap:
                return self._gap(index)
            return self._put(index, event)

        return deliver

    def _gap(self, index: int) -> asyncio.Future[None] | None:
        return self.outbox.put(self._frame(sse_channel_gap(self.channels[index])))

    def _put(self, index: int, event: HubEvent) -> asyncio.Future[None] | None:
        positions = self.positions
        positions[index] = event.id
        item: bytes | None = event.encoded.get(SSE_MULTI_KEY)
        if item is None:
            item = channel_event_json(event.channel, event.id, event.event, event.data)
            event.encoded[SSE_MULTI_KEY] = item
        wire = sse_channel_frame(event.event, format_position(positions), item)
        outbox = self.outbox
        dropped = outbox.dropped
        waiter = outbox.put(chunk(wire) if self.chunked else wire)
        host = self.host
        host.messages_out += 1
        if outbox.dropped != dropped:
            host.ctx.metrics.inc("rawpush_dropped_total", self._labels, outbox.dropped - dropped)
        return waiter

    def _teardown(self) -> None:
        for sub in self.subs:
            sub.close()
        super()._teardown()
