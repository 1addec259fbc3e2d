"""The clients' default limits take whatever the server's defaults let
through (rawpush.client.limits has the formulas): a publish of exactly
``max_body_bytes`` arrives whole over EventSource, LongPoller and
subscribe() on every transport, in the plainest data and in the data
whose JSON escaping is the worst (control characters, 6 bytes each)."""

from __future__ import annotations

import contextlib

import pytest

from rawpush.client.limits import (
    MARGIN_PER_EVENT,
    MAX_JSON_EVENT,
    MAX_POLL_BODY,
    MAX_PUBLISH,
    MAX_SSE_EVENT,
)
from rawpush.client.poll import LongPoller
from rawpush.client.sse import EventSource
from rawpush.client.subscribe import subscribe
from rawpush.proto.http import json_bytes
from rawpush.server.config import ServerConfig
from rawpush.sse import Decoder, Event, encode
from tests.client.test_sse_server import LIMIT, publish, rawpush_server, take

BIG = ServerConfig().http.max_body_bytes
PAYLOADS = {"plain": "x" * BIG, "escaped": "\x01" * BIG, "lines": "ab\n" * (BIG // 3)}
NAME = "n" * 128  # the longest event name the hub takes
ID = f"{2**64 - 1}-{2**64 - 1}"  # the longest id


def test_limits_restate_the_server_defaults() -> None:
    config = ServerConfig()
    assert MAX_PUBLISH == config.http.max_body_bytes == config.ws.max_message_size
    # A poll answer: a whole history, escaped at worst, plus one publish.
    hub = config.hub
    worst = 6 * (hub.history_bytes + MAX_PUBLISH) + hub.history_size * MARGIN_PER_EVENT
    assert worst <= MAX_POLL_BODY
    item = json_bytes({"id": ID, "event": "\x01" * 128, "data": ""})
    assert len(item) <= MARGIN_PER_EVENT


@pytest.mark.parametrize("kind", PAYLOADS)
def test_9_2_6_the_largest_publish_decodes_under_the_default_limits(kind: str) -> None:
    data = PAYLOADS[kind]
    wire = encode(Event(data, event=NAME, id=ID))
    assert max(map(len, wire.decode().split("\n"))) <= MAX_SSE_EVENT
    assert Decoder(MAX_SSE_EVENT, MAX_SSE_EVENT).feed(wire) == [Event(data, NAME, ID)]
    frame = json_bytes({"id": ID, "event": NAME, "data": data})
    assert len(frame) <= MAX_JSON_EVENT


@pytest.mark.parametrize("kind", PAYLOADS)
async def test_a_max_body_bytes_publish_arrives_over_event_source(kind: str) -> None:
    # Before: the 1 MiB line "data: xxx..." broke the decoder's 1 MiB line
    # limit and closed the EventSource for good.
    data = PAYLOADS[kind]
    async with rawpush_server() as server:
        start = await publish(server.url, "c", "start")
        ident = await publish(server.url, "c", data)
        async with EventSource(f"{server.url}/sse/c", last_event_id=start) as source:
            (event,) = await take(source, 1)
    assert (event.id, event.event, event.data) == (ident, "message", data)


@pytest.mark.parametrize("kind", PAYLOADS)
async def test_a_max_body_bytes_publish_arrives_over_long_poll(kind: str) -> None:
    data = PAYLOADS[kind]
    async with rawpush_server() as server:
        start = await publish(server.url, "c", "start")
        ident = await publish(server.url, "c", data)
        poller = LongPoller(f"{server.url}/poll/c", cursor=start, timeout=0, grace=LIMIT)
        result = await poller.poll_once()
    assert [(e.id, e.event, e.data) for e in result.events] == [(ident, "message", data)]
    assert result.cursor == ident


@pytest.mark.parametrize("transport", ["ws", "sse", "poll"])
async def test_a_max_body_bytes_publish_arrives_over_subscribe(transport: str) -> None:
    data = PAYLOADS["escaped"]  # the largest WebSocket frame and poll answer
    async with rawpush_server() as server:
        start = await publish(server.url, "c", "start")
        ident = await publish(server.url, "c", data)
        stream = subscribe(
            server.url, "c", transports=(transport,), last_id=start, poll_timeout=5, retry=0.02
        )
        async with contextlib.aclosing(stream) as messages:
            (message,) = await take(messages, 1)
    assert (message.id, message.event, message.data, message.transport) == (
        ident,
        "message",
        data,
        transport,
    )
