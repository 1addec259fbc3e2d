"""RFC 6455 section 5: framing, masking, and the strict frame checks.

Every malformed input is checked end to end: the connection must raise
``WebSocketError`` with the code, and the Close frame it queued (read back
out of ``data_to_send()``) must carry the same code.
"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawpush.proto.errors import WebSocketError
from rawpush.proto.ws.connection import Connection
from rawpush.proto.ws.frames import Opcode, parse_frame, serialize_frame
from rawpush.proto.ws.mask import apply_mask
from rawpush.ws import (
    Binary,
    ClientConnection,
    Close,
    Ping,
    Pong,
    ServerConnection,
    State,
    Text,
    WSConfig,
)

KEY = b"\x37\xfa\x21\x3d"


def frame(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, masked: bool = True
) -> bytes:
    """A frame as a client (masked) or a server (unmasked) would send it."""
    return serialize_frame(opcode, payload, fin=fin, rsv=rsv, mask=KEY if masked else None)


def sent_close(data: bytes) -> tuple[int, bytes]:
    """The (code, reason) of the Close frame at the start of ``data``."""
    assert data[0] == 0x88, data
    length = data[1] & 0x7F
    body = data[2 : 2 + length]
    if data[1] & 0x80:
        body = apply_mask(data[6 : 6 + length], data[2:6])
    if not body:
        return 1005, b""
    return struct.unpack("!H", body[:2])[0], body[2:]


def failure_code(conn: Connection, data: bytes) -> int:
    """Feed ``data``; assert it fails the connection; return the close code."""
    with pytest.raises(WebSocketError) as info:
        conn.receive_data(data)
    code, _ = sent_close(conn.data_to_send())
    assert code == info.value.code
    assert conn.state is State.CLOSED and conn.should_close
    assert conn.failure is info.value
    return code


def server_fails(data: bytes, config: WSConfig | None = None) -> int:
    return failure_code(ServerConnection(config or WSConfig()), data)


def client_fails(data: bytes) -> int:
    return failure_code(ClientConnection(), data)


# -- 5.3 masking ---------------------------------------------------------------


@given(st.binary(max_size=2000), st.binary(min_size=4, max_size=4))
def test_5_3_mask_is_bytewise_xor_with_repeated_key(data: bytes, key: bytes) -> None:
    expected = bytes(b ^ key[i % 4] for i, b in enumerate(data))
    assert apply_mask(data, key) == expected
    assert apply_mask(memoryview(data), key) == expected
    assert apply_mask(expected, key) == data


def test_5_3_client_frames_use_the_injected_mask_source() -> None:
    keys = iter([b"\x01\x02\x03\x04", b"\xff\xfe\xfd\xfc"])
    client = ClientConnection(mask_source=lambda n: next(keys))
    client.send_text("hi")
    client.send_binary(b"\x00\x00")
    out = client.data_to_send()
    assert out == frame_with(0x81, b"hi", b"\x01\x02\x03\x04") + frame_with(
        0x82, b"\x00\x00", b"\xff\xfe\xfd\xfc"
    )


def frame_with(first: int, payload: bytes, key: bytes) -> bytes:
    return bytes([first, 0x80 | len(payload)]) + key + apply_mask(payload, key)


def test_5_3_default_mask_source_is_random() -> None:
    client = ClientConnection()
    client.send_binary(b"\x00" * 8)
    client.send_binary(b"\x00" * 8)
    out = client.data_to_send()
    assert out[2:6] != out[16:20]  # 2**-32 chance of a false failure


# -- 5.2 / 5.6 / 5.7 well-formed frames ---------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 3, 125, 126, 127, 383, 384, 385, 65535, 65536, 70000])
def test_5_2_payload_lengths_round_trip_with_minimal_encoding(length: int) -> None:
    payload = os.urandom(length)
    data = frame(Opcode.BINARY, payload)
    header = 2 if length < 126 else 4 if length < 65536 else 10
    assert len(data) == header + 4 + length
    view = memoryview(data)
    assert parse_frame(view, 0, True, 1 << 20, 0) == (len(data), 0x82, payload)
    for cut in (1, header - 1, header + 3, len(data) - 1):
        assert parse_frame(view[:cut], 0, True, 1 << 20, 0) is None


@pytest.mark.parametrize(
    ("opcode", "payload", "event"),
    [
        (Opcode.TEXT, "héllo €".encode(), Text("héllo €")),
        (Opcode.BINARY, b"\x00\xff", Binary(b"\x00\xff")),
        (Opcode.PING, b"ping", Ping(b"ping")),
        (Opcode.PONG, b"pong", Pong(b"pong")),
        (Opcode.CLOSE, b"\x03\xe8bye", Close(1000, "bye")),
    ],
)
def test_5_6_5_5_every_opcode_parses_both_ways(opcode: int, payload: bytes, event: object) -> None:
    server = ServerConnection()
    server.receive_data(frame(opcode, payload))
    assert server.events() == [event]
    client = ClientConnection()
    client.receive_data(frame(opcode, payload, masked=False))
    assert client.events() == [event]


def test_5_6_sent_frames_are_minimal_and_unmasked_from_the_server() -> None:
    server = ServerConnection()
    server.send_text("a" * 200)
    server.send_binary(b"b" * 70000)
    server.send_ping(b"p")
    server.send_pong(b"q")
    server.send_close(1001, "away")
    out = server.data_to_send()
    expected = (
        frame(Opcode.TEXT, b"a" * 200, masked=False)
        + frame(Opcode.BINARY, b"b" * 70000, masked=False)
        + frame(Opcode.PING, b"p", masked=False)
        + frame(Opcode.PONG, b"q", masked=False)
        + frame(Opcode.CLOSE, b"\x03\xe9away", masked=False)
    )
    assert out == expected
    assert server.data_to_send() == b""


# -- the strict checks, one per rule -------------------------------------------


@pytest.mark.parametrize("rsv", [0x40, 0x20, 0x10, 0x70])
def test_5_2_rsv_bits_without_extension_close_1002(rsv: int) -> None:
    assert server_fails(frame(Opcode.TEXT, b"x", rsv=rsv)) == 1002
    assert client_fails(frame(Opcode.TEXT, b"x", rsv=rsv, masked=False)) == 1002


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_5_2_unknown_opcode_close_1002(opcode: int) -> None:
    assert server_fails(frame(opcode, b"")) == 1002
    assert client_fails(frame(opcode, b"", masked=False)) == 1002


@pytest.mark.parametrize("opcode", [Opcode.PING, Opcode.PONG, Opcode.CLOSE])
def test_5_5_fragmented_control_frame_close_1002(opcode: int) -> None:
    assert server_fails(frame(opcode, b"", fin=False)) == 1002


@pytest.mark.parametrize("opcode", [Opcode.PING, Opcode.PONG, Opcode.CLOSE])
def test_5_5_control_frame_over_125_bytes_close_1002(opcode: int) -> None:
    assert server_fails(frame(opcode, b"\x03\xe8" + b"x" * 124)) == 1002
    assert server_fails(frame(opcode, b"x" * 300)) == 1002


def test_5_2_16_bit_length_for_a_short_payload_close_1002() -> None:
    data = bytes([0x82, 0x80 | 126]) + struct.pack("!H", 125) + KEY + b"x" * 125
    assert server_fails(data) == 1002


def test_5_2_64_bit_length_for_a_16_bit_payload_close_1002() -> None:
    data = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 65535) + KEY
    assert server_fails(data) == 1002


def test_5_2_64_bit_length_with_top_bit_set_close_1002() -> None:
    data = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 63 | 70000) + KEY
    assert server_fails(data) == 1002


def test_5_1_unmasked_client_frame_close_1002() -> None:
    assert server_fails(frame(Opcode.TEXT, b"hi", masked=False)) == 1002


def test_5_1_masked_server_frame_close_1002() -> None:
    assert client_fails(frame(Opcode.TEXT, b"hi", masked=True)) == 1002


def test_5_4_continuation_without_start_close_1002() -> None:
    assert server_fails(frame(Opcode.CONTINUATION, b"x")) == 1002


@pytest.mark.parametrize("second", [Opcode.TEXT, Opcode.BINARY])
def test_5_4_new_data_frame_inside_fragmented_message_close_1002(second: int) -> None:
    data = frame(Opcode.TEXT, b"a", fin=False) + frame(second, b"b")
    assert server_fails(data) == 1002


def test_5_2_frame_over_max_frame_size_close_1009_before_payload_arrives() -> None:
    header = bytes([0x82, 0x80 | 126]) + struct.pack("!H", 1000)
    assert server_fails(header, WSConfig(max_frame_size=999)) == 1009


def test_5_2_huge_64_bit_length_close_1009() -> None:
    header = bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 40)
    assert server_fails(header) == 1009


def test_5_4_message_over_max_message_size_close_1009() -> None:
    config = WSConfig(max_frame_size=200, max_message_size=250)
    data = frame(Opcode.BINARY, b"x" * 200, fin=False) + frame(Opcode.CONTINUATION, b"y" * 51)
    assert server_fails(data, config) == 1009
    assert server_fails(frame(Opcode.TEXT, b"x" * 200), WSConfig(max_message_size=199)) == 1009
    assert server_fails(frame(Opcode.BINARY, b"x" * 200), WSConfig(max_message_size=199)) == 1009


def test_5_2_header_errors_are_found_before_the_payload_arrives() -> None:
    # Only two bytes of an unmasked client frame: refused at once.
    assert server_fails(b"\x81\x05") == 1002
