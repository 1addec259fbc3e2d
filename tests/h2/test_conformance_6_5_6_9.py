"""RFC 9113 sections 6.5.2-6.5.3 (SETTINGS values and their
synchronization) and 6.9.1-6.9.2 (flow-control windows, their ceiling of
2^31-1 and SETTINGS_INITIAL_WINDOW_SIZE), as the h2spec case list has
them. ``GET /`` (the demo page, kilobytes long) is the body the server
must pace by the windows this client grants.
"""

from __future__ import annotations

from hyperframe.frame import DataFrame, HeadersFrame, SettingsFrame

from tests.h2.support_raw import (
    Code,
    RawH2,
    Setting,
    Type,
    raw_frame,
    request_headers,
    settings_payload,
)

MAX_WINDOW = (1 << 31) - 1


def _settings(conn: RawH2, *pairs: tuple[int, int]) -> None:
    conn.send(raw_frame(Type.SETTINGS, 0, 0, settings_payload(*pairs)))


async def _acked(conn: RawH2) -> None:
    await conn.until(lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "the ACK")


async def _first_data(conn: RawH2, stream_id: int) -> DataFrame:
    frame = await conn.until(
        lambda f: isinstance(f, DataFrame) and f.stream_id == stream_id, "DATA"
    )
    assert isinstance(frame, DataFrame)
    return frame


# -- 6.5.2 defined settings ------------------------------------------------------------


async def test_9113_6_5_2_enable_push_of_2_is_a_protocol_error(conn: RawH2) -> None:
    _settings(conn, (Setting.ENABLE_PUSH, 2))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_5_2_initial_window_size_over_2_31_is_a_flow_control_error(
    conn: RawH2,
) -> None:
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, 1 << 31))
    await conn.expect_goaway(Code.FLOW_CONTROL_ERROR)


async def test_9113_6_5_2_max_frame_size_under_16384_is_a_protocol_error(conn: RawH2) -> None:
    _settings(conn, (Setting.MAX_FRAME_SIZE, 16_383))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_5_2_max_frame_size_over_2_24_is_a_protocol_error(conn: RawH2) -> None:
    _settings(conn, (Setting.MAX_FRAME_SIZE, 1 << 24))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_6_5_2_unknown_setting_is_ignored(conn: RawH2) -> None:
    _settings(conn, (0xFF, 1))
    await _acked(conn)
    await conn.expect_alive()


async def test_9113_6_5_2_enable_push_of_0_and_1_are_accepted(conn: RawH2) -> None:
    _settings(conn, (Setting.ENABLE_PUSH, 0))
    _settings(conn, (Setting.ENABLE_PUSH, 1))
    await _acked(conn)
    await _acked(conn)


async def test_9113_6_5_2_enable_connect_protocol_from_a_client_is_harmless(
    conn: RawH2,
) -> None:
    # RFC 8441 section 3: the setting means something only from a server;
    # a client's value of 0 or 1 is no error.
    _settings(conn, (Setting.ENABLE_CONNECT_PROTOCOL, 1))
    await _acked(conn)
    await conn.expect_alive()


async def test_9113_6_5_2_header_table_size_of_0_keeps_responses_decodable(
    conn: RawH2,
) -> None:
    # The server's encoder must start its next block with a table size
    # update to 0 (RFC 7541 section 4.2), which this client's decoder checks.
    _settings(conn, (Setting.HEADER_TABLE_SIZE, 0))
    await _acked(conn)
    conn.decoder.max_allowed_table_size = 0
    for stream_id in (1, 3):
        conn.headers(stream_id)
        headers, body = await conn.response(stream_id)
        assert (headers[":status"], body) == ("200", b"ok\n")


# -- 6.5.3 settings synchronization --------------------------------------------------------


async def test_9113_6_5_3_last_of_several_values_applies(conn: RawH2) -> None:
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, 100), (Setting.INITIAL_WINDOW_SIZE, 1))
    await _acked(conn)
    conn.headers(1, request_headers("/"))
    assert (await _first_data(conn, 1)).flow_controlled_length == 1


async def test_9113_6_5_3_each_settings_frame_gets_its_own_ack(conn: RawH2) -> None:
    for value in (10, 20, 30):
        _settings(conn, (Setting.MAX_CONCURRENT_STREAMS, value))
    for _ in range(3):
        await _acked(conn)


# -- 6.9.1 the flow-control window ---------------------------------------------------------


