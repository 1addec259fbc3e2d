"""RFC 9113 section 8, the HTTP message rules, as the h2spec case list
has them: framing (8.1), malformed messages (8.1.1), field names and
values (8.2, 8.2.1), connection-specific fields and TE (8.2.2),
pseudo-headers (8.3, 8.3.1), and the extended CONNECT of RFC 8441
section 4. Every malformed request is a stream error of type
PROTOCOL_ERROR (section 8.1.1).

Header blocks are written with ``literal_block``: each field a literal
that leaves the dynamic table alone, in the order given, unaltered. The
malformed blocks of one section are one table each (a parameter per
case, named after what is wrong with it).
"""

from __future__ import annotations

import pytest

from tests.h2.support_hpack import literal_block
from tests.h2.support_raw import Code, RawH2, request_headers

_METHOD, _SCHEME, _PATH = (":method", "GET"), (":scheme", "http"), (":path", "/healthz")
_GET = [_METHOD, _SCHEME, _PATH]
_AUTHORITY = (":authority", "127.0.0.1")
#: an extended CONNECT that opens a WebSocket (RFC 8441 sections 4 and 5)
_CONNECT_WS = [
    (":method", "CONNECT"),
    (":protocol", "websocket"),
    (":scheme", "http"),
    (":path", "/ws/c8441"),
    _AUTHORITY,
    ("sec-websocket-version", "13"),
]


def _get_with(*extra: tuple[str, str]) -> list[tuple[str, str]]:
    """A well-formed GET with ``extra`` fields after its own."""
    return [*_GET, _AUTHORITY, *extra]


async def _malformed(
    conn: RawH2, fields: list[tuple[str, str]], *, end_stream: bool = True
) -> None:
    conn.headers(1, block=literal_block(fields), end_stream=end_stream)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


def _start_post(conn: RawH2, path: str, **fields: str) -> None:
    """The head of a POST on stream 1, its body still to come."""
    conn.headers(
        1, request_headers(path, "POST", content_type="text/plain", **fields), end_stream=False
    )


# -- 8.1 HTTP message framing --------------------------------------------------------


async def test_9113_8_1_second_headers_without_end_stream_is_a_protocol_error(
    conn: RawH2,
) -> None:
    _start_post(conn, "/publish/c8_1")
    conn.data(1, b"x")
    conn.headers(1, block=literal_block([("x-trailer", "1")]), end_stream=False)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_8_1_trailers_with_end_stream_are_accepted(conn: RawH2) -> None:
    _start_post(conn, "/publish/c8_1")
    conn.data(1, b"x")
    conn.headers(1, block=literal_block([("x-trailer", "1")]))
    assert await conn.status(1) == 200


# -- 8.1.1 malformed messages ---------------------------------------------------------


async def test_9113_8_1_1_content_length_over_data_is_a_protocol_error(conn: RawH2) -> None:
    _start_post(conn, "/publish/c8", content_length="5")
    conn.data(1, b"abc", end_stream=True)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_8_1_1_data_over_content_length_in_frames_is_a_protocol_error(
    conn: RawH2,
) -> None:
    _start_post(conn, "/publish/c8", content_length="4")
    conn.data(1, b"abc")
    conn.data(1, b"def", end_stream=True)
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


async def test_9113_8_1_1_matching_content_length_is_accepted(conn: RawH2) -> None:
    _start_post(conn, "/publish/c8", content_length="6")
    conn.data(1, b"abc")
    conn.data(1, b"def", end_stream=True)
    assert await conn.status(1) == 200


# -- 8.2 / 8.2.1 field names and values --------------------------------------------------


async def test_9113_8_2_uppercase_field_name_is_a_protocol_error(conn: RawH2) -> None:
    await _malformed(conn, _get_with(("X-Upper", "1")))


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(("x bad", "1"), id="field_name_with_a_space"),
        pytest.param(("", "1"), id="empty_field_name"),
        pytest.param(("x-bad", "a\x00b"), id="field_value_with_nul"),
        pytest.param(("x-bad", "a\r\nx-injected: 1"), id="field_value_with_cr_lf"),
        pytest.param(("x-bad", " padded"), id="field_value_with_leading_space"),
    ],
)
async def test_9113_8_2_1_malformed_field_is_a_protocol_error(
    conn: RawH2, field: tuple[str, str]
) -> None:
    await _malformed(conn, _get_with(field))


