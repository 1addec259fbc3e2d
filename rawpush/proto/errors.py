"""The one exception hierarchy of rawpush's sans-IO core.

Errors are split by direction, as h11 does it: the receive path raises a
*remote* error (the peer sent something we refuse), the send path raises a
*local* error (our own caller misused the API). A remote error carries the
reply it implies, so the I/O layer never has to guess:

- ``WebSocketError.code``: the close code to send (RFC 6455 section 7.4);
- ``HTTPError.status`` and ``HTTPError.headers``: the HTTP response to send.

After a remote error the object that raised it is dead: later calls fail
fast with a ``LocalProtocolError``.
"""

from __future__ import annotations

__all__ = [
    "HTTPError",
    "HandshakeError",
    "LocalProtocolError",
    "RawpushError",
    "RemoteProtocolError",
    "SSEDecodeError",
    "SSEEncodeError",
    "WebSocketError",
    "WebSocketLocalError",
]


class RawpushError(Exception):
    """Base of every error rawpush raises on purpose."""


class LocalProtocolError(RawpushError):
    """The local caller asked for something the protocol forbids."""


class RemoteProtocolError(RawpushError):
    """The peer sent bytes that break the protocol; carries the reply."""


class WebSocketError(RemoteProtocolError):
    """A WebSocket peer broke RFC 6455; ``code`` is the close code to answer."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code
        self.reason = message


class WebSocketLocalError(LocalProtocolError):
    """Local misuse of a WebSocket connection (send after close, ...)."""


class HTTPError(RemoteProtocolError):
    """An HTTP request or response we refuse; carries the status to answer.

    ``headers`` are extra response headers the reply needs (for example
    ``Sec-WebSocket-Version: 13`` with a 426, RFC 6455 section 4.4).
    """

    def __init__(
        self,
        message: str,
        status: int = 400,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


class HandshakeError(HTTPError):
    """The WebSocket opening handshake (RFC 6455 section 4) failed."""


class SSEDecodeError(RemoteProtocolError):
    """An event stream exceeded a configured limit; the stream must end."""


class SSEEncodeError(LocalProtocolError):
    """An event cannot be encoded without the client silently losing part of it."""
