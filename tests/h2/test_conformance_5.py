"""RFC 9113 section 5: stream states (5.1), stream identifiers (5.1.1),
concurrency (5.1.2), priority signals (5.3), error handling (5.4) and
extensions (5.5), as the h2spec case list has them.

Streams used: ``GET /healthz`` ends at once (closed once answered),
``GET /sse/...`` with END_STREAM stays half-closed (remote) while the
server streams, ``POST /publish/...`` without END_STREAM stays open.
"""

from __future__ import annotations

import struct

from rawpush.server.app import Server
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
        request_headers("/publish/c5", "POST", content_type="text/plain"),
        end_stream=False,
    )


async def _closed(conn: RawH2, stream_id: int) -> None:
    """Stream ``stream_id``, opened and answered in full: closed."""
    conn.headers(stream_id)
    headers, _ = await conn.response(stream_id)
    assert headers[":status"] == "200"


# -- 5.1 idle ---------------------------------------------------------------------


async def test_9113_5_1_idle_data_is_a_protocol_error(conn: RawH2) -> None:
    conn.data(1, b"x")
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_5_1_idle_rst_stream_is_a_protocol_error(conn: RawH2) -> None:
    conn.rst(1)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_5_1_idle_window_update_is_a_protocol_error(conn: RawH2) -> None:
    conn.window_update(1, 100)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_5_1_idle_continuation_is_a_protocol_error(conn: RawH2) -> None:
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, conn.block(request_headers())))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


# -- 5.1 half-closed (remote) ---------------------------------------------------------


async def test_9113_5_1_half_closed_remote_data_is_stream_closed(conn: RawH2) -> None:
    await SSEStream.open(conn, 1, "c5_1")
    conn.data(1, b"x")
    await conn.expect_stream_error(1, Code.STREAM_CLOSED)


async def test_9113_5_1_half_closed_remote_headers_is_stream_closed(conn: RawH2) -> None:
    await SSEStream.open(conn, 1, "c5_1")
    conn.headers(1, [("x-trailer", "late")])
    await conn.expect_stream_error(1, Code.STREAM_CLOSED)


async def test_9113_5_1_half_closed_remote_continuation_is_an_error(conn: RawH2) -> None:
    await SSEStream.open(conn, 1, "c5_1")
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, b"\x82"))
    await conn.expect_stream_error(1, Code.STREAM_CLOSED, Code.PROTOCOL_ERROR)


# -- 5.1 closed ----------------------------------------------------------------------


async def test_9113_5_1_closed_by_rst_then_data_is_stream_closed(conn: RawH2) -> None:
    _open_post(conn, 1)
    conn.rst(1)
    conn.data(1, b"x")
    await conn.expect_stream_error(1, Code.STREAM_CLOSED)


async def test_9113_5_1_closed_by_rst_then_headers_is_stream_closed(conn: RawH2) -> None:
    _open_post(conn, 1)
    conn.rst(1)
    conn.headers(1, [("x-trailer", "late")])
    await conn.expect_stream_error(1, Code.STREAM_CLOSED)


async def test_9113_5_1_closed_by_rst_then_continuation_is_an_error(conn: RawH2) -> None:
    _open_post(conn, 1)
    conn.rst(1)
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, b"\x82"))
    await conn.expect_stream_error(1, Code.STREAM_CLOSED, Code.PROTOCOL_ERROR)


async def test_9113_5_1_closed_then_data_is_stream_closed(conn: RawH2) -> None:
    await _closed(conn, 1)
    conn.data(1, b"x")
    await conn.expect_stream_error(1, Code.STREAM_CLOSED)


async def test_9113_5_1_closed_then_headers_is_stream_closed(conn: RawH2) -> None:
    await _closed(conn, 1)
    conn.headers(1)
    await conn.expect_stream_error(1, Code.STREAM_CLOSED)


async def test_9113_5_1_closed_then_continuation_is_an_error(conn: RawH2) -> None:
    await _closed(conn, 1)
    conn.send(raw_frame(Type.CONTINUATION, Flag.END_HEADERS, 1, b"\x82"))
    await conn.expect_stream_error(1, Code.STREAM_CLOSED, Code.PROTOCOL_ERROR)


async def test_9113_5_1_closed_then_priority_is_allowed(conn: RawH2) -> None:
    # "An endpoint MUST NOT send frames other than PRIORITY on a closed
    # stream": PRIORITY is the one it may receive.
    await _closed(conn, 1)
    conn.send(raw_frame(Type.PRIORITY, 0, 1, struct.pack(">IB", 0, 15)))
    await conn.expect_alive()


async def test_9113_5_1_reset_stream_gets_its_answer_cancelled_not_the_connection(
    conn: RawH2,
) -> None:
    await SSEStream.open(conn, 1, "c5_1")
    conn.rst(1)
    await conn.expect_alive()
    await _closed(conn, 3)


