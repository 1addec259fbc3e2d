"""The WebSocket opening handshake, server side (RFC 6455 section 4.2), on h11.

``check_request`` validates a request another h11 loop parsed (the asyncio
server's); ``accept_headers`` / ``reject_response`` give the answer to it.
``ServerHandshake`` owns its h11 connection: bytes in, request out, 101 or
refusal bytes back, and ``trailing_data`` (what followed the request, often
the client's first frame) for ``ServerConnection``.

Every refusal is a ``HandshakeError`` with the status to answer. Where
RFC 6455 only asks for "an appropriate error code" (section 4.2.1), rawpush
chooses: not GET → 405 + ``Allow: GET``; HTTP/1.0 or an unreadable version
→ 400 (HTTP/1 is understood, the handshake is invalid in it), a major
version other than 1 → 505; no ``websocket`` token in ``Upgrade`` → 426 +
``Upgrade: websocket`` (RFC 9110 15.5.22: tell a plain HTTP client what
this endpoint speaks); ``Sec-WebSocket-Version`` missing or not ``13`` →
426 + ``Sec-WebSocket-Version: 13`` and ``Upgrade: websocket`` (section
4.4, and every 426 names the protocol, RFC 9110 15.5.22; a missing version
is a pre-RFC client); ``Origin`` outside the allow-list, or absent while one is
set → 403 (section 10.2); head over ``max_header_bytes`` → 431; bytes h11
cannot parse → h11's status hint (400, 431, 501); anything else wrong
(``Connection``, ``Host``, key, subprotocol list, duplicate ``Origin``, a
request body) → 400.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus

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

# The h11 helpers moved to rawpush.proto.http_head (shared with
# HTTPConnection); they stay importable from here.
__all__ = [
    "DEFAULT_MAX_HEADER_BYTES",
    "HandshakeRequest",
    "HandshakeState",
    "HeadReader",
    "ServerHandshake",
    "accept_headers",
    "accept_key",
    "check_request",
    "comma_tokens",
    "decode_headers",
    "is_token",
    "reject_response",
    "remote_error",
]

# Section 1.3: the GUID every endpoint appends to the key before hashing.
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Headers the handshake itself writes; callers may not add them again.
_MANAGED_RESPONSE = {"upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol"}
_STATUSES = {int(s) for s in HTTPStatus}
# Longest part of an error message echoed into a refusal body.
_MAX_REASON = 200


class HandshakeState(enum.Enum):
    """Where a handshake object stands; shared by server and client."""

    READING = "reading"  # waiting for the peer's request / response
    RECEIVED = "received"  # server: a valid request is in; accept or reject
    ACCEPTED = "accepted"  # 101 sent (server) / received and valid (client)
    REJECTED = "rejected"  # server: the refusal response was produced
    FAILED = "failed"  # the peer's bytes were refused (HandshakeError)


@dataclass(frozen=True, slots=True)
class HandshakeRequest:
    """A request that passed section 4.2.1, with the negotiation's outcome.

    ``subprotocols``: offered, client order; ``subprotocol``: chosen or None.
    ``extensions``: raw ``Sec-WebSocket-Extensions`` values, for RFC 7692.
    """

    target: str
    host: str
    key: str
    origin: str | None
    subprotocols: tuple[str, ...]
    subprotocol: str | None
    extensions: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]


def accept_key(key: str) -> str:
    """``Sec-WebSocket-Accept`` for a ``Sec-WebSocket-Key`` (section 4.2.2 item 5.4)."""
    digest = hashlib.sha1((key + _GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def is_valid_key(key: str) -> bool:
    """True when ``key`` is the canonical base64 of exactly 16 bytes (section 4.1)."""
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        return False
    # Canonical form only: no stray padding bits or whitespace.
    return len(raw) == 16 and base64.b64encode(raw).decode("ascii") == key


def _values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in headers if key == name]


def _version_tuple(http_version: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"([0-9]+)(?:\.([0-9]+))?", http_version, re.ASCII)
    if match is None:
        return None
    return int(match[1]), int(match[2] or "0")


def check_request(
    method: str,
    http_version: str,
    headers: Sequence[tuple[str, str]],
    *,
    target: str = "/",
    subprotocols: Sequence[str] = (),
    allowed_origins: Collection[str] | None = None,
) -> HandshakeRequest:
    """Validate a parsed opening handshake (section 4.2.1) or raise ``HandshakeError``.

    ``headers`` have lower-cased names (as h11 gives them); ``subprotocols``
    are the server's, best first; origins compare case-insensitively.
    """
    # Section 4.2.1 item 1: "an HTTP/1.1 or higher GET request".
    if method != "GET":
        raise HandshakeError(f"method {method!r} is not GET", 405, (("Allow", "GET"),))
    version = _version_tuple(http_version)
    if version is None:
        raise HandshakeError(f"unreadable HTTP version {http_version!r}", 400)
    if version[0] != 1:
        raise HandshakeError(f"HTTP/{http_version} is not supported", 505)
    if version < (1, 1):
        raise HandshakeError(f"HTTP/{http_version}: WebSocket needs HTTP/1.1 or later", 400)

    # Item 2; RFC 9112 section 3.2: exactly one Host.
    hosts = _values(headers, "host")
    if len(hosts) != 1:
        raise HandshakeError("Host header missing" if not hosts else "duplicate Host header", 400)

    # Item 3: Upgrade must name websocket.
    upgrade = [token.lower() for token in comma_tokens(_values(headers, "upgrade"))]
    if "websocket" not in upgrade:
        raise HandshakeError(
            "Upgrade header does not contain 'websocket'",
            426,
            (("Upgrade", "websocket"), ("Connection", "Upgrade")),
        )
    # Item 4: Connection must carry the upgrade token.
    connection = [token.lower() for token in comma_tokens(_values(headers, "connection"))]
    if "upgrade" not in connection:
        raise HandshakeError("Connection header does not contain 'upgrade'", 400)

    # The handshake has no body (section 4.1); one would blur where frames begin.
    content_length = _values(headers, "content-length")
    if _values(headers, "transfer-encoding") or any(v != "0" for v in content_length):
        raise HandshakeError("a WebSocket handshake request has no body", 400)

    # Item 6, section 4.4: version 13 only; tell the client what we speak.
    # RFC 9110 section 15.5.22: a 426 names the protocol in Upgrade too.
    versions = _values(headers, "sec-websocket-version")
    if versions != ["13"]:
        raise HandshakeError(
            f"unsupported Sec-WebSocket-Version {versions!r}",
            426,
            (("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")),
        )

    # Item 5: one key, base64 of 16 bytes.
    keys = _values(headers, "sec-websocket-key")
    if len(keys) != 1:
        raise HandshakeError(f"expected one Sec-WebSocket-Key, got {len(keys)}", 400)
    key = keys[0]
    if not is_valid_key(key):
        raise HandshakeError(f"Sec-WebSocket-Key {key!r} is not base64 of 16 bytes", 400)

    # Item 7 and section 4.2.2 item 4: Origin, when the server cares.
    origins = _values(headers, "origin")
    if len(origins) > 1:
        raise HandshakeError("duplicate Origin header", 400)
    origin = origins[0] if origins else None
    if allowed_origins is not None:
        allowed = {o.lower() for o in allowed_origins}
        if origin is None or origin.lower() not in allowed:
            raise HandshakeError(f"origin {origin!r} not allowed", 403)

    # Item 8, section 4.2.2 item 4 (/subprotocol/): the server's first
    # preference that the client offered; the offer must be tokens (4.1).
    offered = comma_tokens(_values(headers, "sec-websocket-protocol"))
    for name in offered:
        if not is_token(name):
            raise HandshakeError(f"subprotocol {name!r} is not a token", 400)
    offered_unique = tuple(dict.fromkeys(offered))
    chosen = next((p for p in subprotocols if p in offered_unique), None)

    return HandshakeRequest(
        target=target,
        host=hosts[0],
        key=key,
        origin=origin,
        subprotocols=offered_unique,
        subprotocol=chosen,
        extensions=tuple(_values(headers, "sec-websocket-extensions")),
        headers=tuple(headers),
    )


def accept_headers(request: HandshakeRequest) -> list[tuple[str, str]]:
    """Headers of the 101 response accepting ``request`` (section 4.2.2 item 5)."""
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
    headers.append(("Sec-WebSocket-Accept", accept_key(request.key)))
    if request.subprotocol is not None:
        headers.append(("Sec-WebSocket-Protocol", request.subprotocol))
    return headers


def reject_response(error: HandshakeError) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and short text body refusing a handshake; always closes."""
    status = error.status
    phrase = HTTPStatus(status).phrase if status in _STATUSES else "Error"
    reason = str(error)
    if len(reason) > _MAX_REASON:
        reason = reason[:_MAX_REASON] + "..."
    body = f"{status} {phrase}: {reason}\n".encode("ascii", "backslashreplace")
    tokens = ["close"]
    headers: list[tuple[str, str]] = []
    for name, value in error.headers:
        if name.lower() == "connection":
            tokens[:0] = comma_tokens([value])
        else:
            headers.append((name, value))
    if status == 426 and not any(name.lower() == "upgrade" for name, _ in headers):
        # RFC 9110 section 15.5.22: a 426 MUST send Upgrade, whoever built
        # the error; Connection lists it (section 7.8).
        headers.insert(0, ("Upgrade", "websocket"))
        tokens[:0] = ["Upgrade"]
    headers += [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", ", ".join(tokens)),
    ]
    return status, headers, body


