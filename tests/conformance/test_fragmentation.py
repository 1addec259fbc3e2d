"""RFC 6455 section 5.4 (fragmentation): Autobahn category 5.

A message is one first frame (opcode 1 or 2, FIN clear), any number of
continuations (opcode 0), the last with FIN set; control frames may come
in between; fragments of two messages never interleave.
"""

from __future__ import annotations

import os

import pytest

from tests.conformance.rawclient import BINARY, CLOSE, CONT, PING, PONG, TEXT, RawClient, frame


def fragments(opcode: int, data: bytes, count: int) -> list[bytes]:
    """``data`` as ``count`` frames (some may be empty)."""
    step = -(-len(data) // count) if data else 0
    parts = [data[i * step : (i + 1) * step] for i in range(count)]
    return [
        frame(opcode if i == 0 else CONT, part, fin=i == count - 1)
        for i, part in enumerate(parts)
    ]


@pytest.mark.parametrize("count", [1, 2, 3, 8, 64])
@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_5_4_fragmented_message_echoed_whole(ws: RawClient, opcode: int, count: int) -> None:
    data = b"fragment-me " * 900 if opcode == TEXT else os.urandom(10_000)
    ws.send(*fragments(opcode, data, count))
    ws.expect_message(opcode, data)
    ws.close_cleanly()


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_5_4_all_fragments_empty(ws: RawClient, opcode: int) -> None:
    ws.send(frame(opcode, b"", fin=False), frame(CONT, b"", fin=False), frame(CONT, b""))
    ws.expect_message(opcode, b"")
    ws.close_cleanly()


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_5_4_fragments_in_separate_writes(ws: RawClient, opcode: int) -> None:
    for part in fragments(opcode, b"one two three four", 4):
        ws.send(part)
    ws.expect_message(opcode, b"one two three four")
    ws.close_cleanly()


def test_5_4_ping_between_fragments_answered_at_once(ws: RawClient) -> None:
    # Section 5.4: control frames MAY be injected in the middle of a
    # fragmented message; the Pong must not wait for the message's end.
    ws.send(frame(TEXT, b"frag1 ", fin=False), frame(PING, b"in between"))
    ws.expect_message(PONG, b"in between")
    ws.send(frame(CONT, b"frag2"))
    ws.expect_message(TEXT, b"frag1 frag2")
    ws.close_cleanly()


def test_5_4_pong_between_fragments_ignored(ws: RawClient) -> None:
    ws.send(frame(BINARY, b"a", fin=False), frame(PONG, b"x"), frame(CONT, b"b"))
    ws.expect_message(BINARY, b"ab")
    ws.close_cleanly()


def test_5_4_many_pings_between_many_fragments(ws: RawClient) -> None:
    frames: list[bytes] = []
    for i, part in enumerate(fragments(TEXT, b"0123456789", 10)):
        frames += [part, frame(PING, str(i).encode())]
    ws.send(*frames)
    got = [ws.recv_frame() for _ in range(11)]
    assert [(f.opcode, f.payload) for f in got if f is not None and f.opcode == PONG] == [
        (PONG, str(i).encode()) for i in range(10)
    ]
    assert any(f is not None and f.opcode == TEXT and f.payload == b"0123456789" for f in got)
    ws.close_cleanly()


def test_5_4_close_between_fragments_ends_the_message(ws: RawClient) -> None:
    # The Close is answered; the unfinished message is dropped, and the
    # final fragment after the Close is not processed (section 5.5.1).
    ws.send(frame(TEXT, b"never ", fin=False))
    ws.send(frame(CLOSE, b"\x03\xe8"), frame(CONT, b"finished"))
    ws.expect_close(1000)


@pytest.mark.parametrize("payload", [b"", b"orphan"], ids=["empty", "payload"])
@pytest.mark.parametrize("fin", [True, False], ids=["final", "not-final"])
def test_5_4_continuation_without_a_message_is_1002(
    ws: RawClient, payload: bytes, fin: bool
) -> None:
    ws.send(frame(CONT, payload, fin=fin))
    ws.expect_close(1002)


def test_5_4_continuation_after_a_finished_message_is_1002(ws: RawClient) -> None:
    ws.send(frame(TEXT, b"done"))
    ws.expect_message(TEXT, b"done")
    ws.send(frame(CONT, b"too late"))
    ws.expect_close(1002)


@pytest.mark.parametrize(
    ("first", "second"),
    [(TEXT, TEXT), (TEXT, BINARY), (BINARY, TEXT), (BINARY, BINARY)],
    ids=["text-text", "text-binary", "binary-text", "binary-binary"],
)
@pytest.mark.parametrize("second_fin", [True, False], ids=["final", "not-final"])
def test_5_4_new_message_inside_a_fragmented_one_is_1002(
    ws: RawClient, first: int, second: int, second_fin: bool
) -> None:
    # Section 5.4: "the fragments of one message MUST NOT be interleaved
    # between the fragments of another message".
    ws.send(frame(first, b"part one", fin=False), frame(second, b"intruder", fin=second_fin))
    ws.expect_close(1002)


@pytest.mark.parametrize("opcode", [CLOSE, PING, PONG], ids=["close", "ping", "pong"])
def test_5_5_fragmented_control_frame_is_1002(ws: RawClient, opcode: int) -> None:
    payload = b"\x03\xe8" if opcode == CLOSE else b"ctl"
    ws.send(frame(opcode, payload, fin=False), frame(CONT, b"more"))
    ws.expect_close(1002)


def test_5_5_control_continued_by_continuation_is_1002(ws: RawClient) -> None:
    # Autobahn 5.2: a Pong "fragmented" with a continuation frame.
    ws.send(frame(PONG, b"fragment1", fin=False), frame(CONT, b"fragment2"))
    ws.expect_close(1002)
