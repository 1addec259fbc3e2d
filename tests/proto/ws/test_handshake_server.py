"""The standalone sans-IO ServerHandshake (RFC 6455 section 4.2): whole, split, limits."""

from __future__ import annotations

import itertools

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.proto.errors import HandshakeError, LocalProtocolError
from rawpush.proto.ws.handshake import (
    HandshakeRequest,
    HandshakeState,
    ServerHandshake,
)
from tests.proto.ws.handshake_support import (
    FRAME,
    REQUEST,
    check,
    headers,
    wire,
)

# -- ServerHandshake: bytes in, bytes out ------------------------------------


def parse_response(data: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    """Read a response with an independent h11 client; header names lower-cased."""
    client = h11.Connection(h11.CLIENT)
    upgrade = [("Host", "x"), ("Upgrade", "websocket"), ("Connection", "Upgrade")]
    client.send(h11.Request(method="GET", target="/", headers=upgrade))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    head = client.next_event()
    assert isinstance(head, h11.Response | h11.InformationalResponse)
    hs = [(k.decode(), v.decode()) for k, v in head.headers]
    body = b""
    if isinstance(head, h11.Response):
        while not isinstance(event := client.next_event(), h11.EndOfMessage):
            assert isinstance(event, h11.Data)
            body += event.data
    return head.status_code, hs, body


def feed(server: ServerHandshake, chunks: list[bytes]) -> HandshakeRequest | HandshakeError:
    result = None
    try:
        for chunk in chunks:
            result = server.receive_data(chunk)
    except HandshakeError as exc:
        return exc
    assert result is not None
    return result


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def test_4_2_1_server_handshake_whole() -> None:
    server = ServerHandshake(subprotocols=["superchat"])
    states = [server.state]
    req = server.receive_data(REQUEST + FRAME)
    assert req is not None
    assert req.target == "/chat"
    assert req.subprotocol == "superchat"
    states.append(server.state)
    assert server.request == req
    assert server.trailing_data == FRAME
    status, hs, _ = parse_response(server.accept())
    states.append(server.state)
    assert states == [HandshakeState.READING, HandshakeState.RECEIVED, HandshakeState.ACCEPTED]
    assert status == 101
    assert ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") in hs
    assert ("sec-websocket-protocol", "superchat") in hs
    assert server.trailing_data == FRAME


def test_4_2_1_server_handshake_byte_by_byte() -> None:
    server = ServerHandshake()
    data = REQUEST + FRAME
    results = [server.receive_data(data[i : i + 1]) for i in range(len(data))]
    assert results[: len(REQUEST) - 1] == [None] * (len(REQUEST) - 1)
    assert results[-1] == check(headers(sec_websocket_protocol="chat, superchat"), target="/chat")
    assert server.trailing_data == FRAME


@settings(max_examples=40)
@given(st.lists(st.integers(min_value=0), max_size=6), st.binary(max_size=40))
def test_4_2_1_server_handshake_any_split(cuts: list[int], trailing: bytes) -> None:
    data = REQUEST + trailing
    whole = ServerHandshake()
    expected = whole.receive_data(data)
    server = ServerHandshake()
    assert feed(server, split(data, cuts)) == expected
    assert server.trailing_data == trailing == whole.trailing_data


INVALID = [
    (wire(headers(host=None)), 400),
    (wire(headers(sec_websocket_version="8")), 426),
    (wire(headers(), method="POST"), 405),
    (wire(headers(), version="1.0"), 400),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS ClientHello
    (b"GET / HTTP/1.1\r\nbad header line\r\n\r\n", 400),
    (wire([*headers(), ("transfer-encoding", "gzip")]), 501),  # h11's hint
    (b"\r\n\r\n", 400),
]


@pytest.mark.parametrize(("data", "status"), INVALID)
def test_4_2_1_invalid_request_same_status_whole_and_byte_by_byte(data: bytes, status: int) -> None:
    whole = feed(ServerHandshake(), [data])
    bytewise = feed(ServerHandshake(), [data[i : i + 1] for i in range(len(data))])
    assert isinstance(whole, HandshakeError)
    assert isinstance(bytewise, HandshakeError)
    assert whole.status == bytewise.status == status


@settings(max_examples=30)
@given(st.sampled_from(INVALID), st.lists(st.integers(min_value=0), max_size=5))
def test_4_2_1_invalid_request_same_status_any_split(
    case: tuple[bytes, int], cuts: list[int]
) -> None:
    data, status = case
    result = feed(ServerHandshake(), split(data, cuts))
    assert isinstance(result, HandshakeError)
    assert result.status == status


@pytest.mark.parametrize("chunked", [False, True])
def test_limits_header_bytes_431_independent_of_split(chunked: bool) -> None:
    size = len(REQUEST)

    def run(limit: int) -> HandshakeRequest | HandshakeError:
        chunks = [REQUEST[i : i + 1] for i in range(size)] if chunked else [REQUEST + FRAME]
        return feed(ServerHandshake(max_header_bytes=limit), chunks)

    assert isinstance(run(size), HandshakeRequest)
    too_big = run(size - 1)
    assert isinstance(too_big, HandshakeError)
    assert too_big.status == 431
    far_too_big = run(10)
    assert isinstance(far_too_big, HandshakeError)
    assert far_too_big.status == 431


def test_limits_max_header_bytes_must_be_positive() -> None:
    with pytest.raises(LocalProtocolError):
        ServerHandshake(max_header_bytes=0)


def test_4_2_1_eof_before_request_400() -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError) as info:
        server.receive_eof()
    assert info.value.status == 400
    assert server.state is HandshakeState.FAILED
    assert server.error is info.value


