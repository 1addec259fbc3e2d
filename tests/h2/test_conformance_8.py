"""RFC 9113 section 8, the HTTP message rules, as the h2spec case list
has them: framing (8.1), malformed messages (8.1.1), field names and
values (8.2, 8.2.1), connection-specific fields and TE (8.2.2),
pseudo-headers (8.3, 8.3.1), and the extended CONNECT of RFC 8441
section 4. Every malformed request is a stream error of type
PROTOCOL_ERROR (section 8.1.1).

Header blocks are written with ``literal_block``: each field a literal
that leaves the dynamic table alone, in the order given, unaltered.
"""

from __future__ import annotations

from tests.h2.support_hpack import literal_block
from tests.h2.support_raw import Code, RawH2, request_headers

_GET = [(":method", "GET"), (":scheme", "http"), (":path", "/healthz")]
_AUTHORITY = (":authority", "127.0.0.1")


async def _malformed(
    conn: RawH2, fields: list[tuple[str, str]], *, end_stream: bool = True
) -> None:
    conn.headers(1, block=literal_block(fields), end_stream=end_stream)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


# -- 8.1 HTTP message framing --------------------------------------------------------


async def test_9113_8_1_second_headers_without_end_stream_is_a_protocol_error(
    conn: RawH2,
) -> None:
    conn.headers(
        1,
        request_headers("/publish/c8_1", "POST", content_type="text/plain"),
        end_stream=False,
    )
    conn.data(1, b"x")
    conn.headers(1, block=literal_block([("x-trailer", "1")]), end_stream=False)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_8_1_trailers_with_end_stream_are_accepted(conn: RawH2) -> None:
    conn.headers(
        1,
        request_headers("/publish/c8_1", "POST", content_type="text/plain"),
        end_stream=False,
    )
    conn.data(1, b"x")
    conn.headers(1, block=literal_block([("x-trailer", "1")]))
    assert await conn.status(1) == 200


# -- 8.1.1 malformed messages ---------------------------------------------------------


async def test_9113_8_1_1_content_length_over_data_is_a_protocol_error(conn: RawH2) -> None:
    fields = request_headers("/publish/c8", "POST", content_type="text/plain", content_length="5")
    conn.headers(1, fields, end_stream=False)
    conn.data(1, b"abc", end_stream=True)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_8_1_1_data_over_content_length_in_frames_is_a_protocol_error(
    conn: RawH2,
) -> None:
    fields = request_headers("/publish/c8", "POST", content_type="text/plain", content_length="4")
    conn.headers(1, fields, end_stream=False)
    conn.data(1, b"abc")
    conn.data(1, b"def", end_stream=True)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_8_1_1_matching_content_length_is_accepted(conn: RawH2) -> None:
    fields = request_headers("/publish/c8", "POST", content_type="text/plain", content_length="6")
    conn.headers(1, fields, end_stream=False)
    conn.data(1, b"abc")
    conn.data(1, b"def", end_stream=True)
    assert await conn.status(1) == 200


# -- 8.2 / 8.2.1 field names and values --------------------------------------------------


async def test_9113_8_2_uppercase_field_name_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("X-Upper", "1")])


async def test_9113_8_2_1_field_name_with_a_space_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("x bad", "1")])


async def test_9113_8_2_1_empty_field_name_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("", "1")])


async def test_9113_8_2_1_field_value_with_nul_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("x-bad", "a\x00b")])


async def test_9113_8_2_1_field_value_with_cr_lf_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("x-bad", "a\r\nx-injected: 1")])


async def test_9113_8_2_1_field_value_with_leading_space_is_a_protocol_error(
    conn: RawH2,
) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("x-bad", " padded")])


# -- 8.2.2 connection-specific fields ------------------------------------------------------


async def test_9113_8_2_2_connection_field_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("connection", "keep-alive")])


async def test_9113_8_2_2_transfer_encoding_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("transfer-encoding", "chunked")])


async def test_9113_8_2_2_upgrade_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("upgrade", "websocket")])


async def test_9113_8_2_2_te_other_than_trailers_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, ("te", "trailers, deflate")])


