"""``/ws`` control messages, replies and the binary event message."""

from __future__ import annotations

import base64
import json

import pytest

from rawpush.proto.errors import LocalProtocolError
from rawpush.proto.multichannel import (
    ControlError,
    Publish,
    Subscribe,
    Unsubscribe,
    parse_binary_message,
    parse_control,
    ws_ack,
    ws_binary_event,
    ws_error,
    ws_event,
    ws_gap,
)


def test_control_subscribe_with_and_without_since() -> None:
    assert parse_control('{"op":"subscribe","channel":"a","since":"1-0","ref":"1"}') == Subscribe(
        "a", "1-0", "1"
    )
    assert parse_control(b'{"op":"subscribe","channel":"a"}') == Subscribe("a")


def test_control_unsubscribe() -> None:
    assert parse_control('{"op":"unsubscribe","channel":"a","ref":"2"}') == Unsubscribe("a", "2")


def test_control_publish_text_and_base64() -> None:
    text = parse_control('{"op":"publish","channel":"a","data":"hi","event":"tick","ref":"3"}')
    assert text == Publish("a", "hi", "tick", "3")
    raw = base64.b64encode(b"\x00\xff").decode()
    binary = parse_control(f'{{"op":"publish","channel":"a","data":"{raw}","encoding":"base64"}}')
    assert binary == Publish("a", b"\x00\xff")


@pytest.mark.parametrize(
    ("raw", "op", "channel", "ref"),
    [
        ("not json", None, None, None),
        (b"\xff", None, None, None),
        ("[1]", None, None, None),
        ("[" * 100000, None, None, None),
        ('{"op":"dance","ref":"9"}', None, None, "9"),
        ('{"channel":"a"}', None, None, None),
        ('{"op":"subscribe","ref":7}', "subscribe", None, None),
        ('{"op":"subscribe","channel":""}', "subscribe", None, None),
        ('{"op":"subscribe","channel":"a","ref":7}', "subscribe", "a", None),
        ('{"op":"subscribe","channel":"a","sinec":"1-0"}', "subscribe", "a", None),
        ('{"op":"subscribe","channel":"a","since":"now"}', "subscribe", "a", None),
        ('{"op":"subscribe","channel":"a","since":5}', "subscribe", "a", None),
        ('{"op":"unsubscribe","channel":"a","data":"x"}', "unsubscribe", "a", None),
        ('{"op":"publish","channel":"a","ref":"r"}', "publish", "a", "r"),
        ('{"op":"publish","channel":"a","data":1}', "publish", "a", None),
        ('{"op":"publish","channel":"a","data":"x","encoding":"hex"}', "publish", "a", None),
        ('{"op":"publish","channel":"a","data":"!!","encoding":"base64"}', "publish", "a", None),
    ],
)
def test_control_refused_names_what_it_read(
    raw: str | bytes, op: str | None, channel: str | None, ref: str | None
) -> None:
    with pytest.raises(ControlError) as info:
        parse_control(raw)
    error = info.value
    assert (error.code, error.op, error.channel, error.ref) == ("bad_request", op, channel, ref)
    assert error.message


def test_control_error_code_must_be_known() -> None:
    with pytest.raises(LocalProtocolError):
        ControlError("oops", "x")


def test_ws_ack_and_error_shapes() -> None:
    assert json.loads(ws_ack("subscribe", "a", None, "1")) == {
        "type": "ack",
        "ref": "1",
        "op": "subscribe",
        "channel": "a",
        "id": None,
    }
    assert json.loads(ws_ack("publish", "a", "5-0")) == {
        "type": "ack",
        "op": "publish",
        "channel": "a",
        "id": "5-0",
    }
    assert json.loads(ws_error("forbidden", "no", op="subscribe", channel="a", ref="1")) == {
        "type": "error",
        "ref": "1",
        "op": "subscribe",
        "channel": "a",
        "code": "forbidden",
        "message": "no",
    }
    assert json.loads(ws_error("bad_request", "not JSON")) == {
        "type": "error",
        "code": "bad_request",
        "message": "not JSON",
    }
    with pytest.raises(LocalProtocolError):
        ws_ack("dance", "a", None)
    with pytest.raises(LocalProtocolError):
        ws_ack("publish", 1, None)  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        ws_error("oops", "x")


def test_ws_event_and_gap_shapes() -> None:
    assert json.loads(ws_event("a", "1-0", "tick", "x")) == {
        "type": "event",
        "channel": "a",
        "id": "1-0",
        "event": "tick",
        "data": "x",
    }
    assert json.loads(ws_event("a", "1-0", None, b"\x01"))["encoding"] == "base64"
    assert json.loads(ws_gap("a")) == {"type": "gap", "channel": "a"}
    with pytest.raises(LocalProtocolError):
        ws_gap(1)  # type: ignore[arg-type]


def test_binary_event_header_newline_payload_at_every_offset() -> None:
    # The payload may itself hold newlines anywhere: the first one ends
    # the header, whatever follows.
    for at in range(6):
        payload = b"\x00\xff\x01\x02\x03"[:at] + b"\n" + b"\x00\xff\x01\x02\x03"[at:]
        message = ws_binary_event("a", "7-0", "blob", payload)
        head, got = parse_binary_message(message)
        assert got == payload
        assert head == {
            "type": "event",
            "channel": "a",
            "id": "7-0",
            "event": "blob",
            "binary": True,
        }
    assert parse_binary_message(ws_binary_event("a", "7-0", None, b""))[1] == b""


def test_binary_event_without_header_refused() -> None:
    for bad in (b"", b'{"type":"event"}', b"[1]\n", b"\xff\n"):
        with pytest.raises(ControlError):
            parse_binary_message(bad)
    with pytest.raises(LocalProtocolError):
        ws_binary_event("a", "1-0", None, "text")  # type: ignore[arg-type]
