"""asyncio clients for the three push transports.

``connect(url)`` opens a WebSocket (``rawpush.client.ws``). One import
line per module, so each client can add its own.
"""

from rawpush.client.poll import LongPollClosed, LongPoller, PollResult
from rawpush.client.sse import EventSource, EventSourceClosed, ReadyState
from rawpush.client.subscribe import Message, SubscribeError, subscribe
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
    "EventSource",
    "EventSourceClosed",
    "InvalidHandshake",
    "InvalidURI",
    "LongPollClosed",
    "LongPoller",
    "Message",
    "PollResult",
    "ReadyState",
    "SubscribeError",
    "WebSocketClient",
    "connect",
    "subscribe",
]
