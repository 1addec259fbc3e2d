"""Helpers for the hub tests: a hand-moved clock, a recording listener, and
for the Redis tests a real redis-server with hubs on it (one per node)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from rawpush.hub import Hub, HubConfig, HubEvent
from rawpush.hub.redis import RedisBackplane
from tests.cluster.redis_server import RedisServer, require_redis
from tests.hub.redis_support import MakeHub


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
    def data(self) -> list[str | bytes]:
        return [e.data for e in self.events]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(clock: Clock) -> Hub:
    return Hub(HubConfig(clock=clock))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
async def make_hub(redis_server: RedisServer) -> AsyncIterator[MakeHub]:
    hubs: list[Hub] = []

    def make(config: HubConfig | None = None, **options: Any) -> Hub:
        config = config if config is not None else HubConfig()
        hub = Hub(config, RedisBackplane(redis_server.url, config=config, **options))
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()
