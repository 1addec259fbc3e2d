"""Hub: publish, subscribe with resume, atomicity, backpressure, failures, stats."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable

import pytest

from rawpush.hub import (
    RESERVED_EVENT_NAMES,
    Hub,
    HubClosed,
    HubConfig,
    HubError,
    HubEvent,
    InvalidChannel,
    InvalidEventName,
    InvalidId,
    Listener,
    MemoryBackplane,
    Replay,
    Subscription,
    parse_id,
    validate_event_name,
)

from .conftest import Clock, Recorder


async def test_publish_returns_the_stored_event(hub: Hub) -> None:
    event = await hub.publish("news", "hello", event="greeting")
    assert (event.channel, event.event, event.data) == ("news", "greeting", "hello")
    parse_id(event.id)
    assert (await hub.since("news", "0-0")).events == (event,)
    assert await hub.latest_id("news") == event.id


async def test_encoded_cache_is_ignored_by_equality_and_repr(hub: Hub) -> None:
    event = await hub.publish("c", "x")
    event.encoded["sse"] = b"data: x\n\n"
    assert event == HubEvent(event.id, "c", None, "x")
    assert "encoded" not in repr(event)
    assert hash(event) == hash(HubEvent(event.id, "c", None, "x"))


@pytest.mark.parametrize("name", ["", "a" * 129, "a b", "a/b", "é", "a\n", "chan?x=1", "..%2f"])
async def test_invalid_channel_names_are_refused_everywhere(hub: Hub, name: str) -> None:
    listener = Recorder().deliver
    for call in (
        hub.publish(name, "x"),
        hub.since(name, None),
        hub.latest_id(name),
        hub.subscribe(name, listener),
        hub.wait_since(name, None, 0),
    ):
        with pytest.raises(InvalidChannel) as info:
            await call
        assert info.value.status == 400


async def test_valid_channel_names(hub: Hub) -> None:
    for name in ("a", "A-z_0.9:x" * 10 + "abcdefghijklmnopqrstuvwxyz"[:8], "a" * 128):
        await hub.publish(name, "x")


@pytest.mark.parametrize("name", ["", "a\nb", "a\rb", "\x00", "x" * 129])
async def test_invalid_event_names_are_refused(hub: Hub, name: str) -> None:
    with pytest.raises(InvalidEventName):
        await hub.publish("c", "x", event=name)


async def test_gap_is_a_reserved_event_name(hub: Hub) -> None:
    # The transports' gap notice is an event named "gap" (SSE "event: gap"):
    # one published under that name would be taken for it, its data lost.
    with pytest.raises(InvalidEventName) as info:
        await hub.publish("c", "x", event="gap")
    assert isinstance(info.value, HubError) and info.value.status == 400
    assert "gap" in RESERVED_EVENT_NAMES
    with pytest.raises(InvalidEventName):
        validate_event_name("gap")
    assert validate_event_name("Gap") == "Gap"  # names are case-sensitive (WHATWG 9.2.6)
    assert await hub.latest_id("c") is None  # nothing was stored


async def test_data_must_be_text_or_bytes(hub: Hub) -> None:
    with pytest.raises(TypeError):
        await hub.publish("c", 1)  # type: ignore[arg-type]


async def test_garbage_ids_are_refused_everywhere(hub: Hub) -> None:
    for call in (
        hub.since("c", "nope"),
        hub.subscribe("c", Recorder().deliver, "nope"),
        hub.wait_since("c", "nope", 1),
    ):
        with pytest.raises(InvalidId):
            await call
    assert hub.stats().subscribers == 0


async def test_subscribers_get_live_events_in_order(hub: Hub) -> None:
    a, b = Recorder(), Recorder()
    sub_a = await hub.subscribe("c", a.deliver)
    await hub.subscribe("c", b.deliver)
    other = Recorder()
    await hub.subscribe("other", other.deliver)
    for i in range(5):
        await hub.publish("c", str(i))
    assert a.data == b.data == ["0", "1", "2", "3", "4"]
    assert other.events == []
    assert a.events[0] is b.events[0]  # one object: encode once, write many
    sub_a.close()
    sub_a.close()  # idempotent
    assert sub_a.closed
    await hub.publish("c", "5")
    assert a.data[-1] == "4" and b.data[-1] == "5"


async def test_subscribe_without_cursor_is_live_only(hub: Hub) -> None:
    await hub.publish("c", "old")
    rec = Recorder()
    sub = await hub.subscribe("c", rec.deliver)
    assert sub.replay == Replay()
    await hub.publish("c", "new")
    assert rec.data == ["new"]


async def test_subscribe_with_cursor_replays_then_goes_live(hub: Hub) -> None:
    first = await hub.publish("c", "1")
    await hub.publish("c", "2")
    await hub.publish("c", "3")
    rec = Recorder()
    with await hub.subscribe("c", rec.deliver, first.id) as sub:
        assert [e.data for e in sub.replay.events] == ["2", "3"]
        assert not sub.replay.gap
        await hub.publish("c", "4")
        assert rec.data == ["4"]
        assert "open" in repr(sub)
    assert sub.closed and "closed" in repr(sub)


async def test_subscribe_reports_a_gap(clock: Clock) -> None:
    hub = Hub(HubConfig(history_size=2, clock=clock))
    first = await hub.publish("c", "1")
    for i in range(2, 6):
        await hub.publish("c", str(i))
    sub = await hub.subscribe("c", Recorder().deliver, first.id)
    assert sub.replay.gap
    assert [e.data for e in sub.replay.events] == ["4", "5"]


async def test_subscribe_with_a_future_cursor_gets_a_gap_then_live_events(hub: Hub) -> None:
    old = await hub.publish("c", "old")
    rec = Recorder()
    sub = await hub.subscribe("c", rec.deliver, "99999999999999-0")
    # Never issued here: told so, and live events follow the head, not the
    # made-up cursor (which would hide every event for centuries).
    assert sub.replay == Replay(gap=True, head=old.id)
    await hub.publish("c", "new")
    assert rec.data == ["new"]


async def test_concurrent_publish_and_subscribe_lose_and_repeat_nothing(hub: Hub) -> None:
    rng = random.Random(7)
    published: list[HubEvent] = []
    seen: list[tuple[str | None, Replay, Recorder]] = []

    async def publisher(name: str) -> None:
        for i in range(40):
            published.append(await hub.publish("c", f"{name}{i}"))
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)

    async def subscriber() -> None:
        for _ in range(rng.randrange(20)):
            await asyncio.sleep(0)
        cursor = rng.choice(published).id if published and rng.random() < 0.7 else None
        rec = Recorder()
        sub = await hub.subscribe("c", rec.deliver, cursor)
        seen.append((cursor, sub.replay, rec))

    await asyncio.gather(publisher("a"), publisher("b"), *(subscriber() for _ in range(30)))
    ids = [e.id for e in published]
    assert len(set(ids)) == len(ids)
    for cursor, replay, rec in seen:
        got = list(replay.events) + rec.events
        assert not replay.gap
        keys = [parse_id(e.id) for e in got]
        assert keys == sorted(set(keys))  # id order, no repeats
        if cursor is not None:
            assert got == [e for e in published if parse_id(e.id) > parse_id(cursor)]
        else:
            assert got == published[len(published) - len(got) :]  # a suffix: no holes


class Gate:
    """A listener with the ``block`` policy: each delivery waits for ``open()``."""

    def __init__(self) -> None:
        self.events: list[HubEvent] = []
        self.taken: list[HubEvent] = []
        self.release = asyncio.Event()

    def deliver(self, event: HubEvent) -> asyncio.Future[None] | None:
        self.events.append(event)
        return asyncio.ensure_future(self._take(event))

    async def _take(self, event: HubEvent) -> None:
        await self.release.wait()
        self.taken.append(event)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_block_listener_slows_publish_until_it_resolves(hub: Hub) -> None:
    gate, fast = Gate(), Recorder()
    await hub.subscribe("c", gate.deliver)
    await hub.subscribe("c", fast.deliver)
    task = asyncio.create_task(hub.publish("c", "1"))
    await settle()
    assert not task.done()
    assert fast.data == ["1"]  # the others are not held up
    gate.release.set()
    event = await task
    assert gate.taken == [event]


async def test_block_listener_sees_events_one_at_a_time_in_order(hub: Hub) -> None:
    gate = Gate()
    await hub.subscribe("c", gate.deliver)
    tasks = [asyncio.create_task(hub.publish("c", str(i))) for i in range(4)]
    await settle()
    assert [e.data for e in gate.events] == ["0"]  # later ones wait their turn
    assert not any(t.done() for t in tasks)
    gate.release.set()
    await asyncio.gather(*tasks)
    assert [e.data for e in gate.taken] == ["0", "1", "2", "3"]


async def test_cancelling_a_blocked_publisher_does_not_cancel_delivery(hub: Hub) -> None:
    gate = Gate()
    await hub.subscribe("c", gate.deliver)
    task = asyncio.create_task(hub.publish("c", "1"))
    await settle()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.release.set()
    await settle()
    assert [e.data for e in gate.taken] == ["1"]
    assert [e.data for e in (await hub.since("c", "0-0")).events] == ["1"]


async def test_closing_a_blocking_subscription_releases_publishers(hub: Hub) -> None:
    gate = Gate()
    sub = await hub.subscribe("c", gate.deliver)
    tasks = [asyncio.create_task(hub.publish("c", str(i))) for i in range(2)]
    await settle()
    sub.close()
    await asyncio.gather(*tasks)
    assert gate.taken == []
    assert hub.stats().subscribers == 0


def boom(event: HubEvent) -> None:
    raise RuntimeError("listener bug")


async def test_failing_listener_is_dropped_and_others_still_get_events(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    before, after = Recorder(), Recorder()
    await hub.subscribe("c", before.deliver)
    bad = await hub.subscribe("c", boom)
    await hub.subscribe("c", after.deliver)
    with caplog.at_level(logging.ERROR, logger="rawpush.hub"):
        await hub.publish("c", "1")
    await hub.publish("c", "2")
    assert before.data == after.data == ["1", "2"]
    assert bad.closed
    assert hub.stats().listener_errors == 1
    assert "listener bug" in caplog.text


async def test_failing_awaitable_is_dropped_too(hub: Hub) -> None:
    calls: list[HubEvent] = []

    async def fail_later(event: HubEvent) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("late listener bug")

    def deliver(event: HubEvent) -> asyncio.Task[None]:
        calls.append(event)
        return asyncio.create_task(fail_later(event))

    ok = Recorder()
    bad = await hub.subscribe("c", deliver)
    await hub.subscribe("c", ok.deliver)
    await hub.publish("c", "1")  # returns although the awaitable failed
    assert bad.closed
    await hub.publish("c", "2")
    assert len(calls) == 1 and ok.data == ["1", "2"]


async def test_listener_failing_while_others_wait_their_turn(hub: Hub) -> None:
    gate = Gate()
    state = {"n": 0}

    def flaky(event: HubEvent) -> asyncio.Future[None] | None:
        state["n"] += 1
        if state["n"] == 2:
            raise RuntimeError("second delivery fails")
        return gate.deliver(event)

    sub = await hub.subscribe("c", flaky)
    tasks = [asyncio.create_task(hub.publish("c", str(i))) for i in range(3)]
    await settle()
    gate.release.set()
    await asyncio.gather(*tasks)
    assert sub.closed
    assert [e.data for e in gate.taken] == ["0"]


async def test_listener_may_close_its_own_subscription(hub: Hub) -> None:
    subs: list[Subscription] = []

    def once(event: HubEvent) -> None:
        subs[0].close()

    subs.append(await hub.subscribe("c", once))
    other = Recorder()
    await hub.subscribe("c", other.deliver)
    await hub.publish("c", "1")
    await hub.publish("c", "2")
    assert subs[0].closed and other.data == ["1", "2"]


async def test_stats(hub: Hub) -> None:
    sub = await hub.subscribe("a", Recorder().deliver)
    await hub.subscribe("a", Recorder().deliver)
    await hub.publish("a", "xyz")
    await hub.publish("a", "é")
    await hub.publish("b", "x")
    stats = hub.stats()
    a = stats.channels["a"]
    assert (a.subscribers, a.published, a.history_length, a.history_bytes) == (2, 2, 2, 5)
    assert stats.channels["b"].subscribers == 0
    assert (stats.subscribers, stats.published, stats.waiters) == (2, 3, 0)
    sub.close()
    assert hub.stats().channels["a"].subscribers == 1


async def test_close_refuses_publishes_and_subscribers(hub: Hub) -> None:
    event = await hub.publish("c", "1")
    await hub.close()
    await hub.close()  # idempotent
    assert hub.closed
    with pytest.raises(HubClosed) as info:
        await hub.publish("c", "2")
    assert info.value.status == 503
    with pytest.raises(HubClosed):
        await hub.subscribe("c", Recorder().deliver)
    assert (await hub.since("c", "0-0")).events == (event,)  # reads still work
    with pytest.raises(HubClosed):
        await hub.backplane.append("c", "3")


async def test_hubs_sharing_a_backplane_see_each_others_events(clock: Clock) -> None:
    shared = MemoryBackplane(HubConfig(clock=clock))
    a, b = Hub(backplane=shared), Hub(backplane=shared)
    on_a, on_b = Recorder(), Recorder()
    await a.subscribe("c", on_a.deliver)
    sub_b = await b.subscribe("c", on_b.deliver)
    event = await b.publish("c", "from b")
    assert on_a.events == on_b.events == [event]
    sub_b.close()
    await a.publish("c", "from a")
    assert on_a.data == ["from b", "from a"] and on_b.data == ["from b"]


async def test_a_listener_may_close_another_subscription(hub: Hub) -> None:
    victim = Recorder()
    subs: list[Subscription] = []

    def closer(event: HubEvent) -> None:
        subs[0].close()

    await hub.subscribe("c", closer)
    subs.append(await hub.subscribe("c", victim.deliver))
    await hub.publish("c", "1")
    assert victim.events == [] and subs[0].closed


async def test_since_without_cursor_is_empty(hub: Hub) -> None:
    await hub.publish("c", "1")
    assert await hub.since("c", None) == Replay()


def queueing(queue: asyncio.Queue[HubEvent]) -> Listener:
    """The server's ``block`` policy in miniature: wait for room in a bounded queue."""

    def deliver(event: HubEvent) -> Awaitable[None] | None:
        if not queue.full():
            queue.put_nowait(event)
            return None
        return queue.put(event)  # a bare coroutine

    return deliver


