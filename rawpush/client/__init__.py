"""asyncio clients for the three push transports.

``connect(url)`` opens a WebSocket (``rawpush.client.ws``). One import
line per module, so each client can add its own.
"""

from rawpush.client.ws import (
    WSURI,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidURI,
    WebSocketClient,
    connect,
)

__all__ = [
    "WSURI",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "InvalidHandshake",
    "InvalidURI",
    "WebSocketClient",
    "connect",
]