# -- 8.2.2 connection-specific fields ------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(("connection", "keep-alive"), id="connection_field"),
        pytest.param(("transfer-encoding", "chunked"), id="transfer_encoding"),
        pytest.param(("upgrade", "websocket"), id="upgrade"),
        pytest.param(("te", "trailers, deflate"), id="te_other_than_trailers"),
    ],
)
async def test_9113_8_2_2_connection_specific_field_is_a_protocol_error(
    conn: RawH2, field: tuple[str, str]
) -> None:
    await _malformed(conn, _get_with(field))


async def test_9113_8_2_2_te_trailers_is_accepted(conn: RawH2) -> None:
    conn.headers(1, block=literal_block(_get_with(("te", "trailers"))))
    assert await conn.status(1) == 200


# -- 8.3 pseudo-header fields ---------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(_get_with((":foo", "bar")), id="unknown_pseudo_header"),
        pytest.param(_get_with((":status", "200")), id="response_pseudo_header_in_a_request"),
        pytest.param(
            [_METHOD, _SCHEME, ("x-early", "1"), _PATH, _AUTHORITY],
            id="pseudo_header_after_a_regular_field",
        ),
        pytest.param(_get_with((":path", "/healthz")), id="duplicate_pseudo_header"),
    ],
)
async def test_9113_8_3_misplaced_pseudo_header_is_a_protocol_error(
    conn: RawH2, fields: list[tuple[str, str]]
) -> None:
    await _malformed(conn, fields)


async def test_9113_8_3_pseudo_header_in_trailers_is_a_protocol_error(conn: RawH2) -> None:
    _start_post(conn, "/publish/c8_3")
    conn.data(1, b"x")
    conn.headers(1, block=literal_block([(":method", "POST")]))
    await conn.expect_stream_error(1, Code.PROTOCOL_ERROR)


# -- 8.3.1 request pseudo-header fields -------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param([_METHOD, _SCHEME, (":path", ""), _AUTHORITY], id="empty_path"),
        pytest.param([_SCHEME, _PATH, _AUTHORITY], id="missing_method"),
        pytest.param([_METHOD, _PATH, _AUTHORITY], id="missing_scheme"),
        pytest.param([_METHOD, _SCHEME, _AUTHORITY], id="missing_path"),
        pytest.param([_METHOD, *_GET, _AUTHORITY], id="duplicate_method"),
        pytest.param([*_GET, _SCHEME, _AUTHORITY], id="duplicate_scheme"),
    ],
)
async def test_9113_8_3_1_bad_request_pseudo_header_is_a_protocol_error(
    conn: RawH2, fields: list[tuple[str, str]]
) -> None:
    await _malformed(conn, fields)


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
    await _malformed(conn, _get_with((":protocol", "websocket")))


async def test_8441_4_extended_connect_to_a_websocket_route_is_answered_200(
    conn: RawH2,
) -> None:
    conn.headers(1, block=literal_block(_CONNECT_WS), end_stream=False)
    assert await conn.status(1) == 200


async def test_8441_5_failed_websocket_ends_its_stream_not_the_connection(conn: RawH2) -> None:
    # an unmasked client frame (RFC 6455 section 5.1) fails the WebSocket
    # with 1002; the client's END_STREAM right behind it ends the tunnel,
    # and every other stream of the connection carries on
    conn.headers(1, block=literal_block(_CONNECT_WS), end_stream=False)
    assert await conn.status(1) == 200
    conn.data(1, b"\x81\x03abc", end_stream=True)
    close = await conn.until(lambda f: f.stream_id == 1 and f.type == 0x0, "the Close frame")
    assert bytes(close.data[:4]) == b"\x88" + bytes((len(close.data) - 2,)) + b"\x03\xea"  # type: ignore[attr-defined]
    await conn.expect_alive()
    conn.headers(3)
    assert await conn.status(3) == 200
