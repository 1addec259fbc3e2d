"""Helpers for the hub tests: a hand-moved clock and a recording listener."""

from __future__ import annotations

import pytest

from rawpush.hub import Hub, HubConfig, HubEvent


class Clock:
    """A clock the test moves by hand (seconds since the epoch)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A listener that takes every event at once (the usual queueing subscriber)."""

    def __init__(self) -> None:
        self.events: list[HubEvent] = []

    def deliver(self, event: HubEvent) -> None:
        self.events.append(event)

    @property
    def data(self) -> list[str]:
        return [e.data for e in self.events]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(clock: Clock) -> Hub:
    return Hub(HubConfig(clock=clock))
