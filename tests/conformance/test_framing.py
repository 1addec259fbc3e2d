"""RFC 6455 section 5.2 (base framing), 5.1/5.3 (masking), 5.6 (data frames).

Autobahn category 1 (framing) and the length-encoding cases of wsproto's
strict parser: every payload length boundary, both data types, whole and
chopped into many TCP writes.
"""

from __future__ import annotations

import os

import pytest

from tests.conformance.rawclient import BINARY, CLOSE, PING, TEXT, RawClient, frame

SIZES = [0, 1, 125, 126, 127, 128, 65535, 65536]


def payload_for(opcode: int, size: int) -> bytes:
    return b"*" * size if opcode == TEXT else os.urandom(size)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_5_6_data_frame_echoed(ws: RawClient, opcode: int, size: int) -> None:
    data = payload_for(opcode, size)
    ws.send(frame(opcode, data))
    ws.expect_message(opcode, data)
    ws.close_cleanly()


@pytest.mark.parametrize(
    ("size", "chunk"), [(0, 1), (125, 1), (126, 1), (127, 1), (65535, 997), (65536, 997)]
)
def test_5_2_frame_chopped_into_writes(ws: RawClient, size: int, chunk: int) -> None:
    # A frame may arrive in any number of TCP segments (section 5.2 is a
    # byte stream format); the echo must not depend on the split.
    data = payload_for(BINARY, size)
    raw = frame(BINARY, data)
    for i in range(0, len(raw), chunk):
        ws.send(raw[i : i + chunk])
    ws.expect_message(BINARY, data)
    ws.close_cleanly()


def test_5_2_many_frames_in_one_write(ws: RawClient) -> None:
    messages = [f"message {i}".encode() for i in range(50)]
    ws.send(*(frame(TEXT, m) for m in messages))
    for m in messages:
        ws.expect_message(TEXT, m)
    ws.close_cleanly()


@pytest.mark.parametrize(
    "opcode", [TEXT, BINARY, PING, CLOSE], ids=["text", "binary", "ping", "close"]
)
def test_5_1_unmasked_client_frame_is_1002(ws: RawClient, opcode: int) -> None:
    # Section 5.1: "a server MUST close the connection upon receiving a
    # frame that is not masked" (with 1002, section 7.4.1).
    ws.send(frame(opcode, b"hi" if opcode != CLOSE else b"\x03\xe8", mask=None))
    ws.expect_close(1002)


def test_5_3_all_zero_mask_is_still_a_mask(ws: RawClient) -> None:
    ws.send(frame(TEXT, b"zero key", mask=b"\x00\x00\x00\x00"))
    ws.expect_message(TEXT, b"zero key")
    ws.close_cleanly()


@pytest.mark.parametrize(
    ("size", "length_bytes"),
    [(0, 2), (125, 2), (125, 8), (126, 8), (65535, 8)],
    ids=["0-in-16bit", "125-in-16bit", "125-in-64bit", "126-in-64bit", "65535-in-64bit"],
)
def test_5_2_length_not_minimally_encoded_is_1002(
    ws: RawClient, size: int, length_bytes: int
) -> None:
    # Section 5.2: "the minimal number of bytes MUST be used to encode the length".
    ws.send(frame(BINARY, b"x" * size, length_bytes=length_bytes))
    ws.expect_close(1002)


def test_5_2_64bit_length_with_top_bit_set_is_1002(ws: RawClient) -> None:
    # Section 5.2: "the most significant bit MUST be 0".
    ws.send(frame(BINARY, b"", length=1 << 63, length_bytes=8))
    ws.expect_close(1002)


def test_5_2_length_lying_short_makes_garbage_next_frame(ws: RawClient) -> None:
    # Announce 2 bytes but send 5: the extra 3 bytes are read as the next
    # frame header, whose RSV bits make it a 1002. The good frame before
    # it, in the same write, is still echoed first (Autobahn "strict").
    raw = frame(TEXT, b"ok", mask=b"\x00\x00\x00\x00") + b"\xf3\x80\x00"
    ws.send(raw)
    ws.expect_message(TEXT, b"ok")
    got = ws.recv_frame()
    assert got is not None and got.opcode == CLOSE and got.close_code == 1002, got
    assert b"reserved bits" in got.payload
    ws.expect_eof()


@pytest.mark.parametrize("bad", [frame(0x3), frame(TEXT, b"x", rsv=1), frame(TEXT, b"\xff")],
                         ids=["opcode", "rsv", "utf8"])
def test_5_2_messages_before_a_bad_frame_in_one_write_echoed(ws: RawClient, bad: bytes) -> None:
    ws.send(frame(TEXT, b"one"), frame(BINARY, b"two"), bad)
    ws.expect_message(TEXT, b"one")
    ws.expect_message(BINARY, b"two")
    got = ws.recv_frame()
    assert got is not None and got.opcode == CLOSE and got.close_code in (1002, 1007), got
    ws.expect_eof()


def test_5_2_length_lying_long_waits_for_the_rest(ws: RawClient) -> None:
    # Announce 10 bytes, send 4; then send the 6 missing ones later.
    key = b"\x01\x02\x03\x04"
    full = frame(BINARY, b"0123456789", mask=key)
    ws.send(full[:-6])
    ws.send(full[-6:])
    ws.expect_message(BINARY, b"0123456789")
    ws.close_cleanly()
