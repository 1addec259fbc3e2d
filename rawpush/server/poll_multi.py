"""``GET /poll?channel=A&channel=B&cursor=POS&timeout=S``: one long poll
for many channels.

The rules of ``GET /poll/{channel}`` (``rawpush.server.poll``), per channel:

- no cursor: answer at once, no events, the position of every channel now
  (its newest id, ``0-0`` for one with none, so its first event will be
  the client's first answer);
- events after the cursor on any channel, or a gap: answer at once with
  everything there is on every channel;
- otherwise wait up to ``timeout`` (clamped to ``max_poll_timeout``) for
  the first event on any of them, and answer with what arrived;
- a gap on a channel names it in ``gaps`` and moves its slot past the
  hole (a poller handed back its own cursor would hear of it forever);
- the client hangs up: every subscription made for the wait is closed;
  the server drains: the wait ends with what there is.

The cursor is a position (``rawpush.proto.multichannel``): one slot per
channel in the URL's order, ``_`` for "from now".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rawpush.auth import Action
from rawpush.hub import HubError, HubEvent, Subscription
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request
from rawpush.proto.longpoll import parse_poll_request, poll_headers
from rawpush.proto.multichannel import (
    channel_event_json,
    format_position,
    multi_poll_answer,
    parse_position,
)
from rawpush.server.answers import Deferred, Refusal, Reply
from rawpush.server.channels import admit_all, requested
from rawpush.server.context import Context
from rawpush.server.poll import DEFAULT_TIMEOUT, START_CURSOR
from rawpush.server.responses import cors
from rawpush.server.security import Caller

#: where an event's item is cached in ``HubEvent.encoded`` (the same for
#: every poller: it names the channel, not the poller's position)
POLL_MULTI_KEY = "poll.multi"


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Deferred:
    cors_headers = cors(ctx, request)
    if cors_headers is None:
        raise HTTPError("origin not allowed", 403)
    channels = requested(ctx, request)
    max_timeout = ctx.config.max_poll_timeout
    poll = parse_poll_request(
        request, "", max_timeout=max_timeout, default_timeout=min(DEFAULT_TIMEOUT, max_timeout)
    )
    cursor = None if poll.cursor is None else parse_position(poll.cursor, len(channels))
    headers = poll_headers() + cors_headers
    answer = _answer(ctx, channels, cursor, poll.timeout, headers, who=who)
    return Deferred(answer, cancel_on_eof=True, kind="poll")


def _item(event: HubEvent) -> bytes:
    item: bytes | None = event.encoded.get(POLL_MULTI_KEY)
    if item is None:
        item = channel_event_json(event.channel, event.id, event.event, event.data)
        event.encoded[POLL_MULTI_KEY] = item
    return item


class _Gather:
    """What the subscriptions of one poll collected, channel by channel."""

    def __init__(self, channels: tuple[str, ...], cursor: tuple[str | None, ...]) -> None:
        self.channels = channels
        self.positions = list(cursor)
        self.items: list[bytes] = []
        self.gaps: list[str] = []
        self.woken = asyncio.get_running_loop().create_future()

    def take(self, index: int, event: HubEvent) -> None:
        if event.gap:
            self.gap(index, event.id)
        else:
            self.items.append(_item(event))
            self.positions[index] = event.id
        if not self.woken.done():
            self.woken.set_result(None)

    def listener(self, index: int) -> Callable[[HubEvent], None]:
        return lambda event: self.take(index, event)

    def gap(self, index: int, head: str | None) -> None:
        channel = self.channels[index]
        if channel not in self.gaps:
            self.gaps.append(channel)
        if head is not None:
            self.positions[index] = head

    def answer(self) -> bytes:
        cursor = format_position([p or START_CURSOR for p in self.positions])
        return multi_poll_answer(self.items, cursor, self.gaps)


async def _collect(
    ctx: Context, gather: _Gather, cursor: tuple[str | None, ...], timeout: float
) -> None:
    hub = ctx.hub
    subs: list[Subscription] = []
    try:
        for index, channel in enumerate(gather.channels):
            sub = await hub.subscribe(channel, gather.listener(index), cursor[index])
            subs.append(sub)
            # The replay precedes this channel's live events: with a cursor
            # the hub holds them until it returns (no await after it here),
            # and without one the replay is empty.
            replay = sub.replay
            if replay.gap:
                gather.gap(index, replay.head)
            for event in replay.events:
                gather.items.append(_item(event))
                gather.positions[index] = event.id
        if gather.items or gather.gaps or timeout <= 0 or ctx.drain_event.is_set():
            return
        draining = asyncio.ensure_future(ctx.drain_event.wait())
        try:
            # FIRST_COMPLETED: the first event on any channel, or the drain,
            # answers (asyncio.wait's default waits for both, i.e. the timeout).
            await asyncio.wait(
                {gather.woken, draining}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            draining.cancel()
    finally:
        # Also when cancelled (the client hung up): nothing stays subscribed.
        for sub in subs:
            sub.close()


async def _answer(
    ctx: Context,
    channels: tuple[str, ...],
    cursor: tuple[str | None, ...] | None,
    timeout: float,
    headers: list[tuple[str, str]],
    *,
    who: Caller,
) -> Reply | Refusal:
    try:
        await admit_all(ctx, who, Action.SUBSCRIBE, channels)
    except HTTPError as exc:
        return Refusal(exc)
    hub = ctx.hub
    try:
        if cursor is None:
            gather = _Gather(channels, (None,) * len(channels))
            for index, channel in enumerate(channels):
                gather.positions[index] = await hub.latest_id(channel)
        else:
            gather = _Gather(channels, cursor)
            await _collect(ctx, gather, cursor, timeout)
    except HubError as exc:
        return Refusal(HTTPError(str(exc), exc.status))
    except OSError as exc:
        return Refusal(HTTPError(f"backplane unavailable: {exc}", 503))
    if gather.items:
        labels = (("transport", "poll"),)
        ctx.metrics.inc("rawpush_messages_out_total", labels, len(gather.items))
    return Reply(200, headers, gather.answer())