async def test_bounded_queue_with_block_policy_keeps_order(hub: Hub) -> None:
    queue: asyncio.Queue[HubEvent] = asyncio.Queue(maxsize=1)
    await hub.subscribe("c", queueing(queue))
    tasks = [asyncio.create_task(hub.publish("c", str(i))) for i in range(5)]
    got = [(await queue.get()).data for _ in range(5)]
    await asyncio.gather(*tasks)
    assert got == ["0", "1", "2", "3", "4"]


async def test_closing_while_a_coroutine_delivery_is_pending_leaks_nothing(hub: Hub) -> None:
    queue: asyncio.Queue[HubEvent] = asyncio.Queue(maxsize=1)
    sub = await hub.subscribe("c", queueing(queue))
    await hub.publish("c", "fits")
    task = asyncio.create_task(hub.publish("c", "waits"))
    await asyncio.sleep(0)
    sub.close()  # before the delivery task ever ran
    await task
    for _ in range(5):
        await asyncio.sleep(0)
    assert queue.qsize() == 1


class LossyBackplane(MemoryBackplane):
    """A memory backplane that can report lost events, as a Redis reader
    that fell behind the trim does."""

    async def lose(self, channel: str, last_lost: str) -> None:
        marker = HubEvent(last_lost, channel, None, "", gap=True)
        for sink in tuple(self._sinks.get(channel, ())):
            result = sink(marker)
            if result is not None:
                await result


