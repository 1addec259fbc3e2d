"""The hub's one configuration object."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["HubConfig"]


@dataclass(frozen=True, slots=True)
class HubConfig:
    """Limits and knobs of a hub and its in-memory backplane.

    - ``history_size``: events kept per channel for resume (oldest evicted
      first). 0 keeps none: every reconnect with a cursor behind the head
      then reports a gap.
    - ``history_bytes``: the same bound, on the UTF-8 size of ``data``
      summed over the kept events. An event larger than this on its own is
      delivered live but not kept.
    - ``max_channels``: channels with a history the memory backplane may
      hold; publishing to one more raises ``TooManyChannels``, so clients
      cannot grow memory without bound by inventing channel names. None
      lifts the limit.
    - ``clock``: seconds since the epoch, for id generation; injectable so
      tests can move time (and move it backwards) without sleeping.
    """

    history_size: int = 1000
    history_bytes: int = 1 << 20
    max_channels: int | None = 10_000
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.history_size < 0:
            raise ValueError(f"history_size must be >= 0, not {self.history_size}")
        if self.history_bytes < 0:
            raise ValueError(f"history_bytes must be >= 0, not {self.history_bytes}")
        if self.max_channels is not None and self.max_channels < 1:
            raise ValueError(f"max_channels must be >= 1 or None, not {self.max_channels}")
