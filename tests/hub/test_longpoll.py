"""Long polling: wait_since returns at once, waits, times out, cancels cleanly."""

from __future__ import annotations

import asyncio

import pytest

from rawpush.hub import Hub, HubConfig, Replay

from .conftest import Clock, Recorder


async def settle() -> None:
    """Let the poll task run until it waits (subscribing takes a few steps)."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_returns_at_once_when_there_are_events(hub: Hub) -> None:
    first = await hub.publish("c", "1")
    second = await hub.publish("c", "2")
    replay = await hub.wait_since("c", first.id, timeout=60)
    assert replay == Replay((second,))
    assert hub.stats().subscribers == 0


async def test_returns_at_once_on_a_gap(clock: Clock) -> None:
    hub = Hub(HubConfig(history_size=1, clock=clock))
    first = await hub.publish("c", "1")
    await hub.publish("c", "2")
    await hub.publish("c", "3")
    await hub.publish("c", "4")
    last = await hub.latest_id("c")
    assert last is not None
    replay = await hub.wait_since("c", first.id, timeout=60)
    assert replay.gap and [e.data for e in replay.events] == ["4"]
    assert replay.last_id == last


async def test_waits_for_the_next_event(hub: Hub) -> None:
    cursor = (await hub.publish("c", "old")).id
    poll = asyncio.create_task(hub.wait_since("c", cursor, timeout=60))
    await settle()
    assert not poll.done()
    assert hub.stats().waiters == 1
    event = await hub.publish("c", "new")
    assert await poll == Replay((event,))
    assert hub.stats().waiters == 0 and hub.stats().subscribers == 0


async def test_events_published_before_the_waiter_resumes_come_together(hub: Hub) -> None:
    poll = asyncio.create_task(hub.wait_since("c", None, timeout=60))
    await settle()
    a = await hub.publish("c", "a")
    b = await hub.publish("c", "b")
    assert await poll == Replay((a, b))


async def test_timeout_returns_an_empty_replay(hub: Hub) -> None:
    cursor = (await hub.publish("c", "old")).id
    assert await hub.wait_since("c", cursor, timeout=0.05) == Replay()
    assert hub.stats().waiters == 0 and hub.stats().subscribers == 0


async def test_timeout_zero_is_a_short_poll(hub: Hub) -> None:
    first = await hub.publish("c", "1")
    assert await hub.wait_since("c", (await hub.latest_id("c")) or "", timeout=0) == Replay()
    assert (await hub.wait_since("c", "0-0", timeout=0)).events == (first,)
    assert await hub.wait_since("c", None, timeout=0) == Replay()
    assert hub.stats().subscribers == 0


async def test_unknown_channel_waits_then_times_out(hub: Hub) -> None:
    assert await hub.wait_since("nobody", "1700000000000-0", timeout=0.05) == Replay()
    assert "nobody" not in hub.stats().channels


async def test_cancellation_leaves_no_waiter_behind(hub: Hub) -> None:
    poll = asyncio.create_task(hub.wait_since("c", None, timeout=60))
    await settle()
    assert hub.stats().waiters == 1
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    stats = hub.stats()
    assert stats.waiters == 0 and stats.subscribers == 0
    rec = Recorder()
    await hub.subscribe("c", rec.deliver)
    await hub.publish("c", "x")  # nobody left to wake; the live subscriber still works
    assert rec.data == ["x"]


async def test_cancellation_while_subscribing_leaves_nothing(hub: Hub) -> None:
    poll = asyncio.create_task(hub.wait_since("c", None, timeout=60))
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    assert hub.stats().subscribers == 0


async def test_close_wakes_waiters_with_what_they_have(hub: Hub) -> None:
    cursor = (await hub.publish("c", "old")).id
    polls = [asyncio.create_task(hub.wait_since("c", cursor, timeout=60)) for _ in range(3)]
    await settle()
    assert hub.stats().waiters == 3
    await hub.close()
    assert await asyncio.gather(*polls) == [Replay()] * 3
    # After close a poll answers at once with what the history holds.
    assert await hub.wait_since("c", cursor, timeout=60) == Replay()
    assert (await hub.wait_since("c", "0-0", timeout=60)).events[0].data == "old"
