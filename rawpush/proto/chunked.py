"""HTTP/1.1 chunked transfer coding, for bodies encoded once and written
to many connections (RFC 9112 section 7.1).

``HTTPConnection.stream_chunk`` frames one body for one connection through
h11. A server that sends the same event to thousands of event streams
frames it once with ``chunk`` and shares the bytes; what it builds is
exactly what h11 would, and h11 keeps no state about chunk sizes, so
skipping it loses nothing. ``LAST_CHUNK`` ends such a body.
"""

from __future__ import annotations

from rawpush.proto.errors import LocalProtocolError

__all__ = ["LAST_CHUNK", "chunk"]

#: the last chunk with no trailer fields: the end of a chunked body
LAST_CHUNK = b"0\r\n\r\n"


def chunk(data: bytes) -> bytes:
    """One chunk carrying ``data``: its size in hex, CRLF, data, CRLF.

    ``data`` must not be empty: a zero-size chunk is the last chunk.
    """
    if not data:
        raise LocalProtocolError("an empty chunk would end the body")
    return b"%x\r\n%b\r\n" % (len(data), data)
