"""The shared message-head reader (rawpush.proto.http_head): one head-size
rule for HTTPConnection and both WebSocket handshakes, whatever the cuts;
empty lines before a request line; the Host and token grammar."""

from __future__ import annotations

import h11
import pytest

from rawpush.proto.errors import HandshakeError, HTTPError, LocalProtocolError
from rawpush.proto.http import HTTPConfig, HTTPConnection
from rawpush.proto.http_head import HeadReader, comma_tokens, is_token, valid_host
from rawpush.proto.ws.handshake import ServerHandshake, accept_key
from rawpush.proto.ws.handshake_client import ClientHandshake
from tests.proto.http_support import GET, POST, serve, split

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
LIMIT = 300


def upgrade_head(size: int) -> bytes:
    """A valid upgrade request of exactly ``size`` bytes. Its Host has the
    optional whitespace h11 trims, so the size as sent and the size of the
    parsed fields differ (by four bytes)."""
    start = (
        b"GET /ws/c HTTP/1.1\r\nHost:   x  \r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + KEY.encode() + b"\r\nSec-WebSocket-Version: 13\r\nX-Pad: "
    )
    pad = size - len(start) - 4
    assert pad > 0
    return start + b"p" * pad + b"\r\n\r\n"


def http_outcome(chunks: list[bytes], limit: int) -> int:
    conn = HTTPConnection(HTTPConfig(max_header_bytes=limit))
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            if conn.next_request() is not None:
                return 200
    except HTTPError as exc:
        return exc.status
    return 0  # still waiting


def server_outcome(chunks: list[bytes], limit: int) -> int:
    server = ServerHandshake(max_header_bytes=limit)
    try:
        for chunk in chunks:
            if server.receive_data(chunk) is not None:
                return 200
    except HandshakeError as exc:
        return exc.status
    return 0


def cuttings(data: bytes) -> list[list[bytes]]:
    """Whole, byte by byte, and cut in two at every offset."""
    return [[data], [data[i : i + 1] for i in range(len(data))]] + [
        split(data, [cut]) for cut in range(1, len(data))
    ]


@pytest.mark.parametrize(("size", "status"), [(LIMIT, 200), (LIMIT + 1, 431)])
def test_rfc6585_5_head_limit_same_on_every_parser_and_every_cut(size: int, status: int) -> None:
    head = upgrade_head(size)
    assert len(head) == size
    for chunks in cuttings(head + b"\x81\x80"):  # a frame may follow
        assert http_outcome(chunks, LIMIT) == status
        assert server_outcome(chunks, LIMIT) == status


def client_outcome(chunks: list[bytes], limit: int) -> int:
    client = ClientHandshake("x", key=KEY, max_header_bytes=limit)
    try:
        for chunk in chunks:
            if client.receive_data(chunk) is not None:
                return 101
    except HandshakeError as exc:
        return exc.status
    return 0


@pytest.mark.parametrize(("size", "status"), [(LIMIT, 101), (LIMIT + 1, 431)])
def test_rfc6585_5_response_head_limit_every_cut(size: int, status: int) -> None:
    start = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade:  websocket \r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(KEY).encode() + b"\r\nX-Pad: "
    )
    head = start + b"p" * (size - len(start) - 4) + b"\r\n\r\n"
    assert len(head) == size
    for chunks in cuttings(head):
        assert client_outcome(chunks, LIMIT) == status


# -- RFC 9112 section 2.2: an empty line before the request line -----------------


@pytest.mark.parametrize("empty", [b"\r\n", b"\n"])
def test_rfc9112_2_2_one_empty_line_before_a_request_is_ignored(empty: bytes) -> None:
    for chunks in cuttings(empty + GET):
        assert serve(chunks) == serve([GET])
    upgrade = upgrade_head(LIMIT - len(empty))  # the empty line counts
    for chunks in cuttings(empty + upgrade):
        assert server_outcome(chunks, LIMIT) == 200


def test_rfc9112_2_2_empty_line_between_pipelined_requests() -> None:
    data = GET + b"\r\n" + POST + b"\n" + GET
    expected = serve([GET]) + serve([POST]) + serve([GET])
    for chunks in cuttings(data):
        assert serve(chunks) == expected


@pytest.mark.parametrize("data", [b"\r\n\r\n" + GET, b"\rGET / HTTP/1.1\r\n\r\n", b"\r"])
def test_rfc9112_2_2_only_one_empty_line_and_only_a_whole_one(data: bytes) -> None:
    for chunks in cuttings(data):
        conn = HTTPConnection()
        with pytest.raises(HTTPError) as info:
            for chunk in chunks:
                conn.receive_data(chunk)
                conn.next_request()
            conn.receive_eof()
            conn.next_request()
        assert info.value.status == 400


def test_rfc9112_2_2_the_skipped_line_counts_towards_the_limit() -> None:
    # 200 with the empty line inside the limit, 431 one byte over; also
    # when the head is unfinished (h11's own check never sees those bytes).
    small = b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20 + b"\r\n\r\n"
    limit = len(small) + 2
    assert http_outcome([b"\r\n" + small], limit) == 200
    assert http_outcome([b"\r\n" + small], limit - 1) == 431
    for chunks in cuttings(b"\r\n" + small[:-3]):
        assert http_outcome(chunks, len(small) - 2) == 431


def test_head_reader_misuse_is_a_local_error() -> None:
    for limit in (0, True, "1"):
        with pytest.raises(LocalProtocolError):
            HeadReader(h11.Connection(h11.SERVER), limit)  # type: ignore[arg-type]


def test_rfc9112_9_3_2_pipelined_then_eof() -> None:
    conn = HTTPConnection()
    conn.receive_data(GET + POST)
    conn.receive_data(b"")  # nothing, harmlessly
    conn.receive_eof()
    assert conn.next_request() is not None
    conn.respond(204)
    assert conn.trailing_data == POST  # what the new cycle will read
    second = conn.next_request()
    assert second is not None and second.body == b"hello"
    conn.respond(204)
    assert conn.next_request() is None and conn.should_close


# -- grammar ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["example.com", "example.com:8080", "127.0.0.1", "[::1]", "[::1]:80", "[v1.a:b]", "a%41b", ""],
)
def test_rfc9110_7_2_valid_host(value: str) -> None:
    assert valid_host(value)


@pytest.mark.parametrize(
    "value",
    ["a b", "a/b", "user@b", "[::1", "::1", "[::g]", "[1:2]", "a:b", "a:80:", "\xe9", "a\tb"],
)
def test_rfc9110_7_2_invalid_host(value: str) -> None:
    assert not valid_host(value)


def test_rfc9110_5_6_tokens_and_lists() -> None:
    assert is_token("websocket") and not is_token("a b") and not is_token("")
    assert comma_tokens(["a, ,b", " c\t"]) == ["a", "b", "c"]
