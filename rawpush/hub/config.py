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
    - ``history_memory``: the data bytes all channels' histories of the
      memory backplane keep together (256 MiB by default): over it, the
      oldest events of the channel published to least recently go first,
      and a client resuming behind them hears of a gap. None leaves only
      the per-channel bounds (``max_channels`` x ``history_bytes``). On
      Redis, bound the store itself (``maxmemory``) instead.
    - ``max_channels``: channels with a history the memory backplane may
      hold; publishing to one more raises ``TooManyChannels``, so clients
      cannot grow memory without bound by inventing channel names. None
      lifts the limit.
    - ``clock``: seconds since the epoch, for id generation; injectable so
      tests can move time (and move it backwards) without sleeping.
    - ``idempotency_window``: seconds a publish's idempotency key is
      remembered; a publish with a key seen within it returns the original
      event instead of publishing again (so a publisher may retry after an
      unknown outcome). ``idempotency_keys``: the most keys the memory
      backplane remembers (oldest forgotten first); on Redis each key
      expires with the window instead.
    - ``channel_idle_ttl``: seconds after which a channel of the memory
      backplane with no subscriber and no publish is dropped, with its
      history: a client resuming on it after that hears of a gap. Keep it
      above the resume window you promise. None keeps channels forever.
      At ``max_channels``, the least recently used channel without a
      subscriber is dropped to make room before a new one is refused.
      On Redis a stream expires that long after its last publish (Redis
      key expiry, subscribers or not), and the cap forgets expired names.
    """

    history_size: int = 1000
    history_bytes: int = 1 << 20
    max_channels: int | None = 10_000
    clock: Callable[[], float] = time.time
    idempotency_window: float = 300.0
    idempotency_keys: int = 100_000
    channel_idle_ttl: float | None = 3600.0
    history_memory: int | None = 1 << 28

    def __post_init__(self) -> None:
        if self.history_size < 0:
            raise ValueError(f"history_size must be >= 0, not {self.history_size}")
        if self.history_bytes < 0:
            raise ValueError(f"history_bytes must be >= 0, not {self.history_bytes}")
        if self.history_memory is not None and self.history_memory < 0:
            raise ValueError(f"history_memory must be >= 0 or None, not {self.history_memory}")
        if self.max_channels is not None and self.max_channels < 1:
            raise ValueError(f"max_channels must be >= 1 or None, not {self.max_channels}")
        if not self.idempotency_window > 0:
            raise ValueError(f"idempotency_window must be > 0, not {self.idempotency_window}")
        if self.idempotency_keys < 1:
            raise ValueError(f"idempotency_keys must be >= 1, not {self.idempotency_keys}")
        if self.channel_idle_ttl is not None and not self.channel_idle_ttl > 0:
            raise ValueError(f"channel_idle_ttl must be > 0 or None, not {self.channel_idle_ttl}")
