"""HTTPConnection's stricter-than-h11 rules: framing conflicts, routing on
the raw path, Host, the request-target limit, and misuse. Every limit is
checked whole, byte by byte and cut at every offset."""

from __future__ import annotations

import pytest

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http import HTTPConfig, HTTPConnection
from rawpush.proto.http_request import json_bytes, split_target
from tests.proto.http_support import GET, refuse, response_of, serve, split, started


def outcome(chunks: list[bytes], config: HTTPConfig) -> int:
    conn = HTTPConnection(config)
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            if conn.next_request() is not None:
                return 200
    except HTTPError as exc:
        return exc.status
    return 0


def cuttings(data: bytes) -> list[list[bytes]]:
    return [[data], [data[i : i + 1] for i in range(len(data))]] + [
        split(data, [cut]) for cut in range(1, len(data))
    ]


# -- RFC 9112 section 6.1: Content-Length and Transfer-Encoding ------------------


def test_rfc9112_6_1_content_length_and_transfer_encoding_400_and_close() -> None:
    smuggled = (
        b"POST /publish/c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    )
    conn, error = refuse(smuggled + GET)
    assert error.status == 400
    head, _, headers = response_of(conn.respond_error(error))
    assert (head.status_code, headers[b"connection"]) == (400, b"close")
    assert conn.should_close
    with pytest.raises(LocalProtocolError):
        conn.next_request()  # the pipelined GET is never served


# -- RFC 3986 section 2.2: routes see the path as sent ----------------------------


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        ("/publish%2Fa", "/publish%2Fa", {}),
        ("/sse%2Fx", "/sse%2Fx", {}),
        ("/sse/a%2Fb?lastEventId=%C3%A9", "/sse/a%2Fb", {"lastEventId": "\xe9"}),
        ("/%ff", "/%ff", {}),  # never decoded, so never "not UTF-8"
        ("/a#b?c=1", "/a", {}),
        ("/a?c=1#d&e=2", "/a", {"c": "1"}),
        ("http://h/p%2Fq?x=1#f", "/p%2Fq", {"x": "1"}),
    ],
)
def test_rfc3986_2_2_path_is_raw_and_fragment_ends_the_target(
    target: str, path: str, query: dict[str, str]
) -> None:
    (request,) = serve([b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert (request.target, request.path, request.query) == (target, path, query)
    assert not request.path.startswith(("/publish/", "/sse/")) or "%2F" in target


@pytest.mark.parametrize("target", ["http://[::1/x", "example.com", "/?a=%ff", "/?a&b&c"])
def test_rfc9112_3_2_split_target_raises_only_http_errors(target: str) -> None:
    with pytest.raises(HTTPError) as info:
        split_target(target, max_query_fields=2)
    assert info.value.status == 400


# -- RFC 9112 section 3.2 and RFC 9110 section 7.2: Host --------------------------


@pytest.mark.parametrize(
    "fields",
    [
        b"Host: a b\r\n",
        b"Host: a/b\r\n",
        b"Host: user@b\r\n",
        b"Host: [::1\r\n",
        b"Host: [::zz]\r\n",
        b"Host:\r\n",
        b"Host: a\r\nHost: a\r\n",
        b"Host: a\r\nHost: b\r\n",
    ],
)
def test_rfc9112_3_2_invalid_host_400(fields: bytes) -> None:
    conn, error = refuse(b"GET / HTTP/1.1\r\n" + fields + b"\r\n")
    assert error.status == 400
    assert conn.should_close


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET / HTTP/1.0\r\nHost:\r\n", 200),  # no host needed in 1.0: empty is absent
        (b"GET / HTTP/1.0\r\nHost: a b\r\n", 400),  # but a bad one is still bad
        (b"GET / HTTP/1.2\r\n", 400),  # 1.1 and later need one
        (b"GET / HTTP/1.1\r\nHost: [::1]:8080\r\n", 200),
    ],
)
def test_rfc9112_3_2_host_by_version(head: bytes, status: int) -> None:
    assert outcome([head + b"\r\n"], HTTPConfig()) == status


# -- RFC 9112 section 3: the request-target limit (414) ---------------------------

SMALL = HTTPConfig(max_header_bytes=200, max_target_bytes=64)


def request_with_target(length: int, method: bytes = b"GET", pad: int = 0) -> bytes:
    target = b"/" + b"t" * (length - 1)
    return method + b" " + target + b" HTTP/1.1\r\nHost: x\r\nX: " + b"p" * pad + b"\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (request_with_target(64), 200),
        (request_with_target(65), 414),
        # Both over: the target is judged first, unfinished head or not.
        (request_with_target(65, pad=200), 414),
        (request_with_target(190), 414),
        (request_with_target(400), 414),
        # A head over the limit whose target is short enough.
        (request_with_target(64, pad=200), 431),
        # A method so long that what lies of the target within the first
        # 201 bytes is short: 431, the same for every cut.
        (request_with_target(100, method=b"G" * 150), 431),
    ],
)
def test_rfc9112_3_target_too_long_414_every_cut(data: bytes, status: int) -> None:
    for chunks in cuttings(data):
        assert outcome(chunks, SMALL) == status


def test_rfc9112_3_target_limit_config() -> None:
    assert HTTPConfig().max_target_bytes == 8192
    for bad in (
        {"max_target_bytes": 0},
        {"max_header_bytes": "1"},
        {"max_body_bytes": -1},
        {"max_query_fields": True},
    ):
        with pytest.raises(LocalProtocolError):
            HTTPConfig(**bad)


# -- misuse is a LocalProtocolError, never TypeError or ValueError -----------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.respond("200"),
        lambda c: c.respond(True),
        lambda c: c.respond(200, (), "text"),
        lambda c: c.respond(200, [("a",)]),
        lambda c: c.respond(200, [(1, "x")]),
        lambda c: c.respond_json(200, {1, 2}),
        lambda c: c.respond_json(200, "\ud800"),
        lambda c: c.stream_chunk("text"),
    ],
)
def test_design_misuse_is_local_protocol_error(call: object) -> None:
    conn, _ = started(GET)
    with pytest.raises(LocalProtocolError):
        call(conn)  # type: ignore[operator]


def test_design_json_bytes_refuses_what_json_cannot_hold() -> None:
    loop: list[object] = []
    loop.append(loop)
    for value in (loop, object(), "\udc80"):
        with pytest.raises(LocalProtocolError):
            json_bytes(value)
    assert json_bytes({"a": "\xe9"}) == '{"a":"\xe9"}'.encode()


def test_design_receive_after_failure_is_local_protocol_error() -> None:
    conn, _ = refuse(b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"x")
    with pytest.raises(LocalProtocolError):
        conn.receive_eof()
