"""RFC 7692 section 7.1 (and RFC 6455 section 9.1): negotiating permessage-deflate.

The server picks the first acceptable offer and answers within what was
offered; the client refuses any answer it could not have asked for.
"""

from __future__ import annotations

import pytest

from rawpush.proto.errors import HandshakeError, WebSocketLocalError
from rawpush.ws import (
    ClientConnection,
    ClientHandshake,
    DeflateParams,
    PerMessageDeflate,
    ServerConnection,
    ServerHandshake,
    Text,
    deflate_from_response,
    deflate_offer,
    deflate_response,
    parse_extensions,
)

PMD = "permessage-deflate"


# -- RFC 6455 section 9.1: the header grammar ------------------------------


def test_9_1_offers_parameters_lists_and_quoted_values() -> None:
    values = [
        'permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-foo',
        " , permessage-deflate ;server_no_context_takeover ,, ",
        'x-q; a="b\\c"',
    ]
    assert parse_extensions(values) == [
        (PMD, (("client_max_window_bits", None), ("server_max_window_bits", "10"))),
        ("x-foo", ()),
        (PMD, (("server_no_context_takeover", None),)),
        ("x-q", (("a", "bc"),)),
    ]
    assert parse_extensions([]) == [] == parse_extensions(["", " , "])


@pytest.mark.parametrize(
    "value",
    [
        "permessage-deflate;",
        "permessage-deflate=1",
        "permessage-deflate; a b",
        'permessage-deflate; a="x y"',
        'permessage-deflate; a="open',
        "permessage-deflate; ; a",
        "per{message",
        "a; b=@",
    ],
)
def test_9_1_bad_syntax_is_refused(value: str) -> None:
    # The peer wrote it: a remote error (400), as every handshake refusal.
    with pytest.raises(HandshakeError) as info:
        parse_extensions([value])
    assert info.value.status == 400


# -- section 7.1: the server's answer -------------------------------------


DEFAULTS = DeflateParams()


def answer(offers: list[str], params: DeflateParams = DEFAULTS) -> str | None:
    found = deflate_response(offers, params)
    if found is None:
        return None
    header, extension = found
    assert isinstance(extension, PerMessageDeflate)
    return header


@pytest.mark.parametrize(
    ("offer", "params", "header"),
    [
        (PMD, DeflateParams(), PMD),
        (f"{PMD}; client_max_window_bits", DeflateParams(), PMD),
        (f"{PMD}; client_max_window_bits=10", DeflateParams(), f"{PMD}; client_max_window_bits=10"),
        (
            f"{PMD}; client_max_window_bits=10",
            DeflateParams(client_max_window_bits=12),
            f"{PMD}; client_max_window_bits=10",
        ),
        (
            f"{PMD}; client_max_window_bits",
            DeflateParams(client_max_window_bits=9),
            f"{PMD}; client_max_window_bits=9",
        ),
        (f"{PMD}; server_max_window_bits=10", DeflateParams(), f"{PMD}; server_max_window_bits=10"),
        (
            f"{PMD}; server_max_window_bits=12",
            DeflateParams(server_max_window_bits=11),
            f"{PMD}; server_max_window_bits=11",
        ),
        (PMD, DeflateParams(server_max_window_bits=8), f"{PMD}; server_max_window_bits=8"),
        (
            f"{PMD}; server_no_context_takeover",
            DeflateParams(),
            f"{PMD}; server_no_context_takeover",
        ),
        (
            f"{PMD}; client_no_context_takeover",
            DeflateParams(),
            f"{PMD}; client_no_context_takeover",
        ),
        (
            PMD,
            DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True),
            f"{PMD}; server_no_context_takeover; client_no_context_takeover",
        ),
        (f"x-foo, {PMD}", DeflateParams(), PMD),
        # Section 7.1: an offer we must decline, then one we can take.
        (
            f"{PMD}; mystery, {PMD}; server_max_window_bits=9",
            DeflateParams(),
            f"{PMD}; server_max_window_bits=9",
        ),
    ],
)
def test_7_1_the_server_answers_within_the_offer(
    offer: str, params: DeflateParams, header: str
) -> None:
    assert answer([offer], params) == header


@pytest.mark.parametrize(
    "offer",
    [
        "x-foo",
        f"{PMD}; mystery",
        f"{PMD}; server_no_context_takeover; server_no_context_takeover",
        f"{PMD}; server_no_context_takeover=1",
        f"{PMD}; server_max_window_bits",
        f"{PMD}; server_max_window_bits=16",
        f"{PMD}; server_max_window_bits=7",
        f"{PMD}; client_max_window_bits=08",
        f"{PMD}; client_max_window_bits=abc",
        f"{PMD};",
    ],
)
def test_7_1_offers_that_must_be_declined(offer: str) -> None:
    assert answer([offer]) is None


