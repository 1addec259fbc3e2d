"""Binary payloads: published as bytes, delivered as binary frames on
WebSocket and base64 with a marker on SSE and long poll."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawpush.hub import Hub, HubConfig
from rawpush.hub.redis import RedisBackplane
from rawpush.proto.multichannel import parse_binary_message
from rawpush.server.app import Server
from rawpush.ws import Binary, Text
from tests.cluster.redis_server import RedisServer, require_redis
from tests.server.support import WAIT, RawWS, eventually, open_sse, raw_ws, request

BLOB = bytes(range(256)) + b"\n\x00\xff"
OCTETS = [("Content-Type", "application/octet-stream")]


async def _binary(ws: RawWS) -> bytes:
    """The next binary message (text ones before it are skipped)."""
    async with asyncio.timeout(WAIT):
        while True:
            for event in ws.conn.events():
                if isinstance(event, Binary):
                    return event.data
            data = await ws.loop.sock_recv(ws.sock, 65536)
            assert data, "closed before a binary message"
            ws.conn.receive_data(data)


async def _subscribed(server: Server, n: int) -> None:
    await eventually(lambda: server.hub.stats().subscribers >= n, what="subscribed")


async def test_2046_4_5_1_octet_stream_post_reaches_every_transport(server: Server) -> None:
    ws = await raw_ws(server.port, "/ws/bin")
    multi = await raw_ws(server.port, "/ws")
    await multi.send_text('{"op":"subscribe","channel":"bin"}')
    await multi.recv_until(Text)
    sse = await open_sse(server.port, "/sse/bin")
    sse_multi = await open_sse(server.port, "/sse?channel=bin")
    try:
        await _subscribed(server, 4)
        answer = await request(server.port, "POST", "/publish/bin", OCTETS, BLOB)
        assert answer.status == 200
        event_id = json.loads(answer.body)["id"]
        # /ws/{channel}: one binary message, the bytes as published.
        assert await _binary(ws) == BLOB
        # /ws: the JSON header, a newline, the bytes.
        head, payload = parse_binary_message(await _binary(multi))
        assert payload == BLOB
        assert head == {
            "type": "event",
            "channel": "bin",
            "id": event_id,
            "event": "message",
            "binary": True,
        }
        # /sse/{channel}: base64 data and the marker line.
        [event] = await sse.events(1)
        assert base64.b64decode(event.data) == BLOB and event.id == event_id
        assert b"encoding: base64\n" in sse.raw
        # /sse?channel=: the marker in the JSON.
        [tagged] = await sse_multi.events(1)
        item = json.loads(tagged.data)
        assert item["encoding"] == "base64" and base64.b64decode(item["data"]) == BLOB
    finally:
        for closing in (ws, multi, sse, sse_multi):
            closing.close()
    # Long poll, single and multi: the marker beside the base64 data.
    single = json.loads((await request(server.port, "GET", "/poll/bin?cursor=0-0")).body)
    [item] = single["events"]
    assert item["encoding"] == "base64" and base64.b64decode(item["data"]) == BLOB
    many = json.loads((await request(server.port, "GET", "/poll?channel=bin&cursor=0-0")).body)
    [item] = many["events"]
    assert (item["channel"], item["encoding"]) == ("bin", "base64")


async def test_6455_5_6_binary_frame_on_ws_channel_is_a_binary_publish(server: Server) -> None:
    publisher = await raw_ws(server.port, "/ws/b2")
    listener = await raw_ws(server.port, "/ws/b2")
    try:
        await _subscribed(server, 2)
        publisher.conn.send_binary(b"\x00\x01\xfe")
        await publisher.send_raw(publisher.conn.data_to_send())
        assert await _binary(listener) == b"\x00\x01\xfe"
        replay = await server.hub.since("b2", "0-0")
        assert replay.events[-1].data == b"\x00\x01\xfe"
    finally:
        publisher.close()
        listener.close()


async def test_control_publish_base64_is_bytes(server: Server) -> None:
    ws = await raw_ws(server.port, "/ws")
    try:
        raw = base64.b64encode(b"\xff\x00").decode()
        await ws.send_text(
            json.dumps({"op": "publish", "channel": "b3", "data": raw, "encoding": "base64"})
        )
        await ws.recv_until(Text)
        replay = await server.hub.since("b3", "0-0")
        assert replay.events[-1].data == b"\xff\x00"
    finally:
        ws.close()


async def test_text_post_still_must_be_utf8(server: Server) -> None:
    answer = await request(
        server.port, "POST", "/publish/t", [("Content-Type", "text/plain")], b"\xff"
    )
    assert answer.status == 400


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


async def test_redis_backplane_keeps_bytes_bytes(redis_server: RedisServer) -> None:
    writer = Hub(HubConfig(), RedisBackplane(redis_server.url))
    reader = Hub(HubConfig(), RedisBackplane(redis_server.url))
    try:
        text = await writer.publish("rb", "plain")
        blob = await writer.publish("rb", BLOB, "img")
        replay = await reader.since("rb", "0-0")
        assert [(e.id, e.event, e.data) for e in replay.events] == [
            (text.id, None, "plain"),
            (blob.id, "img", BLOB),
        ]
    finally:
        await writer.close()
        await reader.close()
