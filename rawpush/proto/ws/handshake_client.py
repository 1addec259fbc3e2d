"""The WebSocket opening handshake, client side (RFC 6455 section 4.1), on h11.

``ClientHandshake`` writes the request, reads the response and checks it
(section 4.1, "the client MUST _Fail the WebSocket Connection_" list). A
refusal raises ``HandshakeError`` whose ``status`` is the status received
(101 when a 101 response broke a rule; h11's hint when the bytes were not
HTTP at all); ``response`` then holds the status, headers and (up to
``max_body_bytes`` of) the body, for the caller to show.

Extensions (section 4.1 item 5, section 9.1): the response may only name
extensions the request offered, each once, and permessage-deflate only
with parameters one of our offers allowed (RFC 7692 section 7.1);
anything else fails the handshake. Pass ``deflate=DeflateParams(...)`` to
have the handshake write the offer itself and build the negotiated
``PerMessageDeflate`` (``extension``) for ``ClientConnection``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass

import h11

from rawpush.proto.errors import HandshakeError, LocalProtocolError
from rawpush.proto.http_head import (
    DEFAULT_MAX_HEADER_BYTES,
    HeadReader,
    comma_tokens,
    decode_headers,
    is_token,
    remote_error,
)
from rawpush.proto.ws.deflate import NAME as DEFLATE
from rawpush.proto.ws.deflate import (
    DeflateParams,
    PerMessageDeflate,
    deflate_from_response,
    deflate_offer,
    offered_params,
    parse_extensions,
)
from rawpush.proto.ws.handshake import HandshakeState, accept_key, is_valid_key

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ClientHandshake", "HandshakeResponse"]

DEFAULT_MAX_BODY_BYTES = 64 * 1024

# Headers the handshake writes itself; extra_headers may not repeat them.
_MANAGED_REQUEST = {
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "origin",
}


@dataclass(frozen=True, slots=True)
class HandshakeResponse:
    """The server's final answer: a valid 101, or the refusal it sent.

    ``headers`` have lower-cased names. ``extensions`` are the raw
    ``Sec-WebSocket-Extensions`` values (only possible when the request
    offered some through ``extra_headers``). ``body`` is empty for a 101.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    subprotocol: str | None = None
    extensions: tuple[str, ...] = ()
    body: bytes = b""


