"""What the Redis backplane tests share besides their fixtures (which live
in ``conftest``): the hub factory's type and a bounded wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rawpush.hub import Hub

MakeHub = Callable[..., Hub]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
