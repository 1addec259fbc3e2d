"""Sans-IO HTTP/1.1 for the server's routes, on h11.

``HTTPConnection`` is a thin server-side wrapper around ``h11.Connection``:
the I/O layer feeds it bytes as they arrive, asks for complete requests,
and writes the bytes each response method returns. It owns no socket and
no clock, and adds what the routes need on top of h11:

- complete requests (head and body) with the target already split into
  a path, as sent (never percent-decoded: see ``Request``), and a query;
- limits, each answered with the right status and decided by the bytes,
  never by how they were cut: 414 for an oversize request-target, 431 for
  an oversize head (measured by ``HeadReader``, shared with the WebSocket
  handshakes), 413 for an oversize body (never buffered past the limit),
  505 for an HTTP major version other than 1, h11's hint (400, 501) for
  the rest;
- stricter requests than h11 alone: a ``Host`` that is not ``host[:port]``
  or is empty over HTTP/1.1 is 400 (RFC 9112 section 3.2); so is a request
  with both ``Content-Length`` and ``Transfer-Encoding`` (section 6.1: a
  smuggling vector), and the connection is closed after the answer;
- one empty line before a request line is ignored (section 2.2), also
  between pipelined requests;
- exceptions of rawpush's own hierarchy only: the receive path raises
  ``HTTPError`` (the reply it implies), the send path ``LocalProtocolError``.

Driving it (one connection; ``route`` stands for the application)::

    def data_received(self, chunk):        # or eof_received: receive_eof()
        conn.receive_data(chunk)
        try:
            while (request := conn.next_request()) is not None:
                transport.write(route(request))  # respond() etc.
                if conn.should_close:
                    transport.close()
                    return
        except HTTPError as exc:
            transport.write(conn.respond_error(exc))
            transport.close()
            return
        transport.write(conn.data_to_send())  # a 100 Continue, if one is due

Keep-alive cycles start by themselves: once the response is complete,
the next ``next_request()`` call moves h11 to the next cycle and serves a
pipelined request that is already buffered, in order (RFC 9112 section
9.3.2). An I/O layer should stop reading while a request is being
answered, since bytes of a later request are buffered until then.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import h11

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http_head import HeadReader, valid_host
from rawpush.proto.http_request import HTTPConfig, Request, json_bytes, split_target

# Request, HTTPConfig and json_bytes live in http_request; re-exported here.
__all__ = ["HTTPConfig", "HTTPConnection", "Headers", "Request", "json_bytes"]

Headers = Sequence[tuple[str, str]]

_JSON_TYPE = ("Content-Type", "application/json")
# The framing headers respond() computes itself; a caller's copy would
# either be redundant or contradict the body (RFC 9112 section 6.3).
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})
# The registered reason phrase of every status (RFC 9110 section 15); a
# status outside the registry gets none, which RFC 9112 section 4 allows.
_PHRASES = {int(s): s.phrase.encode("ascii") for s in HTTPStatus}
# States in which the server may still begin a response (h11 allows an
# error response from IDLE after the request head failed to parse).
_CAN_RESPOND = (h11.IDLE, h11.SEND_RESPONSE)
# h11 imports MIGHT_SWITCH_PROTOCOL at top level but leaves it out of __all__.
_REQUEST_COMPLETE = (h11.DONE, h11.MUST_CLOSE, h11.MIGHT_SWITCH_PROTOCOL)  # type: ignore[attr-defined]
# The request-target of a request line that may be cut short: after the
# method and its one SP, up to the next SP or line end (RFC 9112 section 3).
_TARGET = re.compile(rb"[^ \r\n]* ([^ \r\n]*)")


def _check_bytes(data: object) -> None:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise LocalProtocolError(f"a body is bytes, not {type(data).__name__}")


def _final(status: int) -> None:
    if isinstance(status, bool) or not isinstance(status, int):
        raise LocalProtocolError(f"status must be an int, not {status!r}")
    if status < 200:
        # Interim responses have their own methods: only 100 (sent by
        # next_request) and 101 (switch_protocols) make sense here.
        raise LocalProtocolError(f"{status} is not a final status")


class HTTPConnection:
    """The server side of one HTTP/1.x connection, sans-IO.

    After ``next_request()`` raised ``HTTPError`` the connection is dead:
    answer with ``respond_error()`` (it closes the connection) and close;
    later ``receive_data``, ``receive_eof`` and ``next_request`` calls
    raise ``LocalProtocolError``.
    """

    def __init__(self, config: HTTPConfig | None = None) -> None:
        self.config = config if config is not None else HTTPConfig()
        self._h11 = self._new_h11()
        self._reader = HeadReader(self._h11, self.config.max_header_bytes)
        self._head: h11.Request | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._failed = False
        self._eof = False
        self._out = bytearray()
        # The method being answered: HEAD responses carry no body.
        self._method: bytes | None = None

    def _new_h11(self) -> h11.Connection:
        # h11's own incomplete-event limit still bounds a chunk-size line or
        # trailer section in a body; HeadReader bounds the head.
        return h11.Connection(h11.SERVER, max_incomplete_event_size=self.config.max_header_bytes)

    # -- receiving ---------------------------------------------------------

    def _check_alive(self) -> None:
        if self._failed:
            raise LocalProtocolError("the connection failed; answer it and close it")

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer (parsed by ``next_request``)."""
        self._check_alive()
        if self._eof:
            raise LocalProtocolError("receive_data() after receive_eof()")
        if data:
            self._reader.add(data)

    def receive_eof(self) -> None:
        """The peer closed its sending side (calling it again is harmless)."""
        self._check_alive()
        if not self._eof:
            self._eof = True
            self._reader.add_eof()

    def next_request(self) -> Request | None:
        """The next complete request, or None when there is none yet.

        None means more bytes are needed, the current request has not been
        answered yet, the peer closed, or the connection is to be closed.
        Raises ``HTTPError`` for a request we refuse.
        """
        self._check_alive()
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self.start_next_cycle()
        if self.should_close:
            return None
        reader = self._reader
        while True:
            try:
                event = reader.next_event()
            except h11.RemoteProtocolError as exc:
                raise self._fail(self._status_for(exc), str(exc)) from exc
            if event is None:
                if self._head is not None and self._h11.they_are_waiting_for_100_continue:
                    # RFC 9110 section 10.1.1: the client holds the body back
                    # until we say we want it.
                    self._out += self._send_head(100, [])
                return None
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                # Before the checks: h11 has taken the method in, and an error
                # response to HEAD must leave its body out as well.
                self._method = event.method
                self._check_head(event, reader.end_head())
                self._head = event
            elif isinstance(event, h11.Data):
                self._body_size += len(event.data)
                if self._body_size > self.config.max_body_bytes:
                    raise self._fail(413, "request body too large")
                self._body.append(event.data)
            elif isinstance(event, h11.EndOfMessage):  # pragma: no branch
                return self._complete()

    def _status_for(self, exc: h11.RemoteProtocolError) -> int:
        status = exc.error_status_hint
        if status == 431:
            if self._head is not None:
                # h11 only knows "the incomplete event is too big"; once the
                # head is in, that event is a chunk-size line or trailer
                # section, which is a malformed body, not an oversize head.
                return 400
            # The head is over the limit and unfinished. h11 holds its first
            # max_header_bytes + 1 bytes (HeadReader gives it no more, less
            # a skipped empty line): the target is judged on those, as it is
            # for a complete head, so the answer does not depend on the cuts.
            match = _TARGET.match(self._h11.trailing_data[0])
            if match is not None and len(match[1]) > self.config.max_target_bytes:
                return 414
        return status

    def _fail(self, status: int, message: str) -> HTTPError:
        self._failed = True
        self._head = None
        self._body.clear()
        return HTTPError(message, status)

    def _check_head(self, event: h11.Request, size: int) -> None:
        config = self.config
        if len(event.target) > config.max_target_bytes:
            # RFC 9112 section 3 / RFC 9110 section 15.5.15; judged before
            # the head size, as for an unfinished head (_status_for).
            raise self._fail(414, "request-target too long")
        if size > config.max_header_bytes:
            # RFC 6585 section 5; size as sent, from HeadReader.
            raise self._fail(431, "request header fields too large")
        version = event.http_version
        if version.split(b".", 1)[0] != b"1":
            # RFC 9110 section 15.6.6; h11 parses any HTTP/d.d.
            raise self._fail(505, "HTTP version not supported")
        if event.method == b"CONNECT":
            # A tunnel is not something a push server offers, and answering
            # CONNECT with a 2xx would switch h11 to a tunnel (section 9.3.6).
            raise self._fail(501, "CONNECT is not supported")
        length: bytes | None = None
        chunked = False
        host: bytes | None = None
        for name, value in event.headers:
            if name == b"content-length":
                length = value  # h11 checked it is 1*DIGIT and consistent
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"host":
                host = value  # h11 refuses a second one (400)
        if length is not None and chunked:
            # RFC 9112 section 6.1: the two framings disagree about where the
            # body ends (request smuggling); refuse, and close afterwards.
            raise self._fail(400, "both Content-Length and Transfer-Encoding")
        if length is not None and int(length) > config.max_body_bytes:
            raise self._fail(413, "request body too large")
        # RFC 9112 section 3.2: 400 for an invalid Host; one is required
        # (and so may not be empty) from HTTP/1.1 on. h11 requires it for
        # exactly 1.1; a later 1.x minor version needs it as well.
        if host is None:
            if version != b"1.0":
                raise self._fail(400, "Host header missing")
        elif not valid_host(host.decode("latin-1")) or (not host and version != b"1.0"):
            raise self._fail(400, f"invalid Host header {host!r}")

    def _complete(self) -> Request:
        head = self._head
        assert head is not None
        body = b"".join(self._body)
        self._head = None
        self._body.clear()
        self._body_size = 0
        # The message is complete: bytes from here on wait for the next head.
        self._reader.next_head()
        target = head.target.decode("latin-1")
        try:
            path, query = split_target(target, self.config.max_query_fields)
        except HTTPError as exc:
            raise self._fail(exc.status, str(exc)) from exc
        version = head.http_version.decode("ascii")
        headers = tuple(
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers
        )
        connection = {
            token.strip().lower()
            for name, value in headers
            if name == "connection"
            for token in value.split(",")
        }
        return Request(
            method=head.method.decode("ascii"),
            target=target,
            path=path,
            query=query,
            headers=headers,
            http_version=version,
            body=body,
            # h11's rule: HTTP/1.0 never keeps alive, 1.1 unless "close".
            keep_alive=version != "1.0" and "close" not in connection,
        )

    # -- state ----------------------------------------------------------------

    @property
    def should_close(self) -> bool:
        """True once no further request will be read on this connection.

        The I/O layer closes the transport after writing the bytes of the
        response in progress (at once if none is in progress). False while
        a keep-alive cycle can continue and after a protocol switch (the
        next protocol owns the connection then).
        """
        conn = self._h11
        return (
            self._failed
            or conn.our_state in (h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)
            or conn.their_state in (h11.MUST_CLOSE, h11.CLOSED, h11.ERROR)
        )

    @property
    def switched(self) -> bool:
        """True after ``switch_protocols()``: the bytes now belong to
        another protocol, starting with ``trailing_data``."""
        return self._h11.our_state is h11.SWITCHED_PROTOCOL

    @property
    def trailing_data(self) -> bytes:
        """Bytes received but not consumed as HTTP: after a 101 these are
        the first bytes of the next protocol (RFC 9110 section 7.8)."""
        return bytes(self._h11.trailing_data[0]) + self._reader.pending

    def start_next_cycle(self) -> None:
        """Reset for the next request after a complete keep-alive exchange.

        ``next_request()`` does this itself; calling it explicitly is only
        needed to observe the reset. Raises ``LocalProtocolError`` when the
        exchange is not complete or the connection must close.
        """
        try:
            self._h11.start_next_cycle()
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from exc
        self._method = None
        if self._h11.trailing_data[0]:
            # A pipelined request already sits in h11's buffer, unmeasured
            # and perhaps behind an empty line: a fresh h11 reads it through
            # HeadReader exactly as if it arrived now.
            conn = self._new_h11()
            self._reader.next_head(conn)
            self._h11 = conn

    def data_to_send(self) -> bytes:
        """Bytes the connection produced by itself (a 100 Continue)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    # -- sending ----------------------------------------------------------------

    def _send(self, event: h11.Event) -> bytes:
        try:
            return self._h11.send(event) or b""
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from exc

    def _send_head(self, status: int, fields: list[tuple[bytes, bytes]]) -> bytes:
        # h11 validates the status and header syntax when the event is built,
        # so building it belongs inside the translation to our own error.
        # RFC 9112 section 4: the reason phrase is for humans and a client
        # ignores it, but an empty one ("HTTP/1.1 404 ") reads as broken
        # in curl -v, proxies' logs and packet captures.
        reason = _PHRASES.get(status, b"")
        try:
            head: h11.Event = (
                h11.InformationalResponse(status_code=status, headers=fields, reason=reason)
                if status < 200
                else h11.Response(status_code=status, headers=fields, reason=reason)
            )
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from exc
        return self._send(head)

    def _encode(self, headers: Headers) -> list[tuple[bytes, bytes]]:
        try:
            return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(f"header not encodable as latin-1: {exc}") from exc
        except (AttributeError, TypeError, ValueError) as exc:
            raise LocalProtocolError(f"headers must be (str, str) pairs: {exc}") from exc

    def respond(self, status: int, headers: Headers = (), body: bytes = b"") -> bytes:
        """A complete response with ``Content-Length``; the bytes to write.

        The body is left out for HEAD (RFC 9110 section 9.3.2), and 204 or
        304 responses carry neither body nor ``Content-Length`` (8.6).
        """
        _final(status)
        _check_bytes(body)
        fields = self._encode(headers)
        if any(name.lower() in _FRAMING for name, _ in fields):
            raise LocalProtocolError("respond() sets the framing headers itself")
        if status in (204, 304):
            if body:
                raise LocalProtocolError(f"a {status} response has no body")
        else:
            fields.append((b"content-length", str(len(body)).encode("ascii")))
        out = self._send_head(status, fields)
        if body and self._method != b"HEAD":
            out += self._send(h11.Data(data=body))
        return out + self._send(h11.EndOfMessage())

    def respond_json(self, status: int, obj: Any, headers: Headers = ()) -> bytes:
        """``respond()`` with a compact UTF-8 JSON body."""
        return self.respond(status, [_JSON_TYPE, *headers], json_bytes(obj))

    def respond_error(self, error: HTTPError, *, close: bool | None = None) -> bytes:
        """The reply ``error`` implies: its status and headers, and a JSON
        body ``{"error": message}``.

        ``close`` defaults to whether the connection can be trusted: True
        after ``next_request()`` raised, or when the request body was not
        read to its end (so its bytes cannot be told from the next
        request's); False for an error about a complete request (a bad
        query parameter, say), which leaves keep-alive intact.
        """
        if self._h11.our_state not in _CAN_RESPOND:
            raise LocalProtocolError("a response was already started; close the connection")
        if close is None:
            close = self._failed or self._h11.their_state not in _REQUEST_COMPLETE
        headers = [_JSON_TYPE, *error.headers]
        if close:
            # RFC 9112 section 9.6: announce the close in the response (h11
            # then moves to MUST_CLOSE, so should_close turns True).
            headers.append(("Connection", "close"))
        message = error.args[0] if error.args else error.__class__.__name__
        return self.respond(error.status, headers, json_bytes({"error": str(message)}))

    def start_stream(self, status: int, headers: Headers = ()) -> bytes:
        """The head of a response whose body follows in ``stream_chunk()``.

        Without ``Content-Length`` h11 frames it with chunked coding over
        HTTP/1.1 and by closing the connection over HTTP/1.0 (RFC 9112
        section 6.3, rule 8).
        """
        _final(status)
        return self._send_head(status, self._encode(headers))

    def stream_chunk(self, data: bytes) -> bytes:
        """One piece of a streamed body (nothing for an empty piece or HEAD)."""
        _check_bytes(data)
        if not data or self._method == b"HEAD":
            # h11 writes no chunk for empty data; HEAD carries no body.
            return b""
        return self._send(h11.Data(data=data))

    def end_stream(self) -> bytes:
        """The end of a streamed body (the last chunk under chunked coding)."""
        return self._send(h11.EndOfMessage())

    def switch_protocols(self, headers: Headers) -> bytes:
        """A 101 response accepting the client's ``Upgrade`` (RFC 9110
        section 15.2.2); afterwards the connection carries the new protocol,
        starting with ``trailing_data``."""
        return self._send_head(101, self._encode(headers))


def refusal_before_request(error: HTTPError) -> bytes:
    """The response to a connection refused before it sent a request (too
    many connections, a server draining): ``error``'s status, headers and
    JSON body, with ``Connection: close``.

    h11 answers only a request it has read, so this one is built by h11
    answering a minimal GET of its own: the bytes are still h11's, and a
    caller builds them once and writes them to every refused connection.
    """
    conn = HTTPConnection()
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: refused\r\n\r\n")
    conn.next_request()
    return conn.respond_error(error, close=True)
