"""GET /poll with a cursor this server cannot place: told at once, then
waiting, never a loop.

The bug: after a restart of an in-memory server, a poll whose cursor the
history no longer held, on a channel with no new event, was answered at
once with the SAME cursor and ``"gap": true``; the client asked again at
once, forever (``rawpush tail http://.../poll/x`` made 261 requests in
3 s). A gap answer must hand back a cursor from which the next poll waits.

Only the public API: ``rawpush.Server``, its ``hub`` and ``url``, and the
long-poll client, which sends each answer's cursor back as the next one.
"""

from __future__ import annotations

import asyncio
import time

import pytest

import rawpush
from rawpush.client import LongPoller, PollResult
from rawpush.hub import Hub, HubConfig
from rawpush.server.config import ServerConfig

#: the bound on the polling loop: far more than a few round trips on loopback
BOUND = 2.0
#: the most requests the loop may make: the gap answer, then one that waits
MAX_REQUESTS = 3
#: how long any one answer that should come at once may take on a loaded machine
LIMIT = 20.0


async def poll_loop(url: str, cursor: str) -> tuple[int, list[PollResult]]:
    """Poll from ``cursor`` as ``rawpush tail`` does: the first answer
    (however long a loaded machine takes), then at most ``BOUND`` seconds
    or 50 more requests; the number of requests made and the answers."""
    poller = LongPoller(url, cursor=cursor, timeout=30)
    async with asyncio.timeout(LIMIT):
        answers = [await poller.poll_once()]
    requests = 1
    try:
        async with asyncio.timeout(BOUND):
            while requests < 50:
                requests += 1
                answers.append(await poller.poll_once())
    except TimeoutError:
        pass  # the poll in flight is waiting, as it should
    return requests, answers


def key(ident: str) -> tuple[int, int]:
    ms, seq = ident.split("-")
    return int(ms), int(seq)


async def cursor_from_a_stopped_server() -> str:
    """The id of an event published on a server that is gone. Its hub's
    clock runs a minute behind: ids are milliseconds, and a restart takes
    longer than the few this test would otherwise leave between the two."""
    hub = Hub(HubConfig(clock=lambda: time.time() - 60))
    async with rawpush.Server(ServerConfig(port=0), hub=hub) as old:
        cursor = (await old.hub.publish("x", "before the restart")).id
    await hub.close()
    return cursor


@pytest.mark.parametrize("published_since", [False, True])
async def test_a_cursor_from_before_a_restart_gets_one_gap_answer_then_a_wait(
    published_since: bool,
) -> None:
    cursor = await cursor_from_a_stopped_server()
    hub = Hub(HubConfig(history_size=0))  # keeps nothing: never a replay
    async with rawpush.Server(ServerConfig(port=0), hub=hub) as server:
        head = None
        if published_since:
            # Published, but not kept: still nothing to replay.
            head = (await server.hub.publish("x", "lost")).id
        requests, answers = await poll_loop(f"{server.url}/poll/x", cursor)
    await hub.close()
    assert requests <= MAX_REQUESTS, f"{requests} requests in {BOUND} s: the poller spins"
    first = answers[0]
    assert first.gap and first.events == ()
    assert first.cursor is not None and first.cursor != cursor
    if head is not None:
        assert first.cursor == head
    assert len(answers) == requests - 1  # the last request was still waiting


async def test_the_poll_after_a_gap_answer_gets_the_next_event() -> None:
    cursor = await cursor_from_a_stopped_server()
    async with rawpush.Server(ServerConfig(port=0)) as server:
        poller = LongPoller(f"{server.url}/poll/x", cursor=cursor, timeout=30)
        async with asyncio.timeout(LIMIT):
            gap = await poller.poll_once()
            assert gap.gap and gap.events == () and gap.cursor != cursor
            waiting = asyncio.ensure_future(poller.poll_once())
            event = await server.hub.publish("x", "after the restart")
            result = await waiting
    assert [(e.id, e.data) for e in result.events] == [(event.id, "after the restart")]
    assert not result.gap and result.cursor == event.id


@pytest.mark.parametrize("timeout", [0, 30])
async def test_a_cursor_from_a_newer_server_is_a_gap_with_the_head(timeout: float) -> None:
    async with rawpush.Server(ServerConfig(port=0)) as server:
        head = (await server.hub.publish("x", "ours")).id
        async with rawpush.Server(ServerConfig(port=0)) as newer:
            # The newer server's clock has moved on: a made-up future id
            # reads the same way to ours.
            ms = key(head)[0]
            for theirs in ((await newer.hub.publish("x", "theirs")).id, f"{ms + 10**9}-0"):
                if key(theirs) <= key(head):
                    continue  # minted in the same millisecond as ours: not after it
                poller = LongPoller(f"{server.url}/poll/x", cursor=theirs, timeout=timeout)
                async with asyncio.timeout(LIMIT):
                    answer = await poller.poll_once()
                assert answer == PollResult((), head, gap=True)
                assert poller.cursor == head
                # From the head, a short poll has nothing and no gap.
                assert await LongPoller(
                    f"{server.url}/poll/x", cursor=head, timeout=0
                ).poll_once() == PollResult((), head)
