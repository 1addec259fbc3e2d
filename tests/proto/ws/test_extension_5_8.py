"""RFC 6455 sections 5.2 and 5.8: a negotiated extension owns RSV bits.

A toy extension (RSV1 = "payload is reversed") stands in for
permessage-deflate to check the hook the core offers.
"""

from __future__ import annotations

import pytest

from rawpush.proto.errors import WebSocketError
from rawpush.proto.ws.frames import Opcode
from rawpush.ws import Binary, ClientConnection, ServerConnection, Text
from tests.proto.ws.test_frames_5 import frame, sent_close


class Reverse:
    """RSV1 on a data frame: its payload is reversed."""

    rsv_bits = 0x40

    def __init__(self) -> None:
        self.decoded: list[tuple[int, bool, int]] = []

    def decode(self, opcode: int, fin: bool, rsv: int, payload: bytes) -> bytes:
        self.decoded.append((opcode, fin, rsv))
        if payload == b"bomb":
            raise WebSocketError("decoded message too big", 1009)
        return payload[::-1] if rsv & 0x40 else payload

    def encode(self, opcode: int, fin: bool, payload: bytes) -> tuple[int, bytes]:
        return 0x40, payload[::-1]


def test_5_8_negotiated_rsv1_is_accepted_and_decoded() -> None:
    ext = Reverse()
    server = ServerConnection(extension=ext)
    server.receive_data(
        frame(Opcode.TEXT, b"olleh", rsv=0x40)
        + frame(Opcode.BINARY, b"ba", rsv=0x40, fin=False)
        + frame(Opcode.CONTINUATION, b"dc", rsv=0x40)
        + frame(Opcode.TEXT, b"plain")
    )
    assert server.events() == [Text("hello"), Binary(b"abcd"), Text("plain")]
    assert ext.decoded[1:3] == [(2, False, 0x40), (2, True, 0x40)]


def test_5_8_extension_encodes_outgoing_data_frames_only() -> None:
    client = ClientConnection(extension=Reverse())
    client.send_text("hello")
    client.send_ping(b"ping")
    server = ServerConnection(extension=Reverse())
    server.receive_data(client.data_to_send())
    assert [type(e).__name__ for e in server.events()] == ["Text", "Ping"]


def test_5_2_unnegotiated_rsv_bits_still_fail_with_an_extension() -> None:
    server = ServerConnection(extension=Reverse())
    with pytest.raises(WebSocketError) as info:
        server.receive_data(frame(Opcode.TEXT, b"x", rsv=0x20))
    assert info.value.code == 1002


def test_5_5_rsv_bits_on_control_frames_fail_even_when_negotiated() -> None:
    server = ServerConnection(extension=Reverse())
    with pytest.raises(WebSocketError) as info:
        server.receive_data(frame(Opcode.PING, b"x", rsv=0x40))
    assert info.value.code == 1002


def test_5_8_extension_errors_fail_the_connection_with_their_code() -> None:
    server = ServerConnection(extension=Reverse())
    with pytest.raises(WebSocketError):
        server.receive_data(frame(Opcode.BINARY, b"bomb", rsv=0x40))
    assert sent_close(server.data_to_send())[0] == 1009
