"""What the WebSocket client raises, and why.

``ConnectionClosed`` is the one exception of a connection that has ended:
``ConnectionClosedOK`` when it ended normally (1000, or 1001 "going away",
section 7.4.1), ``ConnectionClosedError`` for anything else (a protocol
error, a keepalive timeout, a TCP connection lost without a Close frame:
1006, section 7.1.5). ``InvalidHandshake`` is a refused upgrade and carries
the HTTP status the server answered (section 4.1: the client fails the
connection on anything but a valid 101).
"""

from __future__ import annotations

from rawpush.proto.errors import HandshakeError, RawpushError
from rawpush.proto.ws.handshake_client import HandshakeResponse

__all__ = [
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidURI",
    "closed_error",
]


class ConnectionClosed(RawpushError):
    """The connection is closed; ``code`` and ``reason`` say how.

    ``code`` is the code of the peer's Close frame when the closing
    handshake completed, the code we sent when we failed the connection
    (1002, 1007, 1009, 1011 on keepalive timeout, ...), 1005 when the
    Close frame had no code, or 1006 when TCP ended without any Close.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"connection closed: {code} {reason}".rstrip())
        self.code = code
        self.reason = reason


class ConnectionClosedOK(ConnectionClosed):
    """Closed normally: code 1000, 1001, or 1005 (a Close with no code)."""


class ConnectionClosedError(ConnectionClosed):
    """Closed by an error, a timeout, or a lost TCP connection."""


# 1005 is a Close frame with no status code: a deliberate close, not a failure.
_OK_CODES = frozenset({1000, 1001, 1005})


def closed_error(code: int, reason: str = "") -> ConnectionClosed:
    """The right ``ConnectionClosed`` subclass for ``code``."""
    cls = ConnectionClosedOK if code in _OK_CODES else ConnectionClosedError
    return cls(code, reason)


class InvalidHandshake(HandshakeError):
    """The server refused the upgrade or answered with an invalid 101.

    ``status`` is the status received (101 when a 101 broke a rule);
    ``response`` holds the headers and the start of the body, when any.
    """

    def __init__(self, error: HandshakeError, response: HandshakeResponse | None) -> None:
        super().__init__(str(error), error.status, error.headers)
        self.response = response


class InvalidURI(RawpushError, ValueError):
    """The URL is not a ws:// or wss:// URI (section 3)."""
