"""Token buckets and bounded per-key limits, on a hand-moved clock."""

from __future__ import annotations

import math

import pytest

from rawpush.auth.errors import AuthConfigError
from rawpush.auth.ratelimit import ConcurrencyLimiter, KeyedLimiter, TokenBucket
from tests.auth.conftest import Clock


def test_burst_then_rate(clock: Clock) -> None:
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.retry_after() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take()
    assert not bucket.take()
    clock.now += 100
    assert bucket.level == 3  # never more than the burst
    assert bucket.full


def test_a_refused_take_spends_nothing(clock: Clock) -> None:
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    assert not bucket.take(3)
    assert bucket.level == 2
    assert bucket.retry_after(3) == math.inf
    assert bucket.retry_after(2) == 0.0


def test_a_clock_stepping_back_adds_nothing(clock: Clock) -> None:
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.take()
    clock.now -= 1000
    assert not bucket.take()
    clock.now += 1000.5
    assert not bucket.take()  # half a token since the latest time seen
    clock.now += 0.5
    assert bucket.take()


@pytest.mark.parametrize(
    ("rate", "burst"), [(0, 1), (1, 0), (-1, 1), (math.inf, 1), (1, math.nan), (True, 1),
                        ("1", 1)]
)
def test_bad_rates(rate: float, burst: float) -> None:
    with pytest.raises(AuthConfigError):
        TokenBucket(rate, burst)
    with pytest.raises(AuthConfigError):
        KeyedLimiter(rate, burst)


def test_one_bucket_per_key(clock: Clock) -> None:
    limiter: KeyedLimiter[str] = KeyedLimiter(rate=1, burst=1, clock=clock)
    assert limiter.take("a")
    assert not limiter.take("a")
    assert limiter.take("b")
    assert limiter.retry_after("a") == 1.0
    limiter.forget("a")
    assert limiter.take("a")
    limiter.forget("never")


def test_keys_are_bounded_least_recently_used_first(clock: Clock) -> None:
    limiter: KeyedLimiter[str] = KeyedLimiter(rate=1, burst=1, max_keys=2, clock=clock)
    assert limiter.take("a") and limiter.take("b")
    limiter.bucket("a")  # a used last: b is the least recently used
    assert limiter.take("c")
    assert len(limiter) == 2
    assert not limiter.take("a")  # a's empty bucket was kept
    assert limiter.take("b")  # b was forgotten: a fresh bucket
    for key in range(1000):
        limiter.take(str(key))
    assert len(limiter) == 2


def test_bad_max_keys() -> None:
    with pytest.raises(AuthConfigError):
        KeyedLimiter(1, 1, max_keys=0)


def test_concurrency_per_key() -> None:
    limiter: ConcurrencyLimiter[str] = ConcurrencyLimiter(2, max_keys=2)
    assert limiter.acquire("a") and limiter.acquire("a")
    assert not limiter.acquire("a")
    assert limiter.count("a") == 2
    assert limiter.acquire("b")
    assert not limiter.acquire("c")  # two keys already hold something
    limiter.release("b")
    assert len(limiter) == 1  # a key at zero is forgotten
    assert limiter.acquire("c")
    limiter.release("a")
    assert limiter.count("a") == 1
    with pytest.raises(AuthConfigError):
        limiter.release("z")


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 1, "max_keys": 0}, {"limit": True}])
def test_bad_concurrency_limits(kwargs: dict[str, int]) -> None:
    with pytest.raises(AuthConfigError):
        ConcurrencyLimiter(**kwargs)
