"""Rate and concurrency limits: pure logic, a clock passed in.

- ``TokenBucket``: ``rate`` tokens per second up to ``burst``; an action
  costs tokens and is refused when too few are left (so a client may send
  ``burst`` at once, then ``rate`` per second for ever).
- ``KeyedLimiter``: one bucket per key (a connection, a token's subject,
  a client address), at most ``max_keys`` buckets. When a new key would
  exceed that, the least recently used bucket is forgotten: it belongs to
  the key idle the longest, whose bucket has most likely refilled, so
  forgetting it costs nothing. Memory never grows with the number of
  distinct keys an attacker can make up.
- ``ConcurrencyLimiter``: how many things (connections) each key holds at
  once, at most ``limit``; a key whose count falls to zero is forgotten,
  and at most ``max_keys`` keys hold anything at once.

Uses in the server: WebSocket publish frames per connection, POST publish
per token or address, connections per client address, channels created
per token or address. ``retry_after`` gives the seconds for a 429's
``Retry-After`` (RFC 6585 section 4, RFC 9110 section 10.2.3).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from .errors import AuthConfigError

__all__ = ["ConcurrencyLimiter", "KeyedLimiter", "TokenBucket"]

K = TypeVar("K", bound=Hashable)
Clock = Callable[[], float]


def _check_rate(rate: float, burst: float) -> None:
    for name, value in (("rate", rate), ("burst", burst)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AuthConfigError(f"{name} must be a number")
        if not (0 < value < math.inf):
            raise AuthConfigError(f"{name} must be > 0 and finite")


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; starts full."""

    __slots__ = ("_clock", "_level", "_stamp", "burst", "rate")

    def __init__(self, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        _check_rate(rate, burst)
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._level = self.burst
        self._stamp = clock()

    def _refill(self) -> float:
        now = self._clock()
        # A clock that stepped back adds nothing (and takes nothing).
        elapsed = max(0.0, now - self._stamp)
        self._stamp = max(self._stamp, now)
        self._level = min(self.burst, self._level + elapsed * self.rate)
        return self._level

    @property
    def level(self) -> float:
        """Tokens available now."""
        return self._refill()

    @property
    def full(self) -> bool:
        """True when ``burst`` tokens are saved up (the bucket is idle)."""
        return self._refill() >= self.burst

    def take(self, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens and return True, or spend none and return False."""
        if self._refill() >= cost:
            self._level -= cost
            return True
        return False

    def retry_after(self, cost: float = 1.0) -> float:
        """Seconds until ``take(cost)`` would succeed; ``inf`` if never (cost > burst)."""
        if cost > self.burst:
            return math.inf
        return max(0.0, (cost - self._refill()) / self.rate)


class KeyedLimiter(Generic[K]):
    """A ``TokenBucket`` per key, at most ``max_keys`` of them (LRU)."""

    def __init__(
        self, rate: float, burst: float, *, max_keys: int = 10_000, clock: Clock = time.monotonic
    ) -> None:
        _check_rate(rate, burst)
        if not isinstance(max_keys, int) or max_keys < 1:
            raise AuthConfigError("max_keys must be an int >= 1")
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._clock = clock
        self._buckets: OrderedDict[K, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def bucket(self, key: K) -> TokenBucket:
        """``key``'s bucket (a full new one for a key not seen, or forgotten)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            while len(self._buckets) >= self.max_keys:
                self._buckets.popitem(last=False)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
        else:
            self._buckets.move_to_end(key)
        return bucket

    def take(self, key: K, cost: float = 1.0) -> bool:
        """``bucket(key).take(cost)``."""
        return self.bucket(key).take(cost)

    def retry_after(self, key: K, cost: float = 1.0) -> float:
        """Seconds until ``take(key, cost)`` would succeed."""
        return self.bucket(key).retry_after(cost)

    def forget(self, key: K) -> None:
        """Drop ``key``'s bucket (its connection closed)."""
        self._buckets.pop(key, None)


class ConcurrencyLimiter(Generic[K]):
    """At most ``limit`` held at once per key; at most ``max_keys`` keys."""

    def __init__(self, limit: int, *, max_keys: int = 100_000) -> None:
        for name, value in (("limit", limit), ("max_keys", max_keys)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AuthConfigError(f"{name} must be an int >= 1")
        self.limit, self.max_keys = limit, max_keys
        self._held: dict[K, int] = {}

    def __len__(self) -> int:
        return len(self._held)

    def count(self, key: K) -> int:
        """How many ``key`` holds now."""
        return self._held.get(key, 0)

    def acquire(self, key: K) -> bool:
        """Hold one more for ``key`` and return True, or refuse (False): at
        ``limit`` for this key, or ``max_keys`` other keys hold something."""
        held = self._held.get(key, 0)
        if held >= self.limit or (held == 0 and len(self._held) >= self.max_keys):
            return False
        self._held[key] = held + 1
        return True

    def release(self, key: K) -> None:
        """Give one back; ``LocalProtocolError`` if ``key`` holds none (a bug)."""
        held = self._held.get(key, 0)
        if held == 0:
            raise AuthConfigError(f"release without acquire for {key!r}")
        if held == 1:
            del self._held[key]
        else:
            self._held[key] = held - 1
