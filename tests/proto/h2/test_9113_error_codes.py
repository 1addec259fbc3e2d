"""The exact error codes (RFC 9113 sections 3.4, 4.3, 5.1.2, 6.5) where h2
alone would give a vaguer one."""

from __future__ import annotations

from hpack import Encoder
from hyperframe.frame import HeadersFrame, PingFrame, SettingsFrame

from rawpush.proto.h2 import PREFACE, ErrorCode, H2Config, H2Connection, RequestReceived
from tests.proto.h2.support import (
    GET,
    client_start,
    cuts,
    failure_of,
    frame_list,
    frames,
)


def test_9113_3_4_the_preface_must_be_followed_by_settings() -> None:
    for first in (PingFrame(0, b"12345678"), SettingsFrame(0, flags={"ACK"})):
        data = PREFACE + frames(first)
        for chunks in cuts(data):
            assert failure_of(chunks).code == ErrorCode.PROTOCOL_ERROR


def test_9113_6_5_settings_ack_with_a_payload_is_frame_size_error() -> None:
    ack = b"\x00\x00\x06\x04\x01\x00\x00\x00\x00" + b"\x00\x03\x00\x00\x00\x01"
    for chunks in cuts(client_start() + ack):
        assert failure_of(chunks).code == ErrorCode.FRAME_SIZE_ERROR


def test_9113_6_5_settings_not_a_multiple_of_six_is_frame_size_error() -> None:
    odd = b"\x00\x00\x05\x04\x00\x00\x00\x00\x00" + b"\x00\x03\x00\x00\x00"
    assert failure_of([client_start() + odd]).code == ErrorCode.FRAME_SIZE_ERROR


def test_9113_4_3_a_block_that_does_not_decode_is_compression_error() -> None:
    # 0xbe: an indexed field past the static and the (empty) dynamic table.
    bad = HeadersFrame(1, b"\x82\x86\x84\xbe", flags={"END_HEADERS", "END_STREAM"})
    for chunks in cuts(client_start() + frames(bad)):
        error = failure_of(chunks)
        # The stream never opened: its head did not decode.
        assert (error.code, error.last_stream_id) == (ErrorCode.COMPRESSION_ERROR, 0)


def test_9113_5_1_2_a_stream_over_the_limit_is_refused_not_the_connection() -> None:
    # h2's client keeps to our limit: these frames go past it by hand.
    encoder = Encoder()
    ended = {"END_HEADERS", "END_STREAM"}
    raw = b""
    for sid in (1, 3, 5):
        raw += frames(HeadersFrame(sid, bytes(encoder.encode(GET)), flags=ended))
    server = H2Connection(H2Config(max_concurrent_streams=2, max_resets=2))
    events = server.receive_data(client_start() + raw)
    assert [e.stream_id for e in events if isinstance(e, RequestReceived)] == [1, 3]
    resets = [f for f in frame_list(server.data_to_send()) if f[0] == 0x3]
    assert [(f[2], int.from_bytes(f[3], "big")) for f in resets] == [(5, 7)]
    # The connection still works: HPACK state kept, stream 7 refused alike,
    # and a third refusal over max_resets is a flood.
    more = frames(HeadersFrame(7, bytes(encoder.encode(GET)), flags=ended))
    assert server.receive_data(more) == []
    flood = frames(HeadersFrame(9, bytes(encoder.encode(GET)), flags=ended))
    assert failure_of([client_start() + raw + more + flood], server.config).code == (
        ErrorCode.ENHANCE_YOUR_CALM
    )
