"""Long polling: wait_since returns at once, waits, times out, cancels cleanly."""

from __future__ import annotations

import asyncio

import pytest

from rawpush.hub import Hub, HubConfig, Replay, format_id, parse_id

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
    assert await hub.wait_since("nobody", "0-0", timeout=0.05) == Replay()
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


async def test_gap_after_a_restart_hands_back_a_cursor_that_waits(clock: Clock) -> None:
    # The restart loop: an in-memory hub answered a pre-restart cursor, on a
    # channel with no new event, with that same cursor and a gap, at once,
    # so every poller asked again at once, forever.
    old_cursor = (await Hub(HubConfig(clock=clock)).publish("x", "before")).id
    clock.now += 60
    hub = Hub(HubConfig(clock=clock))  # the restarted process
    for poll in (hub.since("x", old_cursor), hub.wait_since("x", old_cursor, timeout=60)):
        replay = await poll
        assert replay.gap and replay.events == ()
        assert replay.last_id is not None and replay.last_id != old_cursor
    assert replay.last_id is not None
    # From the cursor the gap answer gave, the next poll waits.
    waiting = asyncio.create_task(hub.wait_since("x", replay.last_id, timeout=60))
    await settle()
    assert not waiting.done()
    event = await hub.publish("x", "after")
    assert await waiting == Replay((event,))


async def test_gap_on_a_channel_with_events_hands_back_its_head(clock: Clock) -> None:
    old_cursor = (await Hub(HubConfig(clock=clock)).publish("x", "before")).id
    clock.now += 60
    hub = Hub(HubConfig(history_size=0, clock=clock))  # keeps nothing to replay
    head = await hub.publish("x", "lost")
    replay = await hub.wait_since("x", old_cursor, timeout=60)
    assert replay == Replay(gap=True, head=head.id) and replay.last_id == head.id
    waiting = asyncio.create_task(hub.wait_since("x", head.id, timeout=60))
    await settle()
    assert not waiting.done()
    event = await hub.publish("x", "next")
    assert await waiting == Replay((event,))


@pytest.mark.parametrize("timeout", [0, 60])
async def test_cursor_after_every_issued_id_is_a_gap_at_once(hub: Hub, timeout: float) -> None:
    # A made-up id, or one from a newer server: never a wait for ids that
    # may never come, nor the same cursor handed back.
    head = await hub.publish("c", "x")
    ms, seq = parse_id(head.id)
    for future in (format_id((ms, seq + 1)), format_id((ms + 10**9, 0))):
        replay = await hub.wait_since("c", future, timeout=timeout)
        assert replay == Replay(gap=True, head=head.id)
    # Never published to: the head is "now", and from it the poll waits.
    replay = await hub.wait_since("empty", format_id((ms + 10**9, 0)), timeout=timeout)
    assert replay.gap and replay.events == () and replay.last_id is not None
    waiting = asyncio.create_task(hub.wait_since("empty", replay.last_id, timeout=60))
    await settle()
    assert not waiting.done()
    event = await hub.publish("empty", "first")
    assert await waiting == Replay((event,))
