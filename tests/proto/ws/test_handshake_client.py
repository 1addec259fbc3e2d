"""Client side of the opening handshake (RFC 6455 section 4.1), and interop.

Interop runs both ends against each other and against wsproto, an
independent implementation, in memory.
"""

from __future__ import annotations

import base64
import itertools

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto import events as wse

from rawpush.proto.errors import HandshakeError, LocalProtocolError
from rawpush.proto.ws.connection import ClientConnection, ServerConnection
from rawpush.proto.ws.events import Text
from rawpush.proto.ws.handshake import HandshakeState, ServerHandshake, accept_key
from rawpush.proto.ws.handshake_client import ClientHandshake, HandshakeResponse
from tests.proto.ws.client_support import ACCEPT, FRAME, KEY, client, fail, response


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


# -- section 4.1: the request ------------------------------------------------


def test_4_1_request_is_a_valid_handshake() -> None:
    hs = ClientHandshake(
        "example.com:8080",
        "/chat?room=1",
        subprotocols=["chat", "superchat"],
        origin="https://example.com",
        extra_headers=[("Cookie", "a=b")],
    )
    data = hs.data_to_send()
    assert hs.data_to_send() == b""
    server = ServerHandshake(subprotocols=["superchat"])
    req = server.receive_data(data)
    assert req is not None
    assert (req.target, req.host, req.key) == ("/chat?room=1", "example.com:8080", hs.key)
    assert req.subprotocols == ("chat", "superchat")
    assert req.origin == "https://example.com"
    assert ("cookie", "a=b") in req.headers


def test_4_1_key_is_random_16_bytes() -> None:
    keys = {ClientHandshake("h").key for _ in range(5)}
    assert len(keys) == 5
    assert all(len(base64.b64decode(k, validate=True)) == 16 for k in keys)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": "short"},
        {"subprotocols": ["a b"]},
        {"subprotocols": ["chat", "chat"]},
        {"extra_headers": [("Sec-WebSocket-Key", KEY)]},
        {"extra_headers": [("host", "other")]},
        {"extra_headers": [("X-Bad", "a\r\nb")]},
        {"max_header_bytes": 0},
        {"max_body_bytes": -1},
    ],
)
def test_4_1_request_misuse_is_local_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(LocalProtocolError):
        ClientHandshake("example.com", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("host", "path"), [("", "/"), ("example.com", "/a b")])
def test_4_1_bad_host_or_path_is_local_error(host: str, path: str) -> None:
    with pytest.raises(LocalProtocolError):
        ClientHandshake(host, path)


# -- section 4.1: validating the server's response ---------------------------


def test_4_1_valid_101() -> None:
    hs = client()
    result = hs.receive_data(response() + FRAME)
    assert result == HandshakeResponse(
        status=101,
        headers=(
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("sec-websocket-accept", ACCEPT),
        ),
    )
    assert hs.state is HandshakeState.ACCEPTED
    assert hs.response == result
    assert hs.subprotocol is None
    assert hs.trailing_data == FRAME


def test_4_1_trailing_data_grows_after_101() -> None:
    hs = client()
    assert hs.trailing_data == b""
    hs.receive_data(response() + FRAME[:2])
    assert hs.receive_data(FRAME[2:]) is not None
    assert hs.receive_data(b"") is not None
    assert hs.trailing_data == FRAME
    hs.receive_eof()
    with pytest.raises(LocalProtocolError):
        hs.receive_data(b"x")


@settings(max_examples=40)
@given(st.lists(st.integers(min_value=0), max_size=6), st.binary(max_size=30))
def test_4_1_response_any_split(cuts: list[int], trailing: bytes) -> None:
    data = response(sec_websocket_protocol="chat") + trailing
    hs = client(subprotocols=["chat"])
    results = [hs.receive_data(chunk) for chunk in split(data, cuts)]
    assert results[-1] is not None
    assert results[-1].subprotocol == "chat"
    assert hs.trailing_data == trailing


def test_4_1_informational_responses_before_101_are_skipped() -> None:
    hs = client()
    assert hs.receive_data(b"HTTP/1.1 100 Continue\r\n\r\n") is None
    assert hs.receive_data(response()) is not None


@pytest.mark.parametrize(
    "changes",
    [
        {"upgrade": None},
        {"upgrade": "h2c"},
        {"upgrade": "websocket, h2c"},
        {"connection": None},
        {"connection": "keep-alive"},
        {"sec_websocket_accept": None},
        {"sec_websocket_accept": accept_key("x" * 24)},
        {"sec_websocket_accept": ACCEPT.lower()},
        {"sec_websocket_extensions": "permessage-deflate"},
        {"sec_websocket_protocol": "chat"},
    ],
)
def test_4_1_invalid_101_fails_with_status_101(changes: dict[str, str | None]) -> None:
    hs = client()
    err = fail(response("101 Switching Protocols", **changes), hs)
    assert err.status == 101
    assert hs.response is not None
    assert hs.response.status == 101
    assert hs.trailing_data == b""
    with pytest.raises(LocalProtocolError):
        hs.receive_data(b"")


