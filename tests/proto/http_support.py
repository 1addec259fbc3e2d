"""Shared requests and helpers for the HTTPConnection tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import h11
import pytest

from rawpush.proto.errors import HTTPError
from rawpush.proto.http import HTTPConfig, HTTPConnection, Request

GET = b"GET /sse/news%20room?lastEventId=42&a=1&a=2&blank=&q=a+b HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /publish/c?event=tick HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"POST /publish/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
)
UPGRADE = (
    b"GET /ws/c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
REQUESTS = [GET, POST, CHUNKED, UPGRADE, b"GET / HTTP/1.0\r\n\r\n"]


def serve(chunks: Iterable[bytes], conn: HTTPConnection | None = None) -> list[Request]:
    """Feed chunks, answering each request with 204 so the next is served."""
    conn = conn or HTTPConnection()
    requests = []
    for chunk in chunks:
        conn.receive_data(chunk)
        while (request := conn.next_request()) is not None:
            requests.append(request)
            if conn.switched or request.path.startswith("/ws"):
                return requests
            conn.respond(204)
    return requests


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def client_events(
    data: bytes, method: str = "GET", eof: bool = False, upgrade: bool = False
) -> list[h11.Event]:
    """Parse our response bytes as an independent h11 client would."""
    client = h11.Connection(h11.CLIENT)
    headers = [("Host", "x")] + [("Upgrade", "websocket")] * upgrade
    client.send(h11.Request(method=method, target="/", headers=headers))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    if eof:
        client.receive_data(b"")
    events: list[h11.Event] = []
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return events
        events.append(event)  # type: ignore[arg-type]
        if isinstance(event, h11.ConnectionClosed):
            return events


def response_of(data: bytes, method: str = "GET") -> tuple[h11.Response, bytes, dict[bytes, bytes]]:
    events = client_events(data, method)
    head = events[0]
    assert isinstance(head, h11.Response)
    assert isinstance(events[-1], h11.EndOfMessage)
    body = b"".join(e.data for e in events if isinstance(e, h11.Data))
    return head, body, dict(head.headers)


def started(data: bytes) -> tuple[HTTPConnection, Request]:
    conn = HTTPConnection()
    conn.receive_data(data)
    request = conn.next_request()
    assert request is not None
    return conn, request


def refuse(data: bytes, config: HTTPConfig | None = None) -> tuple[HTTPConnection, HTTPError]:
    conn = HTTPConnection(config)
    conn.receive_data(data)
    with pytest.raises(HTTPError) as info:
        conn.next_request()
    return conn, info.value
