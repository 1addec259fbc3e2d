"""Sans-IO HTTP/1.1 for the server's routes, on h11.

``HTTPConnection`` is a thin server-side wrapper around ``h11.Connection``:
the I/O layer feeds it bytes as they arrive, asks for complete requests,
and writes the bytes each response method returns. It owns no socket and
no clock, and adds what the routes need on top of h11:

- complete requests (head and body) with the target already split into a
  percent-decoded path and query;
- limits, each answered with the right status: 431 for an oversize head,
  413 for an oversize body (never buffered past the limit), 505 for an
  HTTP major version other than 1, h11's hint (400, 501) for the rest;
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

from collections.abc import Sequence
from typing import Any

import h11

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http_request import HTTPConfig, Request, json_bytes, split_target

# Request, HTTPConfig and json_bytes live in http_request; re-exported here.
__all__ = ["HTTPConfig", "HTTPConnection", "Headers", "Request", "json_bytes"]

Headers = Sequence[tuple[str, str]]

_JSON_TYPE = ("Content-Type", "application/json")
# The framing headers respond() computes itself; a caller's copy would
# either be redundant or contradict the body (RFC 9112 section 6.3).
_FRAMING = frozenset({"content-length", "transfer-encoding"})
# States in which the server may still begin a response (h11 allows an
# error response from IDLE after the request head failed to parse).
_CAN_RESPOND = (h11.IDLE, h11.SEND_RESPONSE)
# h11 imports MIGHT_SWITCH_PROTOCOL at top level but leaves it out of __all__.
_REQUEST_COMPLETE = (h11.DONE, h11.MUST_CLOSE, h11.MIGHT_SWITCH_PROTOCOL)  # type: ignore[attr-defined]


def _final(status: int) -> None:
    if status < 200:
        # Interim responses have their own methods: only 100 (sent by
        # next_request) and 101 (switch_protocols) make sense here.
        raise LocalProtocolError(f"{status} is not a final status")


class HTTPConnection:
    """The server side of one HTTP/1.x connection, sans-IO.

    After ``next_request()`` raised ``HTTPError`` the connection is dead:
    answer with ``respond_error()`` (it closes the connection), discard
    later input, and close. Further ``next_request()`` calls raise
    ``LocalProtocolError``.
    """

    def __init__(self, config: HTTPConfig | None = None) -> None:
        self.config = config if config is not None else HTTPConfig()
        self._h11 = h11.Connection(
            h11.SERVER, max_incomplete_event_size=self.config.max_header_bytes
        )
        self._head: h11.Request | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._failed = False
        self._eof = False
        self._out = bytearray()
        # The method being answered: HEAD responses carry no body.
        self._method: bytes | None = None

    # -- receiving ---------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the peer (parsed by ``next_request``)."""
        if self._failed or not data:
            # Bytes still in flight after a fatal error are discarded: the
            # connection is closing and nothing in them can be trusted.
            return
        if self._eof:
            raise LocalProtocolError("receive_data() after receive_eof()")
        self._h11.receive_data(data)

    def receive_eof(self) -> None:
        """The peer closed its sending side."""
        if not self._failed and not self._eof:
            self._eof = True
            self._h11.receive_data(b"")

    def next_request(self) -> Request | None:
        """The next complete request, or None when there is none yet.

        None means more bytes are needed, the current request has not been
        answered yet, the peer closed, or the connection is to be closed.
        Raises ``HTTPError`` for a request we refuse.
        """
        if self._failed:
            raise LocalProtocolError("the connection failed; answer it and close it")
        conn = self._h11
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            self.start_next_cycle()
        if self.should_close:
            return None
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise self._fail(self._status_for(exc), str(exc)) from exc
            if event is h11.NEED_DATA:
                if self._head is not None and conn.they_are_waiting_for_100_continue:
                    # RFC 9110 section 10.1.1: the client holds the body back
                    # until we say we want it.
                    self._out += self._send_head(100, [])
                return None
            if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.Request):
                # Before the checks: h11 has taken the method in, and an error
                # response to HEAD must leave its body out as well.
                self._method = event.method
                self._check_head(event)
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
        if status == 431 and self._head is not None:
            # h11 only knows "the incomplete event is too big"; once the head
            # is in, that event is a chunk-size line or trailer section,
            # which is a malformed body rather than an oversize head.
            return 400
        return status

    def _fail(self, status: int, message: str) -> HTTPError:
        self._failed = True
        self._head = None
        self._body.clear()
        return HTTPError(message, status)

    def _check_head(self, event: h11.Request) -> None:
        # RFC 6585 section 5: 431 whichever way the bytes were cut. h11 checks
        # max_incomplete_event_size only while a head is still incomplete, so
        # a big head that arrives in one read would slip past it; measure the
        # parsed head (as sent, less the whitespace h11 trims) here as well.
        size = len(event.method) + len(event.target) + len(event.http_version) + 9
        size += sum(len(name) + len(value) + 4 for name, value in event.headers) + 2
        if size > self.config.max_header_bytes:
            raise self._fail(431, "request header fields too large")
        major = event.http_version.split(b".", 1)[0]
        if major != b"1":
            # RFC 9110 section 15.6.6; h11 parses any HTTP/d.d.
            raise self._fail(505, "HTTP version not supported")
        if event.method == b"CONNECT":
            # A tunnel is not something a push server offers, and answering
            # CONNECT with a 2xx would switch h11 to a tunnel (section 9.3.6).
            raise self._fail(501, "CONNECT is not supported")
        for name, value in event.headers:
            # h11 has already checked the value is 1*DIGIT and consistent.
            if name == b"content-length" and int(value) > self.config.max_body_bytes:
                raise self._fail(413, "request body too large")

    def _complete(self) -> Request:
        head = self._head
        assert head is not None
        body = b"".join(self._body)
        self._head = None
        self._body.clear()
        self._body_size = 0
        target = head.target.decode("latin-1")
        try:
            path, query = split_target(target, self.config.max_query_fields)
        except ValueError as exc:
            raise self._fail(400, f"bad request target: {exc}") from exc
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
        return bytes(self._h11.trailing_data[0])

    def start_next_cycle(self) -> None:
        """Reset for the next request after a complete keep-alive exchange.

        ``next_request()`` does this itself; calling it explicitly is only
        needed to observe the reset. Raises ``LocalProtocolError`` when the
        exchange is not complete or the connection must close.
        """
        try:
            self._h11.start_next_cycle()
            self._method = None
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from exc

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
        try:
            head: h11.Event = (
                h11.InformationalResponse(status_code=status, headers=fields)
                if status < 200
                else h11.Response(status_code=status, headers=fields)
            )
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(str(exc)) from exc
        return self._send(head)

    def _encode(self, headers: Headers) -> list[tuple[bytes, bytes]]:
        try:
            return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        except UnicodeEncodeError as exc:
            raise LocalProtocolError(f"header not encodable as latin-1: {exc}") from exc

    def respond(self, status: int, headers: Headers = (), body: bytes = b"") -> bytes:
        """A complete response with ``Content-Length``; the bytes to write.

        The body is left out for HEAD (RFC 9110 section 9.3.2), and 204 or
        304 responses carry neither body nor ``Content-Length`` (8.6).
        """
        _final(status)
        if any(name.lower() in _FRAMING for name, _ in headers):
            raise LocalProtocolError("respond() sets the framing headers itself")
        fields = self._encode(headers)
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
