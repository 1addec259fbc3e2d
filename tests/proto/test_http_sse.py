"""The SSE response helpers: headers, the resume id, and the answer to
HEAD. Responses are parsed back by an independent h11 client."""

from __future__ import annotations

import h11
import pytest

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http_sse import resume_id, sse_headers
from tests.proto.http_support import GET, client_events, serve, started

# -- SSE helpers --------------------------------------------------------------------


def test_whatwg_sse_headers() -> None:
    headers = dict(sse_headers([("X-Extra", "1")]))
    assert headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Accel-Buffering"] == "no"
    assert headers["X-Extra"] == "1"
    for name in ("Content-Length", "content-encoding", "Content-Type"):
        with pytest.raises(LocalProtocolError):
            sse_headers([(name, "x")])


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b" HTTP/1.1\r\nHost: x", None),
        (b"?lastEventId= HTTP/1.1\r\nHost: x\r\nLast-Event-ID:", None),
        (b"?lastEventId=7 HTTP/1.1\r\nHost: x", "7"),
        (b"?lastEventId=7 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 9", "9"),  # header wins
        (b"?lastEventId=7 HTTP/1.1\r\nHost: x\r\nLast-Event-ID:", "7"),  # empty = absent
        (b" HTTP/1.1\r\nHost: x\r\nLast-Event-ID: \xc3\xa9t\xc3\xa9", "\xe9t\xe9"),
        (b"?lastEventId=%C3%A9 HTTP/1.1\r\nHost: x", "\xe9"),
    ],
)
def test_whatwg_9_2_resume_id(head: bytes, expected: str | None) -> None:
    (request,) = serve([b"GET /sse/c" + head + b"\r\n\r\n"])
    assert resume_id(request) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"?lastEventId=a%00b HTTP/1.1\r\nHost: x",
        b"?lastEventId=a%0Ab HTTP/1.1\r\nHost: x",
        b"?lastEventId=a%0Db HTTP/1.1\r\nHost: x",
        b" HTTP/1.1\r\nHost: x\r\nLast-Event-ID: \xff",  # not UTF-8
    ],
)
def test_whatwg_9_2_6_bad_last_event_id_400(head: bytes) -> None:
    (request,) = serve([b"GET /sse/c" + head + b"\r\n\r\n"])
    with pytest.raises(HTTPError) as info:
        resume_id(request)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (b"Last-Event-ID: 5\r\nLast-Event-ID: 5\r\n", "5"),  # a copy is the same id
        (b"Last-Event-ID: 5\r\nlast-event-id: 5\r\n", "5"),
    ],
)
def test_rfc9110_5_3_repeated_identical_last_event_id_is_one_value(
    fields: bytes, expected: str
) -> None:
    (request,) = serve([b"GET /sse/c HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"])
    assert resume_id(request) == expected


@pytest.mark.parametrize(
    "fields",
    [b"Last-Event-ID: 5\r\nLast-Event-ID: 6\r\n", b"Last-Event-ID:\r\nLast-Event-ID: 6\r\n"],
)
def test_rfc9110_5_3_two_different_last_event_ids_400(fields: bytes) -> None:
    (request,) = serve([b"GET /sse/c HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n"])
    with pytest.raises(HTTPError) as info:
        resume_id(request)
    assert info.value.status == 400


@pytest.mark.parametrize("version", [b"1.1", b"1.0"])
def test_rfc9110_9_3_2_head_of_a_stream_is_the_get_head_without_length(version: bytes) -> None:
    def head_bytes(method: bytes) -> tuple[h11.Response, bytes, bool]:
        conn, _ = started(method + b" /sse/c HTTP/" + version + b"\r\nHost: x\r\n\r\n")
        out = conn.start_stream(200, sse_headers([("Access-Control-Allow-Origin", "*")]))
        if method == b"HEAD":
            out += conn.end_stream()
        events = client_events(out, method=method.decode())
        head = events[0]
        assert isinstance(head, h11.Response)
        complete = any(isinstance(e, h11.EndOfMessage) for e in events)
        return head, out, complete

    get, _, _ = head_bytes(b"GET")
    head, out, complete = head_bytes(b"HEAD")
    assert head.headers == get.headers and head.status_code == 200
    assert b"content-length" not in dict(head.headers)  # RFC 9110 section 8.6
    assert complete  # the HEAD exchange is over, with no body
    assert out.endswith(b"\r\n\r\n") and b"data" not in out


def test_rfc9110_9_3_2_keep_alive_after_head_of_a_stream() -> None:
    conn, _ = started(b"HEAD /sse/c HTTP/1.1\r\nHost: x\r\n\r\n" + GET)
    conn.start_stream(200, sse_headers())
    conn.end_stream()
    assert not conn.should_close
    request = conn.next_request()
    assert request is not None and request.method == "GET"
