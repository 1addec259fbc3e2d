"""RFC 6455 sections 5.5.2 (Ping) and 5.5.3 (Pong): Autobahn category 2."""

from __future__ import annotations

import pytest

from tests.conformance.rawclient import BINARY, PING, PONG, TEXT, RawClient, frame


@pytest.mark.parametrize("size", [0, 1, 10, 124, 125])
def test_5_5_2_ping_answered_with_same_payload(ws: RawClient, size: int) -> None:
    payload = bytes(range(256))[:size]
    ws.send(frame(PING, payload))
    ws.expect_message(PONG, payload)
    ws.close_cleanly()


def test_5_5_2_binary_ping_payload(ws: RawClient) -> None:
    payload = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
    ws.send(frame(PING, payload))
    ws.expect_message(PONG, payload)
    ws.close_cleanly()


@pytest.mark.parametrize("size", [126, 127, 65535])
def test_5_5_ping_over_125_bytes_is_1002(ws: RawClient, size: int) -> None:
    # Section 5.5: "All control frames MUST have a payload length of 125 bytes or less".
    ws.send(frame(PING, b"p" * size))
    ws.expect_close(1002)


def test_5_5_fragmented_ping_is_1002(ws: RawClient) -> None:
    # Section 5.5: "Control frames MUST NOT be fragmented".
    ws.send(frame(PING, b"half", fin=False))
    ws.expect_close(1002)


@pytest.mark.parametrize("payload", [b"", b"unsolicited"])
def test_5_5_3_unsolicited_pong_is_ignored(ws: RawClient, payload: bytes) -> None:
    # Section 5.5.3: "A response to an unsolicited Pong frame is not expected."
    ws.send(frame(PONG, payload), frame(TEXT, b"after pong"))
    ws.expect_message(TEXT, b"after pong")
    ws.close_cleanly()


def test_5_5_3_pong_with_wrong_payload_is_ignored(ws: RawClient) -> None:
    ws.send(frame(PING, b"ping-1"), frame(PONG, b"not an answer"))
    ws.expect_message(PONG, b"ping-1")
    ws.close_cleanly()


def test_5_5_2_ten_pings_ten_pongs_in_order(ws: RawClient) -> None:
    payloads = [f"ping {i}".encode() for i in range(10)]
    ws.send(*(frame(PING, p) for p in payloads))
    for p in payloads:
        ws.expect_message(PONG, p)
    ws.close_cleanly()


def test_5_5_2_ping_chopped_byte_by_byte(ws: RawClient) -> None:
    raw = frame(PING, b"slow ping")
    for i in range(len(raw)):
        ws.send(raw[i : i + 1])
    ws.expect_message(PONG, b"slow ping")
    ws.close_cleanly()


def test_5_5_2_ping_between_data_frames(ws: RawClient) -> None:
    # The Pong may overtake the echoes (the core answers while parsing);
    # the data messages keep their order.
    ws.send(frame(TEXT, b"before"), frame(PING, b"mid"), frame(BINARY, b"after"))
    got = [ws.recv_frame() for _ in range(3)]
    assert all(f is not None and f.fin and not f.masked for f in got), got
    pairs = [(f.opcode, f.payload) for f in got if f is not None]
    assert (PONG, b"mid") in pairs
    assert [p for p in pairs if p[0] != PONG] == [(TEXT, b"before"), (BINARY, b"after")]
    ws.close_cleanly()
