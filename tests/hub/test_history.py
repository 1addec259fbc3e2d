"""Bounded history and the exact gap rule, through the memory backplane."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawpush.hub import (
    HubConfig,
    HubEvent,
    InvalidId,
    MemoryBackplane,
    Replay,
    TooManyChannels,
    format_id,
    parse_id,
)

from .conftest import Clock


def backplane(
    history_size: int = 1000, history_bytes: int = 1 << 20, max_channels: int = 100
) -> MemoryBackplane:
    return MemoryBackplane(HubConfig(history_size, history_bytes, max_channels, clock=Clock()))


async def fill(bp: MemoryBackplane, n: int, channel: str = "c", size: int = 1) -> list[HubEvent]:
    return [await bp.append(channel, str(i % 10) * size) for i in range(n)]


async def test_history_is_bounded_by_count_oldest_evicted_first() -> None:
    bp = backplane(history_size=3)
    events = await fill(bp, 5)
    replay = await bp.read_since("c", "0-0")
    assert replay.events == tuple(events[2:])
    assert replay.gap
    assert bp.history_stats()["c"].length == 3


async def test_history_is_bounded_by_data_bytes() -> None:
    bp = backplane(history_bytes=10)
    events = await fill(bp, 6, size=3)  # 18 bytes: three fit
    replay = await bp.read_since("c", events[0].id)
    assert replay.events == tuple(events[3:])
    assert replay.gap
    assert bp.history_stats()["c"].bytes == 9


async def test_bytes_count_utf8_not_characters() -> None:
    bp = backplane(history_bytes=4)
    await bp.append("c", "é")  # 2 bytes
    await bp.append("c", "é")
    assert bp.history_stats()["c"].length == 2
    await bp.append("c", "é")
    assert bp.history_stats()["c"].length == 2


async def test_an_event_larger_than_the_byte_bound_is_not_kept() -> None:
    bp = backplane(history_bytes=4)
    first = await bp.append("c", "ab")
    big = await bp.append("c", "x" * 5)
    assert bp.history_stats()["c"].length == 0
    replay = await bp.read_since("c", first.id)
    assert replay.events == ()
    assert replay.gap  # the big event after the cursor is gone: say so
    assert await bp.latest_id("c") == big.id
    assert await bp.read_since("c", big.id) == replay.__class__()


async def test_zero_history_keeps_nothing_and_reports_gaps() -> None:
    bp = backplane(history_size=0)
    first = await bp.append("c", "a")
    await bp.append("c", "b")
    assert (await bp.read_since("c", first.id)).gap


async def test_replay_since_an_id_is_exclusive() -> None:
    bp = backplane()
    events = await fill(bp, 5)
    replay = await bp.read_since("c", events[1].id)
    assert replay.events == tuple(events[2:])
    assert not replay.gap
    assert replay.last_id == events[-1].id
    assert await bp.read_since("c", events[-1].id) == replay.__class__()


async def test_cursor_between_kept_events_is_no_gap() -> None:
    # An id we never issued but which falls inside the kept range.
    bp = backplane()
    events = await fill(bp, 3)
    ms, seq = parse_id(events[0].id)
    replay = await bp.read_since("c", format_id((ms, seq)))
    assert replay.events == tuple(events[1:])
    assert not replay.gap


async def test_future_id_is_a_gap_with_the_head_to_resume_from() -> None:
    # Never issued here (made up, or a newer server's): "nothing yet" would
    # leave a poller waiting for ids that may never come.
    bp = backplane(history_size=2)
    events = await fill(bp, 5)
    replay = await bp.read_since("c", "99999999999999-0")
    assert replay.events == ()
    assert replay.gap and replay.head == replay.last_id == events[-1].id
    # From the head, the next read is an ordinary "nothing yet".
    assert await bp.read_since("c", events[-1].id) == Replay()


async def test_future_id_on_an_unknown_channel_is_a_gap_with_now_as_head() -> None:
    bp = backplane()
    born = format_id((int(Clock().now * 1000) + 1, 0))
    replay = await bp.read_since("nope", "99999999999999-0")
    assert replay == Replay(gap=True, head=born)
    assert await bp.read_since("nope", born) == Replay()
    event = await bp.append("nope", "first")
    assert (await bp.read_since("nope", born)).events == (event,)


async def test_no_cursor_means_no_replay() -> None:
    bp = backplane()
    await fill(bp, 3)
    replay = await bp.read_since("c", None)
    assert replay.events == () and not replay.gap and replay.last_id is None


async def test_unknown_channel_with_a_cursor_is_empty_and_creates_nothing() -> None:
    bp = backplane()
    born = format_id((int(Clock().now * 1000) + 1, 0))  # issued while this backplane lives
    replay = await bp.read_since("nope", born)
    assert replay.events == () and not replay.gap
    assert await bp.latest_id("nope") is None
    assert "nope" not in bp.history_stats()


async def test_old_cursor_on_a_channel_that_never_evicted_is_no_gap() -> None:
    # Nothing after the cursor was lost (as far as this history knows).
    bp = backplane()
    events = await fill(bp, 2)
    replay = await bp.read_since("c", "0-0")  # "from the start", as long polls begin
    assert replay.events == tuple(events)
    assert not replay.gap


async def test_cursor_from_before_this_process_is_a_gap_never_silent() -> None:
    # A restarted in-memory server cannot know what followed a cursor issued
    # by the process before it: DESIGN.md wants the client told, not skipped.
    bp = backplane()
    replay = await bp.read_since("nope", "1-0")
    assert replay.events == () and replay.gap
    events = await fill(bp, 2)
    replay = await bp.read_since("c", "1-0")
    assert replay.events == tuple(events) and replay.gap


async def test_gap_from_before_this_process_hands_back_a_cursor_that_waits() -> None:
    # The restart loop: answering a pre-restart cursor with that same cursor
    # and a gap made every poller ask again at once, forever.
    bp = backplane()
    replay = await bp.read_since("nope", "1-0")
    assert replay.gap and replay.last_id is not None and replay.last_id != "1-0"
    assert await bp.read_since("nope", replay.last_id) == Replay()
    events = await fill(bp, 2)
    bp2 = backplane(history_size=0)  # a history that keeps nothing
    await fill(bp2, 1)
    for b, expected in ((bp, events[-1].id), (bp2, None)):
        replay = await b.read_since("c", "1-0")
        assert replay.gap
        head = replay.last_id
        assert head is not None and head != "1-0"
        assert expected is None or head == expected
        again = await b.read_since("c", head)
        assert again == Replay()


async def test_cursor_at_the_last_evicted_event_is_no_gap() -> None:
    bp = backplane(history_size=2)
    events = await fill(bp, 4)
    replay = await bp.read_since("c", events[1].id)  # events[1] was the last evicted
    assert replay.events == tuple(events[2:])
    assert not replay.gap
    replay = await bp.read_since("c", events[0].id)
    assert replay.events == tuple(events[2:])
    assert replay.gap


async def test_garbage_cursor_is_refused_even_on_unknown_channels() -> None:
    bp = backplane()
    with pytest.raises(InvalidId):
        await bp.read_since("nope", "garbage")


async def test_latest_id_survives_eviction() -> None:
    bp = backplane(history_size=1)
    events = await fill(bp, 3)
    assert await bp.latest_id("c") == events[-1].id


async def test_channel_limit() -> None:
    # Refused only when every channel has a subscriber: idle channels make
    # room first (see test_storms).
    bp = backplane(max_channels=2)
    for name in ("a", "b"):
        await bp.watch(name, lambda event: None)
    await bp.append("a", "x")
    await bp.append("b", "x")
    await bp.append("a", "y")  # existing channels still work
    with pytest.raises(TooManyChannels) as info:
        await bp.append("c", "x")
    assert info.value.status == 503


@pytest.mark.parametrize(
    "kw",
    [{"history_size": -1}, {"history_bytes": -1}, {"max_channels": 0}],
)
def test_config_rejects_nonsense(kw: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        HubConfig(**kw)  # type: ignore[arg-type]


def test_config_allows_unlimited_channels() -> None:
    assert HubConfig(max_channels=None).max_channels is None


@given(
    sizes=st.lists(st.integers(0, 6), max_size=25),
    ticks=st.lists(st.integers(-2, 2), max_size=25),
    history_size=st.integers(0, 6),
    history_bytes=st.integers(0, 15),
    cursor_picks=st.lists(st.integers(-1, 30), max_size=8),
)
def test_replay_is_everything_after_the_cursor_or_a_reported_gap(
    sizes: list[int],
    ticks: list[int],
    history_size: int,
    history_bytes: int,
    cursor_picks: list[int],
) -> None:
    async def run() -> None:
        clock = Clock(1000.0)
        bp = MemoryBackplane(
            HubConfig(history_size=history_size, history_bytes=history_bytes, clock=clock)
        )
        published: list[HubEvent] = []
        for i, size in enumerate(sizes):
            clock.now += ticks[i % len(ticks)] / 1000 if ticks else 0
            published.append(await bp.append("c", "x" * size))
        # Cursors: published ids, "before everything" and ids between/after them.
        cursors = ["0-0", "999999999999-0"]
        for pick in cursor_picks:
            if 0 <= pick < len(published):
                cursors.append(published[pick].id)
                ms, seq = parse_id(published[pick].id)
                cursors.append(format_id((ms, seq + 1)))
        stats = bp.history_stats().get("c")
        if stats is not None:
            assert stats.length <= history_size
            assert stats.bytes <= history_bytes
        for cursor in cursors:
            after = [e for e in published if parse_id(e.id) > parse_id(cursor)]
            replay = await bp.read_since("c", cursor)
            kept = stats.length if stats is not None else 0
            retained = published[len(published) - kept :] if kept else []
            # The newest id issued; the birth id ("now") before any.
            head = published[-1].id if published else format_id((1_000_001, 0))
            never_issued = parse_id(cursor) > parse_id(head)
            if all(e in retained for e in after) and not never_issued:
                assert replay.events == tuple(after)
                assert not replay.gap and replay.head is None
            else:
                assert replay.gap
                assert replay.events == tuple(e for e in after if e in retained)
                # The cursor to resume from never repeats the gap.
                assert replay.head == head
                assert replay.last_id is not None
                assert not (await bp.read_since("c", replay.last_id)).gap

    asyncio.run(run())
