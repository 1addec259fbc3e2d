"""Server side of the opening handshake (RFC 6455 section 4.2), named after sections."""

from __future__ import annotations

import base64
import hashlib
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
    accept_headers,
    accept_key,
    check_request,
    reject_response,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
FRAME = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # masked "Hello", section 5.7

Headers = list[tuple[str, str]]


def headers(**changes: str | None) -> Headers:
    """A valid request's headers; ``name=None`` drops one, ``name=value`` replaces it."""
    base = {
        "host": "example.com",
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-key": KEY,
        "sec-websocket-version": "13",
    }
    for field, value in changes.items():
        name = field.replace("_", "-")
        if value is None:
            base.pop(name)
        else:
            base[name] = value
    return list(base.items())


def check(hs: Headers, **kwargs: object) -> HandshakeRequest:
    return check_request("GET", "1.1", hs, **kwargs)  # type: ignore[arg-type]


def refused(hs: Headers, method: str = "GET", version: str = "1.1", **kw: object) -> HandshakeError:
    with pytest.raises(HandshakeError) as info:
        check_request(method, version, hs, **kw)  # type: ignore[arg-type]
    return info.value


def wire(hs: Headers, target: str = "/chat", method: str = "GET", version: str = "1.1") -> bytes:
    head = f"{method} {target} HTTP/{version}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in hs)
    return (head + "\r\n").encode("latin-1")


REQUEST = wire(headers(sec_websocket_protocol="chat, superchat"))


# -- section 1.3 / 4.2.2: the accept value -----------------------------------


def test_1_3_accept_key_vector() -> None:
    # RFC 6455 section 1.3 (and 4.2.2 item 5.4): the worked example.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@settings(max_examples=25)
@given(st.binary(min_size=16, max_size=16))
def test_4_2_2_accept_key_is_sha1_of_key_and_guid(raw: bytes) -> None:
    key = base64.b64encode(raw).decode()
    guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    expected = base64.b64encode(hashlib.sha1(key.encode() + guid).digest()).decode()
    assert accept_key(key) == expected


# -- section 4.2.1: what a valid request is ----------------------------------


def test_4_2_1_valid_request() -> None:
    req = check(headers(origin="http://example.com"), target="/x?y=1")
    assert req == HandshakeRequest(
        target="/x?y=1",
        host="example.com",
        key=KEY,
        origin="http://example.com",
        subprotocols=(),
        subprotocol=None,
        extensions=(),
        headers=tuple(headers(origin="http://example.com")),
    )


@pytest.mark.parametrize("method", ["POST", "HEAD", "get", "CONNECT"])
def test_4_2_1_item1_method_not_get_405(method: str) -> None:
    err = refused(headers(), method=method)
    assert err.status == 405
    assert err.headers == (("Allow", "GET"),)


@pytest.mark.parametrize(
    ("version", "status"),
    [("1.0", 400), ("0.9", 505), ("1", 400), ("2", 505), ("2.0", 505), ("x", 400), ("", 400)],
)
def test_4_2_1_item1_http_version(version: str, status: int) -> None:
    assert refused(headers(), version=version).status == status


@pytest.mark.parametrize("version", ["1.1", "1.2", "1.10"])
def test_4_2_1_item1_http_1_1_or_later_accepted(version: str) -> None:
    assert check_request("GET", version, headers()).key == KEY


def test_4_2_1_item2_missing_host_400() -> None:
    assert refused(headers(host=None)).status == 400


def test_4_2_1_item2_duplicate_host_400() -> None:
    assert refused([*headers(), ("host", "evil.example")]).status == 400


@pytest.mark.parametrize("upgrade", [None, "h2c", "websocket2", "web socket", ""])
def test_4_2_1_item3_upgrade_without_websocket_426(upgrade: str | None) -> None:
    err = refused(headers(upgrade=upgrade))
    assert err.status == 426
    assert ("Upgrade", "websocket") in err.headers


@pytest.mark.parametrize("upgrade", ["websocket", "WebSocket", "WEBSOCKET", "h2c, websocket"])
def test_4_2_1_item3_upgrade_token_case_insensitive(upgrade: str) -> None:
    assert check(headers(upgrade=upgrade)).key == KEY


def test_4_2_1_item3_upgrade_across_several_headers() -> None:
    assert check([*headers(upgrade="h2c"), ("upgrade", "WebSocket")]).key == KEY


@pytest.mark.parametrize("connection", [None, "keep-alive", "upgrade-insecure", "close", ""])
def test_4_2_1_item4_connection_without_upgrade_400(connection: str | None) -> None:
    assert refused(headers(connection=connection)).status == 400


@pytest.mark.parametrize("connection", ["upgrade", "UPGRADE", "keep-alive, Upgrade", " ,Upgrade,"])
def test_4_2_1_item4_connection_tokens(connection: str) -> None:
    assert check(headers(connection=connection)).key == KEY


def test_4_2_1_item4_connection_across_several_headers() -> None:
    assert check([*headers(connection="keep-alive"), ("connection", "Upgrade")]).key == KEY


@pytest.mark.parametrize(
    "key",
    [
        "",
        "not base64!!",
        base64.b64encode(b"x" * 15).decode(),
        base64.b64encode(b"x" * 17).decode(),
        "dGhlIHNhbXBsZSBub25jZR==",  # non-zero padding bits: not canonical
        "dGhlIHNhbXBsZSBub25jZQ",  # padding missing
        "dGhlIHNhbXBsZSBub25jZQ==\t",
        "dGhlIHNhbXBsZSBub25jZQ=\u00e9",
    ],
)
def test_4_2_1_item5_bad_key_400(key: str) -> None:
    assert refused(headers(sec_websocket_key=key)).status == 400


