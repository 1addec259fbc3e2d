"""HTTPConnection and the SSE response helpers. Requests are fed whole, byte
by byte and split where hypothesis chooses; responses are parsed back by an
independent h11 client, never compared as raw bytes."""

from __future__ import annotations

import json

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http import HTTPConfig, HTTPConnection
from rawpush.proto.http_sse import sse_headers
from tests.proto.http_support import (
    CHUNKED,
    GET,
    POST,
    REQUESTS,
    UPGRADE,
    client_events,
    refuse,
    response_of,
    serve,
    split,
    started,
)

# -- parsing: whole, byte by byte, split anywhere -----------------------------


@settings(max_examples=60)
@given(st.sampled_from(REQUESTS), st.lists(st.integers(min_value=0), max_size=6))
def test_rfc9112_2_split_anywhere_same_request(data: bytes, cuts: list[int]) -> None:
    whole = serve([data])
    assert serve(split(data, cuts)) == whole
    assert len(whole) == 1


@pytest.mark.parametrize("data", REQUESTS)
def test_rfc9112_2_byte_by_byte_same_request(data: bytes) -> None:
    assert serve(data[i : i + 1] for i in range(len(data))) == serve([data])


def test_rfc9112_3_request_fields() -> None:
    (request,) = serve([GET])
    assert request.method == "GET"
    assert request.target == "/sse/news%20room?lastEventId=42&a=1&a=2&blank=&q=a+b"
    assert request.path == "/sse/news%20room"  # as sent: routing never decodes
    # First value wins, blank values kept, "+" is a space (parse_qs rules).
    assert request.query == {"lastEventId": "42", "a": "1", "blank": "", "q": "a b"}
    assert request.headers == (("host", "x"),)
    assert request.http_version == "1.1"
    assert request.body == b""
    assert request.keep_alive
    assert hash(request) == hash(serve([GET])[0])


def test_rfc9110_5_3_header_lookup_is_case_insensitive_and_joins_repeats() -> None:
    (request,) = serve([b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\nX-L: \xe9\r\n\r\n"])
    assert request.header("X-A") == "1, 2"
    assert request.header("x-l") == "\xe9"  # latin-1 decoded octet
    assert request.header("missing") is None


def test_rfc9112_6_bodies_by_length_and_chunked() -> None:
    assert serve([POST])[0].body == b"hello"
    assert serve([CHUNKED])[0].body == b"abcde"


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\n", False),
        (b"GET / HTTP/1.0\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n", False),
    ],
)
def test_rfc9112_9_3_and_9_6_keep_alive(head: bytes, keep_alive: bool) -> None:
    conn, request = started(head + b"\r\n" + GET)
    assert request.keep_alive is keep_alive
    conn.respond(200)
    assert conn.should_close is not keep_alive
    # After a close is announced nothing more is read (RFC 9112 section 9.6).
    assert (conn.next_request() is None) is not keep_alive


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        ("http://example.com/poll/c?cursor=1", "/poll/c", {"cursor": "1"}),
        ("http://example.com", "/", {}),
        ("*", "*", {}),
        ("/a%2Fb#frag", "/a%2Fb", {}),
        ("/a?x=1#frag", "/a", {"x": "1"}),
        ("/a#frag?x=1", "/a", {}),  # "#" ends the target, query included
    ],
)
def test_rfc9112_3_2_target_forms(target: str, path: str, query: dict[str, str]) -> None:
    method = b"OPTIONS" if target == "*" else b"GET"
    data = method + b" " + target.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    (request,) = serve([data])
    assert (request.path, request.query) == (path, query)


# -- refusals: each with its exact status ----------------------------------------


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET\r\n\r\n", 400),  # bad request line
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),  # header without a colon
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/0.9\r\n\r\n", 505),
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET example.com HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # no target form
        (b"GET /?a=%ff HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"GET /?" + b"&".join([b"a=1"] * 200) + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ],
)
def test_rfc9112_malformed_request_status(data: bytes, status: int) -> None:
    assert refuse(data)[1].status == status


