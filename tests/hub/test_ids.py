"""Event ids: the Redis stream id shape, strictly increasing per channel."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawpush.hub import (
    IdGenerator,
    InvalidId,
    compare_ids,
    format_id,
    is_after,
    parse_id,
)

from .conftest import Clock


def test_ids_use_the_clock_in_milliseconds() -> None:
    gen = IdGenerator(Clock(1.5))
    assert gen.next() == (1500, 0)


def test_same_millisecond_bumps_the_sequence() -> None:
    gen = IdGenerator(Clock(2.0))
    assert [gen.next() for _ in range(3)] == [(2000, 0), (2000, 1), (2000, 2)]


def test_clock_going_back_keeps_the_last_ms_and_bumps_seq() -> None:
    clock = Clock(10.0)
    gen = IdGenerator(clock)
    assert gen.next() == (10_000, 0)
    clock.now = 5.0
    assert gen.next() == (10_000, 1)
    assert gen.next() == (10_000, 2)
    clock.now = 11.0
    assert gen.next() == (11_000, 0)


def test_never_issues_zero_zero() -> None:
    assert IdGenerator(Clock(0.0)).next() == (0, 1)


@given(st.lists(st.floats(min_value=-1e3, max_value=2e9, allow_nan=False), min_size=1))
def test_ids_strictly_increase_whatever_the_clock_does(times: list[float]) -> None:
    clock = Clock()
    gen = IdGenerator(clock)
    ids = []
    for t in times:
        clock.now = t
        ids.append(format_id(gen.next()))
    keys = [parse_id(i) for i in ids]
    assert all(a < b for a, b in itertools.pairwise(keys))
    assert all(is_after(b, a) for a, b in itertools.pairwise(ids))


@given(st.integers(0, (1 << 64) - 1), st.integers(0, (1 << 64) - 1))
def test_parse_is_the_inverse_of_format(ms: int, seq: int) -> None:
    assert parse_id(format_id((ms, seq))) == (ms, seq)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "-",
        "1",
        "1-",
        "-1",
        "1-2-3",
        "01-1",
        "1-01",
        "+1-1",
        "1--1",
        " 1-1",
        "1-1 ",
        "1-1\n",
        "a-1",
        "1.0-1",
        "\u0661-\u0661",  # Arabic-Indic digits are digits to str.isdigit, not to us
        f"{1 << 64}-0",
        f"0-{1 << 64}",
        "1" * 100 + "-1",
    ],
)
def test_parse_rejects_garbage(bad: str) -> None:
    with pytest.raises(InvalidId) as info:
        parse_id(bad)
    assert isinstance(info.value, ValueError)
    assert info.value.status == 400


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(InvalidId):
        parse_id(12)  # type: ignore[arg-type]


@given(st.text(max_size=30))
def test_parse_accepts_only_canonical_ids(text: str) -> None:
    try:
        key = parse_id(text)
    except InvalidId:
        return
    assert format_id(key) == text


def test_ids_compare_numerically_not_as_strings() -> None:
    assert compare_ids("10-0", "9-5") == 1
    assert compare_ids("9-5", "10-0") == -1
    assert compare_ids("9-5", "9-5") == 0
    assert compare_ids("9-10", "9-9") == 1
    assert is_after("10-0", "9-99")
    assert not is_after("9-99", "9-99")
