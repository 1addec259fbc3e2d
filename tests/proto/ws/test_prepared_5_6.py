"""Sending: prepared frames (encode once, send to many) and text encoding.

``send_prepared`` runs the same state table as ``send_text``; a server
without an extension queues the frame's cached wire bytes as they are, a
client masks them per send (section 5.3), an extension compresses them in
each connection's own context (RFC 7692 section 7.2.1).
"""

from __future__ import annotations

import pytest

from rawpush.proto.errors import WebSocketLocalError
from rawpush.proto.ws.frames import Opcode, PreparedFrame, prepare_binary, prepare_text
from rawpush.ws import (
    ClientConnection,
    PerMessageDeflate,
    ServerConnection,
    State,
    Text,
)


def test_5_6_prepared_text_is_the_frame_send_text_would_write() -> None:
    frame = prepare_text('{"data": "é"}'.encode())
    assert frame == prepare_text('{"data": "é"}')
    assert (frame.opcode, frame.payload) == (Opcode.TEXT, '{"data": "é"}'.encode())
    assert frame.wire == b"\x81\x0e" + '{"data": "é"}'.encode()
    big = prepare_binary(bytes(300))
    assert big.wire == b"\x82\x7e\x01\x2c" + bytes(300)
    assert len(big) == len(big.wire) == 304


def test_5_6_send_prepared_hands_back_the_cached_bytes_without_a_copy() -> None:
    frame = prepare_text(b"event")
    conns = [ServerConnection() for _ in range(3)]
    for conn in conns:
        conn.send_prepared(frame)
        assert conn.data_to_send() is frame.wire


def test_5_6_send_prepared_queues_in_order_with_other_sends() -> None:
    conn = ServerConnection()
    conn.send_ping(b"p")
    conn.send_prepared(prepare_binary(b"b"))
    assert conn.data_to_send() == b"\x89\x01p\x82\x01b"


def test_5_5_1_send_prepared_runs_the_state_table() -> None:
    conn = ServerConnection()
    conn.send_close()
    with pytest.raises(WebSocketLocalError):
        conn.send_prepared(prepare_text(b"late"))
    assert conn.state is State.CLOSING
    conn.data_to_send()
    conn.receive_data(b"\x88\x82abcd" + bytes([0x03 ^ 0x61, 0xE8 ^ 0x62]))
    with pytest.raises(WebSocketLocalError):
        conn.send_prepared(prepare_text(b"later"))


def test_5_4_send_prepared_inside_a_fragmented_message_is_a_local_error() -> None:
    conn = ServerConnection()
    conn.send_text("a", fin=False)
    with pytest.raises(WebSocketLocalError):
        conn.send_prepared(prepare_text(b"whole"))


def test_5_3_a_client_masks_a_prepared_frame_per_send() -> None:
    keys = iter([b"\x01\x02\x03\x04", b"\x05\x06\x07\x08"])
    client = ClientConnection(mask_source=lambda n: next(keys))
    frame = prepare_text(b"hi")
    client.send_prepared(frame)
    client.send_prepared(frame)
    out = client.data_to_send()
    assert out[:6] == b"\x81\x82\x01\x02\x03\x04"
    assert out[8:14] == b"\x81\x82\x05\x06\x07\x08"
    server = ServerConnection()
    server.receive_data(out)
    assert server.events() == [Text("hi"), Text("hi")]


def test_7_2_1_send_prepared_compresses_in_each_connections_context() -> None:
    frame = prepare_text(b"hello hello hello")
    sender = ServerConnection(extension=PerMessageDeflate())
    sender.send_prepared(frame)
    sender.send_prepared(frame)
    out = sender.data_to_send()
    assert out[0] == 0xC1  # FIN, RSV1, text
    receiver = ClientConnection(extension=PerMessageDeflate())
    receiver.receive_data(out)
    assert receiver.events() == [Text("hello hello hello")] * 2


def test_8_1_prepare_text_refuses_what_is_not_utf8() -> None:
    with pytest.raises(WebSocketLocalError):
        prepare_text(b"\xff")
    with pytest.raises(WebSocketLocalError):
        prepare_text("\ud800")
    assert isinstance(prepare_binary(memoryview(b"\xff")), PreparedFrame)


def test_8_1_send_text_of_a_lone_surrogate_is_a_local_error() -> None:
    conn = ServerConnection()
    with pytest.raises(WebSocketLocalError):
        conn.send_text("\ud800")
    assert conn.data_to_send() == b""
    conn.send_text("fine")
    receiver = ClientConnection()
    receiver.receive_data(conn.data_to_send())
    assert receiver.events() == [Text("fine")]


def test_5_6_prepared_bytes_is_send_prepared_then_data_to_send() -> None:
    frame = prepare_text(b"event")
    server = ServerConnection()
    # The fan-out path: the very object, nothing left queued.
    assert server.prepared_bytes(frame) is frame.wire
    assert server.data_to_send() == b""
    # Something already queued (a Pong) goes first, in order.
    server.send_pong(b"p")
    assert server.prepared_bytes(frame) == b"\x8a\x01p" + frame.wire
    # A client masks it (section 5.3): the peer reads the same message.
    client = ClientConnection()
    wire = client.prepared_bytes(frame)
    peer = ServerConnection()
    peer.receive_data(wire)
    assert peer.events() == [Text("event")]


def test_5_5_1_prepared_bytes_after_our_close_is_refused() -> None:
    server = ServerConnection()
    server.send_close(1000)
    with pytest.raises(WebSocketLocalError):
        server.prepared_bytes(prepare_text(b"late"))
    assert server.state is State.CLOSING


def test_7692_prepared_bytes_compresses_with_an_extension() -> None:
    from rawpush.proto.ws.deflate import DeflateParams, deflate_response

    found = deflate_response(["permessage-deflate"], DeflateParams())
    assert found is not None
    server = ServerConnection(extension=found[1])
    wire = server.prepared_bytes(prepare_text(b"a" * 100))
    assert wire[0] & 0x40  # RSV1: compressed (RFC 7692 section 6)
    assert len(wire) < 100
