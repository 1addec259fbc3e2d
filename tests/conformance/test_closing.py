"""RFC 6455 sections 5.5.1 (Close), 7.1 (closing), 7.4 (status codes):
Autobahn category 7.

Codes a peer may send (7.4.1, 7.4.2, IANA registry): 1000-1003,
1007-1014 and 3000-4999, echoed back. Everything else (0-999, the
never-on-the-wire 1004-1006 and 1015, unassigned 1016-2999, 5000 and
up) is a protocol error: 1002.
"""

from __future__ import annotations

import pytest

from tests.conformance.rawclient import BINARY, CLOSE, PING, TEXT, RawClient, close_payload, frame

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
               3000, 3001, 3999, 4000, 4001, 4999]
INVALID_CODES = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 5001,
                 0x7FFF, 0xFFFF]


@pytest.mark.parametrize("code", VALID_CODES)
def test_7_4_valid_close_code_echoed(ws: RawClient, code: int) -> None:
    # Section 5.5.1: the answer "typically echos the status code it received".
    ws.send(frame(CLOSE, close_payload(code)))
    ws.expect_close(code)


@pytest.mark.parametrize("code", INVALID_CODES)
def test_7_4_invalid_close_code_is_1002(ws: RawClient, code: int) -> None:
    ws.send(frame(CLOSE, close_payload(code)))
    ws.expect_close(1002)


def test_5_5_1_close_without_payload_answered_without_code(ws: RawClient) -> None:
    ws.send(frame(CLOSE))
    ws.expect_close(None)


def test_5_5_1_close_with_one_byte_payload_is_1002(ws: RawClient) -> None:
    # Section 5.5.1: a body, if any, starts with a 2-byte code.
    ws.send(frame(CLOSE, b"\x03"))
    ws.expect_close(1002)


@pytest.mark.parametrize("size", [0, 1, 123])
def test_5_5_1_close_with_reason_echoed(ws: RawClient, size: int) -> None:
    ws.send(frame(CLOSE, close_payload(1000, b"r" * size)))
    ws.expect_close(1000)


def test_5_5_close_payload_over_125_is_1002(ws: RawClient) -> None:
    ws.send(frame(CLOSE, close_payload(1000, b"r" * 124)))
    ws.expect_close(1002)


def test_5_5_1_nothing_processed_after_close(ws: RawClient) -> None:
    # "the endpoint ... MUST NOT send any more data frames" and the data
    # after a Close is not processed: no echo, no Pong.
    ws.send(frame(CLOSE, close_payload(1000)), frame(TEXT, b"late"), frame(PING, b"late"))
    ws.expect_close(1000)


def test_5_5_1_second_close_ignored(ws: RawClient) -> None:
    ws.send(frame(CLOSE, close_payload(1000)), frame(CLOSE, close_payload(1001)))
    ws.expect_close(1000)


def test_5_5_1_messages_and_close_in_one_write(ws: RawClient) -> None:
    # Messages that came before the Close are echoed before the Close echo.
    ws.send(frame(TEXT, b"one"), frame(BINARY, b"two"), frame(CLOSE, close_payload(1001)))
    ws.expect_message(TEXT, b"one")
    ws.expect_message(BINARY, b"two")
    ws.expect_close(1001)


def test_5_5_1_close_after_messages_echoed_first(ws: RawClient) -> None:
    ws.send(frame(TEXT, b"one"), frame(BINARY, b"two"))
    ws.expect_message(TEXT, b"one")
    ws.expect_message(BINARY, b"two")
    ws.send(frame(CLOSE, close_payload(3000, b"bye")))
    ws.expect_close(3000)


def test_5_5_1_close_chopped_byte_by_byte(ws: RawClient) -> None:
    raw = frame(CLOSE, close_payload(4000, b"slow"))
    for i in range(len(raw)):
        ws.send(raw[i : i + 1])
    ws.expect_close(4000)


def test_7_1_1_server_closes_tcp_after_close(ws: RawClient) -> None:
    # Section 7.1.1: the server closes the TCP connection first; the
    # client sees EOF without having closed its side.
    ws.send(frame(CLOSE, close_payload(1000)))
    ws.expect_close(1000)


def test_7_1_5_tcp_end_without_close_is_tolerated(echo_port: int) -> None:
    # An abrupt end (1006 on the server, section 7.1.5) must not disturb
    # the server: a new connection still works.
    first = RawClient(echo_port).open()
    first.send(frame(TEXT, b"partial")[:4])
    first.close()
    second = RawClient(echo_port).open()
    second.send(frame(TEXT, b"still serving"))
    second.expect_message(TEXT, b"still serving")
    second.close_cleanly()
