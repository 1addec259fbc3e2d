"""EventSource against real servers: rawpush's own /sse endpoint and an
aiohttp-sse app, an independent implementation of the server side.

``Proxy`` is a byte-for-byte TCP relay whose ``cut()`` breaks every
connection through it: a network failure in the middle of a stream, seen
by the client as such, while the server stays up and keeps publishing.
The other client test modules import ``Proxy``, ``publish`` and
``rawpush_server`` from here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest
from aiohttp import web
from aiohttp_sse import sse_response

from rawpush.client.http import parse_url, request
from rawpush.client.sse import EventSource, ReadyState
from rawpush.hub import HubConfig
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig

T = TypeVar("T")
LIMIT = 20.0  # seconds any one wait may take before the test fails


class Proxy:
    """Relays TCP between clients and ``port``; ``cut()`` drops all links.
    With ``refuse_target``, a request for that path (any query) is answered
    404 here, as a server that does not serve it would."""

    def __init__(self, port: int, refuse_target: str | None = None) -> None:
        self.target = port
        self.port = 0
        self.connections = 0
        self.refuse_target = refuse_target
        self.refused = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = b""
        if self.refuse_target is not None:
            first = await reader.readline()
            target = first.split(b" ")[1] if first.count(b" ") >= 2 else b""
            if target.split(b"?", 1)[0] == self.refuse_target.encode():
                self.refused += 1
                writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                writer.close()
                return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        up_writer.write(first)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, RuntimeError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def publish(
    base: str, channel: str, data: str, event: str | None = None, token: str | None = None
) -> str:
    """POST one event; return its id."""
    query = f"?event={event}" if event else ""
    url = parse_url(f"{base}/publish/{channel}{query}")
    headers = [("Authorization", f"Bearer {token}")] if token else []
    response = await request("POST", url, body=data.encode(), headers=headers)
    body = await response.read(1 << 16, timeout=LIMIT)
    await response.aclose()
    assert response.status == 200, body
    ident: str = json.loads(body)["id"]
    return ident


def rawpush_server(**config: object) -> Server:
    return Server(ServerConfig(port=0, **config))  # type: ignore[arg-type]


async def take(source: AsyncIterator[T], count: int) -> list[T]:
    items: list[T] = []
    async with asyncio.timeout(LIMIT):
        while len(items) < count:
            items.append(await anext(source))
    return items


async def test_rawpush_resume_across_a_network_cut() -> None:
    async with rawpush_server() as server, Proxy(server.port) as proxy:
        start = await publish(server.url, "c", "start")
        source = EventSource(f"{proxy.url}/sse/c", last_event_id=start, retry=0.02)
        for n in range(1, 4):
            await publish(server.url, "c", f"m{n}")
        first = await take(source, 3)
        proxy.cut()
        # Published while the client is cut off: the resume must replay them.
        for n in range(4, 8):
            await publish(server.url, "c", f"m{n}")
        second = await take(source, 4)
        assert source.ready_state is ReadyState.OPEN
        source.close()
    got = [e.data for e in first + second]
    assert got == [f"m{n}" for n in range(1, 8)]
    assert proxy.connections >= 2


async def test_rawpush_event_names_ids_and_gap() -> None:
    async with rawpush_server(hub=HubConfig(history_size=2)) as server:
        ids = [await publish(server.url, "g", f"m{n}", event="tick") for n in range(5)]
        source = EventSource(f"{server.url}/sse/g", last_event_id=ids[0])
        events = await take(source, 3)
        source.close()
    gap, *rest = events
    assert gap.event == "gap"
    assert [(e.id, e.event, e.data) for e in rest] == [
        (ids[3], "tick", "m3"),
        (ids[4], "tick", "m4"),
    ]


@pytest.fixture
async def aiohttp_sse_url() -> AsyncIterator[str]:
    """An aiohttp-sse app: three events per connection, continuing after
    the client's Last-Event-ID, then the stream ends (forcing a reconnect)."""

    async def stream(request: web.Request) -> web.StreamResponse:
        start = int(request.headers.get("Last-Event-ID", "0")) + 1
        async with sse_response(request) as sse:
            for n in range(start, start + 3):
                await sse.send(f"n{n}", id=str(n), event="count", retry=20)
        return sse

    app = web.Application()
    app.router.add_get("/events", stream)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/events"
    await runner.cleanup()


async def test_aiohttp_sse_reconnects_with_last_event_id(aiohttp_sse_url: str) -> None:
    source = EventSource(aiohttp_sse_url, retry=5.0)  # the server's retry: 20 (ms) wins
    events = await take(source, 7)
    source.close()
    assert [(e.id, e.event, e.data) for e in events] == [
        (str(n), "count", f"n{n}") for n in range(1, 8)
    ]
    assert source.retry == 0.02