@pytest.mark.parametrize("upgrade", ["WebSocket", "WEBSOCKET"])
def test_4_1_item2_upgrade_case_insensitive(upgrade: str) -> None:
    assert client().receive_data(response(upgrade=upgrade)) is not None


def test_4_1_item3_connection_token_among_others() -> None:
    assert client().receive_data(response(connection="keep-alive, UPGRADE")) is not None


def test_4_1_item4_duplicate_accept_fails() -> None:
    data = response().replace(b"\r\n\r\n", f"\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\r\n".encode())
    assert fail(data).status == 101


def test_4_1_item5_extension_offered_by_caller_passes_through() -> None:
    hs = client(extra_headers=[("Sec-WebSocket-Extensions", "permessage-deflate")])
    result = hs.receive_data(response(sec_websocket_extensions="permessage-deflate"))
    assert result is not None
    assert result.extensions == ("permessage-deflate",)


@pytest.mark.parametrize("chosen", ["superchat", "chat, superchat", "Chat", ""])
def test_4_1_item6_subprotocol_not_offered_fails(chosen: str) -> None:
    err = fail(response(sec_websocket_protocol=chosen), client(subprotocols=["chat"]))
    assert err.status == 101


def test_4_1_item6_two_subprotocol_headers_fail() -> None:
    data = response(sec_websocket_protocol="chat").replace(
        b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    )
    assert fail(data, client(subprotocols=["chat"])).status == 101


def test_4_1_item6_no_subprotocol_chosen_is_fine() -> None:
    hs = client(subprotocols=["chat"])
    assert hs.receive_data(response()) is not None
    assert hs.subprotocol is None


# -- refusals and broken responses -------------------------------------------


def test_4_1_refusal_carries_status_and_body() -> None:
    data = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\nX-Why: origin\r\n\r\nnope"
    hs = client()
    err = fail(data, hs)
    assert err.status == 403
    assert "403 Forbidden" in str(err)
    assert hs.response == HandshakeResponse(
        status=403, headers=(("content-length", "4"), ("x-why", "origin")), body=b"nope"
    )


def test_4_1_refusal_byte_by_byte() -> None:
    data = b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 2\r\n\r\nhi"
    hs = client()
    with pytest.raises(HandshakeError) as info:
        for i in range(len(data)):
            hs.receive_data(data[i : i + 1])
    assert info.value.status == 426
    assert hs.response is not None
    assert hs.response.body == b"hi"


def test_4_1_refusal_with_body_until_eof() -> None:
    hs = client()
    assert hs.receive_data(b"HTTP/1.1 404 Not Found\r\n\r\nno such") is None
    assert hs.receive_data(b" path") is None
    with pytest.raises(HandshakeError) as info:
        hs.receive_eof()
    assert info.value.status == 404
    assert hs.response is not None
    assert hs.response.body == b"no such path"


def test_4_1_refusal_body_is_capped() -> None:
    hs = client(max_body_bytes=5)
    err = fail(b"HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n" + b"x" * 10, hs)
    assert err.status == 500
    assert hs.response is not None
    assert hs.response.body == b"xxxxx"