def test_rfc9112_5_header_too_large_431() -> None:
    with pytest.raises(LocalProtocolError):
        HTTPConfig(max_header_bytes=0)
    config = HTTPConfig(max_header_bytes=1024)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000
    assert refuse(head, config)[1].status == 431
    # The limit holds however the head arrives, and below it we wait.
    conn = HTTPConnection(config)
    conn.receive_data(head[:900])
    assert conn.next_request() is None
    conn.receive_data(head[900:])
    with pytest.raises(HTTPError) as info:
        conn.next_request()
    assert info.value.status == 431


@given(cut=st.integers(min_value=0, max_value=1300))
def test_rfc6585_5_complete_oversize_head_431_however_cut(cut: int) -> None:
    # A complete head over the limit, whole or in two reads: h11 alone would
    # let it through when it arrives in one piece.
    config = HTTPConfig(max_header_bytes=1024)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 1100 + b"\r\n\r\n"
    conn = HTTPConnection(config)
    with pytest.raises(HTTPError) as info:
        for chunk in split(head, [cut]):
            conn.receive_data(chunk)
            conn.next_request()
    assert info.value.status == 431
    # Just under the limit is served.
    small = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 900 + b"\r\n\r\n"
    assert len(serve([small], HTTPConnection(config))) == 1


def test_rfc9110_15_5_14_content_length_too_large_413_before_the_body() -> None:
    config = HTTPConfig(max_body_bytes=4)
    conn, error = refuse(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", config)
    assert error.status == 413
    head, _, headers = response_of(conn.respond_error(error))
    assert head.status_code == 413 and headers[b"connection"] == b"close"
    assert conn.should_close


def test_rfc9110_15_5_14_chunked_body_too_large_413() -> None:
    conn = HTTPConnection(HTTPConfig(max_body_bytes=4))
    conn.receive_data(CHUNKED[:-12])  # "abc" is within the limit
    assert conn.next_request() is None
    conn.receive_data(CHUNKED[-12:])
    with pytest.raises(HTTPError) as info:
        conn.next_request()
    assert info.value.status == 413
    assert conn._body == []  # nothing kept past the limit


def test_rfc9112_7_1_oversize_chunk_line_is_a_bad_body_not_431() -> None:
    conn = HTTPConnection(HTTPConfig(max_header_bytes=256))
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    conn.receive_data(head + b"1;ext=" + b"x" * 400)
    with pytest.raises(HTTPError) as info:
        conn.next_request()
    assert info.value.status == 400


def test_rfc9112_8_eof_in_the_middle_of_a_request_is_400() -> None:
    conn = HTTPConnection()
    conn.receive_data(POST[:-2])
    conn.receive_eof()
    with pytest.raises(HTTPError) as info:
        conn.next_request()
    assert info.value.status == 400


def test_design_dead_connection_still_answers_then_fails_fast() -> None:
    conn, error = refuse(b"NOT HTTP AT ALL\r\n\r\n")
    head, body, headers = response_of(conn.respond_error(error))
    assert head.status_code == 400
    assert headers[b"connection"] == b"close"
    assert headers[b"content-type"] == b"application/json"
    assert json.loads(body) == {"error": str(error)}
    assert conn.should_close
    for call in (lambda: conn.receive_data(b"more"), conn.receive_eof, conn.next_request):
        with pytest.raises(LocalProtocolError):
            call()


def test_rfc9110_15_5_9_timeout_answer_before_any_request() -> None:
    conn = HTTPConnection()
    conn.receive_data(b"GET / HT")  # then the I/O layer's header timer fires
    head, _, headers = response_of(conn.respond_error(HTTPError("too slow", 408)))
    assert (head.status_code, headers[b"connection"]) == (408, b"close")
    assert conn.should_close and conn.next_request() is None


def test_design_error_about_a_complete_request_keeps_alive() -> None:
    conn, _ = started(GET + POST)
    error = HTTPError("no such channel", 404, (("X-Why", "test"),))
    head, body, headers = response_of(conn.respond_error(error))
    assert (head.status_code, headers[b"x-why"]) == (404, b"test")
    assert b"connection" not in headers
    assert json.loads(body) == {"error": "no such channel"}
    assert not conn.should_close
    request = conn.next_request()
    assert request is not None and request.body == b"hello"


def test_design_respond_error_explicit_close_and_after_a_response() -> None:
    conn, _ = started(GET)
    _, _, headers = response_of(conn.respond_error(HTTPError(""), close=True))
    assert headers[b"connection"] == b"close" and conn.should_close
    with pytest.raises(LocalProtocolError):
        conn.respond_error(HTTPError("too late"))


# -- keep-alive, pipelining, trailing bytes ------------------------------------------


def test_rfc9112_9_3_2_pipelined_requests_served_in_order() -> None:
    conn = HTTPConnection()
    conn.receive_data(GET + POST + CHUNKED)
    first = conn.next_request()
    assert first is not None and first.method == "GET"
    assert conn.next_request() is None  # not before the first is answered
    with pytest.raises(LocalProtocolError):
        conn.start_next_cycle()  # not before the first is answered either
    conn.respond(200, [("Content-Type", "text/plain")], b"one")
    conn.start_next_cycle()  # explicit here; next_request() would do it
    second = conn.next_request()
    assert second is not None and second.body == b"hello"
    conn.respond_json(200, {"id": "1"})
    third = conn.next_request()
    assert third is not None and third.body == b"abcde"
    conn.respond(204)
    assert conn.next_request() is None and not conn.should_close


def test_rfc9112_2_2_trailing_garbage_after_a_request() -> None:
    conn = HTTPConnection()
    conn.receive_data(POST + b"\x00\x01garbage\r\n\r\n")
    request = conn.next_request()
    assert request == serve([POST])[0]
    conn.respond(204)
    with pytest.raises(HTTPError) as info:
        conn.next_request()
    assert info.value.status == 400


def test_rfc9112_9_eof_when_idle_closes_quietly() -> None:
    conn = HTTPConnection()
    conn.receive_eof()
    conn.receive_eof()
    assert conn.next_request() is None
    assert conn.should_close
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"late")


