"""Fan-out in slices: a channel with a huge audience does not starve the others.

No clock anywhere: the tests count slices, yields and deliveries at the
moment a publish returns, and wait for the fan-out with ``delivery.idle()``.
"""

from __future__ import annotations

import asyncio

import pytest

from rawpush.hub import Hub, HubEvent
from rawpush.hub.fanout import Fanout

SLICE = 4


class Log:
    """One list of (listener name, data) for every listener: the order of delivery."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str | bytes]] = []

    def listener(self, name: str) -> object:
        def deliver(event: HubEvent) -> None:
            self.entries.append((name, event.data))

        return deliver

    def count(self, data: str) -> int:
        return sum(1 for _, got in self.entries if got == data)


async def _subscribe(hub: Hub, log: Log, channel: str, n: int, prefix: str) -> None:
    for i in range(n):
        await hub.subscribe(channel, log.listener(f"{prefix}{i}"))  # type: ignore[arg-type]


async def test_small_channel_is_served_while_a_big_fanout_is_in_progress() -> None:
    hub = Hub(fanout_slice=SLICE)
    log = Log()
    await _subscribe(hub, log, "big", 5 * SLICE, "b")
    await _subscribe(hub, log, "small", 1, "s")

    await hub.publish("big", "huge")
    # The publisher is answered after the first slice, not after 20 writes.
    assert log.count("huge") == SLICE
    assert hub.delivery.busy("big")
    await hub.publish("small", "tiny")
    assert log.count("tiny") == 1
    assert log.count("huge") < 5 * SLICE  # the big fan-out is still going

    await hub.delivery.idle()
    assert log.count("huge") == 5 * SLICE
    assert not hub.delivery.busy("big")
    # 5 slices of "big" and 1 of "small"; "big" gave the loop back 4 times.
    assert hub.delivery.slices == 6
    assert hub.delivery.yields == 4
    # The small channel's event went out between two slices of the big one.
    where = log.entries.index(("s0", "tiny"))
    assert SLICE <= where < 5 * SLICE
    await hub.close()


async def test_other_tasks_run_between_slices() -> None:
    hub = Hub(fanout_slice=SLICE)
    log = Log()
    await _subscribe(hub, log, "big", 3 * SLICE, "b")
    seen: list[int] = []

    async def bystander() -> None:
        # Runs as soon as the loop is given back: records how far the fan-out got.
        seen.append(log.count("x"))

    await hub.publish("big", "x")
    other = asyncio.ensure_future(bystander())
    await hub.delivery.idle()
    await other
    assert seen == [SLICE]
    assert log.count("x") == 3 * SLICE
    await hub.close()


async def test_every_subscriber_sees_id_order_across_sliced_events() -> None:
    hub = Hub(fanout_slice=3)
    got: dict[int, list[HubEvent]] = {i: [] for i in range(10)}
    for i in range(10):
        await hub.subscribe("c", got[i].append)
    first = await hub.publish("c", "1")
    assert hub.delivery.busy("c")
    # Joins while event 1 is still being handed over: it was not in event
    # 1's audience, so it gets 2 and 3 only.
    late: list[str | bytes] = []
    await hub.subscribe("c", lambda e: late.append(e.data))
    await hub.publish("c", "2")
    await hub.publish("c", "3")
    await hub.delivery.idle()
    assert all([e.data for e in events] == ["1", "2", "3"] for events in got.values())
    assert late == ["2", "3"]
    # A resume from the first id gets the rest once, replayed or live.
    resumed: list[str | bytes] = []
    sub = await hub.subscribe("c", lambda e: resumed.append(e.data), first.id)
    assert [e.data for e in sub.replay.events] == ["2", "3"]
    await hub.close()


async def test_a_blocking_listener_in_the_first_slice_holds_the_publisher() -> None:
    hub = Hub(fanout_slice=2)
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    log = Log()
    await hub.subscribe("c", lambda e: gate)
    await _subscribe(hub, log, "c", 5, "b")
    publish = asyncio.ensure_future(hub.publish("c", "x"))
    # The whole audience is served while the publisher waits for the gate
    # (a few loop iterations: one per slice).
    for _ in range(20):
        if log.count("x") == 5:
            break
        await asyncio.sleep(0)
    assert log.count("x") == 5
    assert not publish.done()
    gate.set_result(None)
    await publish
    await hub.close()


async def test_a_full_backlog_makes_the_publisher_wait_for_its_turn() -> None:
    hub = Hub(fanout_slice=SLICE)
    hub.delivery.max_backlog = 1
    log = Log()
    await _subscribe(hub, log, "big", 2 * SLICE, "b")
    await hub.publish("big", "1")  # a job starts
    second = asyncio.ensure_future(hub.publish("big", "2"))
    third = asyncio.ensure_future(hub.publish("big", "3"))
    await asyncio.wait({second, third}, return_when=asyncio.FIRST_COMPLETED)
    # "2" fits in the backlog of one; "3" waits until its own event is out.
    assert second.done()
    assert not third.done()
    await third
    assert log.count("3") == 2 * SLICE
    await hub.delivery.idle()
    await hub.close()


async def test_closing_the_hub_releases_publishers_waiting_for_their_turn() -> None:
    hub = Hub(fanout_slice=1)
    hub.delivery.max_backlog = 0
    log = Log()
    await _subscribe(hub, log, "big", 3, "b")
    await hub.publish("big", "1")
    waiting = asyncio.ensure_future(hub.publish("big", "2"))
    await asyncio.sleep(0)
    assert not waiting.done()
    hub.delivery.close()
    await waiting  # released, not left hanging
    await hub.close()


def test_fanout_refuses_a_slice_of_nothing() -> None:
    with pytest.raises(ValueError):
        Fanout(0)
    with pytest.raises(ValueError):
        Fanout(1, -1)