def test_4_2_1_eof_inside_request_400() -> None:
    server = ServerHandshake()
    assert server.receive_data(REQUEST[:20]) is None
    with pytest.raises(HandshakeError) as info:
        server.receive_eof()
    assert info.value.status == 400


def test_4_2_1_eof_after_request_keeps_trailing_data() -> None:
    server = ServerHandshake()
    assert server.receive_data(REQUEST + FRAME[:3]) is not None
    assert server.receive_eof() is not None
    assert server.trailing_data == FRAME[:3]
    with pytest.raises(LocalProtocolError):
        server.receive_data(FRAME[3:])


def test_4_2_1_data_after_request_appends_to_trailing_data() -> None:
    server = ServerHandshake()
    server.receive_data(REQUEST)
    assert server.trailing_data == b""
    server.receive_data(FRAME[:4])
    server.accept()
    server.receive_data(FRAME[4:])
    assert server.trailing_data == FRAME


def test_4_2_1_receive_after_failure_is_local_error() -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError):
        server.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert server.trailing_data == b""
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"more")


def test_4_2_2_accept_with_chosen_subprotocol_override() -> None:
    server = ServerHandshake(subprotocols=["superchat"])
    server.receive_data(REQUEST)
    _, hs, _ = parse_response(server.accept("chat"))
    assert ("sec-websocket-protocol", "chat") in hs
    assert server.request is not None
    assert server.request.subprotocol == "chat"


def test_4_2_2_accept_subprotocol_not_offered_is_local_error() -> None:
    server = ServerHandshake()
    server.receive_data(REQUEST)
    with pytest.raises(LocalProtocolError):
        server.accept("mqtt")


def test_4_2_2_accept_extra_headers() -> None:
    server = ServerHandshake()
    server.receive_data(REQUEST)
    extra = [("Sec-WebSocket-Extensions", "permessage-deflate")]
    _, hs, _ = parse_response(server.accept(extra_headers=extra))
    assert ("sec-websocket-extensions", "permessage-deflate") in hs


@pytest.mark.parametrize(
    "extra", [("Sec-WebSocket-Accept", "x"), ("connection", "close"), ("X-Bad", "a\r\nb")]
)
def test_4_2_2_accept_bad_extra_headers_is_local_error(extra: tuple[str, str]) -> None:
    server = ServerHandshake()
    server.receive_data(REQUEST)
    with pytest.raises(LocalProtocolError):
        server.accept(extra_headers=[extra])
    assert server.state is HandshakeState.RECEIVED


def test_4_2_2_accept_before_request_or_twice_is_local_error() -> None:
    server = ServerHandshake()
    with pytest.raises(LocalProtocolError):
        server.accept()
    server.receive_data(REQUEST)
    server.accept()
    with pytest.raises(LocalProtocolError):
        server.accept()
    with pytest.raises(LocalProtocolError):
        server.reject(HandshakeError("late", 400))


def test_4_4_reject_writes_status_headers_and_body() -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError):
        server.receive_data(wire(headers(sec_websocket_version="8")))
    status, hs, body = parse_response(server.reject())
    assert status == 426
    assert ("sec-websocket-version", "13") in hs
    assert ("upgrade", "websocket") in hs
    assert ("connection", "Upgrade, close") in hs
    assert body.startswith(b"426 Upgrade Required")
    assert server.state is HandshakeState.REJECTED
    with pytest.raises(LocalProtocolError):
        server.reject()
    with pytest.raises(LocalProtocolError):
        server.receive_data(b"x")


def test_4_2_1_reject_garbage_with_h11_hint() -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError):
        server.receive_data(b"\x16\x03\x01")
    status, _, body = parse_response(server.reject())
    assert status == 400
    assert b"malformed HTTP" in body


def test_4_2_1_reject_head_request_has_no_body() -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError):
        server.receive_data(wire(headers(), method="HEAD"))
    out = server.reject()
    assert out.endswith(b"\r\n\r\n")
    assert b"Allow: GET" in out


def test_4_2_2_reject_valid_request_by_application() -> None:
    server = ServerHandshake()
    server.receive_data(REQUEST)
    status, _, body = parse_response(server.reject(HandshakeError("no such channel", 404)))
    assert status == 404
    assert body == b"404 Not Found: no such channel\n"
    assert server.trailing_data == b""


def test_4_2_2_reject_before_request_complete() -> None:
    server = ServerHandshake()
    server.receive_data(REQUEST[:10])
    status, _, _ = parse_response(server.reject(HandshakeError("too slow", 408)))
    assert status == 408


def test_4_2_2_reject_misuse_is_local_error() -> None:
    server = ServerHandshake()
    with pytest.raises(LocalProtocolError):
        server.reject()  # nothing was refused
    with pytest.raises(LocalProtocolError):
        server.reject(HandshakeError("ok?", 200))
    with pytest.raises(LocalProtocolError):
        server.reject(HandshakeError("bad header", 400, (("X", "a\nb"),)))


def test_4_2_1_empty_data_is_not_eof() -> None:
    server = ServerHandshake()
    assert server.receive_data(b"") is None
    assert server.receive_data(REQUEST) is not None


def test_4_2_1_reject_after_peer_closed_silently_is_empty() -> None:
    server = ServerHandshake()
    with pytest.raises(HandshakeError):
        server.receive_eof()
    assert server.reject() == b""
    assert server.state is HandshakeState.REJECTED
