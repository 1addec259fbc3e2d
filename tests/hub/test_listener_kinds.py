"""Every kind of callable is a listener: the fan-out keeps a bound method as
its function and its object (to read no method object per delivery), and
calls anything else as given. Each kind gets every event, in order, whether
it returns None or an awaitable (then the publisher waits for it), and one
that raises is unsubscribed without stopping the others.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import pytest

from rawpush.hub import Hub, HubEvent


class Receiver:
    __slots__ = ("got",)

    def __init__(self) -> None:
        self.got: list[str | bytes] = []

    def deliver(self, event: HubEvent) -> None:
        self.got.append(event.data)

    async def deliver_later(self, event: HubEvent) -> None:
        await asyncio.sleep(0)
        self.got.append(event.data)

    def __call__(self, event: HubEvent) -> None:
        self.got.append(event.data)


def _kinds(got: list[str | bytes]) -> dict[str, Callable[[HubEvent], Any]]:
    def function(event: HubEvent) -> None:
        got.append(event.data)

    def tagged(tag: str, event: HubEvent) -> None:
        got.append(event.data)

    receiver = Receiver()
    receiver.got = got
    return {
        "bound method": receiver.deliver,
        "bound coroutine method": receiver.deliver_later,
        "function": function,
        "partial": functools.partial(tagged, "t"),
        "callable object": receiver,
        "lambda": lambda event: got.append(event.data),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "bound method",
        "bound coroutine method",
        "function",
        "partial",
        "callable object",
        "lambda",
    ],
)
async def test_every_kind_of_listener_gets_every_event_in_order(kind: str) -> None:
    hub = Hub(fanout_slice=2)
    got: list[str | bytes] = []
    sub = await hub.subscribe("c", _kinds(got)[kind])
    others = [await hub.subscribe("c", Receiver().deliver) for _ in range(4)]
    for n in range(5):
        await hub.publish("c", f"e{n}")
    await hub.delivery.idle()
    assert got == [f"e{n}" for n in range(5)]
    sub.close()
    for other in others:
        other.close()
    await hub.close()


async def test_a_builtin_method_is_called_as_given() -> None:
    hub = Hub()
    seen: list[HubEvent] = []
    await hub.subscribe("c", seen.append)
    await hub.publish("c", "x")
    await hub.delivery.idle()
    assert [event.data for event in seen] == ["x"]
    await hub.close()


async def test_a_bound_method_that_raises_is_unsubscribed_and_the_others_go_on() -> None:
    class Broken:
        def deliver(self, event: HubEvent) -> None:
            raise RuntimeError("listener bug")

    hub = Hub(fanout_slice=2)
    healthy = Receiver()
    broken = await hub.subscribe("c", Broken().deliver)
    await hub.subscribe("c", healthy.deliver)
    await hub.publish("c", "a")
    await hub.publish("c", "b")
    await hub.delivery.idle()
    assert broken.closed
    assert healthy.got == ["a", "b"]
    assert hub.delivery.listener_errors == 1
    await hub.close()
