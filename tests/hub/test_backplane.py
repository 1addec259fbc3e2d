"""The hub against backplanes whose calls take time, as a networked one would.

The memory backplane answers without yielding; these subclasses yield (or
fail) at the points where a Redis backplane would wait on the network, to
check that subscribe stays atomic and cleans up after itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from rawpush.hub import (
    Backplane,
    Hub,
    HubConfig,
    HubEvent,
    MemoryBackplane,
    Replay,
    Sink,
    parse_id,
)

from .conftest import Clock, Recorder


class SlowBackplane(MemoryBackplane):
    """Yields before or after reading: events race the read either way."""

    def __init__(self, config: HubConfig, read_first: bool, rng: random.Random) -> None:
        super().__init__(config)
        self.read_first = read_first
        self.rng = rng

    async def _pause(self) -> None:
        for _ in range(self.rng.randrange(4)):
            await asyncio.sleep(0)

    async def watch(self, channel: str, sink: Sink) -> None:
        await self._pause()
        await super().watch(channel, sink)

    async def read_since(self, channel: str, last_id: str | None) -> Replay:
        if self.read_first:
            replay = await super().read_since(channel, last_id)
            await self._pause()
            return replay
        await self._pause()
        return await super().read_since(channel, last_id)


class Resending(MemoryBackplane):
    """Hands the sinks the whole history on every append, as a reader that
    restarted from an old id would: the hub must drop what it already gave."""

    async def append(
        self,
        channel: str,
        data: str | bytes,
        event: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> HubEvent:
        item = await MemoryBackplane.append(self, channel, data, event)
        for old in (await self.read_since(channel, "0-0")).events:
            for sink in tuple(self._sinks.get(channel, ())):
                sink(old)
        return item


@pytest.mark.parametrize("read_first", [True, False])
@pytest.mark.parametrize("seed", range(5))
async def test_subscribe_is_atomic_on_a_slow_backplane(read_first: bool, seed: int) -> None:
    rng = random.Random(seed)
    hub = Hub(backplane=SlowBackplane(HubConfig(clock=Clock()), read_first, rng))
    published: list[HubEvent] = []
    seen: list[tuple[str | None, Replay, Recorder]] = []

    async def publisher() -> None:
        for i in range(60):
            published.append(await hub.publish("c", str(i)))
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)

    async def subscriber() -> None:
        for _ in range(rng.randrange(40)):
            await asyncio.sleep(0)
        cursor = rng.choice(published).id if published and rng.random() < 0.8 else None
        rec = Recorder()
        sub = await hub.subscribe("c", rec.deliver, cursor)
        if rng.random() < 0.3:
            await asyncio.sleep(0)
            sub.close()  # a client that leaves at once: nothing to check but no harm
        else:
            seen.append((cursor, sub.replay, rec))

    await asyncio.gather(publisher(), publisher(), *(subscriber() for _ in range(25)))
    for cursor, replay, rec in seen:
        got = list(replay.events) + rec.events
        keys = [parse_id(e.id) for e in got]
        assert keys == sorted(set(keys))
        if cursor is not None:
            assert got == [e for e in published if parse_id(e.id) > parse_id(cursor)]
        else:
            assert got == published[len(published) - len(got) :]


async def test_already_replayed_events_are_not_delivered_again() -> None:
    hub = Hub(backplane=Resending(HubConfig(clock=Clock())))
    first = await hub.publish("c", "1")
    await hub.publish("c", "2")
    rec = Recorder()
    sub = await hub.subscribe("c", rec.deliver, first.id)
    await hub.publish("c", "3")
    assert [e.data for e in sub.replay.events] + rec.data == ["2", "3"]


class FailingWatch(MemoryBackplane):
    def __init__(self) -> None:
        super().__init__(HubConfig(clock=Clock()))
        self.fail = True

    async def watch(self, channel: str, sink: Sink) -> None:
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("backplane down")
        await super().watch(channel, sink)


async def test_a_failing_watch_fails_subscribe_and_leaves_nothing() -> None:
    bp = FailingWatch()
    hub = Hub(backplane=bp)
    with pytest.raises(ConnectionError):
        await hub.subscribe("c", Recorder().deliver)
    assert hub.stats().subscribers == 0
    bp.fail = False
    rec = Recorder()
    await hub.subscribe("c", rec.deliver)
    await hub.publish("c", "x")
    assert rec.data == ["x"]


async def test_subscriber_closed_while_its_watch_is_pending() -> None:
    bp = SlowBackplane(HubConfig(clock=Clock()), True, random.Random(0))
    bp.rng = random.Random(1)
    hub = Hub(backplane=bp)
    task = asyncio.create_task(hub.subscribe("c", Recorder().deliver))
    await asyncio.sleep(0)  # registered; the watch is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(10):
        await asyncio.sleep(0)
    assert bp._sinks == {}  # the watch that completed afterwards was undone
    assert hub.stats().subscribers == 0


async def test_a_watch_cancelled_before_it_ran_is_not_undone() -> None:
    class NeverWatch(MemoryBackplane):
        async def watch(self, channel: str, sink: Sink) -> None:
            await asyncio.Event().wait()

    bp = NeverWatch(HubConfig(clock=Clock()))
    hub = Hub(backplane=bp)
    task = asyncio.create_task(hub.subscribe("c", Recorder().deliver))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert bp._sinks == {} and hub.stats().subscribers == 0


async def test_a_second_subscriber_waits_for_the_shared_watch() -> None:
    bp = SlowBackplane(HubConfig(clock=Clock()), True, random.Random(3))
    hub = Hub(backplane=bp)
    a, b = Recorder(), Recorder()
    await asyncio.gather(hub.subscribe("c", a.deliver), hub.subscribe("c", b.deliver))
    await hub.publish("c", "x")
    assert a.data == b.data == ["x"]
    assert len(bp._sinks["c"]) == 1  # one watch per channel per hub


async def test_subscription_closed_during_its_read() -> None:
    class Closer(MemoryBackplane):
        hub: Hub

        async def read_since(self, channel: str, last_id: str | None) -> Replay:
            for sub in list(self.hub._channels[channel].subs):
                sub.close()
            return await super().read_since(channel, last_id)

    bp = Closer(HubConfig(clock=Clock()))
    hub = Hub(backplane=bp)
    bp.hub = hub
    await hub.publish("c", "1")
    sub = await hub.subscribe("c", Recorder().deliver, "0-0")
    assert sub.closed
    assert [e.data for e in sub.replay.events] == ["1"]


def test_backplane_is_abstract() -> None:
    with pytest.raises(TypeError):
        Backplane()  # type: ignore[abstract]


async def test_a_watch_that_completes_despite_cancellation_is_undone() -> None:
    class Stubborn(MemoryBackplane):
        async def watch(self, channel: str, sink: Sink) -> None:
            # Finishes what it started, as a network call might.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(0)
            await super().watch(channel, sink)

    bp = Stubborn(HubConfig(clock=Clock()))
    hub = Hub(backplane=bp)
    task = asyncio.create_task(hub.subscribe("c", Recorder().deliver))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(5):
        await asyncio.sleep(0)
    assert bp._sinks == {}


async def test_events_for_channels_without_local_subscribers_are_ignored() -> None:
    hub = Hub()
    assert hub._fanout(HubEvent("1-0", "nobody", None, "x")) is None


def test_unwatching_an_unknown_sink_is_a_no_op() -> None:
    bp = MemoryBackplane()
    bp.unwatch("c", Recorder().deliver)
    assert bp._sinks == {}


class Lagging(MemoryBackplane):
    """Stores at once but fans out only on ``flush()``: a node whose reader
    is behind the store (Redis: XREAD after another node's XADD)."""

    def __init__(self, config: HubConfig) -> None:
        super().__init__(config)
        self.backlog: list[HubEvent] = []

    async def append(
        self,
        channel: str,
        data: str | bytes,
        event: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> HubEvent:
        item = self._history(channel).append(channel, data, event)
        self.backlog.append(item)
        return item

    def flush(self) -> None:
        backlog, self.backlog = self.backlog, []
        for item in backlog:
            for sink in tuple(self._sinks.get(item.channel, ())):
                sink(item)


@pytest.mark.parametrize("flush_while_reading", [True, False])
async def test_resuming_after_an_id_never_gets_that_event_again(flush_while_reading: bool) -> None:
    # A client resuming with lastEventId=X has X. On a node whose fan-out
    # lags the store, X and older events still arrive live after the
    # (empty) replay; the hub must drop them by the cursor, not only by the
    # last replayed id (there is none when the replay is empty).
    bp = Lagging(HubConfig(clock=Clock()))
    hub = Hub(backplane=bp)
    await hub.subscribe("c", Recorder().deliver)  # the node already watches c
    ids = [(await hub.publish("c", str(i))).id for i in range(3)]
    got = Recorder()
    if flush_while_reading:
        original = bp.read_since

        async def read_then_flush(channel: str, last_id: str | None) -> Replay:
            replay = await original(channel, last_id)
            bp.flush()  # lands in the subscriber's buffer, before it goes live
            return replay

        bp.read_since = read_then_flush  # type: ignore[method-assign]
    sub = await hub.subscribe("c", got.deliver, ids[2])
    assert sub.replay == Replay()
    bp.flush()
    assert got.events == []
    later = await hub.publish("c", "3")
    bp.flush()
    assert got.events == [later]
    # A cursor in the middle: the replay has the rest, the late fan-out adds nothing.
    got2 = Recorder()
    sub2 = await hub.subscribe("c", got2.deliver, ids[0])
    assert [e.id for e in sub2.replay.events] == [*ids[1:], later.id]
    sub.close()
    sub2.close()
