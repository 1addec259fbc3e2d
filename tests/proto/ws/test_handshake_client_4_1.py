"""RFC 6455 section 4.1 on the client, and RFC 7692 section 7.1: what the
answer may carry (the extensions the client offered, nothing else), and an
answer that is not a 101 failing as soon as its head says so."""

from __future__ import annotations

import pytest

from rawpush.proto.errors import HandshakeError, LocalProtocolError
from rawpush.proto.ws.connection import ClientConnection, ServerConnection
from rawpush.proto.ws.deflate import (
    DeflateParams,
    PerMessageDeflate,
    deflate_offer,
    deflate_response,
)
from rawpush.proto.ws.events import Text
from rawpush.proto.ws.handshake import ServerHandshake
from rawpush.proto.ws.handshake_client import ClientHandshake
from tests.proto.ws.client_support import client, fail, response


def test_4_1_a_2xx_answer_fails_at_its_head_without_waiting_for_the_body() -> None:
    # An upgrade to an event-stream path: the server answers 200 and streams
    # forever. The head alone says the handshake failed (section 4.1).
    stream = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\n: hi\n\r\n"
    )
    error = fail(stream)
    assert error.status == 200
    hs = client()
    assert hs.receive_data(stream[:20]) is None  # the head is not in yet
    with pytest.raises(HandshakeError):
        hs.receive_data(stream[20:])


# -- section 4.1 item 5 / RFC 7692 section 7.1: extensions in the answer ---------

EXT = "Sec-WebSocket-Extensions"


def offering(*offers: str) -> ClientHandshake:
    return client(extra_headers=[(EXT, offer) for offer in offers])


@pytest.mark.parametrize(
    ("offers", "answer"),
    [
        (["permessage-deflate"], "x-webkit-deflate-frame"),  # not offered
        (["permessage-deflate"], "permessage-deflate, permessage-deflate"),  # twice
        (["permessage-deflate"], "permessage-deflate; x_unknown"),  # unknown parameter
        (["permessage-deflate"], "permessage-deflate; client_max_window_bits=10"),  # 7.1.2.2
        (["permessage-deflate; server_max_window_bits=10"], "permessage-deflate"),
        (
            ["permessage-deflate; server_max_window_bits=10"],
            "permessage-deflate; server_max_window_bits=12",
        ),
        (["permessage-deflate; server_no_context_takeover"], "permessage-deflate"),
        (
            ["permessage-deflate; client_max_window_bits=9"],
            "permessage-deflate; client_max_window_bits=12",
        ),
        (["permessage-deflate", "x-foo"], "x-foo, permessage-deflate; server_max_window_bits=x"),
        (["permessage-deflate"], "permessage-deflate;"),  # bad syntax
        (["permessage-deflate; x_ours_is_broken"], "permessage-deflate"),
    ],
)
def test_4_1_item5_an_answer_the_offers_did_not_allow_fails(offers: list[str], answer: str) -> None:
    err = fail(response(sec_websocket_extensions=answer), offering(*offers))
    assert err.status == 101


@pytest.mark.parametrize(
    ("offers", "answer"),
    [
        (
            ["permessage-deflate; client_max_window_bits"],
            "permessage-deflate; client_max_window_bits=10",
        ),
        (["permessage-deflate", "x-foo; a=1"], "x-foo; a=2"),  # other extensions: names only
        (
            ["permessage-deflate; server_max_window_bits=10", "permessage-deflate"],
            "permessage-deflate; server_max_window_bits=12",  # fits the fallback offer
        ),
        (
            ["permessage-deflate; server_no_context_takeover"],
            "PerMessage-Deflate; server_no_context_takeover",
        ),
    ],
)
def test_4_1_item5_an_answer_one_offer_allows_passes(offers: list[str], answer: str) -> None:
    result = offering(*offers).receive_data(response(sec_websocket_extensions=answer))
    assert result is not None
    assert result.extensions == (answer,)


def test_7_1_deflate_params_write_the_offer_and_build_the_extension() -> None:
    params = DeflateParams(server_max_window_bits=10, max_message_size=1000)
    hs = client(deflate=params)
    assert f"{EXT}: {deflate_offer(params)}\r\n".encode() in hs.data_to_send()
    answer = "permessage-deflate; server_max_window_bits=10; client_max_window_bits=11"
    assert hs.receive_data(response(sec_websocket_extensions=answer)) is not None
    assert isinstance(hs.extension, PerMessageDeflate)
    assert "send_max_window_bits=11" in repr(hs.extension)
    assert "receive_max_window_bits=10" in repr(hs.extension)
    declined = client(deflate=params)
    assert declined.receive_data(response()) is not None
    assert declined.extension is None
    assert fail(response(sec_websocket_extensions="permessage-deflate"), client(deflate=params))


def test_7_1_deflate_params_end_to_end_with_the_server() -> None:
    hs = client(deflate=DeflateParams())
    server = ServerHandshake()
    request = server.receive_data(hs.data_to_send())
    assert request is not None
    found = deflate_response(request.extensions)
    assert found is not None
    header, server_ext = found
    assert hs.receive_data(server.accept(extra_headers=[(EXT, header)])) is not None
    conn = ClientConnection(extension=hs.extension)
    peer = ServerConnection(extension=server_ext)
    conn.send_text("hello hello")
    peer.receive_data(conn.data_to_send())
    assert peer.events() == [Text("hello hello")]


def test_4_1_extension_offers_the_client_cannot_write_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        client(deflate=DeflateParams(), extra_headers=[(EXT, "permessage-deflate")])
    with pytest.raises(LocalProtocolError):
        offering("permessage-deflate;")

