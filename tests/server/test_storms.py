"""Calm under churn and dead readers, seen from the wire: exact gauges
when long polls end in a reset, kernel buffers bounded per subscriber, and
a cut-off connection ended with a reset that frees its buffers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct

import pytest

from rawpush.hub import HubError
from rawpush.server.app import Server
from rawpush.server.protocol import HTTPProtocol
from tests.server.conftest import FAST, MakeServer
from tests.server.support import WAIT, eventually, metric, open_sse, request

_RESET = struct.pack("ii", 1, 0)
_UPGRADE = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
]
_POLL = b"GET /poll/churn?cursor=0-0&timeout=30 HTTP/1.1\r\nHost: x\r\n\r\n"


def _hosts(server: Server) -> list[HTTPProtocol]:
    assert server._ctx is not None
    return [c for c in server._ctx.connections if isinstance(c, HTTPProtocol)]


async def test_gauges_are_exact_when_long_polls_end_in_a_reset(server: Server) -> None:
    n = 20
    loop = asyncio.get_running_loop()
    socks = []
    for _ in range(n):
        sock = socket.socket()
        sock.setblocking(False)
        await loop.sock_connect(sock, ("127.0.0.1", server.port))
        await loop.sock_sendall(sock, _POLL)
        socks.append(sock)
    await eventually(lambda: metric(server, 'rawpush_connections{transport="poll"}') == n)
    for sock in socks:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        sock.close()  # a reset, as a phone that loses its network sends
    await eventually(lambda: not _hosts(server))
    await asyncio.sleep(0)  # let the cancelled polls finish their callbacks
    assert metric(server, 'rawpush_connections{transport="poll"}') == 0
    assert metric(server, 'rawpush_connections{transport="http"}') == 0
    # Each connection is counted once as http and once as a long poll.
    assert metric(server, 'rawpush_connections_total{transport="http"}') == n
    assert metric(server, 'rawpush_connections_total{transport="poll"}') == n


async def test_a_subscriber_socket_keeps_a_bounded_kernel_send_buffer(
    make_server: MakeServer,
) -> None:
    server = await make_server(subscriber_sndbuf=64 * 1024)
    stream = await open_sse(server.port, "/sse/k")
    try:
        await eventually(lambda: bool(_hosts(server)) and _hosts(server)[0].session is not None)
        [host] = _hosts(server)
        assert host.transport is not None
        sock = host.transport.get_extra_info("socket")
        # Linux doubles the value for its bookkeeping.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) <= 2 * 64 * 1024
    finally:
        stream.close()


async def test_an_aborted_subscriber_gets_a_reset_not_a_lingering_close(server: Server) -> None:
    stream = await open_sse(server.port, "/sse/cut")
    await eventually(lambda: bool(_hosts(server)) and _hosts(server)[0].session is not None)
    [host] = _hosts(server)
    host.abort()  # what overflow and a write stall do to a dead reader
    try:
        async with asyncio.timeout(WAIT):
            while await stream.reader.read(65536):
                pass
        reset = False
    except ConnectionResetError:
        reset = True
    finally:
        stream.close()
    assert reset


async def test_9_2_3_a_busy_backplane_tells_an_eventsource_to_come_back(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # WHATWG HTML 9.2.3: an EventSource gives up for good on any non-200
    # answer, so a transient refusal is a 200 that ends with a retry hint.
    class Busy(HubError):
        status = 503  # as the Redis backplane says "Redis unavailable"

    async def busy(*args: object, **kwargs: object) -> None:
        raise Busy("the store is busy")

    monkeypatch.setattr(server.hub, "subscribe", busy)
    stream = await open_sse(server.port, "/sse/busy")
    try:
        assert stream.status == 200
        await stream.rest()
        retry = int(bytes(stream.raw).split(b"retry: ")[1].split(b"\n")[0])
        base = FAST.drain_retry_ms
        assert base <= retry <= 2 * base  # spread per connection
    finally:
        stream.close()
    # A WebSocket client can read a status: 503 with Retry-After.
    answer = await request(server.port, "GET", "/ws/busy", _UPGRADE)
    assert answer.status == 503 and int(answer.headers["retry-after"]) >= 1


async def test_a_retried_publish_with_the_same_idempotency_key_is_one_event(
    server: Server,
) -> None:
    key = [("Idempotency-Key", "order-42")]
    first = await request(server.port, "POST", "/publish/orders", key, body=b"paid")
    again = await request(server.port, "POST", "/publish/orders", key, body=b"paid")
    assert first.status == again.status == 200
    assert json.loads(first.body)["id"] == json.loads(again.body)["id"]
    replay = await server.hub.since("orders", "0-0")
    assert [e.data for e in replay.events] == ["paid"]
    other = await request(server.port, "POST", "/publish/orders", body=b"paid")
    assert json.loads(other.body)["id"] != json.loads(first.body)["id"]
    bad = await request(server.port, "POST", "/publish/orders", [("Idempotency-Key", "")], b"x")
    assert bad.status == 400


async def test_5_5_1_a_peer_that_keeps_sending_after_our_close_is_cut_off(
    make_server: MakeServer,
) -> None:
    # RFC 6455 5.5.1: after our Close the peer's data is discarded until its
    # own Close. A flooder never sends one: past a bounded number of
    # messages the server resets it instead of parsing the flood until
    # close_timeout (which took the loop from everyone else).
    server = await make_server(ws_publish_rate=1.0, ws_publish_burst=1)
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    head = "".join(f"{k}: {v}\r\n" for k, v in _UPGRADE)
    await loop.sock_sendall(sock, f"GET /ws/flood HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
    frame = b"\x81\x85\x00\x00\x00\x00flood"  # masked with a zero key
    try:
        with contextlib.suppress(OSError):  # the reset may come while we write
            for _ in range(20):  # bounded: 20 x 64 messages, far past the budget
                await loop.sock_sendall(sock, frame * 64)
        ignored = 'rawpush_disconnects_total{reason="close_ignored"}'
        await eventually(lambda: metric(server, ignored) == 1)
    finally:
        sock.close()
    assert metric(server, 'rawpush_disconnects_total{reason="close_timeout"}') == 0


async def test_one_read_of_many_messages_is_handled_in_slices(
    make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fairness: 200 messages in one read are handled 64 per loop iteration,
    # the other connections' callbacks running in between; none is lost.
    from rawpush.server import ws_session

    slices: list[int] = []
    original = ws_session.WSSession._next_slice

    def counted(self: ws_session.WSSession) -> None:
        slices.append(1)
        original(self)

    monkeypatch.setattr(ws_session.WSSession, "_next_slice", counted)
    server = await make_server(ws_publish_rate=None)
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    head = "".join(f"{k}: {v}\r\n" for k, v in _UPGRADE)
    try:
        await loop.sock_sendall(sock, f"GET /ws/many HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode())
        await eventually(lambda: bool(_hosts(server)) and _hosts(server)[0].session is not None)
        await loop.sock_sendall(sock, b"\x81\x82\x00\x00\x00\x00hi" * 200)
        await eventually(lambda: metric(server, "rawpush_published_total") == 200)
    finally:
        sock.close()
    assert len(slices) >= 200 // 64
    replay = await server.hub.since("many", "0-0")
    assert len(replay.events) == 200
