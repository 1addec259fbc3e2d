"""LongPoller against the rawpush server: the cursor travels from one
answer to the next request, gaps are reported, 4xx stops, network
failures are retried (see rawpush.client.poll for the rules)."""

from __future__ import annotations

import asyncio

import pytest

from rawpush.client.poll import LongPollClosed, LongPoller, PollResult, parse_poll_body
from rawpush.hub import HubConfig
from rawpush.sse import Event
from tests.client.test_sse_server import LIMIT, Proxy, publish, rawpush_server


async def next_with_events(poller: LongPoller) -> PollResult:
    async with asyncio.timeout(LIMIT):
        async for result in poller:
            if result.events or result.gap:
                return result
    raise AssertionError("poller stopped")


async def test_cursor_is_carried_across_requests() -> None:
    async with rawpush_server() as server:
        poller = LongPoller(f"{server.url}/poll/c", timeout=5)
        # No cursor: the first answer is immediate and says where "now" is.
        first = await anext(poller)
        assert first.events == () and first.cursor is not None
        ids = [await publish(server.url, "c", f"m{n}") for n in range(3)]
        got: list[Event] = []
        while len(got) < 3:
            got.extend((await next_with_events(poller)).events)
        assert [(e.id, e.data) for e in got] == [(ids[n], f"m{n}") for n in range(3)]
        assert poller.cursor == ids[2]
        # A poll that waits is answered by the next publish, nothing repeated.
        waiting = asyncio.ensure_future(next_with_events(poller))
        await asyncio.sleep(0.05)
        later = await publish(server.url, "c", "later")
        result = await waiting
        assert [(e.id, e.data) for e in result.events] == [(later, "later")]
        poller.close()
        with pytest.raises(StopAsyncIteration):
            await anext(poller)


async def test_gap_is_reported() -> None:
    async with rawpush_server(hub=HubConfig(history_size=2)) as server:
        ids = [await publish(server.url, "g", f"m{n}", event="tick") for n in range(5)]
        poller = LongPoller(f"{server.url}/poll/g", cursor=ids[0], timeout=0)
        result = await next_with_events(poller)
    assert result.gap
    assert [(e.id, e.event, e.data) for e in result.events] == [
        (ids[3], "tick", "m3"),
        (ids[4], "tick", "m4"),
    ]


async def test_4xx_stops() -> None:
    async with rawpush_server() as server:
        poller = LongPoller(f"{server.url}/poll/c", cursor="x" * 500)
        with pytest.raises(LongPollClosed) as info:
            await anext(poller)
    assert info.value.status == 400


async def test_network_failure_is_retried() -> None:
    async with rawpush_server() as server, Proxy(server.port) as proxy:
        start = await publish(server.url, "c", "start")
        poller = LongPoller(f"{proxy.url}/poll/c", cursor=start, timeout=5, retry=0.02)
        pending = asyncio.ensure_future(next_with_events(poller))
        while proxy.connections == 0:
            await asyncio.sleep(0.01)
        proxy.cut()  # breaks the poll in flight: the poller must ask again
        ident = await publish(server.url, "c", "after the cut")
        result = await pending
    assert [(e.id, e.data) for e in result.events] == [(ident, "after the cut")]


def test_parse_poll_body_rejects_what_is_not_an_answer() -> None:
    assert parse_poll_body(b'{"events": [], "cursor": "1"}') == PollResult((), "1")
    bad_answers = [b"[]", b'{"events": [1]}', b'{"events": [{"id": 1}]}']
    for bad in [*bad_answers, b'{"events": [], "cursor": 1}']:
        with pytest.raises(ValueError):
            parse_poll_body(bad)


def test_an_event_without_a_name_is_a_message() -> None:
    # One shape on every transport: "message", as EventSource names an
    # event with no type (WHATWG HTML 9.2.6). A null name used to make the
    # whole answer "not a poll answer".
    for item in ('{"id": "1-0", "data": "d"}', '{"id": "1-0", "event": null, "data": "d"}',
                 '{"id": "1-0", "event": "", "data": "d"}'):
        body = f'{{"events": [{item}], "cursor": "1-0"}}'.encode()
        assert parse_poll_body(body) == PollResult((Event("d", "message", "1-0"),), "1-0")


async def test_a_gap_answer_moves_the_cursor_so_the_next_poll_waits() -> None:
    # A cursor from another (newer) server: told at once, with the head to
    # resume from, and the poll after that waits for the next event.
    async with rawpush_server() as server:
        head = await publish(server.url, "c", "x")
        ms = int(head.split("-")[0])
        poller = LongPoller(f"{server.url}/poll/c", cursor=f"{ms + 10**9}-0", timeout=5)
        result = await next_with_events(poller)
        assert result == PollResult((), head, gap=True) and poller.cursor == head
        waiting = asyncio.ensure_future(anext(poller))
        ident = await publish(server.url, "c", "next")
        result = await asyncio.wait_for(waiting, LIMIT)
    assert [(e.id, e.data) for e in result.events] == [(ident, "next")] and not result.gap
