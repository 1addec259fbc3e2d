"""HTTPConnection and the SSE response helpers. Requests are fed whole, byte
by byte and split where hypothesis chooses; responses are parsed back by an
independent h11 client, never compared as raw bytes."""

from __future__ import annotations

import pytest

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http_sse import cors_headers, resume_id, sse_headers
from tests.proto.http_support import (
    serve,
)

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
    assert cors_headers() == [("Access-Control-Allow-Origin", "*")]
    assert dict(cors_headers("https://a.example"))["Vary"] == "Origin"


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