def test_4_1_refusal_cut_short_keeps_its_status() -> None:
    hs = client()
    hs.receive_data(b"HTTP/1.1 503 Busy\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(HandshakeError) as info:
        hs.receive_eof()
    assert info.value.status == 503
    assert hs.response is not None
    assert hs.response.body == b"abc"


@pytest.mark.parametrize("data", [b"SSH-2.0-OpenSSH\r\n\r\n", b"\x00\x01", b"HTTP/1.1 99x\r\n\r\n"])
def test_4_1_garbage_response_uses_h11_hint(data: bytes) -> None:
    hs = client()
    assert fail(data, hs).status == 400
    assert hs.response is None


def test_4_1_eof_before_response() -> None:
    hs = client()
    with pytest.raises(HandshakeError) as info:
        hs.receive_eof()
    assert info.value.status == 400


@pytest.mark.parametrize("chunked", [False, True])
def test_limits_response_head_431(chunked: bool) -> None:
    data = response()
    hs = client(max_header_bytes=len(data) - 1)
    with pytest.raises(HandshakeError) as info:
        for chunk in [data[i : i + 1] for i in range(len(data))] if chunked else [data]:
            hs.receive_data(chunk)
    assert info.value.status == 431
    assert client(max_header_bytes=len(data)).receive_data(data) is not None


def test_limits_refusal_head_431() -> None:
    data = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    assert fail(data, client(max_header_bytes=len(data) - 1)).status == 431


# -- interop: both ends, and wsproto ------------------------------------------


def test_4_client_and_server_in_memory() -> None:
    hs = ClientHandshake("h", "/ws/news", subprotocols=["v1", "v2"], origin="https://h")
    server = ServerHandshake(subprotocols=["v2"], allowed_origins=["https://h"])
    req = server.receive_data(hs.data_to_send() + b"\x81\x80abcd")
    assert req is not None
    assert server.trailing_data == b"\x81\x80abcd"
    result = hs.receive_data(server.accept() + FRAME)
    assert result is not None
    assert result.subprotocol == "v2"
    assert hs.trailing_data == FRAME


def test_4_client_refused_by_server_in_memory() -> None:
    hs = ClientHandshake("h", subprotocols=["v1"], origin="https://evil")
    server = ServerHandshake(allowed_origins=["https://h"])
    with pytest.raises(HandshakeError):
        server.receive_data(hs.data_to_send())
    err = fail(server.reject(), hs)
    assert err.status == 403
    assert hs.response is not None
    assert hs.response.body.startswith(b"403 Forbidden")


def test_4_wsproto_client_against_server_handshake() -> None:
    ws = WSConnection(ConnectionType.CLIENT)
    request = ws.send(wse.Request(host="example.com", target="/t", subprotocols=["a", "b"]))
    masked_hello = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # section 5.7
    request += masked_hello  # a first frame in the same segment
    server = ServerHandshake(subprotocols=["b"])
    req = server.receive_data(request)
    assert req is not None
    assert (req.target, req.host, req.subprotocol) == ("/t", "example.com", "b")
    assert server.trailing_data == masked_hello
    ws.receive_data(server.accept() + FRAME)
    events = list(ws.events())
    assert events[0] == wse.AcceptConnection(subprotocol="b", extensions=[], extra_headers=[])
    assert events[1] == wse.TextMessage("Hello")


def test_4_wsproto_client_refused_by_server_handshake() -> None:
    ws = WSConnection(ConnectionType.CLIENT)
    server = ServerHandshake(allowed_origins=["https://h"])
    with pytest.raises(HandshakeError):
        server.receive_data(ws.send(wse.Request(host="h", target="/")))
    ws.receive_data(server.reject())
    events = list(ws.events())
    assert isinstance(events[0], wse.RejectConnection)
    assert events[0].status_code == 403


def test_4_client_handshake_against_wsproto_server() -> None:
    hs = ClientHandshake("example.com", "/p", subprotocols=["q", "r"])
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(hs.data_to_send())
    (request,) = ws.events()
    assert isinstance(request, wse.Request)
    assert (request.host, request.target, request.subprotocols) == ("example.com", "/p", ["q", "r"])
    out = ws.send(wse.AcceptConnection(subprotocol="r")) + ws.send(wse.TextMessage("yo"))
    result = hs.receive_data(out)
    assert result is not None
    assert result.subprotocol == "r"
    assert hs.trailing_data == b"\x81\x02yo"


def test_4_client_handshake_refused_by_wsproto_server() -> None:
    hs = ClientHandshake("example.com")
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(hs.data_to_send())
    list(ws.events())
    out = ws.send(
        wse.RejectConnection(status_code=401, headers=[(b"content-length", b"6")], has_body=True)
    )
    out += ws.send(wse.RejectData(b"denied"))
    err = fail(out, hs)
    assert err.status == 401
    assert hs.response is not None
    assert hs.response.body == b"denied"


def test_4_end_to_end_first_messages_arrive_through_trailing_data() -> None:
    hs = ClientHandshake("h", "/echo")
    client_conn = ClientConnection()
    client_conn.send_text("from client")
    server = ServerHandshake()
    assert server.receive_data(hs.data_to_send() + client_conn.data_to_send()) is not None
    server_conn = ServerConnection()
    server_conn.receive_data(server.trailing_data)
    assert server_conn.events() == [Text("from client")]

    server_conn.send_text("from server")
    assert hs.receive_data(server.accept() + server_conn.data_to_send()) is not None
    client_conn.receive_data(hs.trailing_data)
    assert client_conn.events() == [Text("from server")]


def test_h11_is_what_reads_the_request() -> None:
    # The request ClientHandshake writes is plain HTTP/1.1 to any h11 server.
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(ClientHandshake("h").data_to_send())
    event = conn.next_event()
    assert isinstance(event, h11.Request)
    assert event.method == b"GET"
