"""The clients over HTTP/2 (``http2=True``) against a real rawpush server on
127.0.0.1: ``rawpush.client.h2.request``, ``EventSource`` and
``LongPoller``. The server says which protocol carried each exchange (its
``rawpush_protocol_connections_total`` counter by protocol, and the HTTP/2
streams it opened), so every test checks it was HTTP/2 and not a quiet
fall back to HTTP/1.1. (On cleartext the server counts a connection as
``h1`` too before it reads the preface, so only TLS, where ALPN decides
first, checks the ``h1`` count stays 0.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import ssl
from pathlib import Path

import pytest

from rawpush.client import EventSource, LongPoller
from rawpush.client.h2 import HTTP2Unavailable, request
from rawpush.client.http import parse_url
from rawpush.client.poll import LongPollClosed
from rawpush.client.sse import EventSourceClosed, ReadyState
from rawpush.hub import Hub, HubConfig
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from rawpush.sse import Event
from tests.server.conftest import FAST, MakeServer, make_server
from tests.tls_support import self_signed

__all__ = ["make_server"]

LIMIT = 20.0  # seconds any one wait may take before the test fails
H2 = (("protocol", "h2"),)
H1 = (("protocol", "h1"),)


def connections(server: Server, labels: tuple[tuple[str, str], ...] = H2) -> float:
    return server.metrics.get("rawpush_protocol_connections_total", labels)


def streams(server: Server) -> float:
    return server.metrics.get("rawpush_h2_streams_total")


def trusting(cert: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cert)


async def take(source: EventSource, count: int) -> list[Event]:
    got: list[Event] = []
    async with asyncio.timeout(LIMIT):
        async for event in source:
            got.append(event)
            if len(got) == count:
                break
    return got


async def test_9113_3_3_prior_knowledge_publish_and_answer(make_server: MakeServer) -> None:
    server = await make_server()
    url = parse_url(f"{server.url}/publish/news")
    response = await request("POST", url, body=b"hello", timeout=LIMIT)
    body = await response.read(1 << 16, timeout=LIMIT)
    await response.aclose()
    assert response.status == 200 and response.content_type == "application/json"
    ident = json.loads(body)["id"]
    assert await server.hub.latest_id("news") == ident
    assert connections(server) == 1 and streams(server) == 1


async def test_9113_3_3_event_source_over_prior_knowledge(make_server: MakeServer) -> None:
    server = await make_server()
    # Resuming after "start" gets the events whether they were published
    # before the stream opened or after: no wait for the subscription.
    start = await server.hub.publish("news", "start")
    source = EventSource(f"{server.url}/sse/news", http2=True, last_event_id=start.id)
    async with source:
        await server.hub.publish("news", "one")
        await server.hub.publish("news", "two", event="tick")
        got = await take(source, 2)
        assert source.ready_state is ReadyState.OPEN
    assert [(e.event, e.data) for e in got] == [("message", "one"), ("tick", "two")]
    assert connections(server) == 1 and streams(server) == 1


async def test_9113_3_2_event_source_over_tls_alpn_h2(
    make_server: MakeServer, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    server = await make_server(certfile=cert, keyfile=key)
    assert server.url.startswith("https://")
    start = await server.hub.publish("news", "start")
    source = EventSource(
        f"{server.url}/sse/news", http2=True, ssl=trusting(cert), last_event_id=start.id
    )
    async with source:
        await server.hub.publish("news", "secure")
        assert [e.data for e in await take(source, 1)] == ["secure"]
    assert connections(server) == 1 and connections(server, H1) == 0


async def test_9113_6_9_a_long_stream_never_stalls(make_server: MakeServer) -> None:
    # Four times the client's 1 MiB window (and 64 times the 65,535-byte
    # default) on one stream: it flows only if credit goes back as it is read.
    server = await make_server(hub=HubConfig(history_bytes=1 << 23))
    payload = "x" * 64_000
    count = 64
    start = await server.hub.publish("big", "start")
    for _ in range(count):
        await server.hub.publish("big", payload)
    source = EventSource(f"{server.url}/sse/big", http2=True, last_event_id=start.id)
    async with source:
        got = await take(source, count)
    assert len(got) == count and all(e.data == payload for e in got)


async def test_9_2_4_resume_with_last_event_id_over_h2_across_a_restart() -> None:
    hub = Hub()  # outlives both servers: ids and history carry over
    first = Server(_config(port=0, drain_retry_ms=50), hub)
    await first.start()
    port = first.port
    second: Server | None = None
    start = await hub.publish("c", "start")
    source = EventSource(
        f"{first.url}/sse/c", http2=True, retry=1.0, max_retry=2.0, last_event_id=start.id
    )
    try:
        before = await hub.publish("c", "before")
        assert [e.id for e in await take(source, 1)] == [before.id]
        assert connections(first) == 1
        # The drain: GOAWAY, the retry hint on the stream, the stream's end.
        await first.close()
        missed = await hub.publish("c", "while down")
        second = Server(_config(port=port, drain_retry_ms=50), hub)
        await second.start()
        after = await hub.publish("c", "after")
        # The source resumes after "before": the event it missed, then the rest.
        got = await take(source, 2)
        assert [(e.id, e.data) for e in got] == [(missed.id, "while down"), (after.id, "after")]
        assert source.last_event_id == after.id
        # The drain's retry hint (drawn from drain_retry_ms to twice that)
        # came on the stream after the GOAWAY (RFC 9113 section 6.8: the
        # streams it covers may finish).
        assert 0.05 <= source.retry <= 0.1
        assert connections(second) >= 1 and streams(second) >= 1
    finally:
        source.close()
        if second is not None:
            await second.close()
        await hub.close()


async def test_long_poller_over_h2(make_server: MakeServer) -> None:
    server = await make_server()
    start = await server.hub.publish("c", "start")
    await server.hub.publish("c", "next")
    poller = LongPoller(f"{server.url}/poll/c", cursor=start.id, timeout=0, http2=True)
    result = await poller.poll_once()
    assert [e.data for e in result.events] == ["next"]
    assert connections(server) == 1 and streams(server) == 1


async def test_9113_3_3_a_server_without_http2_is_refused_at_once(
    make_server: MakeServer,
) -> None:
    server = await make_server(http2=False)
    with pytest.raises(HTTP2Unavailable, match=r"answered in HTTP/1\.1"):
        await request("GET", parse_url(f"{server.url}/healthz"), timeout=LIMIT)
    # EventSource and LongPoller fail for good: a retry would get the same.
    async with EventSource(f"{server.url}/sse/c", http2=True, retry=0) as source:
        with pytest.raises(EventSourceClosed, match="does not speak HTTP/2") as info:
            await take(source, 1)
    assert info.value.status == 0
    poller = LongPoller(f"{server.url}/poll/c", timeout=0, http2=True, retry=0)
    with pytest.raises(LongPollClosed, match="does not speak HTTP/2"):
        async with asyncio.timeout(LIMIT):
            await anext(poller)


async def test_9113_3_2_tls_without_alpn_h2_is_refused(
    make_server: MakeServer, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    server = await make_server(certfile=cert, keyfile=key, http2=False)
    with pytest.raises(HTTP2Unavailable, match="did not negotiate HTTP/2"):
        await request("GET", parse_url(f"{server.url}/healthz"), ssl=trusting(cert))


async def test_9113_8_1_error_answers_carry_the_servers_words(make_server: MakeServer) -> None:
    server = await make_server()
    async with EventSource(f"{server.url}/sse/bad%2Fname", http2=True) as source:
        with pytest.raises(EventSourceClosed) as info:
            await take(source, 1)
    assert info.value.status == 400 and info.value.reason
    assert connections(server) == 1


def _config(*, port: int, drain_retry_ms: int) -> ServerConfig:
    return dataclasses.replace(FAST, port=port, drain_retry_ms=drain_retry_ms)


async def test_read_is_bounded_and_a_silence_times_out(
    make_server: MakeServer, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    server = await make_server(certfile=cert, keyfile=key)
    # ssl=False: TLS without verification, as the HTTP/1.1 client reads it.
    response = await request("GET", parse_url(f"{server.url}/rawpush.js"), ssl=False)
    with pytest.raises(ConnectionError, match="larger than 100 bytes"):
        await response.read(100, timeout=LIMIT)
    assert await response.read_chunk() == b""  # closed: the body is over for us
    stream = await request(
        "GET", parse_url(f"{server.url}/sse/quiet"), headers=[("Accept", "text/event-stream")],
        ssl=False,
    )  # fmt: skip
    assert stream.status == 200 and stream.content_type == "text/event-stream"
    # The heartbeat is 30 s away and nothing is published: a silence.
    with pytest.raises(TimeoutError, match="no data from"):
        await stream.read_chunk(timeout=0.05)
    await stream.aclose()


async def test_close_ends_a_pending_read(make_server: MakeServer) -> None:
    server = await make_server()
    stream = await request(
        "GET", parse_url(f"{server.url}/sse/quiet"), headers=[("Accept", "text/event-stream")]
    )
    pending = asyncio.ensure_future(stream.read_chunk())
    await asyncio.wait([pending], timeout=0)  # let the read start
    stream.close()
    with pytest.raises(ConnectionError):
        async with asyncio.timeout(LIMIT):
            await pending


async def test_a_server_that_never_answers_times_out() -> None:
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing

    silent = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TimeoutError, match="no response from"):
            await request("GET", parse_url(f"http://127.0.0.1:{port}/"), timeout=0.1)
    finally:
        for writer in held:
            writer.close()
        silent.close()
        await silent.wait_closed()


@pytest.mark.parametrize("transport", ["sse", "poll"])
async def test_9113_3_3_subscribe_over_http2(make_server: MakeServer, transport: str) -> None:
    from contextlib import aclosing

    from rawpush.client import subscribe

    server = await make_server()
    start = await server.hub.publish("news", "start")
    messages = subscribe(
        server.url, "news", transports=(transport,), last_id=start.id, http2=True, poll_timeout=2.0
    )
    async with aclosing(messages):
        await server.hub.publish("news", "one")
        await server.hub.publish("news", "two")
        got = []
        async with asyncio.timeout(LIMIT):
            async for message in messages:
                got.append((message.data, message.transport))
                if len(got) == 2:
                    break
    assert got == [("one", transport), ("two", transport)]
    # It was HTTP/2 that carried them, not a quiet fall back to HTTP/1.1.
    assert connections(server) >= 1 and streams(server) >= 1
