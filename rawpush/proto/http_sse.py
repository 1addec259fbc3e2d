"""HTTP-side helpers for Server-Sent Events responses.

The event-stream format itself lives in ``rawpush.proto.sse``; this module
only knows the response headers and where a reconnecting client puts the
id it wants to resume from. CORS headers come from ``rawpush.proto.cors``.

``HEAD /sse/...`` gets the head a GET would get and no body (RFC 9110
section 9.3.2): ``HTTPConnection.start_stream(200, sse_headers(...))``
followed at once by ``end_stream()``, which writes no ``Content-Length:
0`` (a GET stream has no length, section 8.6) and leaves keep-alive as a
GET would.
"""

from __future__ import annotations

from collections.abc import Iterable

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http import Request

__all__ = ["SSE_CONTENT_TYPE", "resume_id", "sse_headers"]

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
    empty header falls through to the query. The header names one id, so
    it is not a list (RFC 9110 section 5.3): repeated with the same value
    it is that value (a proxy may have added a copy), with different
    values it is ambiguous and refused with 400. An id with NUL, CR or LF
    could never have been sent by us (9.2.6 ignores such ids), so it is
    refused with 400.
    """
    values = {v for name, v in request.headers if name == "last-event-id"}
    if len(values) > 1:
        raise HTTPError("Last-Event-ID given more than once, with different values", 400)
    value = values.pop() if values else None
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
