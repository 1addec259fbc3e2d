"""``rawpush.client.h2_conn``, the sans-IO client side of one HTTP/2
exchange, against python-hyper's h2 in the server role (a peer nobody
here wrote) and against hand-made frames for what h2 would never send.

The server's bytes are fed whole, byte by byte and split at every offset.
"""

from __future__ import annotations

import struct

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest

from rawpush.client.h2_conn import (
    WINDOW,
    Body,
    End,
    H2ClientConnection,
    H2ConnectionError,
    Head,
    HTTP2Unavailable,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """RFC 9113 section 4.1: length (24 bits), type, flags, stream id."""
    head = len(payload).to_bytes(3, "big") + bytes([kind, flags])
    return head + struct.pack("!L", stream_id) + payload


def text(item: bytes | str) -> str:
    return item.decode() if isinstance(item, bytes) else item


def goaway(last: int, code: int) -> bytes:
    return frame(0x7, 0, 0, struct.pack("!LL", last, code))


class Peer:
    """h2 as the server: reads what the client sent, answers as told."""

    def __init__(self, initial_window: int | None = None) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.h2 = h2.connection.H2Connection(config)
        if initial_window is not None:
            self.h2.local_settings = h2.settings.Settings(
                client=False,
                initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: initial_window},
            )
        self.h2.initiate_connection()
        self.requests: list[h2.events.RequestReceived] = []
        self.body = bytearray()
        self.ended = False
        self.window_updates = 0

    def take(self, data: bytes) -> None:
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.requests.append(event)
            elif isinstance(event, h2.events.DataReceived):
                self.body += event.data or b""
                self.h2.acknowledge_received_data(event.flow_controlled_length or 0, 1)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended = True
            elif isinstance(event, h2.events.WindowUpdated):
                self.window_updates += 1

    def out(self) -> bytes:
        return bytes(self.h2.data_to_send())


def exchange(client: H2ClientConnection, peer: Peer, body: bytes | None = None) -> None:
    client.send_request("GET", "http", "/sse/c", [("Accept", "text/event-stream")], body)
    peer.take(client.data_to_send())


def answer(peer: Peer, chunks: list[bytes]) -> bytes:
    peer.h2.send_headers(1, [(":status", "200"), ("content-type", "text/event-stream")])
    for chunk in chunks:
        peer.h2.send_data(1, chunk)
    peer.h2.end_stream(1)
    return peer.out()


def splits(data: bytes) -> list[list[bytes]]:
    """``data`` whole, byte by byte, and cut in two at every offset."""
    cuts = [[data], [data[i : i + 1] for i in range(len(data))]]
    cuts += [[data[:i], data[i:]] for i in range(1, len(data))]
    return cuts


def feed(client: H2ClientConnection, pieces: list[bytes]) -> list[Head | Body | End]:
    events: list[Head | Body | End] = []
    for piece in pieces:
        events += client.receive_data(piece)
    return events


def test_9113_3_4_the_client_preface_and_settings() -> None:
    client = H2ClientConnection("127.0.0.1:8000")
    data = client.data_to_send()
    assert data.startswith(PREFACE)
    peer = Peer()
    peer.take(data)
    settings = peer.h2.remote_settings
    # Section 6.5.2: no server push, a raised window.
    assert settings[h2.settings.SettingCodes.ENABLE_PUSH] == 0
    assert settings[h2.settings.SettingCodes.INITIAL_WINDOW_SIZE] == WINDOW
    # Section 6.9.2: the connection window raised to match.
    assert peer.h2.outbound_flow_control_window == WINDOW


def test_9113_8_3_1_request_pseudo_headers_and_dropped_fields() -> None:
    client, peer = H2ClientConnection("example.org:8443"), Peer()
    peer.take(client.data_to_send())
    headers = [("Host", "x"), ("Connection", "close"), ("Last-Event-ID", "é-1")]
    client.send_request("GET", "https", "/sse/c?x=1", headers)
    peer.take(client.data_to_send())
    (request,) = peer.requests
    fields = [(text(name), text(value)) for name, value in request.headers or []]
    assert fields[:4] == [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.org:8443"),
        (":path", "/sse/c?x=1"),
    ]
    # Section 8.2.2: connection-specific fields are not sent; host is :authority.
    assert ("last-event-id", "é-1") in fields
    assert not any(name in ("host", "connection") for name, _ in fields)
    assert peer.ended  # no body: END_STREAM on HEADERS


