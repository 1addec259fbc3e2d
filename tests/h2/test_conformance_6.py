"""RFC 9113 section 6, one frame type at a time (6.1 DATA to 6.10
CONTINUATION), as the h2spec case list has them; SETTINGS values (6.5.2,
6.5.3) and flow control (6.9.1, 6.9.2) are in test_conformance_6_5_6_9.
"""

from __future__ import annotations

import struct

from hyperframe.frame import PingFrame, SettingsFrame

from tests.h2.support_raw import (
    Code,
    Flag,
    RawH2,
    SSEStream,
    Type,
    raw_frame,
    request_headers,
)


def _open_post(conn: RawH2, stream_id: int) -> None:
    conn.headers(
        stream_id,
        request_headers("/publish/c6", "POST", content_type="text/plain"),
        end_stream=False,
    )


# -- 6.1 DATA ----------------------------------------------------------------------


async def test_9113_6_1_data_on_stream_0_is_a_protocol_error(conn: RawH2) -> None:
    conn.data(0, b"x")
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_1_data_on_a_half_closed_remote_stream_is_stream_closed(
    conn: RawH2,
) -> None:
    await SSEStream.open(conn, 1, "c6_1")
    conn.data(1, b"x")
    await conn.expect_stream_error(1, Code.STREAM_CLOSED)


async def test_9113_6_1_data_with_pad_length_over_payload_is_a_protocol_error(
    conn: RawH2,
) -> None:
    _open_post(conn, 1)
    # pad length 6 in a 5-byte payload: "padding that exceeds the size
    # remaining for the frame payload"
    conn.send(raw_frame(Type.DATA, Flag.PADDED | Flag.END_STREAM, 1, b"\x06abcd"))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_1_padded_data_is_accepted(conn: RawH2) -> None:
    _open_post(conn, 1)
    conn.send(raw_frame(Type.DATA, Flag.PADDED | Flag.END_STREAM, 1, b"\x03hi\x00\x00\x00"))
    headers, body = await conn.response(1)
    assert headers[":status"] == "200"
    assert body.startswith(b"{")  # the publish's JSON answer


# -- 6.2 HEADERS -------------------------------------------------------------------


async def test_9113_6_2_headers_then_priority_before_end_headers_is_a_protocol_error(
    conn: RawH2,
) -> None:
    conn.headers(1, end_headers=False)
    conn.send(raw_frame(Type.PRIORITY, 0, 1, struct.pack(">IB", 0, 15)))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_2_headers_then_data_before_end_headers_is_a_protocol_error(
    conn: RawH2,
) -> None:
    conn.headers(1, end_headers=False, end_stream=False)
    conn.data(1, b"x")
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_2_headers_on_stream_0_is_a_protocol_error(conn: RawH2) -> None:
    conn.headers(0)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_2_headers_with_pad_length_over_payload_is_a_protocol_error(
    conn: RawH2,
) -> None:
    block = conn.block(request_headers())
    payload = bytes((len(block) + 1,)) + block
    conn.send(raw_frame(Type.HEADERS, Flag.PADDED | Flag.END_HEADERS | Flag.END_STREAM, 1, payload))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_2_padded_headers_with_priority_are_accepted(conn: RawH2) -> None:
    block = conn.block(request_headers())
    payload = b"\x02" + struct.pack(">IB", 0, 15) + block + b"\x00\x00"
    flags = Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS | Flag.END_STREAM
    conn.send(raw_frame(Type.HEADERS, flags, 1, payload))
    assert await conn.status(1) == 200


# -- 6.3 PRIORITY ------------------------------------------------------------------


async def test_9113_6_3_priority_on_stream_0_is_a_protocol_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.PRIORITY, 0, 0, struct.pack(">IB", 0, 15)))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_3_priority_of_length_4_is_a_frame_size_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.PRIORITY, 0, 1, struct.pack(">I", 0)))
    await conn.expect_stream_error(1, Code.FRAME_SIZE_ERROR)


# -- 6.4 RST_STREAM ----------------------------------------------------------------


async def test_9113_6_4_rst_stream_on_stream_0_is_a_protocol_error(conn: RawH2) -> None:
    conn.rst(0)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_4_rst_stream_on_an_idle_stream_is_a_protocol_error(conn: RawH2) -> None:
    conn.rst(3)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_4_rst_stream_of_length_3_is_a_frame_size_error(conn: RawH2) -> None:
    _open_post(conn, 1)
    conn.send(raw_frame(Type.RST_STREAM, 0, 1, b"\x00\x00\x08"))
    await conn.expect_goaway(Code.FRAME_SIZE_ERROR)


# -- 6.5 SETTINGS ------------------------------------------------------------------


async def test_9113_6_5_settings_ack_with_a_payload_is_a_frame_size_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.SETTINGS, Flag.ACK, 0, struct.pack(">HI", 0x3, 10)))
    await conn.expect_goaway(Code.FRAME_SIZE_ERROR)


async def test_9113_6_5_settings_on_a_stream_is_a_protocol_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.SETTINGS, 0, 1, struct.pack(">HI", 0x3, 10)))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_5_settings_length_not_a_multiple_of_6_is_a_frame_size_error(
    conn: RawH2,
) -> None:
    conn.send(raw_frame(Type.SETTINGS, 0, 0, struct.pack(">HI", 0x3, 10)[:5]))
    await conn.expect_goaway(Code.FRAME_SIZE_ERROR)


async def test_9113_6_5_settings_is_acknowledged(conn: RawH2) -> None:
    conn.send(raw_frame(Type.SETTINGS, 0, 0, struct.pack(">HI", 0x3, 10)))
    await conn.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "the ACK")


