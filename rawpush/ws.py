"""WebSocket, the public surface: a sans-IO core (RFC 6455).

Feed bytes with ``receive_data``, read ``events()``, call ``send_*``,
write ``data_to_send()``, and close the socket when ``should_close``::

    conn = ServerConnection(WSConfig(max_message_size=64 * 1024))
    conn.receive_data(trailing_bytes_from_the_handshake)
    for event in conn.events():
        if isinstance(event, Text):
            conn.send_text(event.data)
    sock.sendall(conn.data_to_send())

Or pull one event at a time, so each answer goes out before the core's
reply to a later frame (an echo before the Close echo)::

    conn.feed(data)
    while (event := conn.next_event()) is not None:
        if isinstance(event, Text):
            conn.send_text(event.data)
        sock.sendall(conn.data_to_send())

To send one message to many connections, encode it once with
``prepare_text`` / ``prepare_binary`` and ``send_prepared`` it to each.

Errors: the peer's mistakes raise a ``WebSocketError`` subclass
(``ProtocolViolation`` 1002, ``InvalidPayload`` 1007, ``MessageTooBig``
1009; ``.code`` is the close code already queued); misuse raises
``WebSocketLocalError``. The whole contract is in ``rawpush.proto.errors``.

The opening handshake (RFC 6455 section 4) comes first: ``ServerHandshake``
or ``check_request`` on the server, ``ClientHandshake`` on the client; each
hands the bytes that followed the HTTP head (``trailing_data``) to the
connection, never dropping them.

permessage-deflate (RFC 7692) is off unless negotiated: ``deflate_offer``
and ``deflate_from_response`` on a client, ``deflate_response`` on a
server, then pass the ``PerMessageDeflate`` as the connection's extension.
"""

from rawpush.proto.errors import (
    HandshakeError,
    InvalidPayload,
    MessageTooBig,
    ProtocolViolation,
    WebSocketError,
    WebSocketLocalError,
)
from rawpush.proto.ws.closecode import CloseCode
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.connection import ClientConnection, Connection, ServerConnection
from rawpush.proto.ws.deflate import (
    DeflateParams,
    PerMessageDeflate,
    deflate_from_response,
    deflate_offer,
    deflate_response,
    parse_extensions,
)
from rawpush.proto.ws.events import Binary, Close, Event, Ping, Pong, Text
from rawpush.proto.ws.extension import Extension
from rawpush.proto.ws.frames import PreparedFrame, prepare_binary, prepare_text
from rawpush.proto.ws.handshake import (
    HandshakeRequest,
    HandshakeState,
    ServerHandshake,
    accept_headers,
    accept_key,
    check_request,
    reject_response,
)
from rawpush.proto.ws.handshake_client import ClientHandshake, HandshakeResponse
from rawpush.proto.ws.state import State

__all__ = [
    "Binary",
    "ClientConnection",
    "ClientHandshake",
    "Close",
    "CloseCode",
    "Connection",
    "DeflateParams",
    "Event",
    "Extension",
    "HandshakeError",
    "HandshakeRequest",
    "HandshakeResponse",
    "HandshakeState",
    "InvalidPayload",
    "MessageTooBig",
    "PerMessageDeflate",
    "Ping",
    "Pong",
    "PreparedFrame",
    "ProtocolViolation",
    "ServerConnection",
    "ServerHandshake",
    "State",
    "Text",
    "WSConfig",
    "WebSocketError",
    "WebSocketLocalError",
    "accept_headers",
    "accept_key",
    "check_request",
    "deflate_from_response",
    "deflate_offer",
    "deflate_response",
    "parse_extensions",
    "prepare_binary",
    "prepare_text",
    "reject_response",
]