def test_4_2_1_item5_missing_key_400() -> None:
    assert refused(headers(sec_websocket_key=None)).status == 400


def test_4_2_1_item5_duplicate_key_400() -> None:
    assert refused([*headers(), ("sec-websocket-key", KEY)]).status == 400


@pytest.mark.parametrize("version", [None, "8", "12", "13, 8", "", "013"])
def test_4_4_unsupported_version_426_with_version_header(version: str | None) -> None:
    err = refused(headers(sec_websocket_version=version))
    assert err.status == 426
    assert err.headers == (("Sec-WebSocket-Version", "13"),)


def test_4_4_version_twice_426() -> None:
    hs = [*headers(), ("sec-websocket-version", "13")]
    assert refused(hs).status == 426


@pytest.mark.parametrize(
    "extra", [("content-length", "5"), ("transfer-encoding", "chunked"), ("content-length", "x")]
)
def test_4_1_request_with_body_400(extra: tuple[str, str]) -> None:
    assert refused([*headers(), extra]).status == 400


def test_4_1_empty_content_length_is_no_body() -> None:
    assert check([*headers(), ("content-length", "0")]).key == KEY


# -- section 4.2.1 item 7, 4.2.2 item 4, 10.2: Origin ------------------------


def test_10_2_origin_in_allow_list() -> None:
    req = check(headers(origin="HTTPS://App.Example"), allowed_origins=["https://app.example"])
    assert req.origin == "HTTPS://App.Example"


def test_10_2_origin_outside_allow_list_403() -> None:
    hs = headers(origin="https://evil.example")
    assert refused(hs, allowed_origins={"https://app.example"}).status == 403


def test_10_2_origin_missing_with_allow_list_403() -> None:
    assert refused(headers(), allowed_origins={"https://app.example"}).status == 403


def test_10_2_no_allow_list_accepts_any_origin() -> None:
    assert check(headers(origin="null")).origin == "null"


def test_10_2_duplicate_origin_400() -> None:
    hs = [*headers(origin="https://a.example"), ("origin", "https://a.example")]
    assert refused(hs).status == 400


# -- section 4.2.2 item 4 / 11.3.4: subprotocols -----------------------------


@pytest.mark.parametrize(
    ("offered", "supported", "chosen"),
    [
        (["chat", "superchat"], ["superchat", "chat"], "superchat"),  # server's order wins
        (["chat", "superchat"], ["chat", "superchat"], "chat"),
        (["chat"], ["other"], None),
        (["chat"], [], None),
        ([], ["chat"], None),
        (["Chat"], ["chat"], None),  # names compare exactly
    ],
)
def test_4_2_2_subprotocol_negotiation(
    offered: list[str], supported: list[str], chosen: str | None
) -> None:
    hs = headers(sec_websocket_protocol=", ".join(offered)) if offered else headers()
    req = check(hs, subprotocols=supported)
    assert req.subprotocols == tuple(offered)
    assert req.subprotocol == chosen


def test_11_3_4_subprotocols_across_headers_and_comma_lists() -> None:
    hs = [
        *headers(),
        ("sec-websocket-protocol", " a ,, b"),
        ("sec-websocket-protocol", "c"),
        ("sec-websocket-protocol", "a"),
    ]
    req = check(hs, subprotocols=["c", "b"])
    assert req.subprotocols == ("a", "b", "c")
    assert req.subprotocol == "c"


@pytest.mark.parametrize("offer", ["a b", "chat, (x)", 'x"y', "caf\u00e9"])
def test_4_1_subprotocol_not_a_token_400(offer: str) -> None:
    assert refused(headers(sec_websocket_protocol=offer)).status == 400


def test_9_1_extension_offers_passed_through_raw() -> None:
    hs = [
        *headers(),
        ("sec-websocket-extensions", "permessage-deflate; client_max_window_bits"),
        ("sec-websocket-extensions", "x-foo"),
    ]
    assert check(hs).extensions == ("permessage-deflate; client_max_window_bits", "x-foo")


# -- the answers: 101 headers and refusals -----------------------------------


def test_4_2_2_item5_accept_headers() -> None:
    req = check(headers(sec_websocket_protocol="chat"), subprotocols=["chat"])
    assert accept_headers(req) == [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("Sec-WebSocket-Protocol", "chat"),
    ]


def test_4_2_2_item5_accept_headers_without_subprotocol() -> None:
    names = [name for name, _ in accept_headers(check(headers()))]
    assert names == ["Upgrade", "Connection", "Sec-WebSocket-Accept"]


def test_4_2_2_reject_response_merges_connection_tokens() -> None:
    status, hs, body = reject_response(refused(headers(upgrade=None)))
    assert status == 426
    assert ("Upgrade", "websocket") in hs
    assert ("Connection", "Upgrade, close") in hs
    assert ("Content-Length", str(len(body))) in hs
    assert body.startswith(b"426 Upgrade Required: ")


def test_4_2_2_reject_response_unknown_status_and_long_reason() -> None:
    status, _, body = reject_response(HandshakeError("\u00e9" + "x" * 500, 499))
    assert status == 499
    assert body.startswith(b"499 Error: \\xe9xxx")
    assert body.endswith(b"...\n")
    assert len(body) < 260


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
    assert ("connection", "close") in hs
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