class ClientHandshake:
    """Client side of the opening handshake, sans IO.

    Send ``data_to_send()``, then feed the server's bytes to ``receive_data``
    until it returns the ``HandshakeResponse`` (or raises ``HandshakeError``);
    hand ``trailing_data`` (frames that came with the 101) to
    ``ClientConnection.receive_data``.
    """

    def __init__(
        self,
        host: str,
        path: str = "/",
        *,
        subprotocols: Sequence[str] = (),
        extra_headers: Sequence[tuple[str, str]] = (),
        origin: str | None = None,
        key: str | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        deflate: DeflateParams | None = None,
    ) -> None:
        if not host:
            raise LocalProtocolError("host must not be empty")
        if max_header_bytes < 1 or max_body_bytes < 0:
            raise LocalProtocolError("max_header_bytes must be positive, max_body_bytes >= 0")
        # Section 4.1: the key is a fresh random 16-byte nonce, base64-encoded.
        if key is None:
            key = base64.b64encode(os.urandom(16)).decode("ascii")
        elif not is_valid_key(key):
            raise LocalProtocolError(f"key {key!r} is not base64 of 16 bytes")
        # Section 4.1: subprotocols are unique tokens.
        offered = tuple(subprotocols)
        if len(set(offered)) != len(offered) or not all(is_token(p) for p in offered):
            raise LocalProtocolError(f"subprotocols must be unique tokens: {offered!r}")
        for name, _ in extra_headers:
            if name.lower() in _MANAGED_REQUEST:
                raise LocalProtocolError(f"header {name!r} is set by the handshake")
        offers = [v for k, v in extra_headers if k.lower() == "sec-websocket-extensions"]
        if deflate is not None:
            if offers:
                raise LocalProtocolError("deflate= writes Sec-WebSocket-Extensions itself")
            offers = [deflate_offer(deflate)]
            extra_headers = [*extra_headers, ("Sec-WebSocket-Extensions", offers[0])]
        try:
            self._offers = parse_extensions(offers)
        except HandshakeError as exc:
            raise LocalProtocolError(f"cannot offer extensions: {exc}") from None
        self._deflate = deflate
        self._extension: PerMessageDeflate | None = None

        headers = [
            ("Host", host),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
        ]
        if offered:
            headers.append(("Sec-WebSocket-Protocol", ", ".join(offered)))
        if origin is not None:
            headers.append(("Origin", origin))
        headers += extra_headers

        self._key = key
        self._subprotocols = offered
        self._max_body_bytes = max_body_bytes
        self._conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_bytes)
        self._max_header_bytes = max_header_bytes
        self._reader = HeadReader(self._conn, max_header_bytes)
        try:
            request = self._conn.send(h11.Request(method="GET", target=path, headers=headers))
            request += self._conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"cannot build the request: {exc}") from exc
        self._to_send = request
        self._state = HandshakeState.READING
        self._response: HandshakeResponse | None = None
        self._refusal: h11.Response | None = None
        self._body = bytearray()

    @property
    def key(self) -> str:
        """The ``Sec-WebSocket-Key`` sent."""
        return self._key

    @property
    def state(self) -> HandshakeState:
        """READING, then ACCEPTED or FAILED."""
        return self._state

    @property
    def response(self) -> HandshakeResponse | None:
        """The server's final response, accepted or refused, once read."""
        return self._response

    @property
    def extension(self) -> PerMessageDeflate | None:
        """The negotiated permessage-deflate when ``deflate=`` was given and
        the server accepted it, for ``ClientConnection(extension=...)``."""
        return self._extension

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose, or None."""
        return None if self._response is None else self._response.subprotocol

    @property
    def trailing_data(self) -> bytes:
        """Bytes after the 101 head (``b""`` before), for ``ClientConnection``."""
        if self._state is HandshakeState.ACCEPTED:
            return self._conn.trailing_data[0]
        return b""

    def data_to_send(self) -> bytes:
        """The request bytes, once; ``b""`` afterwards."""
        data, self._to_send = self._to_send, b""
        return data

    def receive_data(self, data: bytes) -> HandshakeResponse | None:
        """Take the server's bytes; return the response once it is a valid 101.

        Raises ``HandshakeError`` on a refusal or an invalid response. After
        the 101, further bytes are appended to ``trailing_data``.
        """
        self._check_receivable()
        if data:
            self._reader.add(bytes(data))
        return self._pump()

    def receive_eof(self) -> HandshakeResponse | None:
        """The server closed; a response cut short raises ``HandshakeError``."""
        self._check_receivable()
        self._reader.add_eof()
        return self._pump()

    def _check_receivable(self) -> None:
        if self._state is HandshakeState.FAILED:
            raise LocalProtocolError("cannot receive data: handshake failed")
        if self._reader.eof:
            raise LocalProtocolError("cannot receive data after end of stream")

    def _pump(self) -> HandshakeResponse | None:
        if self._state is not HandshakeState.READING:
            return self._response
        try:
            response = self._read_response()
        except HandshakeError:
            self._state = HandshakeState.FAILED
            raise
        if response is not None:
            self._state = HandshakeState.ACCEPTED
        return response

    def _read_response(self) -> HandshakeResponse | None:
        while True:
            try:
                event = self._reader.next_event()
            except h11.RemoteProtocolError as exc:
                # A refusal cut short still carries the status it announced.
                status = None if self._refusal is None else self._refusal.status_code
                self._refuse()
                raise remote_error(exc, status) from exc
            if event is None:
                return None
            if isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    self._end_head()
                    return self._check_101(event)
                continue  # 100 Continue, 103 Early Hints...: not the answer yet
            if isinstance(event, h11.Response):
                self._end_head()
                self._refusal = event
                if event.status_code < 300:
                    # A 2xx answered the upgrade as a plain request (an
                    # event stream, say): its body may never end, and the
                    # status alone says the handshake failed (section 4.1).
                    self._refuse()
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self._max_body_bytes:
                    self._refuse()
            else:
                # EndOfMessage: the refusal is complete. (h11 reports an early
                # close as an error, and pauses only after a 101.)
                self._refuse()
                raise AssertionError(f"unexpected {event!r}")

    def _end_head(self) -> None:
        if self._reader.end_head() > self._max_header_bytes:
            raise HandshakeError("response head too large", 431)

    def _refuse(self) -> None:
        """Record the non-101 response (if any) and raise its status."""
        refusal = self._refusal
        if refusal is None:
            # Bytes that never formed a response: caller raises h11's hint.
            return
        self._response = HandshakeResponse(
            status=refusal.status_code,
            headers=tuple(decode_headers(refusal.headers)),
            body=bytes(self._body[: self._max_body_bytes]),
        )
        reason = refusal.reason.decode("latin-1")
        raise HandshakeError(
            f"server refused the handshake: {refusal.status_code} {reason}".rstrip(),
            refusal.status_code,
        )

    def _check_101(self, event: h11.InformationalResponse) -> HandshakeResponse:
        """Section 4.1, validating the server's response, items 1 to 6."""
        headers = tuple(decode_headers(event.headers))

        def values(name: str) -> list[str]:
            return [v for k, v in headers if k == name]

        def fail(message: str) -> HandshakeError:
            self._response = HandshakeResponse(status=101, headers=headers)
            return HandshakeError(message, 101)

        # Item 2: Upgrade is exactly "websocket", case-insensitively.
        upgrade = [token.lower() for token in comma_tokens(values("upgrade"))]
        if upgrade != ["websocket"]:
            raise fail(f"Upgrade header is {values('upgrade')!r}, not 'websocket'")
        # Item 3: Connection contains the "Upgrade" token.
        if "upgrade" not in [t.lower() for t in comma_tokens(values("connection"))]:
            raise fail("Connection header does not contain 'upgrade'")
        # Item 4: the accept value matches our key.
        accepts = values("sec-websocket-accept")
        if accepts != [accept_key(self._key)]:
            raise fail(f"Sec-WebSocket-Accept {accepts!r} does not match the key")
        # Item 5: no extension we did not offer, none with parameters we
        # did not allow.
        extensions = tuple(values("sec-websocket-extensions"))
        if extensions:
            problem = self._check_extensions(extensions)
            if problem is not None:
                raise fail(f"extensions {extensions!r}: {problem}")
        # Item 6: at most one subprotocol, one we offered.
        protocols = values("sec-websocket-protocol")
        subprotocol: str | None = None
        if protocols:
            if len(protocols) != 1 or protocols[0] not in self._subprotocols:
                raise fail(f"subprotocol {protocols!r} was not offered")
            subprotocol = protocols[0]

        self._response = HandshakeResponse(
            status=101, headers=headers, subprotocol=subprotocol, extensions=extensions
        )
        return self._response

    def _check_extensions(self, values: tuple[str, ...]) -> str | None:
        """What is wrong with the response's extensions, None when nothing."""
        try:
            answered = parse_extensions(values)
        except HandshakeError as exc:
            return str(exc)
        names = [name.lower() for name, _ in answered]
        if len(set(names)) != len(names):
            return "an extension is answered twice"
        offered = {name.lower() for name, _ in self._offers}
        for name in names:
            if name not in offered:
                return f"{name!r} was not offered"
        if DEFLATE not in names:
            return None
        # RFC 7692 section 7.1: the answer must fit one of our offers.
        params = next(raw for name, raw in answered if name.lower() == DEFLATE)
        answer = "; ".join([DEFLATE, *(k if v is None else f"{k}={v}" for k, v in params)])
        limits_client = "client_max_window_bits" in dict(params)
        problem = "no permessage-deflate offer allows it"
        for name, raw in self._offers:
            offer = offered_params(raw) if name.lower() == DEFLATE else None
            if offer is None:
                continue
            if limits_client and "client_max_window_bits" not in dict(raw):
                continue  # section 7.1.2.2: only answered when offered
            try:
                deflate_from_response([answer], offer)
            except HandshakeError as exc:
                problem = str(exc)
                continue
            if self._deflate is not None:
                self._extension = deflate_from_response([answer], self._deflate)
            return None
        return problem
