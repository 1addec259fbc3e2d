"""``request`` over HTTP/2: the same call and the same ``Response`` surface
as ``rawpush.client.http``, so the SSE and long-poll clients, ``rawpush
tail`` and ``rawpush publish`` switch with a flag.

How the connection starts (RFC 9113 section 3): over TLS the client
offers ALPN ``h2`` only (section 3.2) and fails with ``HTTP2Unavailable``
when the server picks nothing; over cleartext it sends the connection
preface straight away ("prior knowledge", section 3.3), and a server that
answers in HTTP/1.1 fails the same way. There is no fallback: asking for
HTTP/2 and silently getting HTTP/1.1 would hide exactly what the caller
meant to find out (say, whether a browser will get past the six
connections per origin).

One connection per request, as the HTTP/1.1 client does: push clients
make few, long requests. The protocol is ``rawpush.client.h2_conn``
(sans I/O); this module only moves bytes. Reading is pulled by the
caller: bytes are read (and PINGs answered, credit given back) while
``read_chunk`` waits, which is all the time for an event stream.

Every failure is an ``OSError``, as in ``rawpush.client.http``: a reset
stream, a GOAWAY or a protocol error is an ``H2ConnectionError`` (a
``ConnectionError``), a silence a ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections import deque
from collections.abc import Iterable

from rawpush.client.h2_conn import (
    Body,
    End,
    H2ClientConnection,
    H2ConnectionError,
    Head,
    HTTP2Unavailable,
)
from rawpush.client.http import (
    URL,
    USER_AGENT,
    BaseResponse,
    SSLArg,
    closing_on_failure,
    open_stream,
    tls_context,
)

__all__ = ["H2ConnectionError", "H2Response", "HTTP2Unavailable", "h2_context", "request"]

_READ_SIZE = 64 * 1024
#: ALPN protocol id of HTTP/2 over TLS (RFC 9113 section 3.2)
ALPN_H2 = "h2"


def h2_context(ssl: SSLArg) -> _ssl.SSLContext:
    """The TLS context for an https:// request over HTTP/2: ``ssl`` as the
    HTTP/1.1 client reads it, offering ALPN ``h2`` alone. A context passed
    in is changed in place (its ALPN list): do not share it with an
    HTTP/1.1 client, which would then be offered h2 it cannot speak."""
    context = tls_context(ssl)
    context.set_alpn_protocols([ALPN_H2])
    return context


class H2Response(BaseResponse):
    """A response head, and its body still on the wire (the
    ``rawpush.client.http.Response`` surface)."""

    def __init__(
        self,
        url: URL,
        head: Head,
        conn: H2ClientConnection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        pending: Iterable[Body | End] = (),
    ) -> None:
        super().__init__(url, writer)
        self.status = head.status
        self.reason = ""  # HTTP/2 carries no reason phrase (RFC 9113 section 8.3.2)
        self.headers = list(head.headers)
        self._conn = conn
        self._reader = reader
        self._pending: deque[Body | End] = deque(pending)

    async def read_chunk(self, timeout: float | None = None) -> bytes:
        """The next piece of the body; ``b""`` once it is complete.
        ``TimeoutError`` after ``timeout`` seconds of silence,
        ``ConnectionError`` when the stream or connection fails first."""
        while not self._done:
            if not self._pending:
                events = await self._wait(_pump(self._conn, self._reader, self._writer), timeout)
                self._pending.extend(e for e in events if not isinstance(e, Head))
                continue
            item = self._pending.popleft()
            if isinstance(item, End):
                self.close()
                break
            # Credit goes back when the caller takes the data, not when it
            # arrives: a slow reader slows the server (RFC 9113 section 6.9).
            self._conn.consumed(item.flow)
            _flush(self._conn, self._writer)
            if item.data:
                return item.data
        return b""


def _flush(conn: H2ClientConnection, writer: asyncio.StreamWriter) -> None:
    """Write what the connection has to send, unless the socket is going."""
    out = conn.data_to_send()
    if out and not writer.is_closing():
        writer.write(out)


async def _pump(
    conn: H2ClientConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> list[Head | Body | End]:
    """Read once, feed it in, write what that produced (acks, PING answers,
    SETTINGS acks, request body the window now lets through)."""
    data = await reader.read(_READ_SIZE)
    try:
        if data:
            events = conn.receive_data(data)
        else:
            conn.receive_eof()
            events = []
    finally:
        _flush(conn, writer)  # a GOAWAY of ours after an error, too
    return events


async def request(
    method: str,
    url: URL,
    *,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    ssl: SSLArg = None,
    timeout: float | None = None,
) -> H2Response:
    """Connect, send one request over HTTP/2 and return once the response
    head is in (``rawpush.client.http.request``, the same arguments).

    ``HTTP2Unavailable`` when the server does not speak HTTP/2 there;
    ``ValueError`` when the request cannot be sent (a bad header)."""
    context = h2_context(ssl) if url.secure else None
    reader, writer = await open_stream(url, context, timeout)
    with closing_on_failure(url, writer, timeout):
        if context is not None:
            tls = writer.get_extra_info("ssl_object")
            chosen = tls.selected_alpn_protocol() if tls is not None else None
            if chosen != ALPN_H2:
                raise HTTP2Unavailable(
                    f"{url.authority} did not negotiate HTTP/2 (ALPN {ALPN_H2!r}) over TLS"
                )
        conn = H2ClientConnection(url.authority)
        sent = [("user-agent", USER_AGENT), *headers]
        with_body = bool(body) or method not in ("GET", "HEAD")
        if with_body:
            sent.append(("content-length", str(len(body))))
        conn.send_request(method, url.scheme, url.target, sent, body if with_body else None)
        writer.write(conn.data_to_send())
        async with asyncio.timeout(timeout):
            head, rest = await _read_head(conn, reader, writer)
    return H2Response(url, head, conn, reader, writer, pending=rest)


async def _read_head(
    conn: H2ClientConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[Head, list[Body | End]]:
    while True:
        events = await _pump(conn, reader, writer)
        for at, event in enumerate(events):
            if isinstance(event, Head):
                rest = [e for e in events[at + 1 :] if not isinstance(e, Head)]
                return event, rest
        if conn.ended:  # pragma: no cover - h2 refuses a stream ending with no head
            raise H2ConnectionError("the stream ended without a response")
