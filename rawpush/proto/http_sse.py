"""HTTP-side helpers for Server-Sent Events responses.

The event-stream format itself lives in ``rawpush.proto.sse``; this module
only knows the response headers and where a reconnecting client puts the
id it wants to resume from.
"""

from __future__ import annotations

from collections.abc import Iterable

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http import Request

__all__ = ["SSE_CONTENT_TYPE", "cors_headers", "resume_id", "sse_headers"]

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"

# Headers that would make an intermediary or the client wait for the end of
# a body that never ends: a fixed length, or an encoding that compresses
# (and so buffers) the stream.
_BREAKS_STREAMING = frozenset({"content-length", "content-encoding", "content-type"})


def sse_headers(extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Response headers for an event stream, plus ``extra``.

    ``no-cache`` keeps caches from replaying a stale stream; ``X-Accel-
    Buffering: no`` asks nginx-style proxies not to buffer it (the events
    would otherwise arrive in bursts). ``extra`` may not override the
    content type or set a length or content coding.
    """
    headers = [
        ("Content-Type", SSE_CONTENT_TYPE),
        ("Cache-Control", "no-cache"),
        ("X-Accel-Buffering", "no"),
    ]
    for name, value in extra:
        if name.lower() in _BREAKS_STREAMING:
            raise LocalProtocolError(f"{name} would break an event stream")
        headers.append((name, value))
    return headers


def resume_id(request: Request) -> str | None:
    """The event id a reconnecting client wants to resume after, or None.

    The ``Last-Event-ID`` header (what EventSource sends, WHATWG HTML
    9.2.3) wins; clients that cannot set headers use ``?lastEventId=``.
    An empty value counts as absent, as it does for EventSource, so an
    empty header falls through to the query. An id with NUL, CR or LF
    could never have been sent by us (9.2.6 ignores such ids), so it is
    refused with 400.
    """
    value = request.header("last-event-id")
    if value:
        try:
            # EventSource sends the id UTF-8 encoded; Request decoded the
            # octets as latin-1, so undo that.
            value = value.encode("latin-1").decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPError("Last-Event-ID is not valid UTF-8", 400) from None
    else:
        value = request.query.get("lastEventId")
    if not value:
        return None
    if "\x00" in value or "\r" in value or "\n" in value:
        raise HTTPError("last event id contains NUL, CR or LF", 400)
    return value


def cors_headers(origin: str = "*") -> list[tuple[str, str]]:
    """Headers letting pages from ``origin`` read push responses (CORS).

    With a specific origin the response varies by ``Origin``, so caches
    must key on it (Fetch standard, section 3.2.5).
    """
    headers = [("Access-Control-Allow-Origin", origin)]
    if origin != "*":
        headers.append(("Vary", "Origin"))
    return headers
