"""subscribe(): transport fallback and resume without loss or repeat.

Numbered events are published around forced breaks (a TCP proxy cut)
and the received sequence is compared exactly: every event once, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from rawpush.client.subscribe import Message, SubscribeError, subscribe
from rawpush.hub import HubConfig
from tests.client.test_sse_server import LIMIT, Proxy, publish, rawpush_server, take


async def run_sequence(
    server_url: str, proxy: Proxy, messages: AsyncIterator[Message], cuts: int = 2
) -> list[Message]:
    """Publish m0..m(3*(cuts+1)-1) in groups of three, cutting every link between groups."""
    got: list[Message] = []
    n = 0
    for group in range(cuts + 1):
        for _ in range(3):
            await publish(server_url, "c", f"m{n}")
            n += 1
        got += await take(messages, 3)
        if group < cuts:
            proxy.cut()
    return got


@pytest.mark.parametrize(
    ("transports", "expected"),
    [(("ws", "sse", "poll"), "ws"), (("sse", "poll"), "sse"), (("poll",), "poll")],
)
async def test_each_transport_resumes_across_cuts(
    transports: tuple[str, ...], expected: str
) -> None:
    async with rawpush_server() as server, Proxy(server.port) as proxy:
        start = await publish(server.url, "c", "start")
        stream = subscribe(proxy.url, "c", transports=transports, last_id=start, retry=0.02,
                           poll_timeout=5)
        async with contextlib.aclosing(stream) as messages:
            got = await run_sequence(server.url, proxy, messages)
    assert [m.data for m in got] == [f"m{n}" for n in range(9)]
    assert {m.transport for m in got} == {expected}
    assert not any(m.gap for m in got)


async def test_refused_upgrade_falls_back_to_sse_without_loss() -> None:
    # An Origin allow-list makes /ws answer 403 to our Origin-less client.
    async with rawpush_server(allowed_origins=("http://elsewhere.example",)) as server, \
            Proxy(server.port) as proxy:
        start = await publish(server.url, "c", "start")
        stream = subscribe(proxy.url, "c", last_id=start, retry=0.02)
        async with contextlib.aclosing(stream) as messages:
            got = await run_sequence(server.url, proxy, messages)
    assert [m.data for m in got] == [f"m{n}" for n in range(9)]
    assert {m.transport for m in got} == {"sse"}


async def test_from_now_on_without_last_id() -> None:
    async with rawpush_server() as server:
        await publish(server.url, "c", "before")
        async with contextlib.aclosing(subscribe(server.url, "c", transports=("poll",),
                                                 poll_timeout=5)) as messages:
            pending = asyncio.ensure_future(take(messages, 1))
            await asyncio.sleep(0.1)  # let the first poll learn "now"
            await publish(server.url, "c", "after")
            got = await pending
    assert [m.data for m in got] == ["after"]


@pytest.mark.parametrize("transports", [("ws",), ("sse",), ("poll",)])
async def test_gap_is_surfaced(transports: tuple[str, ...]) -> None:
    async with rawpush_server(hub=HubConfig(history_size=2)) as server:
        ids = [await publish(server.url, "c", f"m{n}") for n in range(5)]
        stream = subscribe(server.url, "c", transports=transports, last_id=ids[0], poll_timeout=5)
        async with contextlib.aclosing(stream) as messages:
            got = await take(messages, 3)
    # The same shape on every transport: the gap is after the last id we
    # had (the poll used to say the new cursor instead), then the events.
    assert got[0] == Message(ids[0], "gap", "", transports[0], gap=True)
    rest = [(m.id, m.event, m.data, m.gap) for m in got[1:]]
    assert rest == [(ids[3], "message", "m3", False), (ids[4], "message", "m4", False)]


async def test_every_transport_refused() -> None:
    async with rawpush_server() as server:
        stream = subscribe(f"{server.url}/nowhere", "c", retry=0.01)
        async with contextlib.aclosing(stream) as messages, asyncio.timeout(LIMIT):
            with pytest.raises(SubscribeError) as info:
                await anext(messages)
    assert set(info.value.reasons) == {"ws", "sse", "poll"}


async def test_unknown_transport() -> None:
    with pytest.raises(ValueError, match="transports"):
        await anext(subscribe("http://127.0.0.1:1", "c", transports=("carrier-pigeon",)))


class GatedProxy(Proxy):
    """A ``Proxy`` that answers 503 to requests for the paths in ``blocked``:
    a transport the server is (for now) unable to give."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.blocked: set[str] = set()

    async def __aenter__(self) -> GatedProxy:
        await super().__aenter__()
        return self

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        target = line.split(b" ")[1].decode() if line.count(b" ") >= 2 else ""
        if any(target.startswith(prefix) for prefix in self.blocked):
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n"
                         b"connection: close\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        reader._buffer[:0] = line  # type: ignore[attr-defined]  # hand the line on
        await super()._relay(reader, writer)


