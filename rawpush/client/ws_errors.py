"""What the WebSocket client raises, and why.

``ConnectionClosed`` is the one exception of a connection that has ended:
``ConnectionClosedOK`` when it ended normally (1000, or 1001 "going away",
section 7.4.1), ``ConnectionClosedError`` for anything else (a protocol
error, a keepalive timeout, a TCP connection lost without a Close frame:
1006, section 7.1.5). ``InvalidHandshake`` is a refused upgrade and carries
the HTTP status the server answered (section 4.1: the client fails the
connection on anything but a valid 101).

The drain hint: a rawpush server that shuts down closes each WebSocket
with 1001 and the reason ``"server shutting down; retry=<ms>"``, where
``<ms>`` is how long this client should wait before reconnecting, in
milliseconds, jittered per connection by the server (between
``drain_retry_ms`` and twice that) so that its clients do not all come
back in the same instant. RFC 6455 section 7.1.6 makes the reason free
UTF-8 text; ``retry=<digits>`` as a ``;``-separated item of it is rawpush's
convention, the WebSocket counterpart of SSE's ``retry:`` field.
``ConnectionClosed.retry_after`` reads it (seconds, or None).
"""

from __future__ import annotations

import re

from rawpush.proto.errors import HandshakeError, RawpushError
from rawpush.proto.ws.handshake_client import HandshakeResponse

__all__ = [
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidURI",
    "closed_error",
    "retry_hint",
]

_RETRY_ITEM = re.compile(r"retry=([0-9]{1,9})")


def retry_hint(reason: str) -> float | None:
    """The drain hint in a close reason, in seconds (see the module
    docstring); None when the reason carries none."""
    for item in reason.split(";"):
        match = _RETRY_ITEM.fullmatch(item.strip())
        if match:
            return int(match.group(1)) / 1000
    return None


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

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked us to wait before reconnecting (its
        drain hint), or None."""
        return retry_hint(self.reason)


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
