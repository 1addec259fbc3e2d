"""The server's CORS answer, for SSE, long poll and publish: the one rule
of ``rawpush.proto.cors`` applied to the configured allow-list."""

from __future__ import annotations

from rawpush.proto.cors import cors_headers
from rawpush.proto.http import Request
from rawpush.server.context import Context


def cors(ctx: Context, request: Request) -> list[tuple[str, str]] | None:
    """CORS headers for this request's Origin; None when it is not allowed."""
    return cors_headers(request.header("origin"), ctx.config.allowed_origins)