async def test_9113_8_2_2_te_trailers_is_accepted(conn: RawH2) -> None:
    conn.headers(1, block=literal_block([*_GET, _AUTHORITY, ("te", "trailers")]))
    assert await conn.status(1) == 200


# -- 8.3 pseudo-header fields ---------------------------------------------------------


async def test_9113_8_3_unknown_pseudo_header_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, (":foo", "bar")])


async def test_9113_8_3_response_pseudo_header_in_a_request_is_a_protocol_error(
    conn: RawH2,
) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, (":status", "200")])


async def test_9113_8_3_pseudo_header_in_trailers_is_a_protocol_error(conn: RawH2) -> None:
    conn.headers(
        1,
        request_headers("/publish/c8_3", "POST", content_type="text/plain"),
        end_stream=False,
    )
    conn.data(1, b"x")
    conn.headers(1, block=literal_block([(":method", "POST")]))
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_8_3_pseudo_header_after_a_regular_field_is_a_protocol_error(
    conn: RawH2,
) -> None:
    await _malformed(conn, [_GET[0], _GET[1], ("x-early", "1"), _GET[2], _AUTHORITY])


async def test_9113_8_3_duplicate_pseudo_header_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, (":path", "/healthz")])


# -- 8.3.1 request pseudo-header fields -------------------------------------------------


async def test_9113_8_3_1_empty_path_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [_GET[0], _GET[1], (":path", ""), _AUTHORITY])


async def test_9113_8_3_1_missing_method_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [_GET[1], _GET[2], _AUTHORITY])


async def test_9113_8_3_1_missing_scheme_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [_GET[0], _GET[2], _AUTHORITY])


async def test_9113_8_3_1_missing_path_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [_GET[0], _GET[1], _AUTHORITY])


async def test_9113_8_3_1_duplicate_method_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [_GET[0], *_GET, _AUTHORITY])


async def test_9113_8_3_1_duplicate_scheme_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, [*_GET, _GET[1], _AUTHORITY])


async def test_9113_8_3_1_host_without_authority_is_accepted(conn: RawH2) -> None:
    # "Clients that generate HTTP/2 requests directly MUST use :authority
    # instead of Host", but a server still takes Host (section 8.3.1).
    conn.headers(1, block=literal_block([*_GET, ("host", "127.0.0.1")]))
    assert await conn.status(1) == 200


# -- RFC 8441 section 4: the extended CONNECT -------------------------------------------


async def test_8441_4_extended_connect_without_path_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(
        conn,
        [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), _AUTHORITY],
        end_stream=False,
    )


async def test_8441_4_protocol_pseudo_header_without_connect_is_a_protocol_error(
    conn: RawH2,
) -> None:
    await _malformed(conn, [*_GET, _AUTHORITY, (":protocol", "websocket")])


async def test_8441_4_extended_connect_to_a_websocket_route_is_answered_200(
    conn: RawH2,
) -> None:
    fields = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/ws/c8441"),
        _AUTHORITY,
        ("sec-websocket-version", "13"),
    ]
    conn.headers(1, block=literal_block(fields), end_stream=False)
    assert await conn.status(1) == 200


async def test_8441_5_failed_websocket_ends_its_stream_not_the_connection(conn: RawH2) -> None:
    # an unmasked client frame (RFC 6455 section 5.1) fails the WebSocket
    # with 1002; the client's END_STREAM right behind it ends the tunnel,
    # and every other stream of the connection carries on
    fields = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/ws/c8441"),
        _AUTHORITY,
        ("sec-websocket-version", "13"),
    ]
    conn.headers(1, block=literal_block(fields), end_stream=False)
    assert await conn.status(1) == 200
    conn.data(1, b"\x81\x03abc", end_stream=True)
    close = await conn.until(lambda f: f.stream_id == 1 and f.type == 0x0, "the Close frame")
    assert bytes(close.data[:4]) == b"\x88" + bytes((len(close.data) - 2,)) + b"\x03\xea"  # type: ignore[attr-defined]
    await conn.expect_alive()
    conn.headers(3)
    assert await conn.status(3) == 200
