"""WebSocket, the public surface: a sans-IO core (RFC 6455).

Feed bytes with ``receive_data``, read ``events()``, call ``send_*``,
write ``data_to_send()``, and close the socket when ``should_close``::

    conn = ServerConnection(WSConfig(max_message_size=64 * 1024))
    conn.receive_data(trailing_bytes_from_the_handshake)
    for event in conn.events():
        if isinstance(event, Text):
            conn.send_text(event.data)
    sock.sendall(conn.data_to_send())
"""

from rawpush.proto.errors import WebSocketError, WebSocketLocalError
from rawpush.proto.ws.closecode import CloseCode
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.connection import ClientConnection, Connection, ServerConnection
from rawpush.proto.ws.events import Binary, Close, Event, Ping, Pong, Text
from rawpush.proto.ws.extension import Extension
from rawpush.proto.ws.state import State

__all__ = [
    "Binary",
    "ClientConnection",
    "Close",
    "CloseCode",
    "Connection",
    "Event",
    "Extension",
    "Ping",
    "Pong",
    "ServerConnection",
    "State",
    "Text",
    "WSConfig",
    "WebSocketError",
    "WebSocketLocalError",
]