# -- 6.7 PING ----------------------------------------------------------------------


async def test_9113_6_7_ping_is_answered_with_the_same_payload(conn: RawH2) -> None:
    conn.ping(b"h2spec!!")
    frame = await conn.until(lambda f: isinstance(f, PingFrame), "the PING's ACK")
    assert "ACK" in frame.flags
    assert frame.opaque_data == b"h2spec!!"  # type: ignore[attr-defined]


async def test_9113_6_7_ping_ack_is_not_answered(conn: RawH2) -> None:
    conn.send(raw_frame(Type.PING, Flag.ACK, 0, b"unasked!"))
    conn.ping(b"answered")
    frame = await conn.until(lambda f: isinstance(f, PingFrame), "a PING")
    # the first PING frame back answers the second PING: the ACK got none
    assert frame.opaque_data == b"answered"  # type: ignore[attr-defined]


async def test_9113_6_7_ping_on_a_stream_is_a_protocol_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.PING, 0, 1, bytes(8)))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_7_ping_of_length_6_is_a_frame_size_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.PING, 0, 0, bytes(6)))
    await conn.expect_goaway(Code.FRAME_SIZE_ERROR)


# -- 6.8 GOAWAY --------------------------------------------------------------------


async def test_9113_6_8_goaway_on_a_stream_is_a_protocol_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.GOAWAY, 0, 1, struct.pack(">II", 0, 0)))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_8_goaway_from_the_client_ends_the_connection(conn: RawH2) -> None:
    conn.send(raw_frame(Type.GOAWAY, 0, 0, struct.pack(">II", 0, Code.NO_ERROR)))
    for _ in range(100):
        frame = await conn.read_frame()
        if frame is None:
            return
    raise AssertionError("the connection stayed open after the client's GOAWAY")


async def test_9113_6_8_ping_after_the_clients_goaway_is_answered(conn: RawH2) -> None:
    # A GOAWAY says no new streams will be initiated; it ends nothing else.
    await SSEStream.open(conn, 1, "c6_8")
    conn.send(raw_frame(Type.GOAWAY, 0, 0, struct.pack(">II", 0, Code.NO_ERROR)))
    await conn.expect_alive()


async def test_9113_6_8_stream_open_at_the_clients_goaway_completes(conn: RawH2) -> None:
    # "Activity on streams numbered lower than or equal to the last stream
    # identifier might still complete successfully"
    _open_post(conn, 1)
    conn.send(raw_frame(Type.GOAWAY, 0, 0, struct.pack(">II", 0, Code.NO_ERROR)))
    conn.data(1, b"late body", end_stream=True)
    assert await conn.status(1) == 200


# -- 6.9 WINDOW_UPDATE -------------------------------------------------------------


async def test_9113_6_9_window_update_of_0_on_the_connection_is_a_protocol_error(
    conn: RawH2,
) -> None:
    conn.window_update(0, 0)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_9_window_update_of_0_on_a_stream_is_a_protocol_error(
    conn: RawH2,
) -> None:
    _open_post(conn, 1)
    conn.window_update(1, 0)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_6_9_window_update_of_length_3_is_a_frame_size_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.WINDOW_UPDATE, 0, 0, b"\x00\x00\x01"))
    await conn.expect_goaway(Code.FRAME_SIZE_ERROR)


# -- 6.10 CONTINUATION -------------------------------------------------------------


async def test_9113_6_10_header_block_in_several_continuations_is_accepted(
    conn: RawH2,
) -> None:
    block = conn.block(request_headers())
    conn.send(raw_frame(Type.HEADERS, Flag.END_STREAM, 1, block[:2]))
    conn.send(raw_frame(Type.CONTINUATION, 0, 1, block[2:4]))
    conn.send(raw_frame(Type.CONTINUATION, 0, 1, block[4:6]))
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, block[6:]))
    assert await conn.status(1) == 200


async def test_9113_6_10_other_frame_after_continuation_is_a_protocol_error(
    conn: RawH2,
) -> None:
    block = conn.block(request_headers())
    conn.send(raw_frame(Type.HEADERS, Flag.END_STREAM, 1, block[:2]))
    conn.send(raw_frame(Type.CONTINUATION, 0, 1, block[2:4]))
    conn.data(1, b"x")
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_10_continuation_on_stream_0_is_a_protocol_error(conn: RawH2) -> None:
    block = conn.block(request_headers())
    conn.send(raw_frame(Type.HEADERS, Flag.END_STREAM, 1, block[:2]))
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 0, block[2:]))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_10_continuation_after_end_headers_is_a_protocol_error(
    conn: RawH2,
) -> None:
    # stream 1 is open (no END_STREAM): its block ended, nothing continues
    _open_post(conn, 1)
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, b"\x82"))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_10_continuation_after_an_ended_continuation_is_a_protocol_error(
    conn: RawH2,
) -> None:
    block = conn.block(request_headers())
    conn.send(raw_frame(Type.HEADERS, 0, 1, block[:2]))
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, block[2:]))
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, b"\x82"))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_10_continuation_after_data_is_a_protocol_error(conn: RawH2) -> None:
    _open_post(conn, 1)
    conn.data(1, b"x")
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, b"\x82"))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_10_continuation_of_another_stream_is_a_protocol_error(
    conn: RawH2,
) -> None:
    block = conn.block(request_headers())
    conn.send(raw_frame(Type.HEADERS, Flag.END_STREAM, 1, block[:2]))
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 3, block[2:]))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)
