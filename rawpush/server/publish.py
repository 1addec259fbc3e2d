"""``POST /publish/{channel}``: body = data (``?event=NAME``) -> ``{"id"}``.

A body sent as ``Content-Type: application/octet-stream`` is published as
bytes (a binary event); any other body must be UTF-8 text.

The publisher is answered once the hub accepted the event: under the
``block`` overflow policy that is after every local subscriber had room,
so a full subscriber slows this publisher, by design. Who may publish is
``rawpush.server.security``'s rule, the same as for WebSocket publishing;
with ``publish_rate`` set, an address (or token) over its rate gets 429
with ``Retry-After`` (RFC 6585 section 4).
"""

from __future__ import annotations

import math

from rawpush.auth import Action, KeyedLimiter
from rawpush.hub import HubError
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request, json_bytes
from rawpush.server.answers import Deferred, Refusal, Reply
from rawpush.server.context import Context
from rawpush.server.responses import cors
from rawpush.server.security import Caller, admit

_NO_STORE = ("Cache-Control", "no-store")
_JSON_TYPE = ("Content-Type", "application/json")


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Deferred:
    return Deferred(_publish(ctx, request, channel, who), cancel_on_eof=False)


def _over_rate(
    limiter: KeyedLimiter[str] | None, request: Request, who: Caller
) -> float | None:
    """Seconds to wait when this address (or token) is over ``limiter``."""
    if limiter is None:
        return None
    keys = []
    if who.info.peer is not None:
        keys.append("addr:" + who.info.peer[0])
    token = request.header("authorization")
    if token is not None:
        keys.append("token:" + token)
    for key in keys:
        if not limiter.take(key):
            return limiter.retry_after(key)
    return None


def _limit(ctx: Context, what: str, wait: float | None) -> None:
    if wait is not None:
        ctx.metrics.inc("rawpush_rate_limited_total", (("what", what),))
        retry = str(max(1, math.ceil(wait)))
        reason = what.replace("_", " ")
        raise HTTPError(f"too many requests ({reason})", 429, (("Retry-After", retry),))


def _payload(request: Request) -> str | bytes:
    # application/octet-stream (RFC 2046 section 4.5.1) is a binary
    # payload, kept as bytes; anything else is text and must be UTF-8.
    media = (request.header("content-type") or "").partition(";")[0].strip().lower()
    if media == "application/octet-stream":
        return request.body
    try:
        return request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError("body is not UTF-8 (binary: application/octet-stream)", 400) from None


async def _publish(ctx: Context, request: Request, channel: str, who: Caller) -> Reply | Refusal:
    try:
        cors_headers = cors(ctx, request)
        if cors_headers is None:
            raise HTTPError("origin not allowed", 403)
        await admit(ctx.config, ctx.auth, who, Action.PUBLISH, channel)
        _limit(ctx, "publish", _over_rate(ctx.publish_limiter, request, who))
        if ctx.channel_limiter is not None and await ctx.hub.latest_id(channel) is None:
            # A name with no event yet: creating channels is what fills the
            # hub's channel cap, so it has a budget of its own.
            _limit(ctx, "new_channel", _over_rate(ctx.channel_limiter, request, who))
        data = _payload(request)
        try:
            # A retry with the same Idempotency-Key gets the first id back,
            # not a second event (on every node, with Redis).
            item = await ctx.hub.publish(
                channel,
                data,
                request.query.get("event"),
                idempotency_key=request.header("idempotency-key"),
            )
        except HubError as exc:
            # 400 for a bad event name or key, 503 when the hub or backplane
            # refused (not stored: retry), 504 when the store may have taken
            # it (retry with the same Idempotency-Key).
            raise HTTPError(str(exc), exc.status) from None
        except OSError as exc:  # TimeoutError included
            # A backplane that cannot reach its store (Redis down): the
            # event was not accepted, and the client may retry.
            raise HTTPError(f"backplane unavailable: {exc}", 503) from None
    except HTTPError as exc:
        return Refusal(exc)
    metrics = ctx.metrics
    metrics.inc("rawpush_published_total")
    metrics.inc("rawpush_messages_in_total", (("transport", "http"),))
    body = b'{"id":' + json_bytes(item.id) + b"}"
    return Reply(200, [_JSON_TYPE, _NO_STORE, *cors_headers], body)