def test_9113_8_1_response_whole_bytewise_and_split() -> None:
    client, peer = H2ClientConnection("127.0.0.1"), Peer()
    peer.take(client.data_to_send())
    exchange(client, peer)
    data = answer(peer, [b"data: one\n\n", b"data: two\n\n"])
    for pieces in splits(data):
        fresh, other = H2ClientConnection("127.0.0.1"), Peer()
        other.take(fresh.data_to_send())
        exchange(fresh, other)
        events = feed(fresh, pieces)
        heads = [e for e in events if isinstance(e, Head)]
        assert len(heads) == 1 and heads[0].status == 200
        assert ("content-type", "text/event-stream") in heads[0].headers
        body = b"".join(e.data for e in events if isinstance(e, Body))
        assert body == b"data: one\n\ndata: two\n\n"
        assert isinstance(events[-1], End) and fresh.ended


def test_9113_6_9_credit_goes_back_as_the_body_is_consumed() -> None:
    client, peer = H2ClientConnection("127.0.0.1"), Peer()
    peer.take(client.data_to_send())
    exchange(client, peer)
    peer.h2.send_headers(1, [(":status", "200")])
    sent = 0
    # Three windows' worth: the stream would stall after one without credit.
    for _ in range(3 * WINDOW // 16384):
        assert peer.h2.local_flow_control_window(1) >= 16384, "the client gave no credit"
        peer.h2.send_data(1, b"x" * 16384)
        sent += 16384
        for event in client.receive_data(peer.out()):
            if isinstance(event, Body):
                client.consumed(event.flow)
        peer.take(client.data_to_send())
    assert sent == 3 * WINDOW
    assert peer.window_updates > 0


def test_9113_6_9_no_credit_until_consumed() -> None:
    client, peer = H2ClientConnection("127.0.0.1"), Peer()
    peer.take(client.data_to_send())
    exchange(client, peer)
    peer.h2.send_headers(1, [(":status", "200")])
    peer.h2.send_data(1, b"x" * 16384)
    client.receive_data(peer.out())
    peer.take(client.data_to_send())
    assert peer.h2.local_flow_control_window(1) == WINDOW - 16384


def test_9113_6_9_1_request_body_waits_for_the_window() -> None:
    client, peer = H2ClientConnection("127.0.0.1"), Peer(initial_window=100)
    client.receive_data(peer.out())  # the server's SETTINGS: a 100-byte window
    peer.take(client.data_to_send())
    client.send_request("POST", "http", "/publish/c", [], b"y" * 250)
    peer.take(client.data_to_send())
    assert bytes(peer.body) == b"y" * 100 and client.body_pending
    for _ in range(5):  # bounded: each round opens the window by what was read
        client.receive_data(peer.out())
        peer.take(client.data_to_send())
    assert bytes(peer.body) == b"y" * 250 and peer.ended and not client.body_pending


def test_9113_8_1_empty_body_ends_the_stream() -> None:
    client, peer = H2ClientConnection("127.0.0.1"), Peer()
    peer.take(client.data_to_send())
    client.send_request("POST", "http", "/publish/c", [("content-length", "0")], b"")
    peer.take(client.data_to_send())
    assert peer.ended and peer.body == b""


def test_9113_6_4_rst_stream_is_a_connection_error() -> None:
    client, peer = H2ClientConnection("127.0.0.1"), Peer()
    peer.take(client.data_to_send())
    exchange(client, peer)
    peer.h2.reset_stream(1, error_code=0x8)
    with pytest.raises(H2ConnectionError, match="reset the stream: CANCEL") as info:
        client.receive_data(peer.out())
    assert isinstance(info.value, ConnectionError) and info.value.code == 0x8
    with pytest.raises(H2ConnectionError):  # dead: every later call fails fast
        client.receive_data(b"")


def test_9113_8_1_rst_stream_after_a_complete_response_stops_the_body() -> None:
    client, peer = H2ClientConnection("127.0.0.1"), Peer(initial_window=10)
    client.receive_data(peer.out())
    peer.take(client.data_to_send())
    client.send_request("POST", "http", "/publish/c", [], b"z" * 100)
    peer.take(client.data_to_send())
    assert client.body_pending
    peer.h2.send_headers(1, [(":status", "413")], end_stream=True)
    peer.h2.reset_stream(1, error_code=0x0)
    events = client.receive_data(peer.out())
    assert events == [Head(413, ()), End()]
    assert client.ended and not client.body_pending


def _opened() -> tuple[H2ClientConnection, Peer]:
    client, peer = H2ClientConnection("127.0.0.1"), Peer()
    peer.take(client.data_to_send())
    exchange(client, peer)
    client.receive_data(peer.out())
    return client, peer


def test_9113_6_8_graceful_goaway_lets_our_stream_finish() -> None:
    _, peer = _opened()
    peer.h2.send_headers(1, [(":status", "200")])
    head = peer.out()
    peer.h2.send_data(1, b"retry: 100\n\n")
    peer.h2.end_stream(1)
    data = head + goaway(1, 0) + peer.out()
    for pieces in splits(data):
        fresh, _ = _opened()
        events = feed(fresh, pieces)
        assert b"".join(e.data for e in events if isinstance(e, Body)) == b"retry: 100\n\n"
        assert isinstance(events[-1], End)


@pytest.mark.parametrize(
    ("last", "code", "words"),
    [(0, 0, "going away"), (1, 0xB, "GOAWAY ENHANCE_YOUR_CALM"), (1, 0x99, "0x99")],
)
def test_9113_6_8_goaway_refusing_or_failing_us(last: int, code: int, words: str) -> None:
    for pieces in splits(goaway(last, code)):
        client, _ = _opened()
        with pytest.raises(H2ConnectionError, match=words) as info:
            feed(client, pieces)
        assert info.value.code == code


def test_9113_3_4_an_http11_answer_is_http2_unavailable() -> None:
    data = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
    for pieces in splits(data):
        client = H2ClientConnection("127.0.0.1")
        client.send_request("GET", "http", "/", [])
        with pytest.raises(HTTP2Unavailable, match=r"answered in HTTP/1\.1"):
            feed(client, pieces)


def test_9113_4_2_oversized_frame_is_a_protocol_error() -> None:
    client, _ = _opened()
    data = (1 << 20).to_bytes(3, "big") + bytes([0x0, 0]) + struct.pack("!L", 1)
    with pytest.raises(H2ConnectionError, match="HTTP/2 error") as info:
        client.receive_data(data)
    assert info.value.code == 0x6  # FRAME_SIZE_ERROR
    assert client.data_to_send()  # our GOAWAY, for the caller to send


def test_9113_5_1_1_data_on_a_server_stream_id_is_a_protocol_error() -> None:
    client, _ = _opened()
    with pytest.raises(H2ConnectionError, match="HTTP/2 error") as info:
        client.receive_data(frame(0x0, 0, 2, b"x"))  # even: a stream only a push opens
    assert info.value.code == 0x1  # PROTOCOL_ERROR
    assert client.data_to_send()


@pytest.mark.parametrize("after_head", [False, True])
def test_9113_8_1_eof_before_the_end_is_a_connection_error(after_head: bool) -> None:
    client, peer = _opened()
    if after_head:
        peer.h2.send_headers(1, [(":status", "200")])
        client.receive_data(peer.out())
    with pytest.raises(H2ConnectionError, match="closed the connection before"):
        client.receive_eof()


def test_9113_8_1_eof_after_the_end_is_fine() -> None:
    client, peer = _opened()
    assert feed(client, [answer(peer, [])])[-1] == End()
    client.receive_eof()


def test_one_request_per_connection_and_bad_headers() -> None:
    client = H2ClientConnection("127.0.0.1")
    with pytest.raises(ValueError, match="cannot send"):
        client.send_request("GET", "http", "/", [("x-bad", "a\r\nb")])
    with pytest.raises(ValueError, match="cannot send"):
        client.send_request("GET", "http", "/", [("bad name", "a")])
    client.send_request("GET", "http", "/", [])
    with pytest.raises(RuntimeError):
        client.send_request("GET", "http", "/", [])
