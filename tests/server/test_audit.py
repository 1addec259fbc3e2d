"""Audit fixes seen from the wire: each behaviour checked against a real
server on loopback, named after the section that asks for it."""

from __future__ import annotations

import asyncio
import json

import pytest

from rawpush.proto.ws.frames import serialize_frame
from rawpush.server.app import Server
from rawpush.ws import Close, Pong, Text
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, raw_ws, read_until_eof, request


async def _raw(port: int, data: bytes) -> bytes:
    """Send ``data`` as it is and read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(WAIT):
            out = bytearray()
            while len(out) < 65536:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                out += chunk
                if out.count(b"HTTP/1.1 ") >= 2 or b"Connection: close" in out:
                    # Enough to judge; a keep-alive connection would wait.
                    out += await _rest(reader)
                    break
        return bytes(out)
    finally:
        writer.close()


async def _rest(reader: asyncio.StreamReader) -> bytes:
    try:
        async with asyncio.timeout(0.5):
            return await read_until_eof(reader)
    except TimeoutError:
        return b""


async def test_9112_6_1_content_length_with_transfer_encoding_is_refused_and_closed(
    server: Server,
) -> None:
    smuggled = (
        b"POST /publish/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        b"POST /publish/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"
    )
    out = await _raw(server.port, smuggled)
    assert out.startswith(b"HTTP/1.1 400 ")
    assert out.count(b"HTTP/1.1 ") == 1  # the pipelined request is not served
    assert (await server.hub.latest_id("a")) is None


@pytest.mark.parametrize("target", ["/publish%2Fa", "/publish/%61", "/publish%2fa"])
async def test_3986_2_2_routing_reads_the_raw_path(server: Server, target: str) -> None:
    answer = await request(server.port, "POST", target, body=b"x")
    assert answer.status in (400, 404)
    assert (await server.hub.latest_id("a")) is None


async def test_3986_2_2_an_encoded_slash_is_no_route_to_sse(server: Server) -> None:
    assert (await request(server.port, "GET", "/sse%2Fx")).status == 404


async def test_9110_9_3_2_head_of_an_event_stream_has_no_content_length_zero(
    server: Server,
) -> None:
    head = await request(server.port, "HEAD", "/sse/x")
    assert head.status == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert head.headers.get("content-length") != "0"
    assert head.body == b""


async def test_9110_15_5_22_426_for_a_wrong_websocket_version_names_the_upgrade(
    server: Server,
) -> None:
    answer = await request(
        server.port,
        "GET",
        "/ws/x",
        headers=[
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "8"),
        ],
    )
    assert answer.status == 426
    assert answer.headers["upgrade"].lower() == "websocket"
    assert answer.headers["sec-websocket-version"] == "13"


@pytest.mark.parametrize("host", [b"a b", b"a/b", b"user@b", b"[::1"])
async def test_9112_3_2_an_invalid_host_is_400(server: Server, host: bytes) -> None:
    out = await _raw(server.port, b"GET /healthz HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out[:60]


async def test_9112_3_a_target_over_the_limit_is_414(server: Server) -> None:
    target = b"/sse/x?" + b"a" * 9000
    out = await _raw(server.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 414 "), out[:60]


async def test_9112_2_2_one_stray_crlf_before_a_request_is_ignored(server: Server) -> None:
    out = await _raw(
        server.port, b"\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert out.startswith(b"HTTP/1.1 200 "), out[:60]


async def test_the_event_name_gap_is_reserved(server: Server) -> None:
    answer = await request(server.port, "POST", "/publish/a?event=gap", body=b"x")
    assert answer.status == 400
    assert (await server.hub.latest_id("a")) is None


async def test_a_websocket_resuming_after_an_id_is_not_sent_that_event_again(
    server: Server,
) -> None:
    first = await server.hub.publish("r", "one")
    second = await server.hub.publish("r", "two")
    ws = await raw_ws(server.port, f"/ws/r?lastEventId={first.id}")
    try:
        await server.hub.publish("r", "three")
        # The replay may come in the same read as the 101.
        events = ws.conn.events()
        if sum(isinstance(e, Text) for e in events) < 2:
            events += await ws.recv_until(Text, 2 - sum(isinstance(e, Text) for e in events))
        texts = [json.loads(e.data) for e in events if isinstance(e, Text)]
        assert texts == [
            {"id": second.id, "event": "message", "data": "two"},
            {"id": texts[1]["id"], "event": "message", "data": "three"},
        ]
    finally:
        ws.close()


async def test_6455_5_4_a_ping_between_fragments_is_answered_before_the_echo(
    make_server: MakeServer,
) -> None:
    # Autobahn 5.6: both fragments and the Ping land in one read.
    server = await make_server(ws_echo=True)
    ws = await raw_ws(server.port, "/echo")
    try:
        mask = b"\x01\x02\x03\x04"
        wire = (
            serialize_frame(0x1, b"frag", fin=False, mask=mask)
            + serialize_frame(0x9, b"ping", mask=mask)
            + serialize_frame(0x0, b"ment", mask=mask)
            + serialize_frame(0x8, b"\x03\xe8", mask=mask)
        )
        await ws.send_raw(wire)
        events = await ws.read_all()
        assert [type(e) for e in events][:3] == [Pong, Text, Close]
        assert isinstance(events[1], Text) and events[1].data == "fragment"
    finally:
        ws.close()
