"""``{"op":"ping"}`` on ``/ws`` and its ``{"type":"pong"}`` (a browser can
neither send nor see WebSocket Pings, RFC 6455 section 5.5.2)."""

from __future__ import annotations

import json

import pytest

from rawpush.proto.errors import LocalProtocolError
from rawpush.proto.multichannel import ControlError, Ping, parse_control, ws_pong


def test_ping_with_and_without_ref() -> None:
    assert parse_control('{"op":"ping"}') == Ping()
    assert parse_control(b'{"op":"ping","ref":"7"}') == Ping("7")


@pytest.mark.parametrize(
    ("raw", "ref", "why"),
    [
        ('{"op":"ping","ref":5}', None, "'ref' must be a string"),
        ('{"op":"ping","ref":"r","channel":"a"}', "r", "unknown field 'channel' for ping"),
    ],
)
def test_ping_refused_names_what_it_read(raw: str, ref: str | None, why: str) -> None:
    with pytest.raises(ControlError) as refused:
        parse_control(raw)
    assert (refused.value.code, refused.value.message) == ("bad_request", why)
    assert (refused.value.op, refused.value.ref) == ("ping", ref)


def test_pong_shapes() -> None:
    assert ws_pong() == b'{"type":"pong"}'
    assert json.loads(ws_pong('q"\n')) == {"type": "pong", "ref": 'q"\n'}
    with pytest.raises(LocalProtocolError):
        ws_pong(5)  # type: ignore[arg-type]
