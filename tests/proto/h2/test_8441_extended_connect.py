"""RFC 8441: SETTINGS_ENABLE_CONNECT_PROTOCOL (section 3), the extended
CONNECT as the HTTP/1.1 upgrade it stands for (sections 4-5), its bytes as
DATA and its end as END_STREAM."""

from __future__ import annotations

import h2.events
import pytest
from h2.settings import SettingCodes

from rawpush.proto.errors import LocalProtocolError
from rawpush.proto.h2 import (
    DataReceived,
    H2Config,
    H2Connection,
    RequestReceived,
    StreamEnded,
)
from rawpush.proto.http import HTTPConfig
from rawpush.proto.ws.handshake import check_request
from tests.proto.h2.support import GET, cuts, events_of, frame_list, head_of, new_client, pair

_CONNECT = [
    (":method", "CONNECT"),
    (":protocol", "websocket"),
    (":scheme", "https"),
    (":authority", "example.test"),
    (":path", "/ws/news?lastEventId=1-0"),
    ("sec-websocket-version", "13"),
    ("origin", "https://example.test"),
]


def test_8441_3_enable_connect_protocol_is_advertised() -> None:
    server = H2Connection()
    client = new_client()
    events = client.receive_data(server.data_to_send())
    settings = next(e for e in events if isinstance(e, h2.events.RemoteSettingsChanged))
    assert settings.changed_settings[SettingCodes.ENABLE_CONNECT_PROTOCOL].new_value == 1


def test_8441_5_extended_connect_is_the_upgrade_it_stands_for() -> None:
    # The client speaks after it saw the setting; its preface went first.
    client = new_client()
    preface = client.data_to_send()
    client.receive_data(H2Connection().data_to_send())
    client.send_headers(1, _CONNECT)
    client.send_data(1, b"\x81\x82abcd")
    client.send_data(1, b"", end_stream=True)
    data = client.data_to_send()
    for chunks in cuts(data):
        events = events_of(H2Connection(), [preface, *chunks])
        request = events[0]
        assert isinstance(request, RequestReceived)
        assert request.tunnel
        # Section 5: the RFC 6455 check passes on the HTTP/1.1 form.
        found = check_request(
            request.request.method,
            request.request.http_version,
            request.request.headers,
            target=request.request.target,
        )
        assert found.key == "AAAAAAAAAAAAAAAAAAAAAA=="
        assert request.request.query == {"lastEventId": "1-0"}
        payload = b"".join(e.data for e in events if isinstance(e, DataReceived))
        assert payload == b"\x81\x82abcd"
        assert isinstance(events[-1], StreamEnded)


def test_8441_5_a_key_the_client_sent_is_kept() -> None:
    server, client = pair()
    client.send_headers(1, [*_CONNECT, ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")])
    (event,) = server.receive_data(client.data_to_send())
    assert isinstance(event, RequestReceived)
    keys = [v for k, v in event.request.headers if k == "sec-websocket-key"]
    assert keys == ["dGhlIHNhbXBsZSBub25jZQ=="]


def test_8441_5_accept_is_a_200_without_the_101_fields() -> None:
    server, client = pair()
    client.send_headers(1, _CONNECT)
    server.receive_data(client.data_to_send())
    out = server.accept_tunnel(
        1,
        [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", "x"),
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ],
    )
    events = client.receive_data(out)
    assert head_of(events) == [
        (":status", "200"),
        ("sec-websocket-extensions", "permessage-deflate"),
    ]
    # The stream stays open both ways: WebSocket frames follow as DATA.
    client.receive_data(server.send_data(1, b"\x81\x00"))
    client.send_data(1, b"\x88\x80abcd")
    (data,) = server.receive_data(client.data_to_send())
    assert data == DataReceived(1, b"\x88\x80abcd")


def test_8441_accept_tunnel_on_a_plain_request_is_a_local_error() -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    with pytest.raises(LocalProtocolError):
        server.accept_tunnel(1)


def test_8441_empty_data_on_a_tunnel_is_no_event() -> None:
    server, client = pair()
    client.send_headers(1, _CONNECT)
    client.send_data(1, b"")
    events = server.receive_data(client.data_to_send())
    assert [type(e) for e in events] == [RequestReceived]


def _updated(data: bytes) -> set[int]:
    """The streams a WINDOW_UPDATE in ``data`` gives credit to."""
    return {sid for kind, _, sid, _ in frame_list(data) if kind == 0x8 and sid}


def test_9113_5_2_a_held_tunnel_keeps_its_credit_and_gives_it_back_on_release() -> None:
    # RFC 9113 5.2: the reader of one WebSocket stream stops; its peer may
    # send one window more, the connection's other streams flow on.
    small = H2Config(HTTPConfig(max_body_bytes=1000), initial_window_size=65_535)
    server, client = pair(small)
    client.send_headers(1, _CONNECT)
    client.send_headers(3, _CONNECT)
    server.receive_data(client.data_to_send())
    client.receive_data(server.accept_tunnel(1) + server.accept_tunnel(3))
    server.hold(1)
    for _ in range(3):  # most of a window (3 x 16 KiB): credit is due back
        client.send_data(1, b"x" * 16_384)
        client.send_data(3, b"y" * 16_384)
    events = server.receive_data(client.data_to_send())
    # The bytes are handed over either way; only the credit waits.
    assert [len(e.data) for e in events if isinstance(e, DataReceived)] == [16_384] * 6
    assert _updated(server.data_to_send()) == {3}
    assert _updated(server.release(1)) == {1}
    assert server.release(1) == b""  # nothing held any more


def test_9113_5_2_a_held_stream_that_ends_gives_nothing_back_on_release() -> None:
    server, client = pair()
    client.send_headers(1, _CONNECT)
    server.receive_data(client.data_to_send())
    client.receive_data(server.accept_tunnel(1))
    server.hold(1)
    client.send_data(1, b"x" * 10)
    server.receive_data(client.data_to_send())
    client.receive_data(server.reset(1))
    assert server.release(1) == b""  # the reset stream's credit went back already