def test_rfc9110_10_1_1_expect_100_continue() -> None:
    conn = HTTPConnection()
    conn.receive_data(POST[:-5].replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n"))
    assert conn.next_request() is None
    (interim,) = client_events(conn.data_to_send())
    assert isinstance(interim, h11.InformationalResponse) and interim.status_code == 100
    assert conn.data_to_send() == b""
    conn.receive_data(b"hello")
    request = conn.next_request()
    assert request is not None and request.body == b"hello"


def test_rfc9110_7_8_upgrade_keeps_trailing_bytes() -> None:
    frame = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"
    conn, request = started(UPGRADE + frame[:4])
    assert request.header("upgrade") == "websocket"
    conn.receive_data(frame[4:])
    assert conn.next_request() is None  # h11 pauses: the bytes are not HTTP
    out = conn.switch_protocols([("Upgrade", "websocket"), ("Connection", "Upgrade")])
    (response,) = client_events(out, upgrade=True)
    assert isinstance(response, h11.InformationalResponse) and response.status_code == 101
    assert conn.switched and not conn.should_close
    assert conn.trailing_data == frame


def test_rfc9110_7_8_upgrade_denied_by_a_normal_response() -> None:
    conn, _ = started(UPGRADE + GET)
    conn.respond_error(HTTPError("bad handshake", 426, (("Sec-WebSocket-Version", "13"),)))
    assert not conn.switched and not conn.should_close
    request = conn.next_request()
    assert request is not None and request.path == "/sse/news%20room"


# -- responses, read back by an h11 client -------------------------------------------


def test_rfc9112_6_2_respond_sets_content_length() -> None:
    conn, _ = started(GET)
    head, body, headers = response_of(conn.respond(200, [("X-A", "\xe9")], b"hi"))
    assert (head.status_code, body, headers[b"content-length"]) == (200, b"hi", b"2")
    assert headers[b"x-a"] == b"\xe9"


def test_rfc9110_9_3_2_head_response_has_length_but_no_body() -> None:
    conn, _ = started(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    _, body, headers = response_of(conn.respond(200, (), b"hello"), method="HEAD")
    assert (body, headers[b"content-length"]) == (b"", b"5")
    conn.receive_data(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.next_request()
    out = conn.start_stream(200, sse_headers())
    assert conn.stream_chunk(b"data: x\n\n") == b""
    _, body, _ = response_of(out + conn.end_stream(), method="HEAD")
    assert body == b""


def test_rfc9110_9_3_2_error_answer_to_a_refused_head_has_no_body() -> None:
    conn, error = refuse(b"HEAD / HTTP/2.1\r\nHost: x\r\n\r\n")  # found by the fuzzer
    head, body, _ = response_of(conn.respond_error(error), method="HEAD")
    assert (head.status_code, body) == (505, b"")


def test_rfc9110_8_6_no_content_length_on_204() -> None:
    conn, _ = started(GET)
    with pytest.raises(LocalProtocolError):
        conn.respond(204, (), b"body")
    _, _, headers = response_of(conn.respond(204))
    assert b"content-length" not in headers


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, [("Content-Length", "3")]),
        (200, [("transfer-encoding", "chunked")]),
        (200, [("X", "\u20ac")]),  # not latin-1
        (200, [("X", "a\r\nb")]),  # h11 refuses it as it builds the event
        (200, [("Bad Name", "x")]),
        (100, []),
        (1000, []),
    ],
)
def test_respond_refuses_misuse(status: int, headers: list[tuple[str, str]]) -> None:
    conn, _ = started(GET)
    with pytest.raises(LocalProtocolError):
        conn.respond(status, headers, b"abc")
    if not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers):
        with pytest.raises(LocalProtocolError):
            conn.start_stream(status, headers)  # a stream may declare its length


