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
    async with rawpush_server(history_size=2) as server:
        ids = [await publish(server.url, "c", f"m{n}") for n in range(5)]
        stream = subscribe(server.url, "c", transports=transports, last_id=ids[0], poll_timeout=5)
        async with contextlib.aclosing(stream) as messages:
            got = await take(messages, 3)
    assert got[0].gap
    rest = [(m.id, m.data, m.gap) for m in got[1:]]
    assert rest == [(ids[3], "m3", False), (ids[4], "m4", False)]


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
