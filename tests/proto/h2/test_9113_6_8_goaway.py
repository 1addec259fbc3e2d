"""RFC 9113 sections 5.4 and 6.8: resets, GOAWAY both ways, and what a
connection does once it failed."""

from __future__ import annotations

import pytest
from hyperframe.frame import GoAwayFrame

from rawpush.proto.errors import H2Error, LocalProtocolError
from rawpush.proto.h2 import (
    ConnectionEnded,
    ErrorCode,
    H2Connection,
    RequestReceived,
    StreamReset,
)
from tests.proto.h2.support import (
    GET,
    client_start,
    cuts,
    events_of,
    failure_of,
    frame_list,
    goaway_of,
    pair,
)


def test_9113_6_8_graceful_goaway_names_the_last_stream_and_refuses_newer() -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_head(1, 200)
    assert goaway_of(server.goaway()) == (1, 0)
    assert server.goaway_last_stream_id == 1
    assert server.goaway() == b""  # once
    # Stream 1 carries on; stream 3, opened after, is refused.
    assert frame_list(server.send_data(1, b"still here"))[0][0] == 0x0
    client_bytes = _headers_after_goaway(client)
    assert server.receive_data(client_bytes) == []
    reset = [f for f in frame_list(server.data_to_send()) if f[0] == 0x3]
    assert reset and reset[0][2] == 3
    assert int.from_bytes(reset[0][3], "big") == ErrorCode.REFUSED_STREAM
    assert not server.should_close


def _headers_after_goaway(client: object) -> bytes:
    # The h2 client would refuse to open a stream after a GOAWAY it read:
    # it has not read ours here, so it still sends one.
    client.send_headers(3, GET, end_stream=True)  # type: ignore[attr-defined]
    data: bytes = client.data_to_send()  # type: ignore[attr-defined]
    return data


def test_9113_6_8_goaway_with_an_error_ends_the_connection() -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    assert goaway_of(server.goaway(ErrorCode.INTERNAL_ERROR)) == (1, ErrorCode.INTERNAL_ERROR)
    assert server.should_close
    assert server.goaway(ErrorCode.PROTOCOL_ERROR) == b""
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        server.send_data(1, b"x")
    assert server.reset(1) == b""


def test_9113_6_8_a_graceful_goaway_can_still_be_followed_by_an_error() -> None:
    server, _ = pair()
    server.goaway()
    assert goaway_of(server.goaway(ErrorCode.ENHANCE_YOUR_CALM)) == (0, ErrorCode.ENHANCE_YOUR_CALM)


def test_9113_6_8_a_graceful_peer_goaway_lets_open_streams_finish() -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    goaway = GoAwayFrame(0, last_stream_id=0, error_code=0).serialize()
    for chunks in cuts(goaway):
        assert events_of(server, chunks) == [ConnectionEnded(0, 0)]
    assert server.peer_goaway and not server.should_close
    # h2 never saw it: stream 1 still answers, PINGs are still answered.
    client.receive_data(server.respond(1, 200, [], b"done"))
    client.ping(b"12345678")
    assert server.receive_data(client.data_to_send()) == []
    assert any(f[0] == 0x6 and f[1] & 0x1 for f in frame_list(server.data_to_send()))


def test_9113_6_8_peer_goaway_with_an_error_ends_the_connection() -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=False)
    server.receive_data(client.data_to_send())
    goaway = GoAwayFrame(0, last_stream_id=0, error_code=ErrorCode.INTERNAL_ERROR).serialize()
    assert server.receive_data(goaway) == [ConnectionEnded(ErrorCode.INTERNAL_ERROR, 0)]
    assert server.should_close
    assert server.reset(1) == b""
    assert server.goaway() == b""


def test_9113_6_8_a_short_goaway_is_frame_size_error() -> None:
    short = b"\x00\x00\x04\x07\x00\x00\x00\x00\x00" + b"\x00" * 4
    for chunks in cuts(client_start() + short):
        assert failure_of(chunks).code == ErrorCode.FRAME_SIZE_ERROR


def test_9113_6_8_a_goaway_on_a_stream_is_protocol_error() -> None:
    wrong = GoAwayFrame(0, last_stream_id=0).serialize()
    wrong = wrong[:8] + b"\x01" + wrong[9:]
    assert failure_of([client_start() + wrong]).code == ErrorCode.PROTOCOL_ERROR


def test_9113_4_2_a_goaway_over_the_frame_size_is_left_to_h2() -> None:
    huge = b"\x00\x40\x01\x07\x00\x00\x00\x00\x00" + b"\x00" * 16_385
    assert failure_of([client_start() + huge]).code == ErrorCode.FRAME_SIZE_ERROR


def test_9113_6_4_peer_reset_is_an_event_and_drops_queued_data() -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_head(1, 200)
    server.send_data(1, b"x" * 70_000)
    assert server.pending(1) > 0
    client.reset_stream(1, ErrorCode.CANCEL)
    assert server.receive_data(client.data_to_send()) == [StreamReset(1, ErrorCode.CANCEL)]
    assert server.pending(1) == 0
    assert server.reset(1) == b""  # nothing for a closed stream


def test_9113_6_4_our_reset_sends_rst_stream() -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    (event,) = server.receive_data(client.data_to_send())
    assert isinstance(event, RequestReceived)
    out = server.reset(1, ErrorCode.CANCEL)
    assert [(f[0], f[2]) for f in frame_list(out)] == [(0x3, 1)]
    assert server.highest_stream_id == 1


def test_9113_3_4_a_bad_preface_is_protocol_error_and_the_connection_is_dead() -> None:
    server = H2Connection()
    with pytest.raises(H2Error) as caught:
        server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert caught.value.code == ErrorCode.PROTOCOL_ERROR
    assert goaway_of(server.data_to_send()) == (0, ErrorCode.PROTOCOL_ERROR)
    assert server.should_close
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"more")
