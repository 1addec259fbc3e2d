"""``history_memory``: one bound on the data all channels' histories keep
(the per-channel bounds alone let max_channels x history_bytes grow)."""

from __future__ import annotations

import pytest

from rawpush.hub import Hub, HubConfig
from tests.hub.conftest import Clock


def _hub(clock: Clock, limit: int | None) -> Hub:
    return Hub(HubConfig(clock=clock, history_memory=limit, history_bytes=1000))


async def test_the_least_recently_published_channel_gives_way_first(clock: Clock) -> None:
    hub = _hub(clock, 300)
    first = await hub.publish("old", "a" * 100)
    await hub.publish("old", "b" * 100)
    await hub.publish("new", "c" * 100)
    # 300 bytes kept; one more event is over: "old" (published to least
    # recently) loses its oldest, and a resume from before it hears of it.
    await hub.publish("new", "d" * 100)
    old = await hub.since("old", "0-0")
    assert [e.data for e in old.events] == ["b" * 100] and old.gap
    assert [e.data for e in (await hub.since("new", "0-0")).events] == ["c" * 100, "d" * 100]
    resumed = await hub.since("old", first.id)
    assert not resumed.gap  # after the evicted one: nothing was lost
    await hub.close()


async def test_an_emptied_channel_is_skipped_and_a_big_event_is_not_kept(clock: Clock) -> None:
    hub = _hub(clock, 150)
    await hub.publish("a", "x" * 100)
    await hub.publish("b", "y" * 100)  # "a" is emptied to make room
    assert (await hub.since("a", "0-0")).events == ()
    await hub.publish("b", "z" * 100)  # "a" is skipped, "b" gives its oldest
    assert [e.data for e in (await hub.since("b", "0-0")).events] == ["z" * 100]
    await hub.publish("c", "w" * 200)  # over the bound alone: delivered, not kept
    assert (await hub.since("c", "0-0")).gap
    await hub.close()


async def test_no_global_bound_with_none_and_dropped_channels_give_their_bytes_back(
    clock: Clock,
) -> None:
    hub = _hub(clock, None)
    for n in range(20):
        await hub.publish(f"c{n}", "x" * 100)
    kept = [len((await hub.since(f"c{n}", "0-0")).events) for n in range(20)]
    assert kept == [1] * 20
    await hub.close()
    # A channel dropped at max_channels takes its bytes out of the total.
    small = Hub(HubConfig(clock=clock, history_memory=250, max_channels=2))
    await small.publish("a", "x" * 100)
    await small.publish("b", "y" * 100)
    await small.publish("c", "z" * 100)  # drops "a" (least recently used)
    await small.publish("c", "w" * 100)  # 300 > 250: "b" gives way, not "c"
    assert [e.data for e in (await small.since("c", "0-0")).events] == ["z" * 100, "w" * 100]
    await small.close()


def test_history_memory_is_validated() -> None:
    with pytest.raises(ValueError, match="history_memory"):
        HubConfig(history_memory=-1)
