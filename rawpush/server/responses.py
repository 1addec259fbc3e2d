"""Building responses: every status is counted in /metrics on its way out,
and CORS headers follow one rule for SSE, long poll and publish."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Headers, Request

if TYPE_CHECKING:
    from rawpush.server.protocol import HTTPProtocol

#: what a route hands back to the connection (see rawpush.server.routes)
Answer = bytes | tuple[Coroutine[Any, Any, bytes], bool] | None


def respond(proto: HTTPProtocol, status: int, headers: Headers = (), body: bytes = b"") -> bytes:
    proto.ctx.metrics.inc("rawpush_http_responses_total", (("status", str(status)),))
    return proto.http.respond(status, headers, body)


def error_response(proto: HTTPProtocol, error: HTTPError, *, close: bool | None = None) -> bytes:
    proto.ctx.metrics.inc("rawpush_http_responses_total", (("status", str(error.status)),))
    return proto.http.respond_error(error, close=close)


def cors(proto: HTTPProtocol, request: Request) -> list[tuple[str, str]] | None:
    """CORS headers for this request's Origin; None when it is not allowed.

    With ``allowed_origins`` unset every origin may read (``*``); set, only
    a listed origin gets headers naming it (Fetch standard, section 3.2).
    A request without Origin is not cross-origin, so it needs none.
    """
    allowed = proto.ctx.config.allowed_origins
    if allowed is None:
        return [("Access-Control-Allow-Origin", "*")]
    origin = request.header("origin")
    if origin is None:
        return []
    if origin.lower() in {o.lower() for o in allowed}:
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    return None
