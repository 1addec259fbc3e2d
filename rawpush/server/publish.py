"""``POST /publish/{channel}``: body = data (``?event=NAME``) -> ``{"id"}``.

The publisher is answered once the hub accepted the event: under the
``block`` overflow policy that is after every local subscriber had room,
so a full subscriber slows this publisher, by design.
"""

from __future__ import annotations

import hmac

from rawpush.hub import HubError
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request, json_bytes
from rawpush.server.answers import Deferred, Refusal, Reply
from rawpush.server.context import Context
from rawpush.server.responses import cors

_NO_STORE = ("Cache-Control", "no-store")
_JSON_TYPE = ("Content-Type", "application/json")


def start(ctx: Context, request: Request, channel: str) -> Deferred:
    return Deferred(_publish(ctx, request, channel), cancel_on_eof=False)


def check_token(ctx: Context, request: Request) -> None:
    """Refuse (401) unless the request carries the publish token, if one is set."""
    token = ctx.config.publish_token
    if token is None:
        return
    given = request.header("authorization") or ""
    scheme, _, value = given.partition(" ")
    # Constant-time: the comparison must not reveal how much of a guess
    # was right (RFC 6750 section 5.3 on token guessing).
    ok = hmac.compare_digest(value.strip().encode("latin-1"), token.encode("utf-8"))
    if scheme.lower() != "bearer" or not ok:
        raise HTTPError(
            "publish needs Authorization: Bearer <token>",
            401,
            (("WWW-Authenticate", 'Bearer realm="rawpush"'),),
        )


async def _publish(ctx: Context, request: Request, channel: str) -> Reply | Refusal:
    try:
        cors_headers = cors(ctx, request)
        if cors_headers is None:
            raise HTTPError("origin not allowed", 403)
        check_token(ctx, request)
        try:
            data = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError("body is not UTF-8", 400) from None
        try:
            item = await ctx.hub.publish(channel, data, request.query.get("event"))
        except HubError as exc:
            # 400 for a bad event name, 503 when the hub or backplane refuses.
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
