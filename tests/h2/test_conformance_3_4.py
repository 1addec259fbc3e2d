"""RFC 9113 sections 3 and 4, frame by frame: the connection preface
(3.4, prior knowledge 3.3, ALPN 3.2), the frame format (4.1), frame size
(4.2) and header compression state (4.3).

The h2spec case list, written anew: each case sends what h2spec sends and
asserts the exact error code of the GOAWAY or RST_STREAM that must come.
"""

from __future__ import annotations

import asyncio
import ssl

from hyperframe.frame import GoAwayFrame, SettingsFrame

from rawpush.server.app import Server
from tests.h2.support_raw import (
    PREFACE,
    Code,
    Flag,
    RawH2,
    Setting,
    Type,
    client_tls,
    raw_frame,
    request_headers,
)

# -- 3.2 / 3.3: how HTTP/2 starts -------------------------------------------------


async def test_9113_3_2_tls_offers_h2_by_alpn(tls_server: Server, cert: tuple[str, str]) -> None:
    conn = await RawH2.open(tls_server.port, tls=client_tls(cert[0]))
    try:
        ssl_object = conn.writer.get_extra_info("ssl_object")
        assert ssl_object.selected_alpn_protocol() == "h2"
        conn.headers(1)
        assert await conn.status(1) == 200
    finally:
        await conn.close()


async def test_9113_3_2_tls_still_speaks_http_1_1_by_alpn(
    tls_server: Server, cert: tuple[str, str]
) -> None:
    context = ssl.create_default_context(cafile=cert[0])
    context.set_alpn_protocols(["http/1.1"])
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", tls_server.port, ssl=context, server_hostname="127.0.0.1"
    )
    try:
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(10):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 200 ")
    finally:
        writer.close()


async def test_9113_3_3_prior_knowledge_and_http_1_1_share_the_cleartext_port(
    server: Server,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(10):
            answer = await reader.read()
        assert answer.startswith(b"HTTP/1.1 200 ")
    finally:
        writer.close()
    conn = await RawH2.open(server.port)
    try:
        conn.headers(1)
        headers, body = await conn.response(1)
        assert (headers[":status"], body) == ("200", b"ok\n")
    finally:
        await conn.close()


# -- 3.4: the connection preface ------------------------------------------------------


async def test_9113_3_4_server_preface_is_a_settings_frame(server: Server) -> None:
    conn = await RawH2.open(server.port, handshake=False)
    try:
        conn.send(PREFACE + raw_frame(Type.SETTINGS, 0, 0))
        first = await conn.read_frame()
        assert isinstance(first, SettingsFrame)
        assert "ACK" not in first.flags
        # and the client's SETTINGS is acknowledged (section 6.5.3)
        await conn.until(
            lambda f: isinstance(f, SettingsFrame) and "ACK" in f.flags, "a SETTINGS ACK"
        )
    finally:
        await conn.close()


async def test_9113_3_4_invalid_preface_is_a_protocol_error(
    tls_server: Server, cert: tuple[str, str]
) -> None:
    # Over TLS with ALPN h2 the preface is all there is to tell (section
    # 3.4: "MUST treat an invalid connection preface as a connection
    # error of type PROTOCOL_ERROR"), so the GOAWAY's code is checked.
    conn = await RawH2.open(tls_server.port, tls=client_tls(cert[0]), handshake=False)
    try:
        conn.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + raw_frame(Type.SETTINGS, 0, 0))
        # a GOAWAY, or nothing (the connection closed): h2spec allows both;
        # the server's own preface (SETTINGS, WINDOW_UPDATE) may come first
        for _ in range(10):
            frame = await conn.read_frame()
            if frame is None or isinstance(frame, GoAwayFrame):
                break
        if frame is not None:
            assert isinstance(frame, GoAwayFrame)
            assert frame.error_code == Code.PROTOCOL_ERROR
    finally:
        await conn.close()


async def test_9113_3_4_preface_not_followed_by_settings_is_a_protocol_error(
    server: Server,
) -> None:
    conn = await RawH2.open(server.port, handshake=False)
    try:
        conn.send(PREFACE + raw_frame(Type.PING, 0, 0, bytes(8)))
        await conn.expect_goaway(Code.PROTOCOL_ERROR)
    finally:
        await conn.close()