async def test_9113_6_9_1_initial_window_of_1_paces_data(conn: RawH2) -> None:
    conn.auto_window = False
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, 1))
    await _acked(conn)
    conn.headers(1, request_headers("/"))
    assert (await _first_data(conn, 1)).flow_controlled_length == 1
    # nothing more until the window grows: the PING's ACK comes first
    await conn.expect_alive()
    assert sum(isinstance(f, DataFrame) for f in conn.frames) == 1
    conn.window_update(1, 5)
    assert (await _first_data(conn, 1)).flow_controlled_length == 5


async def test_9113_6_9_1_connection_window_over_2_31_is_a_flow_control_error(
    conn: RawH2,
) -> None:
    conn.window_update(0, MAX_WINDOW)
    conn.window_update(0, MAX_WINDOW)
    await conn.expect_goaway(Code.FLOW_CONTROL_ERROR)


async def test_9113_6_9_1_stream_window_over_2_31_is_a_flow_control_error(
    conn: RawH2,
) -> None:
    conn.headers(1, request_headers("/sse/c6_9_1", accept="text/event-stream"))
    assert await conn.status(1) == 200
    conn.window_update(1, MAX_WINDOW)
    conn.window_update(1, MAX_WINDOW)
    frame = await conn.expect_stream_error(1, Code.FLOW_CONTROL_ERROR)
    if frame.type == Type.RST_STREAM:
        await conn.expect_alive()


async def test_9113_6_9_1_window_update_on_a_closed_stream_is_ignored(conn: RawH2) -> None:
    # Section 6.9: WINDOW_UPDATE may follow END_STREAM; it is no error.
    conn.headers(1)
    await conn.response(1)
    conn.window_update(1, 1000)
    await conn.expect_alive()


# -- 6.9.2 initial flow-control window size ------------------------------------------------


async def test_9113_6_9_2_raising_initial_window_after_headers_releases_data(
    conn: RawH2,
) -> None:
    conn.auto_window = False
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, 0))
    await _acked(conn)
    conn.headers(1, request_headers("/"))
    await conn.until(lambda f: isinstance(f, HeadersFrame) and f.stream_id == 1, "the headers")
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, 1))
    assert (await _first_data(conn, 1)).flow_controlled_length == 1


async def test_9113_6_9_2_negative_window_waits_for_window_updates(conn: RawH2) -> None:
    conn.auto_window = False
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, 3))
    await _acked(conn)
    conn.headers(1, request_headers("/"))
    assert (await _first_data(conn, 1)).flow_controlled_length == 3
    # window 3 - 3 = 0, then -2 with the new initial size of 1
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, 1))
    await _acked(conn)
    conn.window_update(1, 2)  # back to 0: still nothing may come
    await conn.expect_alive()
    assert sum(isinstance(f, DataFrame) for f in conn.frames) == 1
    conn.window_update(1, 4)
    assert (await _first_data(conn, 1)).flow_controlled_length == 4


async def test_9113_6_9_2_initial_window_that_overflows_a_stream_is_a_flow_control_error(
    conn: RawH2,
) -> None:
    conn.headers(1, request_headers("/sse/c6_9_2", accept="text/event-stream"))
    assert await conn.status(1) == 200
    conn.window_update(1, MAX_WINDOW - 65_535)  # at the ceiling, with 65,535 initial
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, 65_536))
    await conn.expect_goaway(Code.FLOW_CONTROL_ERROR)


async def test_9113_6_9_2_initial_window_size_over_2_31_is_a_flow_control_error(
    conn: RawH2,
) -> None:
    _settings(conn, (Setting.INITIAL_WINDOW_SIZE, MAX_WINDOW + 1))
    await conn.expect_goaway(Code.FLOW_CONTROL_ERROR)


async def test_9113_6_9_connection_window_is_shared_by_every_stream(conn: RawH2) -> None:
    # 65,535 for the connection (section 6.9.2: SETTINGS never changes it):
    # two pages of several kilobytes each come through once it grows.
    conn.auto_window = False
    conn.headers(1, request_headers("/"))
    conn.headers(3, request_headers("/"))
    conn.window_update(0, 1 << 20)
    conn.window_update(1, 1 << 20)
    conn.window_update(3, 1 << 20)
    conn.auto_window = True
    for stream_id in (1, 3):
        headers, body = await conn.response(stream_id)
        assert headers[":status"] == "200"
        assert body.startswith(b"<!")
