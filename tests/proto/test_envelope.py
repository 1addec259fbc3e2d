"""The JSON envelope of one event, shared by every JSON transport."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawpush.proto.envelope import DEFAULT_EVENT, GAP_JSON, event_json
from rawpush.proto.errors import LocalProtocolError
from rawpush.proto.http_request import json_bytes


def test_whatwg_9_2_6_unnamed_event_is_message_as_eventsource_names_it() -> None:
    assert event_json("1", None, "x") == b'{"id":"1","event":"message","data":"x"}'
    assert DEFAULT_EVENT == "message"
    assert event_json("7", "tick", "") == b'{"id":"7","event":"tick","data":""}'


def test_design_gap_object() -> None:
    assert json.loads(GAP_JSON) == {"gap": True}
    assert json_bytes({"gap": True}) == GAP_JSON


@given(st.text(), st.none() | st.text(), st.text())
def test_design_envelope_is_compact_utf8_json(id: str, event: str | None, data: str) -> None:
    try:
        out = event_json(id, event, data)
    except LocalProtocolError:
        # Only a lone surrogate, which UTF-8 cannot carry.
        assert any(0xD800 <= ord(c) <= 0xDFFF for c in id + (event or "") + data)
        return
    expected = {"id": id, "event": event or "message", "data": data}
    assert out == json_bytes(expected)  # key order and separators included
    assert json.loads(out) == expected


@pytest.mark.parametrize(
    "fields", [(1, None, "x"), ("1", 2, "x"), ("1", None, b"x"), ("1", None, "\ud800")]
)
def test_design_envelope_misuse_is_local_protocol_error(fields: tuple[object, ...]) -> None:
    with pytest.raises(LocalProtocolError):
        event_json(*fields)  # type: ignore[arg-type]