# -- 5.1.1 stream identifiers ------------------------------------------------------


async def test_9113_5_1_1_even_stream_id_is_a_protocol_error(conn: RawH2) -> None:
    conn.headers(2)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_5_1_1_decreasing_stream_id_is_a_protocol_error(conn: RawH2) -> None:
    await _closed(conn, 5)
    conn.headers(3)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_5_1_1_skipping_ids_closes_the_skipped_ones(conn: RawH2) -> None:
    # Opening stream 7 closes idle streams 1, 3 and 5 implicitly.
    await _closed(conn, 7)
    conn.headers(9)
    assert await conn.status(9) == 200


# -- 5.1.2 stream concurrency -------------------------------------------------------


async def test_9113_5_1_2_stream_over_max_concurrent_is_refused(conn: RawH2) -> None:
    limit = conn.server_settings[0x3]
    for index in range(limit):
        conn.headers(1 + 2 * index, request_headers("/sse/c5_1_2", accept="text/event-stream"))
    for index in range(limit):
        assert await conn.status(1 + 2 * index) == 200
    over = 1 + 2 * limit
    conn.headers(over, request_headers("/sse/c5_1_2", accept="text/event-stream"))
    # A stream error (PROTOCOL_ERROR or REFUSED_STREAM); the hundred others
    # must not pay for it, so a GOAWAY would be wrong here.
    frame = await conn.expect_stream_error(over, Code.REFUSED_STREAM, Code.PROTOCOL_ERROR)
    assert frame.type == Type.RST_STREAM
    await conn.expect_alive()


# -- 5.3 priority ------------------------------------------------------------------


async def test_9113_5_3_1_headers_depending_on_itself_is_a_protocol_error(
    conn: RawH2,
) -> None:
    priority = struct.pack(">IB", 1, 15)  # exclusive 0, depends on 1, weight 16
    conn.send(
        raw_frame(
            Type.HEADERS,
            Flag.END_HEADERS | Flag.END_STREAM | Flag.PRIORITY,
            1,
            priority + conn.block(request_headers()),
        )
    )
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_5_3_1_priority_depending_on_itself_is_a_protocol_error(
    conn: RawH2,
) -> None:
    conn.send(raw_frame(Type.PRIORITY, 0, 1, struct.pack(">IB", 1, 15)))
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_5_3_2_priority_of_an_idle_stream_is_allowed(conn: RawH2) -> None:
    # Section 5.1: PRIORITY may be sent in any state, idle included.
    conn.send(raw_frame(Type.PRIORITY, 0, 3, struct.pack(">IB", 0, 200)))
    await _closed(conn, 1)


# -- 5.4 error handling -------------------------------------------------------------


async def test_9113_5_4_1_connection_error_sends_goaway_then_closes(conn: RawH2) -> None:
    await _closed(conn, 1)
    conn.send(raw_frame(Type.PING, 0, 0, bytes(7)))
    goaway = await conn.expect_goaway(Code.FRAME_SIZE_ERROR)
    # the last stream the server processed (section 6.8)
    assert goaway.last_stream_id == 1
    assert await conn.read_frame() is None


async def test_9113_5_4_2_stream_error_leaves_the_connection_usable(conn: RawH2) -> None:
    # DATA on a stream the client reset: a stream error, STREAM_CLOSED
    _open_post(conn, 1)
    conn.rst(1)
    conn.data(1, b"x")
    frame = await conn.expect_stream_error(1, Code.STREAM_CLOSED)
    assert frame.type == Type.RST_STREAM
    await conn.expect_alive()
    await _closed(conn, 3)


# -- 5.5 extending HTTP/2 -------------------------------------------------------------


async def test_9113_5_5_unknown_extension_frame_is_ignored(conn: RawH2) -> None:
    conn.send(raw_frame(0xFA, 0xFF, 1, b"extension"))
    await _closed(conn, 1)


async def test_9113_5_5_extension_frame_inside_a_header_block_is_a_protocol_error(
    conn: RawH2,
) -> None:
    conn.headers(1, end_headers=False)
    conn.send(raw_frame(0xFA, 0, 1, b"extension"))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_5_goaway_from_the_server_names_streams_it_did_process(
    server: Server,
) -> None:
    conn = await RawH2.open(server.port)
    try:
        await _closed(conn, 1)
        await _closed(conn, 3)
        conn.send(raw_frame(Type.GOAWAY, 0, 1, struct.pack(">II", 0, 0)))
        goaway = await conn.expect_goaway(Code.PROTOCOL_ERROR)
        assert goaway.last_stream_id == 3
    finally:
        await conn.close()
