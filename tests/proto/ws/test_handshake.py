"""check_request and the answers of the opening handshake (RFC 6455 section 4.2)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.proto.errors import HandshakeError
from rawpush.proto.ws.handshake import (
    HandshakeRequest,
    accept_headers,
    accept_key,
    check_request,
    reject_response,
)
from tests.proto.ws.handshake_support import (
    KEY,
    check,
    headers,
    refused,
)

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
    assert ("Sec-WebSocket-Version", "13") in err.headers


def test_9110_15_5_22_a_version_426_also_says_upgrade_websocket() -> None:
    # A 426 "MUST send an Upgrade header field", naming what we speak.
    status, hs, _ = reject_response(refused(headers(sec_websocket_version="8")))
    assert status == 426
    assert ("Upgrade", "websocket") in hs
    assert ("Sec-WebSocket-Version", "13") in hs
    assert ("Connection", "Upgrade, close") in hs


def test_9110_15_5_22_reject_response_adds_upgrade_to_any_426() -> None:
    status, hs, _ = reject_response(HandshakeError("built elsewhere", 426))
    assert status == 426
    assert [v for k, v in hs if k == "Upgrade"] == ["websocket"]
    assert ("Connection", "Upgrade, close") in hs
    _, hs, _ = reject_response(HandshakeError("not a 426", 400))
    assert all(k != "Upgrade" for k, _ in hs)


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