async def test_gap_marker_reaches_subscribers_in_place(clock: Clock) -> None:
    backplane = LossyBackplane(HubConfig(clock=clock))
    hub = Hub(HubConfig(clock=clock), backplane)
    recorder = Recorder()
    await hub.subscribe("c", recorder.deliver)
    first = await hub.publish("c", "before")
    ms, _ = parse_id(first.id)
    # Events up to (ms, 7) were lost before they reached this hub.
    await backplane.lose("c", f"{ms}-7")
    clock.now += 1
    after = await hub.publish("c", "after")
    assert [(e.gap, e.id) for e in recorder.events] == [
        (False, first.id),
        (True, f"{ms}-7"),
        (False, after.id),
    ]
    # A marker for what a subscriber already has is no gap for it.
    await backplane.lose("c", first.id)
    assert len(recorder.events) == 3
    await hub.close()


async def test_long_poll_reports_a_gap_marker_as_gap(clock: Clock) -> None:
    backplane = LossyBackplane(HubConfig(clock=clock))
    hub = Hub(HubConfig(clock=clock), backplane)
    start = await hub.publish("c", "start")
    poll = asyncio.create_task(hub.wait_since("c", start.id, timeout=5))
    await asyncio.sleep(0)
    while not backplane._sinks.get("c"):
        await asyncio.sleep(0.001)
    clock.now += 1
    await backplane.lose("c", "1700000000999-0")
    replay = await asyncio.wait_for(poll, 5)
    assert replay.gap and replay.events == ()
    await hub.close()
