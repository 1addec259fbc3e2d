"""The pull API (``feed`` / ``next_event``): replies in arrival order.

RFC 6455 section 5.5.1 lets an endpoint finish sending its current message
before it echoes a Close, and Autobahn's strict runs expect an echo server
to echo every message received while OPEN before the Close echo. With the
pull API each automatic reply (Pong, Close echo, failing Close) is queued
when its frame is parsed, so a driver's own sends interleave with them.
"""

from __future__ import annotations

import pytest

from rawpush.proto.errors import InvalidPayload, MessageTooBig, ProtocolViolation, WebSocketError
from rawpush.proto.ws.connection import Connection
from rawpush.proto.ws.frames import Opcode
from rawpush.ws import (
    Binary,
    ClientConnection,
    Close,
    Event,
    Ping,
    ServerConnection,
    State,
    Text,
    WSConfig,
)
from tests.proto.ws.test_frames_5 import frame, sent_close

CLOSE_1000 = b"\x03\xe8"
SEQUENCE = (
    frame(Opcode.TEXT, b"ec", fin=False)
    + frame(Opcode.PING, b"p")
    + frame(Opcode.CONTINUATION, b"ho")
    + frame(Opcode.CLOSE, CLOSE_1000)
)


def echo_driver(conn: Connection, chunks: list[bytes]) -> list[tuple[int, bytes]]:
    """An echo server on the pull API: the frames it wrote, in order."""
    sent: list[tuple[int, bytes]] = []
    for chunk in chunks:
        conn.feed(chunk)
        for _ in range(100):
            event = conn.next_event()
            if event is None:
                break
            if isinstance(event, Text) and conn.state is State.OPEN:
                conn.send_text(event.data)
            sent.extend(read_frames(conn.data_to_send()))
    return sent


def read_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of the unmasked frames in ``data``."""
    out = []
    pos = 0
    while pos < len(data):
        length = data[pos + 1]
        assert length < 126
        out.append((data[pos] & 0x0F, data[pos + 2 : pos + 2 + length]))
        pos += 2 + length
    return out


EXPECTED = [(Opcode.PONG, b"p"), (Opcode.TEXT, b"echo"), (Opcode.CLOSE, CLOSE_1000)]


def test_5_5_1_an_echo_goes_out_between_the_pong_and_the_close_echo() -> None:
    assert echo_driver(ServerConnection(), [SEQUENCE]) == EXPECTED


def test_5_5_1_same_order_for_every_split_of_the_reads() -> None:
    for cut in range(len(SEQUENCE) + 1):
        chunks = [SEQUENCE[:cut], SEQUENCE[cut:]]
        assert echo_driver(ServerConnection(), chunks) == EXPECTED, cut
    chunks = [SEQUENCE[i : i + 1] for i in range(len(SEQUENCE))]
    assert echo_driver(ServerConnection(), chunks) == EXPECTED


def test_5_5_1_receive_data_queues_every_reply_at_once() -> None:
    # The push API keeps its behaviour: the Close echo is already queued.
    conn = ServerConnection()
    conn.receive_data(SEQUENCE)
    assert conn.state is State.CLOSED
    assert conn.events() == [Ping(b"p"), Text("echo"), Close(1000, "")]


def pull_all(conn: Connection, data: bytes) -> list[Event]:
    conn.feed(data)
    events: list[Event] = []
    for _ in range(100):
        event = conn.next_event()
        if event is None:
            return events
        events.append(event)
    raise AssertionError("next_event() never returned None")


def test_5_6_pull_gives_the_same_events_as_push_byte_by_byte() -> None:
    data = (
        frame(Opcode.BINARY, b"ab", fin=False)
        + frame(Opcode.PONG, b"q")
        + frame(Opcode.CONTINUATION, b"cd")
        + frame(Opcode.TEXT, "hé".encode())
        + frame(Opcode.CLOSE, CLOSE_1000)
        + b"ignored after the close"
    )
    push = ServerConnection()
    push.receive_data(data)
    expected = push.events()
    pull = ServerConnection()
    got: list[Event] = []
    for i in range(len(data)):
        got += pull_all(pull, data[i : i + 1])
    assert got == expected
    assert pull.data_to_send() == push.data_to_send()
    assert pull.next_event() is None


def test_7_1_7_failure_is_raised_at_the_bad_frame_after_earlier_events() -> None:
    conn = ServerConnection()
    conn.feed(frame(Opcode.TEXT, b"one") + frame(Opcode.PING) + frame(Opcode.CONTINUATION, b"x"))
    assert conn.next_event() == Text("one")
    assert conn.data_to_send() == b""
    assert conn.next_event() == Ping(b"")
    assert conn.data_to_send() == b"\x8a\x00"
    with pytest.raises(ProtocolViolation):
        conn.next_event()
    assert sent_close(conn.data_to_send())[0] == 1002
    assert conn.state is State.CLOSED
    conn.feed(frame(Opcode.TEXT, b"discarded"))
    assert conn.next_event() is None


def test_7_1_7_receive_data_events_come_first_from_next_event() -> None:
    conn = ServerConnection()
    conn.receive_data(frame(Opcode.BINARY, b"a") + frame(Opcode.BINARY, b"b"))
    conn.feed(frame(Opcode.BINARY, b"c"))
    assert [conn.next_event() for _ in range(4)] == [Binary(b"a"), Binary(b"b"), Binary(b"c"), None]


def test_8_1_pull_fails_fast_on_a_partial_bad_text_frame() -> None:
    conn = ServerConnection()
    data = frame(Opcode.BINARY, b"ok") + frame(Opcode.TEXT, b"ab\xff" + bytes(100))
    conn.feed(data[:20])
    assert conn.next_event() == Binary(b"ok")
    with pytest.raises(InvalidPayload):
        conn.next_event()


def test_7_1_7_eof_and_close_in_pull_mode() -> None:
    conn = ClientConnection()
    conn.feed(frame(Opcode.CLOSE, CLOSE_1000, masked=False))
    assert conn.next_event() == Close(1000, "")
    assert conn.next_event() is None
    assert not conn.should_close  # the client waits for the server's TCP close
    conn.receive_eof()
    assert conn.should_close


def test_7_1_7_every_failure_is_a_websocket_error() -> None:
    conn = ServerConnection()
    conn.feed(frame(Opcode.TEXT, b"\xff"))
    with pytest.raises(WebSocketError):
        conn.next_event()


def test_7_4_1_pull_refuses_a_text_message_over_the_limit_with_1009() -> None:
    conn = ServerConnection(WSConfig(max_message_size=4))
    conn.feed(frame(Opcode.TEXT, b"12345"))
    with pytest.raises(MessageTooBig):
        conn.next_event()
    assert sent_close(conn.data_to_send())[0] == 1009
