"""``POST /tickets``: trade a token for a short-lived, single-use ticket.

A browser's EventSource cannot set headers and a WebSocket URL ends up in
logs, so a long-lived token must never ride in a URL. Instead the page's
backend (or the page, with the token in an ``Authorization`` header)
asks here for a ticket: body ``{"channels": ["a", "b"]}``, a subset of the
token's subscribe rights; answer ``{"ticket": "...", "expires_in": 30}``.
The ticket is accepted once, as ``?ticket=`` on ``/sse``, ``/ws`` and
``/poll``, until it expires (``AuthConfig.ticket_ttl``, default 30 s, never
past the token's own expiry). With Redis the store is shared, so a ticket
issued by one node is good on any other.
"""

from __future__ import annotations

from rawpush.auth import AuthError
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request, json_bytes
from rawpush.server.answers import Deferred, Refusal, Reply
from rawpush.server.context import Context
from rawpush.server.responses import cors
from rawpush.server.security import Caller, refusal

_HEADERS = (("Content-Type", "application/json"), ("Cache-Control", "no-store"))


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Deferred:
    return Deferred(_issue(ctx, request, who), cancel_on_eof=False)


async def _issue(ctx: Context, request: Request, who: Caller) -> Reply | Refusal:
    cors_headers = cors(ctx, request)
    if cors_headers is None:
        return Refusal(HTTPError("origin not allowed", 403))
    if who.ticket is not None:
        return Refusal(HTTPError("a ticket cannot buy another ticket", 400))
    try:
        grant = await ctx.auth.identify(who.info)
        ticket, expires_in = await ctx.auth.issue_ticket(grant, request.body)
    except AuthError as exc:
        return Refusal(refusal(exc))
    except OSError as exc:  # a Redis ticket store that cannot be reached
        return Refusal(HTTPError(f"ticket store unavailable: {exc}", 503))
    body = json_bytes({"ticket": ticket, "expires_in": expires_in})
    return Reply(200, [*_HEADERS, *cors_headers], body)
