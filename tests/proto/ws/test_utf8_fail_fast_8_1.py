"""RFC 6455 section 8.1, failing fast on bad UTF-8 inside a frame.

Autobahn cases 6.4.3 and 6.4.4 send a text frame whose payload turns
invalid midway, in pieces, and wait: the endpoint must fail with 1007
once the bytes it has cannot begin valid UTF-8, before the rest arrives.
Only for connections without an extension (a compressed payload cannot be
judged before it is inflated).
"""

from __future__ import annotations

import pytest

from rawpush.proto.errors import InvalidPayload
from rawpush.proto.ws.frames import Opcode
from rawpush.ws import ClientConnection, PerMessageDeflate, ServerConnection, State, Text
from tests.proto.ws.test_frames_5 import frame, sent_close

GOOD = "κόσμε".encode()
BAD = b"\xf4\x90\x80\x80"  # past U+10FFFF: invalid from its second byte
TAIL = b"edited"


def first_failure(conn: ServerConnection | ClientConnection, data: bytes) -> int | None:
    """Feed ``data`` a byte at a time; the offset of the byte that failed."""
    for i in range(len(data)):
        try:
            conn.receive_data(data[i : i + 1])
        except InvalidPayload:
            assert sent_close(conn.data_to_send())[0] == 1007
            assert conn.state is State.CLOSED
            return i
    return None


def test_8_1_a_frame_fails_at_the_first_bad_byte_not_at_its_end() -> None:
    data = frame(Opcode.TEXT, GOOD + BAD + TAIL)
    # header (2) + mask key (4) + the good text, then 0xF4, then 0x90.
    assert first_failure(ServerConnection(), data) == 6 + len(GOOD) + 1


def test_8_1_fail_fast_in_a_client_on_an_unmasked_frame() -> None:
    data = frame(Opcode.TEXT, GOOD + BAD + TAIL, masked=False)
    assert first_failure(ClientConnection(), data) == 2 + len(GOOD) + 1


def test_8_1_fail_fast_with_a_16_bit_length() -> None:
    payload = GOOD * 20 + BAD + TAIL * 10
    assert len(payload) > 125
    data = frame(Opcode.TEXT, payload)
    assert first_failure(ServerConnection(), data) == 8 + len(GOOD) * 20 + 1


def test_8_1_fail_fast_in_a_continuation_carries_the_decoder_state() -> None:
    # The first fragment ends inside a character; the continuation must be
    # judged as its rest (a fresh decoder would refuse the lone 0xBA).
    conn = ServerConnection()
    conn.receive_data(frame(Opcode.TEXT, GOOD[:1], fin=False))
    rest = frame(Opcode.CONTINUATION, GOOD[1:] + BAD + TAIL)
    assert first_failure(conn, rest) == 6 + len(GOOD) - 1 + 1


def test_8_1_a_valid_frame_fed_byte_by_byte_is_not_refused() -> None:
    for masked in (True, False):
        conn = ServerConnection() if masked else ClientConnection()
        text = "€𝄞ü" * 50
        data = frame(Opcode.TEXT, text.encode(), fin=False, masked=masked)
        data += frame(Opcode.CONTINUATION, "ñ€".encode() * 40, masked=masked)
        assert first_failure(conn, data) is None
        assert conn.events() == [Text(text + "ñ€" * 40)]


def test_8_1_a_split_in_one_read_each_is_the_same_as_byte_by_byte() -> None:
    data = frame(Opcode.TEXT, GOOD + BAD + TAIL)
    for cut in range(1, len(data)):
        conn = ServerConnection()
        failed_early = False
        try:
            conn.receive_data(data[:cut])
        except InvalidPayload:
            failed_early = True
        assert failed_early == (cut > 6 + len(GOOD) + 1), cut


def test_8_1_binary_frames_and_bad_sequencing_are_left_to_the_whole_frame() -> None:
    conn = ServerConnection()
    conn.receive_data(frame(Opcode.BINARY, b"\xff" * 10)[:10])
    assert conn.state is State.OPEN
    conn = ServerConnection()
    conn.receive_data(frame(Opcode.TEXT, b"a", fin=False))
    # A new text frame inside a message is a 1002 once complete, not a 1007.
    conn.receive_data(frame(Opcode.TEXT, b"\xff" * 10)[:10])
    assert conn.state is State.OPEN
    conn = ServerConnection()
    conn.receive_data(frame(Opcode.BINARY, b"a", fin=False))
    conn.receive_data(frame(Opcode.CONTINUATION, b"\xff" * 10)[:10])
    assert conn.state is State.OPEN


def test_8_1_compressed_frames_are_not_judged_before_inflating() -> None:
    conn = ServerConnection(extension=PerMessageDeflate())
    conn.receive_data(frame(Opcode.TEXT, b"\xff" * 10, rsv=0x40)[:10])
    assert conn.state is State.OPEN


@pytest.mark.parametrize("cut", [1, 2, 3, 5])
def test_8_1_nothing_is_judged_before_the_header_is_in(cut: int) -> None:
    conn = ServerConnection()
    conn.receive_data(frame(Opcode.TEXT, b"\xff" * 200)[:cut])
    assert conn.state is State.OPEN
