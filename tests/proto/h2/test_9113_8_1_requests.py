"""RFC 9113 section 8.1 and 8.3: requests in, as rawpush ``Request``s,
fed whole, byte by byte and split at every offset."""

from __future__ import annotations

import h2.events
import pytest

from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.h2 import (
    H2Config,
    H2Connection,
    RequestReceived,
    RequestRefused,
)
from rawpush.proto.http import HTTPConfig
from tests.proto.h2.support import (
    GET,
    body_of,
    cuts,
    events_of,
    frame_list,
    head_of,
    new_client,
    pair,
    request_fields,
)


def _opened(fields: list[tuple[str, str]], body: list[bytes] | None = None) -> bytes:
    """A client's first bytes: preface, SETTINGS, one request on stream 1."""
    client = new_client()
    client.send_headers(1, fields, end_stream=body is None)
    for n, piece in enumerate(body or ()):
        client.send_data(1, piece, end_stream=n == len(body or ()) - 1)
    return client.data_to_send()


def test_9113_8_3_1_get_whole_bytewise_and_split() -> None:
    data = _opened(request_fields("GET", "/sse/news?x=1&y=%C3%A9", ("last-event-id", "5-0")))
    for chunks in cuts(data):
        events = events_of(H2Connection(), chunks)
        assert len(events) == 1
        event = events[0]
        assert isinstance(event, RequestReceived)
        assert (event.stream_id, event.tunnel) == (1, False)
        request = event.request
        assert request.method == "GET"
        assert (request.target, request.path) == ("/sse/news?x=1&y=%C3%A9", "/sse/news")
        assert request.query == {"x": "1", "y": "é"}
        # Section 8.3.1: :authority stands for Host.
        assert request.headers == (("host", "example.test"), ("last-event-id", "5-0"))
        assert request.http_version == "2.0"
        assert request.keep_alive is True
        assert request.body == b""


def test_9113_8_1_post_body_across_data_frames_split_everywhere() -> None:
    data = _opened(request_fields("POST", "/publish/news"), [b"hel", b"", b"lo"])
    for chunks in cuts(data):
        events = events_of(H2Connection(), chunks)
        assert len(events) == 1
        assert isinstance(events[0], RequestReceived)
        assert events[0].request.body == b"hello"


def test_9113_8_3_1_a_host_field_is_kept_as_it_is() -> None:
    fields = [(":method", "GET"), (":scheme", "https"), (":path", "/"), ("host", "h.test")]
    (event,) = events_of(H2Connection(), [_opened(fields)])
    assert isinstance(event, RequestReceived)
    assert event.request.headers == (("host", "h.test"),)
    both = [*request_fields("GET", "/"), ("host", "example.test")]
    (event,) = events_of(H2Connection(), [_opened(both)])
    assert isinstance(event, RequestReceived)
    assert event.request.headers == (("host", "example.test"),)


def test_9110_15_5_14_body_over_the_limit_is_refused_and_the_rest_dropped() -> None:
    config = H2Config(http=HTTPConfig(max_body_bytes=4))
    data = _opened(request_fields("POST", "/publish/news"), [b"abc", b"de", b"more"])
    for chunks in cuts(data):
        events = events_of(H2Connection(config), chunks)
        assert len(events) == 1
        refused = events[0]
        assert isinstance(refused, RequestRefused)
        assert refused.error.status == 413


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/" + "a" * 9000, 414),  # RFC 9112 section 3's limit, shared
        ("/poll/x?a=%ff", 400),  # a query that is not UTF-8
        ("nonsense", 400),  # no origin-form
    ],
)
def test_9113_8_3_1_bad_targets_are_refused(path: str, status: int) -> None:
    config = H2Config(http=HTTPConfig(max_header_bytes=32 * 1024))
    (event,) = events_of(H2Connection(config), [_opened(request_fields("GET", path))])
    assert isinstance(event, RequestRefused)
    assert event.error.status == status