class ServerHandshake:
    """Server side of the opening handshake: ``receive_data`` until it returns
    the request (or raises ``HandshakeError``), send ``accept()`` or
    ``reject()``, then hand ``trailing_data`` to ``ServerConnection``."""

    def __init__(
        self,
        *,
        subprotocols: Sequence[str] = (),
        allowed_origins: Collection[str] | None = None,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    ) -> None:
        if max_header_bytes < 1:
            raise LocalProtocolError("max_header_bytes must be positive")
        self._subprotocols = tuple(subprotocols)
        self._allowed_origins = None if allowed_origins is None else frozenset(allowed_origins)
        self._max_header_bytes = max_header_bytes
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_header_bytes)
        self._reader = HeadReader(self._conn, max_header_bytes)
        self._state = HandshakeState.READING
        self._request: HandshakeRequest | None = None
        self._error: HandshakeError | None = None
        self._head_method = False
        self._peer_gone = False

    @property
    def state(self) -> HandshakeState:
        """Where the handshake is (``HandshakeState``)."""
        return self._state

    @property
    def request(self) -> HandshakeRequest | None:
        """The valid request, once received."""
        return self._request

    @property
    def error(self) -> HandshakeError | None:
        """Why the request was refused, once it was."""
        return self._error

    @property
    def trailing_data(self) -> bytes:
        """Bytes after the request (``b""`` until one is in), for ``ServerConnection``."""
        if self._state in (HandshakeState.RECEIVED, HandshakeState.ACCEPTED):
            return self._conn.trailing_data[0]
        return b""

    def receive_data(self, data: bytes) -> HandshakeRequest | None:
        """Take bytes; return the request once complete, or raise ``HandshakeError``."""
        self._check_receivable()
        if data:
            self._reader.add(bytes(data))
        return self._pump()

    def receive_eof(self) -> HandshakeRequest | None:
        """The peer closed; a request cut short raises ``HandshakeError`` (400)."""
        self._check_receivable()
        self._reader.add_eof()
        return self._pump()

    def _check_receivable(self) -> None:
        if self._state in (HandshakeState.FAILED, HandshakeState.REJECTED):
            raise LocalProtocolError(f"cannot receive data: handshake {self._state.value}")
        if self._reader.eof:
            raise LocalProtocolError("cannot receive data after end of stream")

    def _pump(self) -> HandshakeRequest | None:
        if self._state is not HandshakeState.READING:
            return self._request
        try:
            request = self._read_request()
        except HandshakeError as exc:
            self._state = HandshakeState.FAILED
            self._error = exc
            raise
        if request is not None:
            self._request = request
            self._state = HandshakeState.RECEIVED
        return request

    def _read_request(self) -> HandshakeRequest | None:
        try:
            event = self._reader.next_event()
            if event is None:
                return None
            if not isinstance(event, h11.Request):
                # Only ConnectionClosed can come before a Request.
                self._peer_gone = True
                raise HandshakeError("connection closed before a request arrived", 400)
            self._head_method = event.method == b"HEAD"
            if self._reader.end_head() > self._max_header_bytes:
                raise HandshakeError("request head too large", 431)
            request = check_request(
                event.method.decode("latin-1"),
                event.http_version.decode("latin-1"),
                decode_headers(event.headers),
                target=event.target.decode("latin-1"),
                subprotocols=self._subprotocols,
                allowed_origins=self._allowed_origins,
            )
            # No body (checked above), so the end of message is already here;
            # reading it puts h11 in MIGHT_SWITCH_PROTOCOL.
            end = self._reader.next_event()
            assert isinstance(end, h11.EndOfMessage), end
        except h11.RemoteProtocolError as exc:
            raise remote_error(exc) from exc
        return request

    def accept(
        self,
        subprotocol: str | None = None,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> bytes:
        """The 101 response (section 4.2.2 item 5). ``subprotocol`` overrides the
        negotiated one (it must have been offered); ``extra_headers`` (e.g.
        ``Sec-WebSocket-Extensions``) may not repeat the handshake's own."""
        if self._state is not HandshakeState.RECEIVED or self._request is None:
            raise LocalProtocolError(f"cannot accept: handshake {self._state.value}")
        request = self._request
        if subprotocol is not None:
            if subprotocol not in request.subprotocols:
                raise LocalProtocolError(f"subprotocol {subprotocol!r} was not offered")
            request = replace(request, subprotocol=subprotocol)
        for name, _ in extra_headers:
            if name.lower() in _MANAGED_RESPONSE:
                raise LocalProtocolError(f"header {name!r} is set by the handshake")
        headers = accept_headers(request) + list(extra_headers)
        try:
            data = self._conn.send(
                h11.InformationalResponse(
                    status_code=101, headers=headers, reason=b"Switching Protocols"
                )
            )
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"cannot accept: {exc}") from exc
        self._request = request
        self._state = HandshakeState.ACCEPTED
        return data

    def reject(self, error: HandshakeError | None = None) -> bytes:
        """A complete refusal for ``error`` (default ``self.error``); also before
        the request is complete (a caller's timeout: 408). ``b""`` when the
        peer closed without sending a byte: there is no one to answer."""
        if self._state in (HandshakeState.ACCEPTED, HandshakeState.REJECTED):
            raise LocalProtocolError(f"cannot reject: handshake {self._state.value}")
        if error is None:
            error = self._error
        if error is None:
            raise LocalProtocolError("reject() needs an error: the request was not refused")
        if not 300 <= error.status <= 599:
            raise LocalProtocolError(f"status {error.status} cannot refuse a handshake")
        if self._peer_gone:
            self._state = HandshakeState.REJECTED
            return b""
        status, headers, body = reject_response(error)
        phrase = HTTPStatus(status).phrase.encode() if status in _STATUSES else b""
        try:
            out = self._conn.send(h11.Response(status_code=status, headers=headers, reason=phrase))
            if not self._head_method:
                out += self._conn.send(h11.Data(data=body))
            out += self._conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise LocalProtocolError(f"cannot reject: {exc}") from exc
        self._state = HandshakeState.REJECTED
        return out