async def test_fallback_ws_sse_poll_and_back_resumes_by_id_without_loss_or_repeat() -> None:
    async with rawpush_server() as server, GatedProxy(server.port) as proxy:
        start = await publish(server.url, "c", "start")
        stream = subscribe(proxy.url, "c", last_id=start, retry=0.02, poll_timeout=5)
        async with contextlib.aclosing(stream) as messages:
            got: list[Message] = []
            n = 0
            for blocked in ({"/sse", "/poll"}, {"/ws"}, {"/ws", "/sse"}, {"/sse", "/poll"}):
                proxy.blocked = blocked
                proxy.cut()  # the stream in use breaks; the next one is chosen
                for _ in range(3):
                    await publish(server.url, "c", f"m{n}")
                    n += 1
                got += await take(messages, 3)
    assert [m.data for m in got] == [f"m{i}" for i in range(12)]
    assert [m.transport for m in got[::3]] == ["ws", "sse", "poll", "ws"]
    assert not any(m.gap for m in got)


class RepeatingSSE:
    """An event-stream server that replays what the client already has
    (the event it named in Last-Event-ID and one before it), as a server
    with an off-by-one would, then sends ``after``."""

    def __init__(self, before: str, since: str, after: list[str]) -> None:
        self.lines = [f"id: {before}\ndata: old\n\n", f"id: {since}\ndata: named\n\n",
                      *after]
        self.requests: list[bytes] = []
        self.done = asyncio.Event()
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"connection: close\r\n\r\n" + "".join(self.lines).encode())
        await writer.drain()
        await self.done.wait()
        writer.close()


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # A repeat of the named event, or of one before it, is dropped.
        (["id: 5-2\ndata: new\n\n"], [("5-2", "new", False)]),
        # After a gap the server starts again from its own head (a restart):
        # lower ids are new then.
        (["event: gap\ndata: \n\n", "id: 1-0\ndata: reborn\n\n"],
         [("5-1", "", True), ("1-0", "reborn", False)]),
    ],
)
async def test_9_2_4_an_event_at_or_before_the_resume_id_is_not_delivered_again(
    after: list[str], expected: list[tuple[str, str, bool]]
) -> None:
    fake = RepeatingSSE("5-0", "5-1", after)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        stream = subscribe(f"http://127.0.0.1:{port}", "c", transports=("sse",), last_id="5-1")
        async with contextlib.aclosing(stream) as messages:
            got = await take(messages, len(expected))
    finally:
        fake.done.set()
        server.close()
        await server.wait_closed()
    assert [(m.id, m.data, m.gap) for m in got] == expected
    assert b"last-event-id: 5-1" in fake.requests[0].lower()


@pytest.mark.parametrize("transport", ["ws", "sse", "poll"])
async def test_binary_events_resume_across_cuts_without_repeat(transport: str) -> None:
    # Over WebSocket this needs GET /ws: there a binary event's header has
    # its id, so the resume point moves past it (on /ws/{channel} a binary
    # message is the payload alone, and a resume would replay it).
    async with rawpush_server() as server, Proxy(server.port) as proxy:
        start = await publish(server.url, "c", "start")
        stream = subscribe(proxy.url, "c", transports=(transport,), last_id=start, retry=0.02,
                           poll_timeout=5)
        got: list[Message] = []
        async with contextlib.aclosing(stream) as messages:
            for group in range(3):
                for n in range(3 * group, 3 * group + 3):
                    await server.hub.publish("c", f"b{n}".encode())
                got += await take(messages, 3)
                if group < 2:
                    proxy.cut()
    assert [m.data for m in got] == [f"b{n}".encode() for n in range(9)]
    assert {m.transport for m in got} == {transport}


async def test_ws_falls_back_to_the_channel_route_when_ws_is_not_served() -> None:
    # A server older than GET /ws answers it 404: subscribe() then uses
    # /ws/{channel}, as it did before, and text events resume as ever.
    async with rawpush_server() as server, Proxy(server.port, refuse_target="/ws") as proxy:
        start = await publish(server.url, "c", "start")
        stream = subscribe(proxy.url, "c", transports=("ws",), last_id=start, retry=0.02)
        async with contextlib.aclosing(stream) as messages:
            got = await run_sequence(server.url, proxy, messages)
    assert [m.data for m in got] == [f"m{n}" for n in range(9)]
    assert proxy.refused >= 1
