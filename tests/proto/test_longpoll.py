"""The long-poll core: poll parsing and the JSON answer."""

from __future__ import annotations

import json

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rawpush.longpoll
from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http import HTTPConnection, Request
from rawpush.proto.longpoll import (
    PollEvent,
    PollRequest,
    parse_poll_request,
    poll_answer,
    poll_body,
    poll_headers,
    poll_item,
)


def poll(query: bytes) -> Request:
    conn = HTTPConnection()
    conn.receive_data(b"GET /poll/c" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    request = conn.next_request()
    assert request is not None
    return request


@pytest.mark.parametrize(
    ("query", "cursor", "timeout"),
    [
        (b"", None, 30.0),  # defaults: no cursor, default timeout
        (b"?timeout=0", None, 0.0),  # short poll
        (b"?timeout=2.5&cursor=1526919030474-55", "1526919030474-55", 2.5),
        (b"?timeout=.5", None, 0.5),
        (b"?timeout=7.", None, 7.0),
        (b"?timeout=600", None, 60.0),  # clamped to max_timeout
        (b"?timeout=99999999999999999999999", None, 60.0),
        (b"?cursor=a%20b~", "a b~", 30.0),
        (b"?cursor=" + b"x" * 128, "x" * 128, 30.0),
    ],
)
def test_design_poll_request(query: bytes, cursor: str | None, timeout: float) -> None:
    assert parse_poll_request(poll(query), "c") == PollRequest("c", cursor, timeout)


def test_design_poll_request_custom_limits() -> None:
    request = parse_poll_request(poll(b""), "ch", max_timeout=10, default_timeout=5)
    assert request == PollRequest("ch", None, 5)
    assert parse_poll_request(poll(b"?timeout=11"), "ch", max_timeout=10).timeout == 10
    assert parse_poll_request(poll(b""), "ch", max_timeout=10).timeout == 10
    bad = [(-1.0, 0.0), (float("inf"), 1.0), (1.0, -1.0), (1.0, float("nan"))]
    for max_timeout, default in bad:
        with pytest.raises(LocalProtocolError):
            parse_poll_request(poll(b""), "c", max_timeout=max_timeout, default_timeout=default)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"abc", "number"),
        (b"", "number"),
        (b"-1", "negative"),
        (b"nan", "finite"),
        (b"inf", "finite"),
        (b"-inf", "finite"),
        (b"1e3", "plain decimal"),
        (b"+5", "plain decimal"),
        (b"1_0", "plain decimal"),
        (b"%205", "plain decimal"),
    ],
)
def test_design_bad_timeout_400(value: bytes, message: str) -> None:
    with pytest.raises(HTTPError) as info:
        parse_poll_request(poll(b"?timeout=" + value), "c")
    assert info.value.status == 400
    assert message in str(info.value)
    json.dumps({"error": str(info.value)})  # JSON-able


@pytest.mark.parametrize("value", [b"", b"x" * 129, b"a%0Ab", b"a%7Fb", b"%C3%A9", b"tab%09"])
def test_design_bad_cursor_400(value: bytes) -> None:
    with pytest.raises(HTTPError) as info:
        parse_poll_request(poll(b"?cursor=" + value), "c")
    assert info.value.status == 400


@settings(max_examples=50)
@given(st.text(max_size=140))
def test_design_cursor_is_printable_ascii_or_400(cursor: str) -> None:
    request = Request("GET", "/", "/", {"cursor": cursor}, (), "1.1", b"", True)
    ok = 1 <= len(cursor) <= 128 and all(" " <= ch <= "~" for ch in cursor)
    try:
        assert parse_poll_request(request, "c").cursor == cursor
    except HTTPError as exc:
        assert not ok and exc.status == 400
    else:
        assert ok


def test_design_poll_body_shapes() -> None:
    body = poll_body(
        [
            PollEvent("1", "message", "a"),
            ("2", "tick", "b"),
            {"id": "3", "event": "x", "data": "c"},
        ],
        "3",
    )
    assert json.loads(body) == {
        "events": [
            {"id": "1", "event": "message", "data": "a"},
            {"id": "2", "event": "tick", "data": "b"},
            {"id": "3", "event": "x", "data": "c"},
        ],
        "cursor": "3",
    }


def test_design_poll_body_timeout_gap_and_encoding() -> None:
    assert json.loads(poll_body([], "9")) == {"events": [], "cursor": "9"}
    assert json.loads(poll_body([], "9", gap=True)) == {"events": [], "cursor": "9", "gap": True}
    body = poll_body([PollEvent("1", "message", "caf\xe9 \u2603")], "1")
    # ensure_ascii=False, compact separators, UTF-8 on the wire.
    assert "caf\xe9 \u2603".encode() in body
    assert b", " not in body and b": " not in body


@pytest.mark.parametrize(
    "event",
    [("1", "message"), {"id": "1", "data": "x"}, PollEvent("1", "message", b"x")],  # type: ignore[arg-type]
)
def test_poll_body_refuses_malformed_events(event: object) -> None:
    with pytest.raises(LocalProtocolError):
        poll_body([event], "1")  # type: ignore[list-item]


def test_poll_body_refuses_non_str_cursor() -> None:
    with pytest.raises(LocalProtocolError):
        poll_body([], 1)  # type: ignore[arg-type]


def test_design_poll_over_http_round_trip() -> None:
    """A bad poll gets a JSON 400 and the connection lives on; a good one
    gets the JSON answer; both read back by an h11 client."""
    conn = HTTPConnection()
    conn.receive_data(
        b"GET /poll/c?timeout=x HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /poll/c?timeout=0&cursor=5 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    client = h11.Connection(h11.CLIENT)
    for _ in range(2):
        request = conn.next_request()
        assert request is not None
        try:
            parsed = parse_poll_request(request, "c")
        except HTTPError as exc:
            out = conn.respond_error(exc)
        else:
            out = conn.respond(200, poll_headers(), poll_body([], parsed.cursor or ""))
        client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        client.receive_data(out)
        response = client.next_event()
        assert isinstance(response, h11.Response)
        data = client.next_event()
        assert isinstance(data, h11.Data)
        assert isinstance(client.next_event(), h11.EndOfMessage)
        assert dict(response.headers)[b"content-type"] == b"application/json"
        status = response.status_code
        client.start_next_cycle()
        assert not conn.should_close
        if status == 400:
            assert "timeout" in json.loads(data.data)["error"]
        else:
            assert json.loads(data.data) == {"events": [], "cursor": "5"}


def test_public_reexports() -> None:
    assert rawpush.longpoll.parse_poll_request is parse_poll_request
    assert set(rawpush.longpoll.__all__) <= set(dir(rawpush.longpoll))
    assert dict(poll_headers())["Cache-Control"] == "no-store"


def test_design_poll_answer_from_cached_items_equals_poll_body() -> None:
    # The server encodes each event once (poll_item) and joins the cached
    # bytes (poll_answer); the answer is byte for byte poll_body's.
    events = [PollEvent("1", "message", 'a"b'), PollEvent("2", "tick", "caf\xe9")]
    items = [poll_item(e.id, e.event, e.data) for e in events]
    for gap in (False, True):
        assert poll_answer(items, "2", gap) == poll_body(events, "2", gap=gap)
    assert poll_answer([], "") == b'{"events":[],"cursor":""}'
    message = b'{"id":"1","event":"message","data":"x"}'
    assert poll_item("1", "", "x") == poll_item("1", None, "x") == message
    with pytest.raises(LocalProtocolError):
        poll_answer(items, 2)  # type: ignore[arg-type]
