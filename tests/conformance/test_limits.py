"""Size limits: RFC 6455 section 7.4.1 code 1009 ("a message that is too
big for it to process") and section 10.4 (implementations SHOULD impose
limits). The echo server under test allows MAX_MESSAGE bytes."""

from __future__ import annotations

import pytest

from tests.conformance.conftest import MAX_MESSAGE
from tests.conformance.rawclient import BINARY, CONT, PING, TEXT, RawClient, frame


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_10_4_message_at_the_limit_echoed(ws: RawClient, opcode: int) -> None:
    data = b"L" * MAX_MESSAGE
    ws.send(frame(opcode, data))
    ws.expect_message(opcode, data)
    ws.close_cleanly()


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_7_4_1_frame_over_the_limit_is_1009(ws: RawClient, opcode: int) -> None:
    ws.send(frame(opcode, b"L" * (MAX_MESSAGE + 1)))
    ws.expect_close(1009)


@pytest.mark.parametrize("announced", [MAX_MESSAGE + 1, 1 << 31, (1 << 63) - 1])
def test_7_4_1_huge_announced_length_refused_from_the_header(
    ws: RawClient, announced: int
) -> None:
    # Only the header is sent: the refusal must not wait for a payload
    # that would never fit.
    ws.send(frame(BINARY, b"", length=announced, length_bytes=8))
    ws.expect_close(1009)


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_7_4_1_fragmented_message_over_the_limit_is_1009(ws: RawClient, opcode: int) -> None:
    # Each fragment is small; their sum is one byte too many.
    half = MAX_MESSAGE // 2
    ws.send(frame(opcode, b"a" * half, fin=False), frame(CONT, b"b" * (half + 1)))
    ws.expect_close(1009)


def test_7_4_1_many_small_fragments_over_the_limit_is_1009(ws: RawClient) -> None:
    chunk = b"c" * 4096
    count = MAX_MESSAGE // len(chunk)
    frames = [frame(BINARY, chunk, fin=False)]
    frames += [frame(CONT, chunk, fin=False) for _ in range(count - 1)]
    frames.append(frame(CONT, b"!"))
    ws.send(*frames)
    ws.expect_close(1009)


def test_7_4_1_connection_usable_after_a_big_message(ws: RawClient) -> None:
    ws.send(frame(BINARY, b"B" * MAX_MESSAGE))
    ws.expect_message(BINARY, b"B" * MAX_MESSAGE)
    ws.send(frame(PING, b"still here"))
    ws.expect_message(0xA, b"still here")
    ws.close_cleanly()
