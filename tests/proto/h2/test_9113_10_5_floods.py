"""RFC 9113 section 10.5 (denial of service): rapid reset
(CVE-2023-44487), CONTINUATION floods (CVE-2024-27316), PING, SETTINGS and
empty-frame floods, HPACK bombs (RFC 7541 section 7.3). Each ends the
connection with GOAWAY ENHANCE_YOUR_CALM after a bounded number of frames,
at the same frame however the bytes are cut."""

from __future__ import annotations

import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

from rawpush.proto.errors import H2Error
from rawpush.proto.h2 import ErrorCode, H2Config, H2Connection
from rawpush.proto.h2.guard import FloodGuard
from tests.proto.h2.support import GET, client_start, cuts, failure_of, frames

_CALM = ErrorCode.ENHANCE_YOUR_CALM
_SMALL = H2Config(
    flood_window=50, max_resets=4, max_pings=4, max_settings=4, max_empty_frames=4
)


def _block(fields: list[tuple[str, str]]) -> bytes:
    return bytes(hpack.Encoder().encode(fields))


def _headers(sid: int, *, end_stream: bool = True) -> HeadersFrame:
    flags = {"END_HEADERS", "END_STREAM"} if end_stream else {"END_HEADERS"}
    return HeadersFrame(sid, _block(GET), flags=flags)


def _every_cut_fails(data: bytes, config: H2Config, code: int) -> None:
    for chunks in cuts(data):
        assert failure_of(chunks, config).code == code


def _flood(*parts: Frame) -> bytes:
    return client_start() + frames(*parts)


def test_cve_2023_44487_rapid_reset_is_enhance_your_calm() -> None:
    parts: list[Frame] = []
    for n in range(5):
        sid = 1 + 2 * n
        parts += [_headers(sid, end_stream=False), RstStreamFrame(sid, error_code=8)]
    data = _flood(*parts)
    _every_cut_fails(data, _SMALL, _CALM)
    # Four resets are within the limit.
    server = H2Connection(_SMALL)
    server.receive_data(_flood(*parts[:8]))


@pytest.mark.parametrize(
    "frame",
    [
        PingFrame(0, b"12345678"),
        SettingsFrame(0, {}),
        DataFrame(1, b""),
    ],
    ids=["ping", "settings", "empty-data"],
)
def test_9113_10_5_floods_of_frames_that_cost_us_work(frame: Frame) -> None:
    opening = [_headers(1, end_stream=False)] if isinstance(frame, DataFrame) else []
    data = _flood(*opening, *[frame] * 5)
    _every_cut_fails(data, _SMALL, _CALM)


def test_9113_10_5_acks_and_frames_that_end_something_are_not_counted() -> None:
    server = H2Connection(_SMALL)
    parts: list[Frame] = [
        *[PingFrame(0, b"12345678", flags={"ACK"})] * 10,
        _headers(1, end_stream=False),
        *[DataFrame(1, b"x")] * 10,
        DataFrame(1, b"", flags={"END_STREAM"}),
    ]
    server.receive_data(_flood(*parts))


def test_9113_10_5_counts_start_again_each_window() -> None:
    config = H2Config(flood_window=5, max_pings=2)
    parts = [PingFrame(0, b"12345678")] * 2 + [PingFrame(0, b"12345678", flags={"ACK"})] * 3
    server = H2Connection(config)
    # The client's SETTINGS is frame 1 of the first window.
    server.receive_data(_flood(*parts * 6))


def test_cve_2024_27316_continuation_flood_is_bounded() -> None:
    block = _block(GET)
    parts: list[Frame] = [HeadersFrame(1, block[:2])]
    parts += [ContinuationFrame(1, b"\x00" * 4000) for _ in range(10)]
    data = _flood(*parts)
    # The block passes 16 KiB on the fifth CONTINUATION; h2 would have kept
    # up to 64 of them.
    _every_cut_fails(data, H2Config(), _CALM)


def test_cve_2024_27316_empty_continuations_are_a_flood_too() -> None:
    block = _block(GET)
    parts: list[Frame] = [HeadersFrame(1, block[:2])]
    parts += [ContinuationFrame(1, b"") for _ in range(5)]
    _every_cut_fails(_flood(*parts), _SMALL, _CALM)


def test_9113_10_5_1_one_headers_frame_over_the_limit() -> None:
    from rawpush.proto.http import HTTPConfig

    config = H2Config(http=HTTPConfig(max_header_bytes=100))
    data = _flood(HeadersFrame(1, b"\x00" * 101, flags={"END_HEADERS"}))
    _every_cut_fails(data, config, _CALM)


def test_9113_6_10_a_block_that_ends_is_forgotten() -> None:
    block = _block(GET)
    parts: list[Frame] = [
        HeadersFrame(1, block[:2], flags={"END_STREAM"}),
        ContinuationFrame(1, block[2:], flags={"END_HEADERS"}),
    ]
    server = H2Connection()
    assert len(server.receive_data(_flood(*parts))) == 1


def test_rfc_7541_7_3_hpack_bomb_is_enhance_your_calm() -> None:
    # One large header, then many references to it from the dynamic
    # table: a few bytes on the wire, megabytes decoded.
    encoder = hpack.Encoder()
    first = bytes(encoder.encode([*GET, ("x-bomb", "a" * 4000)]))
    again = bytes(encoder.encode([("x-bomb", "a" * 4000)] * 8))
    data = _flood(HeadersFrame(1, first + again, flags={"END_HEADERS", "END_STREAM"}))
    assert len(data) < 5000
    _every_cut_fails(data, H2Config(), _CALM)


def test_9113_4_2_frames_over_the_frame_size_are_left_to_h2() -> None:
    huge = b"\x00\x40\x01\x01\x04\x00\x00\x00\x01" + b"\x00" * 16_385
    assert failure_of([client_start() + huge]).code == ErrorCode.FRAME_SIZE_ERROR


def test_9113_6_10_continuation_outside_a_block_is_protocol_error() -> None:
    data = _flood(ContinuationFrame(1, b"\x82", flags={"END_HEADERS"}))
    assert failure_of([data]).code == ErrorCode.PROTOCOL_ERROR


def test_a_tripped_guard_stays_tripped() -> None:
    guard = FloodGuard(_SMALL)
    data = _flood(*[PingFrame(0, b"12345678")] * 5)
    assert guard.feed(data) == data[:-17]  # all but the fifth PING
    assert guard.reason == "too many PING frames"
    assert guard.feed(b"anything") == b""


def test_the_failed_connection_raises_h2error_once() -> None:
    server = H2Connection(_SMALL)
    with pytest.raises(H2Error):
        server.receive_data(_flood(*[PingFrame(0, b"12345678")] * 5))
