"""Many channels on one connection: positions, events, the poll answer."""

from __future__ import annotations

import base64
import json

import pytest

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.multichannel import (
    MAX_ID_LENGTH,
    channel_event_json,
    format_position,
    multi_poll_answer,
    parse_position,
    poll_binary_item,
    query_values,
    sse_binary_event,
    sse_channel_event,
    sse_channel_frame,
    sse_channel_gap,
)
from rawpush.proto.sse import Decoder

POSITION = "1733100000000-0,_,1733100000123-4"


def test_position_one_id_per_channel_in_url_order() -> None:
    assert parse_position(POSITION, 3) == ("1733100000000-0", None, "1733100000123-4")
    assert format_position(["1733100000000-0", None, "1733100000123-4"]) == POSITION


def test_position_round_trips_every_prefix_refused() -> None:
    # A position cut anywhere (a truncated header) is refused, never half read.
    for cut in range(len(POSITION)):
        prefix = POSITION[:cut]
        if prefix.count(",") == 2 and prefix.rsplit(",", 1)[1] not in ("", "1"):
            continue  # still a well-formed position of three ids
        with pytest.raises(HTTPError) as info:
            parse_position(prefix, 3)
        assert info.value.status == 400


@pytest.mark.parametrize(
    "raw",
    [
        "1-0",  # one id for two channels
        "1-0,2-0,3-0",  # three
        "1-0,abc",  # not an id
        "1-0,",  # an empty slot
        "1-0, 2-0",  # a space
        "1-0," + "1" * 21 + "-0",  # over the id length
        "_," + "9" * 200,  # over the whole bound
    ],
)
def test_position_bad_is_400(raw: str) -> None:
    with pytest.raises(HTTPError, match="bad position") as info:
        parse_position(raw, 2)
    assert info.value.status == 400


def test_position_bounded_by_channels_and_id_length() -> None:
    longest = ",".join(["9" * 20 + "-" + "9" * 19] * 32)
    assert len(parse_position(longest, 32)) == 32
    assert len(longest) <= 32 * (MAX_ID_LENGTH + 1)


def test_position_misuse_is_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        parse_position("1-0", 0)
    with pytest.raises(LocalProtocolError):
        format_position([])
    with pytest.raises(LocalProtocolError):
        format_position(["1-0", "x"])


def test_query_values_keeps_every_channel_in_order() -> None:
    target = "/sse?channel=b&x=1&channel=a&channel=c#frag&channel=z"
    assert query_values(target, "channel") == ["b", "a", "c"]
    assert query_values("/sse", "channel") == []
    with pytest.raises(HTTPError):
        query_values("/sse?channel=%ff", "channel")


def test_channel_event_json_text_and_base64() -> None:
    text = json.loads(channel_event_json("a", "1-0", "tick", "hé\n"))
    assert text == {"channel": "a", "id": "1-0", "event": "tick", "data": "hé\n"}
    binary = json.loads(channel_event_json("a", "1-0", None, b"\x00\xff"))
    assert binary == {
        "channel": "a",
        "id": "1-0",
        "event": "message",
        "data": base64.b64encode(b"\x00\xff").decode(),
        "encoding": "base64",
    }
    assert json.loads(channel_event_json("a", "1-0", "", "x"))["event"] == "message"


@pytest.mark.parametrize(
    "args",
    [
        (1, "1-0", None, "x"),
        ("a", None, None, "x"),
        ("a", "1-0", 3, "x"),
        ("a", "1-0", None, 3),
        ("a", "1-0", None, "\ud800"),
    ],
)
def test_channel_event_json_misuse_is_local_error(args: tuple[object, ...]) -> None:
    with pytest.raises(LocalProtocolError):
        channel_event_json(*args)  # type: ignore[arg-type]


def _decode(data: bytes) -> list[tuple[str | None, str, str | None]]:
    # Fed byte by byte: the stream a browser's parser sees in the worst case.
    decoder = Decoder()
    out = []
    for i in range(len(data)):
        for event in decoder.feed(data[i : i + 1]):
            out.append((event.event, event.data, event.id))
    return out


def test_9_2_6_sse_channel_event_named_with_position_id() -> None:
    wire = sse_channel_event("a", "5-0", "tick", "x\ny", "5-0,_")
    [(name, data, id)] = _decode(wire)
    assert (name, id) == ("tick", "5-0,_")
    assert json.loads(data) == {"channel": "a", "id": "5-0", "event": "tick", "data": "x\ny"}
    [(name, _, _)] = _decode(sse_channel_event("a", "5-0", None, "x", "5-0"))
    assert name == "message"


def test_9_2_6_sse_channel_gap_has_no_id() -> None:
    wire = sse_channel_gap("b")
    assert b"\nid:" not in b"\n" + wire  # the last event ID stays where it was
    [(name, data, _)] = _decode(wire)
    assert (name, json.loads(data)) == ("gap", {"channel": "b"})


def test_9_2_6_sse_binary_event_marker_is_ignored_by_parsers() -> None:
    wire = sse_binary_event("3-1", None, b"\x00\n\xff")
    assert wire.startswith(b"encoding: base64\n")
    [(name, data, id)] = _decode(wire)
    assert (name, id) == ("message", "3-1")
    assert base64.b64decode(data) == b"\x00\n\xff"
    with pytest.raises(LocalProtocolError):
        sse_binary_event("3-1", None, "text")  # type: ignore[arg-type]


def test_multi_poll_answer_shape() -> None:
    items = [channel_event_json("a", "1-0", None, "x"), channel_event_json("b", "2-0", "e", b"z")]
    answer = json.loads(multi_poll_answer(items, "1-0,2-0", ["b"]))
    assert answer["cursor"] == "1-0,2-0"
    assert answer["gaps"] == ["b"]
    assert [e["channel"] for e in answer["events"]] == ["a", "b"]
    assert json.loads(multi_poll_answer([], "_", [])) == {"events": [], "cursor": "_", "gaps": []}
    with pytest.raises(LocalProtocolError):
        multi_poll_answer([], 3, [])  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        multi_poll_answer([], "_", [3])  # type: ignore[list-item]


def test_poll_binary_item_has_the_marker() -> None:
    item = json.loads(poll_binary_item("4-0", None, b"\x00\xff"))
    assert item == {"id": "4-0", "event": "message", "data": "AP8=", "encoding": "base64"}
    with pytest.raises(LocalProtocolError):
        poll_binary_item("4-0", None, "text")  # type: ignore[arg-type]


def test_9_2_6_sse_channel_frame_refuses_line_breaks() -> None:
    item = channel_event_json("a", "1-0", None, "x\ny")
    assert sse_channel_frame(None, "1-0", item) == sse_channel_event(
        "a", "1-0", None, "x\ny", "1-0"
    )
    for name, position, raw in (
        ("a\nb", "1-0", item),
        (None, "1-0\r", item),
        (None, "1-0", b'{"x":1}\n'),
        (None, "1-0", b"\r"),
    ):
        with pytest.raises(LocalProtocolError):
            sse_channel_frame(name, position, raw)
    with pytest.raises(LocalProtocolError):
        sse_channel_frame(None, 1, item)  # type: ignore[arg-type]
