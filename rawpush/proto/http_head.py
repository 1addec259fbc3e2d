"""The HTTP/1.1 message head, read through h11: the grammar and the size
limit that ``HTTPConnection`` and both WebSocket handshakes share.

- ``HeadReader`` is the one head-size limiter. h11 checks its
  ``max_incomplete_event_size`` only while a head is incomplete, so a big
  head that arrives in one read would pass where the same bytes cut in two
  would not. The reader feeds h11 at most ``limit + 1`` bytes of a head and
  measures the head in bytes as sent, so the answer (431 or not, RFC 6585
  section 5) depends on the bytes alone, never on how they were cut.
- ``is_token`` and ``comma_tokens``: RFC 9110 sections 5.6.2 and 5.6.1.
- ``valid_host``: the ``Host`` grammar (RFC 9110 section 7.2, RFC 3986
  section 3.2.2).
- ``decode_headers`` and ``remote_error``: h11's bytes and errors in the
  form the handshakes use.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

import h11

from rawpush.proto.errors import HandshakeError, LocalProtocolError

__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "TOKEN",
    "HeadReader",
    "comma_tokens",
    "decode_headers",
    "is_token",
    "remote_error",
    "valid_host",
]

#: The default bound on one message head: start line, fields, blank line.
DEFAULT_MAX_HEADER_BYTES = 16 * 1024

#: RFC 9110 section 5.6.2: token characters.
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# RFC 3986 section 3.2.2 (host) and 3.2.3 (port). IPv6 literals are
# checked again by ``ipaddress``; IPvFuture is taken on its grammar alone.
_HOST = re.compile(
    r"""
    (?: \[ (?P<ipv6> [0-9A-Fa-f:.]+ ) \]
      | \[ v[0-9A-Fa-f]+ \. [A-Za-z0-9\-._~!$&'()*+,;=:]+ \]
      | (?: [A-Za-z0-9\-._~!$&'()*+,;=] | %[0-9A-Fa-f]{2} )*
    )
    (?: : [0-9]* )?
    """,
    re.VERBOSE | re.ASCII,
)


def is_token(value: str) -> bool:
    """True when ``value`` is an RFC 9110 token."""
    return TOKEN.fullmatch(value) is not None


def comma_tokens(values: Sequence[str]) -> list[str]:
    """Elements of comma-separated header values; empty elements dropped (RFC 9110 5.6.1)."""
    out: list[str] = []
    for value in values:
        out.extend(part.strip(" \t") for part in value.split(","))
    return [part for part in out if part]


def valid_host(value: str) -> bool:
    """True when ``value`` is ``uri-host [ ":" port ]`` (RFC 9110 section 7.2).

    No userinfo (``user@host``), no path, no whitespace, brackets only
    around a whole IP literal. An empty value passes the grammar; whether
    one is acceptable is the caller's rule (HTTP/1.1 requires a host).
    """
    match = _HOST.fullmatch(value)
    if match is None:
        return False
    literal = match["ipv6"]
    if literal is None:
        return True
    try:
        ipaddress.IPv6Address(literal)
    except ValueError:
        return False
    return True


def decode_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """h11's byte headers as ``str`` pairs (latin-1: every byte maps to one char)."""
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


def remote_error(exc: h11.RemoteProtocolError, status: int | None = None) -> HandshakeError:
    """h11's parse error as a ``HandshakeError`` with h11's status hint."""
    return HandshakeError(f"malformed HTTP: {exc}", status or exc.error_status_hint)


def _too_large(limit: int) -> h11.RemoteProtocolError:
    # The same error h11 raises for an oversize incomplete head, so callers
    # translate both the same way.
    return h11.RemoteProtocolError(f"message head longer than {limit} bytes", 431)


class HeadReader:
    """Feeds an h11 connection so that each message head is measured in bytes.

    ``add`` bytes and ``add_eof`` as they come; ``next_event`` returns
    h11's next event (None when more bytes are needed, or h11 paused) and
    raises h11's ``RemoteProtocolError``, with status hint 431 once a head
    is incomplete after ``limit`` bytes. When a head event arrives, call
    ``end_head``: it returns the head's size (more than ``limit`` means
    431) and lets the bytes that follow through unmeasured (a body, or the
    next protocol's bytes after a 101). ``next_head`` starts measuring
    again, for the next request of a keep-alive connection.

    Before a head, at most ``limit + 1`` bytes are given to h11, so a head
    is judged on the same bytes whatever the reads were. On a server
    connection, one empty line before a request line is skipped (RFC 9112
    section 2.2); it counts towards the limit.
    """

    __slots__ = (
        "_buffered",
        "_conn",
        "_eof_sent",
        "_head_done",
        "_limit",
        "_pending",
        "_skip_empty",
        "eof",
    )

    def __init__(self, conn: h11.Connection, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise LocalProtocolError(f"the head limit must be a positive int, not {limit!r}")
        self._conn = conn
        self._limit = limit
        self._pending = bytearray()
        self._skip_empty = conn.our_role is h11.SERVER
        self._buffered = 0  # bytes of this head taken in: skipped or given to h11
        self._head_done = False
        self.eof = False
        self._eof_sent = False

    @property
    def pending(self) -> bytes:
        """Bytes received and not yet given to h11 (they wait for a head)."""
        return bytes(self._pending)

    def add(self, data: bytes) -> None:
        """Take bytes from the peer."""
        if self._head_done:
            self._conn.receive_data(data)
        else:
            self._pending += data

    def add_eof(self) -> None:
        """The peer closed; h11 is told once every pending byte is in."""
        self.eof = True

    def next_event(self) -> h11.Event | None:
        """The next h11 event, None when more bytes are needed; raises h11's errors."""
        conn = self._conn
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Event):
                return event
            if event is h11.PAUSED:
                return None
            if not self._head_done and self._feed_head():
                continue
            if self._pending:
                return None  # a lone CR, perhaps the start of an empty line
            if self.eof and not self._eof_sent:
                self._eof_sent = True
                conn.receive_data(b"")
                continue
            return None

    def _feed_head(self) -> bool:
        # h11 needs more of a head; True when it was given some.
        pending = self._pending
        if self._skip_empty and not self._buffered:
            # RFC 9112 section 2.2: one empty line before a request line is
            # ignored (CRLF, or the bare LF that section lets us accept). A
            # second one is h11's "no request line" (400), so a stream of
            # empty lines is refused rather than read forever.
            skip = 2 if pending[:2] == b"\r\n" else 1 if pending[:1] == b"\n" else 0
            if pending == b"\r" and not self.eof:
                return False  # perhaps the start of that empty line
            del pending[:skip]
            self._buffered = skip
        if self._buffered > self._limit:
            raise _too_large(self._limit)
        if pending:
            # At most limit + 1 bytes: enough to know the head is too long.
            size = min(len(pending), self._limit + 1 - self._buffered)
            chunk = bytes(pending[:size])
            del pending[:size]
            self._buffered += size
            self._conn.receive_data(chunk)
            return True
        return False

    def end_head(self) -> int:
        """Mark the head as read; return its size in bytes and stop limiting."""
        size = self._buffered - len(self._conn.trailing_data[0])
        self._head_done = True
        # EOF cannot be pending here: it is only fed once _pending is empty.
        if self._pending:
            self._conn.receive_data(bytes(self._pending))
            self._pending.clear()
        return size

    def next_head(self, conn: h11.Connection | None = None) -> None:
        """Measure the next head from here on; bytes that arrive wait for it.

        With ``conn``, continue on that fresh h11 connection: the bytes the
        old one holds unconsumed (a pipelined request) go first, measured
        and stripped of leading empty lines like any other head.
        """
        if conn is not None:
            self._pending[:0] = self._conn.trailing_data[0]
            self._conn = conn
            self._skip_empty = conn.our_role is h11.SERVER
            self._eof_sent = False
        self._buffered = 0
        self._head_done = False