async def test_9113_3_4_server_settings_allow_extended_connect_and_100_streams(
    conn: RawH2,
) -> None:
    # RFC 8441 section 3 (WebSocket over HTTP/2 must be advertised); the
    # issue's defaults: 100 concurrent streams, and a stream window above
    # the 65,535-byte default so a hundred SSE streams all flow.
    settings = conn.server_settings
    assert settings.get(Setting.ENABLE_CONNECT_PROTOCOL) == 1
    assert settings.get(Setting.MAX_CONCURRENT_STREAMS) == 100
    assert settings.get(Setting.INITIAL_WINDOW_SIZE, 65_535) > 65_535
    await conn.expect_alive()


# -- 4.1: frame format -------------------------------------------------------------


async def test_9113_4_1_frame_of_unknown_type_is_ignored(conn: RawH2) -> None:
    conn.send(raw_frame(0x16, 0, 0, b"whatever"))
    await conn.expect_alive()


async def test_9113_4_1_undefined_flags_are_ignored(conn: RawH2) -> None:
    # PING defines only ACK (0x1); 0x16 sets three undefined bits.
    conn.send(raw_frame(Type.PING, 0x16 & ~Flag.ACK, 0, b"flagged!"))
    frame = await conn.until(lambda f: f.type == Type.PING, "the PING's ACK")
    assert "ACK" in frame.flags
    assert frame.opaque_data == b"flagged!"  # type: ignore[attr-defined]


async def test_9113_4_1_reserved_bit_of_the_stream_id_is_ignored(conn: RawH2) -> None:
    # "MUST be ignored when receiving": stream 1 with the R bit set.
    conn.headers(0x8000_0001)
    assert await conn.status(1) == 200


# -- 4.2: frame size -----------------------------------------------------------------


async def test_9113_4_2_data_of_max_frame_size_is_accepted(conn: RawH2) -> None:
    conn.headers(
        1,
        request_headers("/publish/c4_2", "POST", content_type="text/plain"),
        end_stream=False,
    )
    conn.data(1, b"x" * 16_384, end_stream=True)
    assert await conn.status(1) == 200


async def test_9113_4_2_data_over_max_frame_size_is_a_frame_size_error(conn: RawH2) -> None:
    conn.headers(
        1,
        request_headers("/publish/c4_2", "POST", content_type="text/plain"),
        end_stream=False,
    )
    conn.data(1, b"x" * 16_385, end_stream=True)
    await conn.expect_stream_error(1, Code.FRAME_SIZE_ERROR)


async def test_9113_4_2_headers_over_max_frame_size_is_a_frame_size_error(
    conn: RawH2,
) -> None:
    # A frame that could alter the connection's state (a header block
    # does: the HPACK table) is a connection error.
    block = conn.block(request_headers())
    payload = block + bytes(16_385 - len(block))
    conn.send(raw_frame(Type.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, payload))
    await conn.expect_goaway(Code.FRAME_SIZE_ERROR)


# -- 4.3: header compression and decompression ----------------------------------------------


async def test_9113_4_3_invalid_header_block_is_a_compression_error(conn: RawH2) -> None:
    # An indexed field (RFC 7541 section 6.1) naming index 127: no such
    # entry (the static table has 61, the dynamic table is empty).
    conn.headers(1, block=b"\xff\x40")
    await conn.expect_goaway(Code.COMPRESSION_ERROR)


async def test_9113_4_3_priority_inside_a_header_block_is_a_protocol_error(
    conn: RawH2,
) -> None:
    conn.headers(1, end_headers=False)
    conn.send(raw_frame(Type.PRIORITY, 0, 1, bytes((0, 0, 0, 0, 15))))
    await conn.expect_goaway(Code.PROTOCOL_ERROR)


async def test_9113_4_3_headers_of_another_stream_inside_a_header_block_is_a_protocol_error(
    conn: RawH2,
) -> None:
    conn.headers(1, end_headers=False)
    conn.headers(3)
    await conn.expect_goaway(Code.PROTOCOL_ERROR)