def test_9113_8_5_plain_connect_is_501() -> None:
    fields = [(":method", "CONNECT"), (":authority", "example.test:443")]
    (event,) = events_of(H2Connection(), [_opened(fields)])
    assert isinstance(event, RequestRefused)
    assert event.error.status == 501


def test_8441_4_connect_for_another_protocol_is_501() -> None:
    fields = request_fields("CONNECT", "/chat", (":protocol", "h3-datagram"))
    fields.insert(1, fields.pop())
    (event,) = events_of(H2Connection(), [_opened(fields)])
    assert isinstance(event, RequestRefused)
    assert event.error.status == 501


def _response_frames(server: H2Connection, data: bytes) -> list[tuple[int, int, int, bytes]]:
    return frame_list(data + server.data_to_send())


def test_9110_8_6_respond_sets_content_length_and_ends_the_stream() -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    out = server.respond(1, 200, [("Content-Type", "text/plain"), ("Connection", "close")], b"ok")
    events = client.receive_data(out)
    # Section 8.2.2: names lower-cased, connection-specific fields left out.
    assert head_of(events) == [
        (":status", "200"),
        ("content-type", "text/plain"),
        ("content-length", "2"),
    ]
    assert body_of(events) == b"ok"
    assert any(isinstance(e, h2.events.StreamEnded) for e in events)


def test_9110_9_3_2_head_has_content_length_and_no_body() -> None:
    server, client = pair()
    client.send_headers(1, request_fields("HEAD", "/"), end_stream=True)
    server.receive_data(client.data_to_send())
    out = server.respond(1, 200, [], b"a body")
    kinds = [frame[0] for frame in frame_list(out)]
    assert kinds == [0x1]  # one HEADERS with END_STREAM, no DATA
    events = client.receive_data(out)
    assert ("content-length", "6") in head_of(events)


def test_9110_15_3_5_a_204_has_neither_body_nor_length() -> None:
    server, client = pair()
    for sid in (1, 3):
        client.send_headers(sid, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    events = client.receive_data(server.respond(1, 204))
    assert head_of(events) == [(":status", "204")]
    with pytest.raises(LocalProtocolError):
        server.respond(3, 204, [], b"x")
    with pytest.raises(LocalProtocolError):
        server.respond(3, 200, [("Content-Length", "1")], b"x")
    with pytest.raises(LocalProtocolError):
        server.respond(3, 200, [], "text")  # type: ignore[arg-type]


def test_respond_error_carries_status_headers_and_json() -> None:
    server, client = pair()
    for sid in (1, 3):
        client.send_headers(sid, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    error = HTTPError("too many", 429, (("Retry-After", "1"),))
    events = client.receive_data(server.respond_error(1, error))
    headers = dict(head_of(events))
    assert (headers[":status"], headers["retry-after"]) == ("429", "1")
    assert headers["content-type"] == "application/json"
    assert body_of(events) == b'{"error":"too many"}'
    bare = HTTPError("x", 400)
    bare.args = ()
    events = client.receive_data(server.respond_error(3, bare))
    assert body_of(events) == b'{"error":"HTTPError"}'


@pytest.mark.parametrize(
    "headers",
    [[("X-Name", "caf\u00e9\u20ac")], [("X-Name", 5)], [("only-one",)]],
)
def test_bad_response_headers_are_local_errors(headers: list[tuple[str, str]]) -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    with pytest.raises(LocalProtocolError):
        server.send_head(1, 200, headers)


@pytest.mark.parametrize("status", [100, 101, True, "200", 1000])
def test_only_final_statuses(status: int) -> None:
    server, client = pair()
    client.send_headers(1, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    with pytest.raises(LocalProtocolError):
        server.send_head(1, status)


def test_sending_on_a_stream_that_does_not_exist_is_a_local_error() -> None:
    server, _ = pair()
    with pytest.raises(LocalProtocolError):
        server.send_head(7, 200)
    with pytest.raises(LocalProtocolError):
        server.send_data(7, b"x")