def test_7_1_2_2_a_client_window_limit_needs_an_offer_that_allows_it() -> None:
    assert answer([PMD], DeflateParams(client_max_window_bits=10)) is None


def test_7_1_the_first_acceptable_offer_wins_across_header_lines() -> None:
    offers = [f"{PMD}; server_max_window_bits=10", f"{PMD}; server_max_window_bits=12"]
    assert answer(offers) == f"{PMD}; server_max_window_bits=10"


def test_params_are_checked() -> None:
    with pytest.raises(WebSocketLocalError):
        DeflateParams(server_max_window_bits=16)
    with pytest.raises(WebSocketLocalError):
        DeflateParams(client_max_window_bits=7)
    with pytest.raises(WebSocketLocalError):
        DeflateParams(level=10)
    with pytest.raises(WebSocketLocalError):
        DeflateParams(max_message_size=0)


# -- section 7.1: the client's offer and its check of the answer ------------


def test_7_1_the_client_offer() -> None:
    assert deflate_offer() == f"{PMD}; client_max_window_bits"
    params = DeflateParams(
        server_no_context_takeover=True,
        client_no_context_takeover=True,
        server_max_window_bits=10,
        client_max_window_bits=11,
    )
    assert deflate_offer(params) == (
        f"{PMD}; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=10; client_max_window_bits=11"
    )


@pytest.mark.parametrize(
    ("params", "response"),
    [
        (DeflateParams(), PMD),
        (DeflateParams(), f"{PMD}; server_no_context_takeover; client_no_context_takeover"),
        (DeflateParams(), f"{PMD}; client_max_window_bits=9; server_max_window_bits=8"),
        (DeflateParams(server_max_window_bits=10), f"{PMD}; server_max_window_bits=9"),
        (DeflateParams(client_max_window_bits=10), f"{PMD}; client_max_window_bits=10"),
        (DeflateParams(server_no_context_takeover=True), f"{PMD}; server_no_context_takeover"),
    ],
)
def test_7_1_the_client_accepts_answers_it_allowed(params: DeflateParams, response: str) -> None:
    assert isinstance(deflate_from_response([response], params), PerMessageDeflate)


@pytest.mark.parametrize(
    ("params", "response"),
    [
        (DeflateParams(), "x-foo"),
        (DeflateParams(), f"{PMD}, {PMD}"),
        (DeflateParams(), f"{PMD}; mystery"),
        (DeflateParams(), f"{PMD};"),
        (DeflateParams(), f"{PMD}; client_max_window_bits"),
        (DeflateParams(client_max_window_bits=10), f"{PMD}; client_max_window_bits=11"),
        (DeflateParams(server_max_window_bits=10), PMD),
        (DeflateParams(server_max_window_bits=10), f"{PMD}; server_max_window_bits=11"),
        (DeflateParams(server_no_context_takeover=True), PMD),
    ],
)
def test_7_1_the_client_refuses_what_it_did_not_allow(params: DeflateParams, response: str) -> None:
    with pytest.raises(HandshakeError) as info:
        deflate_from_response([response], params)
    assert info.value.status == 101


def test_7_1_no_answer_means_no_compression() -> None:
    assert deflate_from_response([]) is None


# -- end to end through both handshakes ------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        DeflateParams(),
        DeflateParams(server_no_context_takeover=True, client_max_window_bits=9),
        DeflateParams(client_no_context_takeover=True, server_max_window_bits=8),
    ],
)
def test_7_1_handshakes_then_messages_both_ways(params: DeflateParams) -> None:
    hs_client = ClientHandshake(
        "example.com", extra_headers=[("Sec-WebSocket-Extensions", deflate_offer(params))]
    )
    hs_server = ServerHandshake()
    request = hs_server.receive_data(hs_client.data_to_send())
    assert request is not None
    found = deflate_response(request.extensions, params)
    assert found is not None
    header, server_ext = found
    response = hs_client.receive_data(
        hs_server.accept(extra_headers=[("Sec-WebSocket-Extensions", header)])
    )
    assert response is not None
    client_ext = deflate_from_response(response.extensions, params)
    assert client_ext is not None
    server = ServerConnection(extension=server_ext)
    client = ClientConnection(extension=client_ext)
    for i in range(3):
        client.send_text(f"hello {i} " * 40)
        server.receive_data(client.data_to_send())
        assert server.events() == [Text(f"hello {i} " * 40)]
        server.send_text(f"bye {i} " * 40)
        client.receive_data(server.data_to_send())
        assert client.events() == [Text(f"bye {i} " * 40)]


def test_off_by_default_a_plain_handshake_offers_nothing() -> None:
    request = ServerHandshake().receive_data(ClientHandshake("example.com").data_to_send())
    assert request is not None
    assert request.extensions == ()
    assert deflate_response(request.extensions) is None
