"""``GET /poll/{channel}?cursor=ID&timeout=S``: the long poll.

- No cursor: answer at once with no events and the channel's latest id as
  the cursor, so the client starts from "now" without a round trip that
  waits (``"0-0"`` for a channel that never had an event: every id is
  after it, so the first event will be the client's first answer).
- Events after the cursor exist, or a gap: answer at once.
- Otherwise wait up to ``timeout`` (clamped to ``max_poll_timeout``;
  ``0`` is a short poll) for the next events.
- The client hangs up: the wait is cancelled, and the hub leaves nothing
  registered behind (``Hub.wait_since`` is cancellation-safe).
- The server drains: the wait ends and the client gets what there is now,
  with a cursor that loses nothing.
"""

from __future__ import annotations

import asyncio

from rawpush.auth import Action
from rawpush.hub import HubError, Replay
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request
from rawpush.proto.longpoll import parse_poll_request, poll_headers
from rawpush.server.answers import Deferred, Refusal, Reply
from rawpush.server.context import Context
from rawpush.server.encoding import poll_answer
from rawpush.server.responses import cors
from rawpush.server.security import Caller, admit

#: the cursor of a channel with no events yet; the hub's ids start above it
START_CURSOR = "0-0"
#: the wait when the client gives no timeout (seconds), before clamping
DEFAULT_TIMEOUT = 30.0


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Deferred:
    cors_headers = cors(ctx, request)
    if cors_headers is None:
        raise HTTPError("origin not allowed", 403)
    max_timeout = ctx.config.max_poll_timeout
    poll = parse_poll_request(
        request, channel, max_timeout=max_timeout, default_timeout=min(DEFAULT_TIMEOUT, max_timeout)
    )
    headers = poll_headers() + cors_headers
    answer = _answer(ctx, channel, poll.cursor, poll.timeout, headers, who=who)
    return Deferred(answer, cancel_on_eof=True, kind="poll")


async def _wait(ctx: Context, channel: str, cursor: str, timeout: float) -> Replay:
    hub = ctx.hub
    drain = ctx.drain_event
    if timeout <= 0 or drain.is_set():
        return await hub.since(channel, cursor)
    waiting = asyncio.ensure_future(hub.wait_since(channel, cursor, timeout))
    draining = asyncio.ensure_future(drain.wait())
    try:
        await asyncio.wait({waiting, draining}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Also on cancellation (the client hung up): nothing stays waiting.
        draining.cancel()
        if not waiting.done():
            waiting.cancel()
    if waiting.done() and not waiting.cancelled():
        return waiting.result()
    # Drain won the race: answer with whatever is there now (usually
    # nothing); the cursor the client keeps still covers the rest.
    return await hub.since(channel, cursor)


async def _answer(
    ctx: Context,
    channel: str,
    cursor: str | None,
    timeout: float,
    headers: list[tuple[str, str]],
    *,
    who: Caller,
) -> Reply | Refusal:
    hub = ctx.hub
    try:
        await admit(ctx.config, ctx.auth, who, Action.SUBSCRIBE, channel)
    except HTTPError as exc:
        return Refusal(exc)
    try:
        if cursor is None:
            latest = await hub.latest_id(channel)
            replay = Replay()
            cursor = latest if latest is not None else START_CURSOR
        else:
            replay = await _wait(ctx, channel, cursor, timeout)
    except HubError as exc:
        # An id that is not one of ours is the client's mistake (400);
        # a closed hub or failing backplane is ours (503).
        return Refusal(HTTPError(str(exc), exc.status))
    events = replay.events
    if events:
        labels = (("transport", "poll"),)
        ctx.metrics.inc("rawpush_messages_out_total", labels, len(events))
    body = poll_answer(events, replay.last_id or cursor, replay.gap)
    return Reply(200, headers, body)
