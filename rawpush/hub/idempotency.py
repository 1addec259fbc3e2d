"""Idempotency keys on one process: the same key, within the window, is the same event.

A publisher that did not hear the answer to a publish (a timeout, a lost
connection) cannot tell whether the event was stored. Retrying with the
same key is safe: the backplane remembers which event each key produced
and answers a repeat with that event instead of storing a second one.
Keys are scoped to their channel, so two channels never collide.

Bounded twice: a key is forgotten ``window`` seconds after its publish, and
at most ``limit`` keys are held (the oldest forgotten first), so inventing
keys cannot grow memory. Expiry is lazy, from the oldest end, on each use:
keys are kept in publish order, which is also their expiry order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from .events import HubEvent

__all__ = ["KeyMemory"]


class KeyMemory:
    """Which event each recent ``(channel, key)`` produced."""

    __slots__ = ("_clock", "_events", "_limit", "_window")

    def __init__(self, window: float, limit: int, clock: Callable[[], float]) -> None:
        self._window = window
        self._limit = limit
        self._clock = clock
        # (channel, key) -> (forget at, the event), oldest first.
        self._events: OrderedDict[tuple[str, str], tuple[float, HubEvent]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._events)

    def _expire(self, now: float) -> None:
        events = self._events
        while events:
            until, _ = next(iter(events.values()))
            if until > now:
                return
            events.popitem(last=False)

    def get(self, channel: str, key: str) -> HubEvent | None:
        """The event ``key`` produced on ``channel`` within the window, or None."""
        self._expire(self._clock())
        found = self._events.get((channel, key))
        return found[1] if found is not None else None

    def put(self, key: str, event: HubEvent) -> None:
        """Remember that ``key`` produced ``event`` (on ``event.channel``)."""
        now = self._clock()
        self._expire(now)
        self._events[(event.channel, key)] = (now + self._window, event)
        while len(self._events) > self._limit:
            self._events.popitem(last=False)
