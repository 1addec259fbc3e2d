"""Which request goes where, and the short answers (DESIGN.md "Contracts").

``dispatch`` returns what the connection should do next:

- ``bytes``: a complete response to write (keep-alive continues);
- ``(coroutine, cancel_on_eof)``: an answer that needs the hub (publish,
  long poll); the connection writes its result when it completes, and
  cancels it if the client goes away and ``cancel_on_eof`` is set;
- ``None``: a session (WebSocket, SSE) took the connection over.

Choices where the design is silent: ``HEAD`` is answered for ``/``,
``/healthz``, ``/metrics`` and ``/sse/…`` (headers only, no subscription);
a channel name the hub refuses is 400 whatever the method; a wrong method
is 405 with ``Allow`` (RFC 9110 section 15.5.6); a preflight from an origin
outside ``allowed_origins`` is 403.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from rawpush.hub import HubError, validate_channel
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request
from rawpush.server import poll, sse_session, ws_session
from rawpush.server.responses import Answer, cors, error_response, respond

if TYPE_CHECKING:
    from rawpush.server.protocol import HTTPProtocol

_PREFIXES = ("/ws/", "/sse/", "/poll/", "/publish/")
_ALLOW = {
    "/": "GET, HEAD",
    "/healthz": "GET, HEAD",
    "/metrics": "GET, HEAD",
    "/ws/": "GET",
    "/sse/": "GET, HEAD, OPTIONS",
    "/poll/": "GET, OPTIONS",
    "/publish/": "POST, OPTIONS",
}
_METRICS_TYPE = ("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
_HTML_TYPE = ("Content-Type", "text/html; charset=utf-8")
_NO_STORE = ("Cache-Control", "no-store")
# What a cross-origin page may send: Authorization for publish tokens,
# Last-Event-ID for SSE resume, Content-Type for a text/plain publish.
_PREFLIGHT_HEADERS = "Authorization, Content-Type, Last-Event-ID"


def _route(path: str) -> tuple[str, str | None] | None:
    if path in ("/", "/healthz", "/metrics"):
        return path, None
    for prefix in _PREFIXES:
        if path.startswith(prefix):
            return prefix, path[len(prefix) :]
    return None


def dispatch(proto: HTTPProtocol, request: Request) -> Answer:
    route = _route(request.path)
    if route is None:
        return error_response(proto, HTTPError(f"no route for {request.path!r}", 404))
    prefix, channel = route
    allow = _ALLOW[prefix]
    method = request.method
    if method not in allow.split(", "):
        return error_response(
            proto, HTTPError(f"{method} not allowed here", 405, (("Allow", allow),))
        )
    if channel is not None:
        try:
            validate_channel(channel)
        except HubError as exc:
            return error_response(proto, HTTPError(str(exc), 400))
    try:
        return _handle(proto, request, prefix, channel or "")
    except HTTPError as exc:
        return error_response(proto, exc)


def _handle(proto: HTTPProtocol, request: Request, prefix: str, channel: str) -> Answer:
    if request.method == "OPTIONS":
        return _preflight(proto, request, _ALLOW[prefix])
    if prefix == "/ws/":
        return ws_session.start(proto, request, channel)
    if prefix == "/sse/":
        return sse_session.start(proto, request, channel)
    if prefix == "/poll/":
        return poll.start(proto, request, channel)
    if prefix == "/publish/":
        return _publish(proto, request, channel), False
    ctx = proto.ctx
    if prefix == "/":
        return respond(proto, 200, [_HTML_TYPE], ctx.index_html)
    if prefix == "/healthz":
        if ctx.draining:
            return respond(proto, 503, [_NO_STORE], b"draining\n")
        return respond(proto, 200, [_NO_STORE], b"ok\n")
    text = ctx.metrics.render().encode("utf-8")
    return respond(proto, 200, [_METRICS_TYPE, _NO_STORE], text)


def _preflight(proto: HTTPProtocol, request: Request, allow: str) -> bytes:
    headers = cors(proto, request)
    if headers is None:
        raise HTTPError("origin not allowed", 403)
    headers += [
        ("Access-Control-Allow-Methods", allow),
        ("Access-Control-Allow-Headers", _PREFLIGHT_HEADERS),
        ("Access-Control-Max-Age", "600"),
    ]
    return respond(proto, 204, headers)


def check_token(proto: HTTPProtocol, request: Request) -> None:
    token = proto.ctx.config.publish_token
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


async def _publish(proto: HTTPProtocol, request: Request, channel: str) -> bytes:
    try:
        cors_headers = cors(proto, request)
        if cors_headers is None:
            raise HTTPError("origin not allowed", 403)
        check_token(proto, request)
        try:
            data = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError("body is not UTF-8", 400) from None
        try:
            # Awaits every local listener under the block policy: a full
            # subscriber slows this publisher, by design.
            item = await proto.ctx.hub.publish(channel, data, request.query.get("event"))
        except HubError as exc:
            # 400 for a bad event name, 503 when the hub or backplane refuses.
            raise HTTPError(str(exc), exc.status) from None
        except OSError as exc:  # TimeoutError included
            # A backplane that cannot reach its store (Redis down): the
            # event was not accepted, and the client may retry.
            raise HTTPError(f"backplane unavailable: {exc}", 503) from None
    except HTTPError as exc:
        return error_response(proto, exc)
    metrics = proto.ctx.metrics
    metrics.inc("rawpush_published_total")
    metrics.inc("rawpush_messages_in_total", (("transport", "http"),))
    body = b'{"id":"%b"}' % item.id.encode("ascii")
    headers = [("Content-Type", "application/json"), _NO_STORE, *cors_headers]
    return respond(proto, 200, headers, body)
