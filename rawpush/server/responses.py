"""The one CORS rule of the server, for SSE, long poll and publish."""

from __future__ import annotations

from rawpush.proto.http import Request
from rawpush.server.context import Context


def cors(ctx: Context, request: Request) -> list[tuple[str, str]] | None:
    """CORS headers for this request's Origin; None when it is not allowed.

    With ``allowed_origins`` unset every origin may read (``*``); set, only
    a listed origin gets headers naming it (Fetch standard, section 3.2).
    A request without Origin is not cross-origin, so it needs none.
    """
    allowed = ctx.config.allowed_origins
    if allowed is None:
        return [("Access-Control-Allow-Origin", "*")]
    origin = request.header("origin")
    if origin is None:
        return []
    if origin.lower() in {o.lower() for o in allowed}:
        return [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    return None
