"""The one CORS rule for the push endpoints (Fetch standard, section 3.2).

SSE, long poll, publish and their preflights all ask ``cors_headers``:
given the request's ``Origin`` (None when it sent none) and the server's
allow-list (None: any origin), it returns the headers to add to the
response, or None when the origin is refused (the caller answers 403).

- No allow-list: ``Access-Control-Allow-Origin: *``. The response is the
  same for every origin, so caches need no ``Vary``.
- An allow-list and a listed origin (compared case-insensitively, as the
  scheme and host of an origin are): that origin, echoed, and ``Vary:
  Origin``.
- An allow-list and no ``Origin``: not a cross-origin request (browsers
  send ``Origin`` on every CORS request), so no grant; but ``Vary:
  Origin`` still, because the same URL answers a listed origin
  differently and a cache must not hand one answer to the other (section
  3.2.5, "CORS protocol and HTTP caches").
- An allow-list and an unlisted origin, ``null`` included unless it is
  listed: None.
"""

from __future__ import annotations

from collections.abc import Collection

from rawpush.proto.errors import LocalProtocolError

__all__ = ["cors_headers"]

_ANY = ("Access-Control-Allow-Origin", "*")
_VARY = ("Vary", "Origin")


def cors_headers(
    origin: str | None, allowed: Collection[str] | None
) -> list[tuple[str, str]] | None:
    """Response headers for ``origin`` under ``allowed``; None when refused.

    The list is new on every call: callers may extend it.
    """
    if allowed is None:
        return [_ANY]
    if isinstance(allowed, str):
        # A lone string is a collection of characters: a caller bug.
        raise LocalProtocolError("allowed origins must be a collection of str, not a str")
    if origin is None:
        return [_VARY]
    wanted = origin.lower()
    if any(candidate.lower() == wanted for candidate in allowed):
        return [("Access-Control-Allow-Origin", origin), _VARY]
    return None
