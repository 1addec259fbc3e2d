"""Resuming after an id never gets that event again, on any transport.

A client that names the last event it has (WebSocket ``?lastEventId=``,
SSE ``Last-Event-ID``, WHATWG HTML 9.2.4; the poll ``cursor``) gets the
events after it and then live ones: the named event is not among them,
whether the replay is empty (it is the newest) or not. The hub holds the
same rule when its fan-out lags its reads (tests/hub/test_backplane.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from rawpush.client import EventSource, LongPoller, connect, subscribe
from tests.client.test_sse_server import LIMIT, publish, rawpush_server, take


async def ws_ids(port: int, since: str, until: str) -> list[str]:
    ws = await connect(f"ws://127.0.0.1:{port}/ws/c?lastEventId={since}")
    ids: list[str] = []
    try:
        async with asyncio.timeout(LIMIT):
            async for frame in ws:
                assert isinstance(frame, str)
                ids.append(json.loads(frame)["id"])
                if ids[-1] == until:
                    break
    finally:
        await ws.close()
    return ids


@pytest.mark.parametrize("named", [1, 2])  # in the middle; the newest (empty replay)
async def test_9_2_4_the_named_event_is_not_sent_again(named: int) -> None:
    async with rawpush_server() as server:
        ids = [await publish(server.url, "c", f"m{n}") for n in range(3)]
        since = ids[named]
        live = await publish(server.url, "c", "live")
        expected = [*ids[named + 1 :], live]
        assert await ws_ids(server.port, since, live) == expected
        async with EventSource(f"{server.url}/sse/c", last_event_id=since) as source:
            assert [e.id for e in await take(source, len(expected))] == expected
        poller = LongPoller(f"{server.url}/poll/c", cursor=since, timeout=0)
        assert [e.id for e in (await poller.poll_once()).events] == expected
        for transport in ("ws", "sse", "poll"):
            stream = subscribe(
                server.url, "c", transports=(transport,), last_id=since, poll_timeout=5
            )
            async with contextlib.aclosing(stream) as messages:
                got = await take(messages, len(expected))
            assert [m.id for m in got] == expected, transport
