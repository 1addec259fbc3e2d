"""Which request goes where, and the short answers.

``dispatch`` maps a request to an ``Answer`` (``rawpush.server.answers``)
using the transport registry; it never writes bytes and never sees the
host, so every host routes the same way.

Choices where the protocols are silent: routing reads the raw path, never
a percent-decoded one, so ``/publish%2Fa`` is not ``/publish/a`` (RFC 3986
section 2.2: an encoded ``/`` is data, not a separator), and channel names
(1-128 characters of ``[A-Za-z0-9._:-]``) never need decoding; ``HEAD`` is
answered for ``/``, ``/healthz``, ``/readyz``, ``/metrics``, the browser
client's files (``rawpush.server.static_files``) and ``/sse/…``
(headers only, no subscription); ``/healthz`` says the process serves,
``/readyz`` that it can also reach its backplane's store (one read of it,
so a memory hub is always ready and a Redis hub only while Redis answers;
503 with the reason otherwise, and while draining); a channel name the
hub refuses is 400 whatever the method; a wrong method is 405 with
``Allow`` (RFC 9110 section 15.5.6); a preflight from an origin outside
``allowed_origins`` is 403; every route of a transport left out of
``ServerConfig.transports`` is 404, saying so.
"""

from __future__ import annotations

import asyncio
import hmac

from rawpush.hub import HubError, validate_channel
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request
from rawpush.server import security, static_files
from rawpush.server.answers import Answer, Deferred, Refusal, Reply
from rawpush.server.context import Context
from rawpush.server.responses import cors
from rawpush.server.transports import ECHO, REGISTRY, Transport

_PAGE_METHODS = ("GET", "HEAD")
_METRICS_TYPE = ("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
_HTML_TYPE = ("Content-Type", "text/html; charset=utf-8")
_NO_STORE = ("Cache-Control", "no-store")
_TEXT_TYPE = ("Content-Type", "text/plain; charset=utf-8")
#: what /readyz reads: the newest id of a channel nobody uses, one round
#: trip to the backplane's store that creates nothing
_PROBE_CHANNEL = "rawpush:readyz"
_READY_TIMEOUT = 5.0
# What a cross-origin page may send: Authorization for publish tokens,
# Last-Event-ID for SSE resume, Content-Type for a text/plain publish,
# Idempotency-Key for a publish that may be retried.
_PREFLIGHT_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"


async def _ready(ctx: Context) -> Reply:
    if ctx.draining:
        return Reply(503, [_TEXT_TYPE, _NO_STORE], b"draining\n")
    try:
        async with asyncio.timeout(_READY_TIMEOUT):
            await ctx.hub.latest_id(_PROBE_CHANNEL)
    except (HubError, OSError) as exc:  # TimeoutError included
        return Reply(503, [_TEXT_TYPE, _NO_STORE], f"not ready: {exc}\n".encode())
    return Reply(200, [_TEXT_TYPE, _NO_STORE], b"ready\n")


def _page(ctx: Context, path: str) -> Reply | Deferred:
    if path == "/":
        return Reply(200, [_HTML_TYPE], ctx.index_html)
    if path == "/healthz":
        if ctx.draining:
            return Reply(503, [_TEXT_TYPE, _NO_STORE], b"draining\n")
        return Reply(200, [_TEXT_TYPE, _NO_STORE], b"ok\n")
    if path == "/readyz":
        return Deferred(_ready(ctx), cancel_on_eof=True)
    text = ctx.metrics.render().encode("utf-8")
    return Reply(200, [_METRICS_TYPE, _NO_STORE], text)


def _find(ctx: Context, path: str) -> tuple[Transport, str] | None:
    if ctx.echo_only:
        return ECHO, ""  # ``rawpush echo``: every target is the echo
    for transport in REGISTRY:
        if transport.matches(path):
            return transport, path[len(transport.path) :]
    if ctx.config.ws_echo and path == ECHO.path:
        return ECHO, ""
    return None


def _metrics_allowed(ctx: Context, request: Request) -> bool:
    token = ctx.config.metrics_token
    if token is None:
        return True
    scheme, _, given = (request.header("authorization") or "").partition(" ")
    # Constant time, as for any token (RFC 6750 section 5.3).
    same = hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), token.encode())
    return scheme.lower() == "bearer" and same


def _not_allowed(method: str, methods: tuple[str, ...]) -> Refusal:
    allow = ", ".join(methods)
    return Refusal(HTTPError(f"{method} not allowed here", 405, (("Allow", allow),)))


def dispatch(ctx: Context, request: Request, peer: tuple[str, int] | None = None) -> Answer:
    """The answer to ``request``; ``peer`` is the client's address, for
    authorization and per-address limits."""
    path = request.path
    method = request.method
    if path in ("/", "/healthz", "/readyz", "/metrics") and not ctx.echo_only:
        if method not in _PAGE_METHODS:
            return _not_allowed(method, _PAGE_METHODS)
        if path == "/metrics" and not _metrics_allowed(ctx, request):
            return Refusal(
                HTTPError(
                    "/metrics needs Authorization: Bearer <metrics token>",
                    401,
                    (("WWW-Authenticate", 'Bearer realm="rawpush-metrics"'),),
                )
            )
        return _page(ctx, path)
    if path in static_files.STATIC and not ctx.echo_only:
        if method not in _PAGE_METHODS:
            return _not_allowed(method, _PAGE_METHODS)
        return static_files.answer(request, path)
    found = _find(ctx, path)
    if found is None:
        return Refusal(HTTPError(f"no route for {path!r}", 404))
    transport, channel = found
    if transport.switchable and transport.label not in ctx.config.transports:
        # Before the method and the upgrade are looked at: a refused
        # WebSocket handshake is a failed upgrade to the browser (RFC 6455
        # section 4.1, a status other than 101), and its client falls back.
        what = f"the {transport.label} transport is disabled on this server"
        return Refusal(HTTPError(f"{what} (rawpush serve --transports)", 404))
    if method not in transport.methods:
        return _not_allowed(method, transport.methods)
    try:
        if transport.takes_channel:
            try:
                validate_channel(channel)
            except HubError as exc:
                raise HTTPError(str(exc), 400) from None
        if method == "OPTIONS":
            return _preflight(ctx, request, transport.methods)
        return transport.start(ctx, request, channel, security.caller(request, peer))
    except HTTPError as exc:
        return Refusal(exc)


def _preflight(ctx: Context, request: Request, methods: tuple[str, ...]) -> Reply:
    headers = cors(ctx, request)
    if headers is None:
        raise HTTPError("origin not allowed", 403)
    headers += [
        ("Access-Control-Allow-Methods", ", ".join(methods)),
        ("Access-Control-Allow-Headers", _PREFLIGHT_HEADERS),
        ("Access-Control-Max-Age", "600"),
    ]
    return Reply(204, headers)