def test_h11_local_errors_become_local_protocol_errors() -> None:
    conn, _ = started(GET)
    with pytest.raises(LocalProtocolError):
        conn.switch_protocols([("Upgrade", "websocket")])  # RFC 9110 15.2.2: not asked
    assert conn.should_close  # h11 is in ERROR after a failed send
    with pytest.raises(LocalProtocolError):
        conn.end_stream()


@pytest.mark.parametrize(("version", "chunked"), [(b"1.1", True), (b"1.0", False)])
def test_rfc9112_7_streaming_response(version: bytes, chunked: bool) -> None:
    conn, _ = started(b"GET /sse/c HTTP/" + version + b"\r\nHost: x\r\n\r\n")
    out = conn.start_stream(200, sse_headers())
    assert conn.stream_chunk(b"") == b""
    out += conn.stream_chunk(b"data: 1\n\n") + conn.stream_chunk(b"data: 2\n\n")
    out += conn.end_stream()
    events = client_events(out, eof=not chunked)
    head = events[0]
    assert isinstance(head, h11.Response)
    assert (dict(head.headers).get(b"transfer-encoding") == b"chunked") is chunked
    assert b"".join(e.data for e in events if isinstance(e, h11.Data)) == b"data: 1\n\ndata: 2\n\n"
    assert any(isinstance(e, h11.EndOfMessage) for e in events)
    assert conn.should_close is not chunked


def test_9110_15_6_4_a_refusal_before_any_request_is_a_complete_closing_response() -> None:
    from rawpush.proto.http import refusal_before_request

    wire = refusal_before_request(HTTPError("too many connections", 503, (("Retry-After", "1"),)))
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    response = client.next_event()
    assert isinstance(response, h11.Response) and response.status_code == 503
    headers = dict(response.headers)
    assert headers[b"retry-after"] == b"1" and headers[b"connection"] == b"close"
    body = client.next_event()
    assert isinstance(body, h11.Data) and json.loads(body.data) == {"error": "too many connections"}
    assert isinstance(client.next_event(), h11.EndOfMessage)
