"""The HTTP side of one connection: the upgrade request and every answer
to it, all written by h11 through ``rawpush.proto.http.HTTPConnection``.

uvicorn's HTTP protocol has parsed the request already and replays its
head to us; it is read again here and checked against RFC 6455 section
4.2.1 (``check_request``). The answers: the 101 for ``websocket.accept``,
403 for ``websocket.close`` before it (the ASGI spec's choice), the
application's own response for ``websocket.http.response.*``, 500 when
the application fails before deciding, and the core's refusal when the
request itself is no valid handshake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from rawpush.proto.errors import HandshakeError, HTTPError, LocalProtocolError
from rawpush.proto.http import HTTPConfig, HTTPConnection, Request
from rawpush.proto.ws.deflate import DeflateParams, PerMessageDeflate, deflate_response
from rawpush.proto.ws.handshake import (
    HandshakeRequest,
    accept_headers,
    check_request,
    reject_response,
)
from rawpush.uvicorn._asgi import decode_pairs

__all__ = ["MANAGED", "Opening"]

_CLOSE = ("Connection", "close")

# Headers the opening handshake writes itself (RFC 6455 section 4.2.2
# item 5); an application that set them again would contradict it.
MANAGED = frozenset(
    {
        "upgrade",
        "connection",
        "sec-websocket-accept",
        "sec-websocket-protocol",
        "sec-websocket-extensions",
    }
)


class Opening:
    """The opening handshake of one connection, sans-IO: bytes in, bytes out."""

    __slots__ = ("_http", "found")

    def __init__(self, max_head_bytes: int) -> None:
        # uvicorn's HTTP protocol accepted this request already: the limits
        # here only need to be as generous as its own.
        self._http = HTTPConnection(
            HTTPConfig(
                max_header_bytes=max_head_bytes,
                max_target_bytes=max_head_bytes,
                max_query_fields=1 << 30,
            )
        )
        self.found: HandshakeRequest | None = None

    def receive(self, data: bytes) -> Request | bytes | None:
        """The valid request once complete (``found`` is set then), the
        refusal to write before closing, or None while more is needed."""
        http = self._http
        try:
            http.receive_data(data)
            request = http.next_request()
        except HTTPError as exc:
            return http.respond_error(exc, close=True)
        if request is None:
            return None
        try:
            self.found = check_request(
                request.method, request.http_version, request.headers, target=request.target
            )
        except HandshakeError as exc:
            status, headers, body = reject_response(exc)
            # respond() writes Content-Length itself (RFC 9112 section 6.3).
            headers = [(n, v) for n, v in headers if n.lower() != "content-length"]
            return http.respond(status, headers, body)
        return request

    def accept(
        self,
        message: Any,
        *,
        deflate: bool,
        max_size: int,
        default_headers: Iterable[tuple[bytes, bytes]],
    ) -> tuple[bytes, bytes, PerMessageDeflate | None]:
        """The 101 for a ``websocket.accept`` message, the bytes that came
        after the request (RFC 9110 section 7.8: the new protocol's first),
        and the negotiated permessage-deflate (RFC 7692 section 7.1).

        ``RuntimeError`` for a message the handshake cannot carry: a
        subprotocol the client did not offer (RFC 6455 section 4.1 item 6:
        it would fail the connection), or a header the handshake writes.
        """
        found = self.found
        assert found is not None, "receive() returned the request first"
        subprotocol = message.get("subprotocol")
        if subprotocol is not None:
            if subprotocol not in found.subprotocols:
                raise RuntimeError(f"subprotocol {subprotocol!r} was not offered by the client")
            found = replace(found, subprotocol=subprotocol)
        extra = decode_pairs(message.get("headers") or ())
        for name, _ in extra:
            if name.lower() in MANAGED:
                raise RuntimeError(f"header {name!r} is set by the WebSocket handshake")
        headers = accept_headers(found)
        extension = None
        if deflate:
            chosen = deflate_response(found.extensions, DeflateParams(max_message_size=max_size))
            if chosen is not None:
                headers.append(("Sec-WebSocket-Extensions", chosen[0]))
                extension = chosen[1]
        headers += decode_pairs(default_headers) + extra
        try:
            head = self._http.switch_protocols(headers)
        except LocalProtocolError as exc:
            raise RuntimeError(f"cannot accept: {exc}") from None
        return head, self._http.trailing_data, extension

    def deny(self, default_headers: Iterable[tuple[bytes, bytes]]) -> bytes:
        """403 with no body, for ``websocket.close`` before accepting."""
        return self._http.respond(403, [*decode_pairs(default_headers), _CLOSE])

    def start_response(self, message: Any, default_headers: Iterable[tuple[bytes, bytes]]) -> bytes:
        """The head of the application's ``websocket.http.response``; the
        connection closes after it (the client expected a 101 instead)."""
        status = message.get("status")
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise RuntimeError(f"invalid HTTP status {status!r} to deny a WebSocket")
        headers = decode_pairs(message.get("headers") or ())
        if not any(name.lower() == "connection" for name, _ in headers):
            headers.append(_CLOSE)
        try:
            return self._http.start_stream(status, [*decode_pairs(default_headers), *headers])
        except LocalProtocolError as exc:
            raise RuntimeError(f"cannot send the response: {exc}") from None

    def response_body(self, message: Any) -> tuple[bytes, bool]:
        """One part of the body, and whether it was the last."""
        body = message.get("body", b"")
        done = not message.get("more_body", False)
        try:
            out = self._http.stream_chunk(body)
            if done:
                out += self._http.end_stream()
        except LocalProtocolError as exc:
            raise RuntimeError(f"cannot send the response body: {exc}") from None
        return out, done

    def internal_error(self) -> bytes:
        """500, when the application failed or ended before deciding."""
        headers = [("Content-Type", "text/plain; charset=utf-8"), _CLOSE]
        return self._http.respond(500, headers, b"Internal Server Error")
