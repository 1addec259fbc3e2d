"""The Redis Streams backplane against a real redis-server.

Several ``Hub`` objects on one Redis play several nodes: each has its own
``RedisBackplane`` (own connections, own reader), as separate processes do.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from rawpush.hub import Hub, HubConfig, HubEvent, Replay, TooManyChannels, parse_id
from rawpush.hub.redis import RedisBackplane, RedisUnavailable
from tests.cluster.redis_server import RedisServer, require_redis

from .conftest import Recorder
from .redis_support import MakeHub, until


async def test_ids_are_the_stream_entry_ids(make_hub: MakeHub, redis_server: RedisServer) -> None:
    hub = make_hub()
    first = await hub.publish("news", "hello", "greeting")
    second = await hub.publish("news", "plain")
    client = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        entries = await client.xrange("rawpush:ch:news")
    finally:
        await client.aclose()
    assert entries == [
        (first.id, {"data": "hello", "event": "greeting"}),
        (second.id, {"data": "plain"}),
    ]
    assert parse_id(second.id) > parse_id(first.id)
    assert await hub.latest_id("news") == second.id


async def test_replay_and_resume_across_nodes(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    ids = [(await a.publish("c", f"m{i}")).id for i in range(5)]
    replay = await b.since("c", ids[1])
    assert [e.data for e in replay.events] == ["m2", "m3", "m4"]
    assert [e.id for e in replay.events] == ids[2:]
    assert not replay.gap
    assert await b.latest_id("c") == ids[-1]
    got = Recorder()
    sub = await b.subscribe("c", got.deliver, ids[3])
    assert [e.data for e in sub.replay.events] == ["m4"]
    await a.publish("c", "m5")
    await until(lambda: got.data == ["m5"])
    sub.close()


async def test_unknown_channel_and_cursor_after_everything(make_hub: MakeHub) -> None:
    hub = make_hub()
    assert await hub.latest_id("none") is None
    # No stream: no id of it exists, so any cursor but "0-0" is a gap, and
    # "0-0" is where to resume (it waits for the first entry).
    replay = await hub.since("none", "5-0")
    assert replay == Replay(gap=True, head="0-0")
    assert await hub.since("none", "0-0") == Replay()
    last = (await hub.publish("c", "x")).id
    ms, _ = parse_id(last)
    # After every id the stream issued (made up, another Redis's): a gap,
    # and the head to resume from, from where the next poll waits.
    future = await hub.since("c", f"{ms + 1000}-0")
    assert future == Replay(gap=True, head=last) and future.last_id == last
    assert await hub.since("c", last) == Replay()
    assert (await hub.since("c", None)).events == ()


async def test_live_delivery_to_every_node_in_order_once(make_hub: MakeHub) -> None:
    a, b, c = make_hub(), make_hub(), make_hub()
    got_b, got_c = Recorder(), Recorder()
    await b.subscribe("live", got_b.deliver)
    await c.subscribe("live", got_c.deliver)
    sent = [(await a.publish("live", str(i))).id for i in range(50)]
    await until(lambda: len(got_b.events) == 50 and len(got_c.events) == 50)
    assert [e.id for e in got_b.events] == sent
    assert [e.id for e in got_c.events] == sent
    await asyncio.sleep(0.1)
    assert len(got_b.events) == 50  # nothing twice


async def test_subscribe_while_publishing_loses_and_repeats_nothing(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    first = await a.publish("race", "start")
    stop = asyncio.Event()
    sent: list[str] = [first.id]

    async def publisher() -> None:
        i = 0
        while not stop.is_set():
            sent.append((await a.publish("race", str(i))).id)
            i += 1

    task = asyncio.ensure_future(publisher())
    await asyncio.sleep(0.05)
    got = Recorder()
    sub = await b.subscribe("race", got.deliver, first.id)
    await asyncio.sleep(0.1)
    stop.set()
    await task

    def seen() -> list[str]:
        return [e.id for e in sub.replay.events] + [e.id for e in got.events]

    await until(lambda: len(seen()) == len(sent) - 1)
    assert seen() == sent[1:]


async def test_gap_exactly_when_trimmed_past_the_cursor(make_hub: MakeHub) -> None:
    hub = make_hub(HubConfig(history_size=5), min_retained=5)
    ids = [(await hub.publish("g", f"m{i}")).id for i in range(12)]
    # ids[0..6] are evicted, ids[7..11] kept.
    old = await hub.since("g", ids[0])
    assert old.gap and [e.id for e in old.events] == ids[7:]
    # The last evicted event itself: the client has it, nothing is lost.
    edge = await hub.since("g", ids[6])
    assert not edge.gap and [e.id for e in edge.events] == ids[7:]
    kept = await hub.since("g", ids[9])
    assert not kept.gap and [e.id for e in kept.events] == ids[10:]
    assert (await hub.since("g", "0-0")).gap
    assert hub.backplane.history_stats()["g"].length == 5


async def test_no_false_gap_before_any_trim(make_hub: MakeHub) -> None:
    hub = make_hub(HubConfig(history_size=10), min_retained=10)
    ids = [(await hub.publish("g", f"m{i}")).id for i in range(10)]
    start = await hub.since("g", "0-0")  # the long poll's "from the start" cursor
    assert not start.gap and [e.id for e in start.events] == ids
    assert not (await hub.since("g", ids[0])).gap


async def test_subscribe_reports_the_gap(make_hub: MakeHub) -> None:
    a, b = make_hub(HubConfig(history_size=3), min_retained=3), make_hub()
    ids = [(await a.publish("g", str(i))).id for i in range(6)]
    sub = await b.subscribe("g", Recorder().deliver, ids[0])
    assert sub.replay.gap and [e.id for e in sub.replay.events] == ids[3:]
    sub.close()


async def test_too_many_channels_across_nodes(make_hub: MakeHub) -> None:
    config = HubConfig(max_channels=2)
    a, b = make_hub(config), make_hub(config)
    await a.publish("one", "x")
    await b.publish("two", "x")
    with pytest.raises(TooManyChannels):
        await b.publish("three", "x")
    await a.publish("one", "existing channels still work")


async def test_a_new_channel_is_read_without_waiting_for_the_block_timeout(
    make_hub: MakeHub,
) -> None:
    a, b = make_hub(), make_hub(block_ms=20_000)
    got = Recorder()
    await b.subscribe("first", got.deliver)
    await asyncio.sleep(0.1)  # the reader now blocks on "first" alone
    await b.subscribe("second", got.deliver)
    await a.publish("second", "quick")
    start = time.monotonic()
    await until(lambda: got.data == ["quick"], timeout=3.0)
    assert time.monotonic() - start < 2.0


async def test_long_poll_on_another_node(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    cursor = (await a.publish("p", "before")).id
    waiting = asyncio.ensure_future(b.wait_since("p", cursor, 5.0))
    await asyncio.sleep(0.1)
    await a.publish("p", "after")
    replay = await asyncio.wait_for(waiting, 5.0)
    assert [e.data for e in replay.events] == ["after"]


async def test_resubscribing_after_unwatch(make_hub: MakeHub) -> None:
    a, b = make_hub(), make_hub()
    got = Recorder()
    sub = await b.subscribe("r", got.deliver)
    await a.publish("r", "1")
    await until(lambda: got.data == ["1"])
    sub.close()
    await a.publish("r", "2")
    again = Recorder()
    await b.subscribe("r", again.deliver)
    await a.publish("r", "3")
    await until(lambda: again.data == ["3"])
    assert got.data == ["1"]


async def test_redis_restart_publish_fails_fast_then_subscribers_catch_up(
    make_hub: MakeHub, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "rawpush.hub.redis")
    a, b = make_hub(), make_hub(backoff_min=0.3, backoff_max=0.3)
    got = Recorder()
    sub = await b.subscribe("s", got.deliver)
    sent = [(await a.publish("s", f"before{i}")).id for i in range(3)]
    await until(lambda: len(got.events) == 3)
    redis_server.stop(save=True)
    start = time.monotonic()
    with pytest.raises(RedisUnavailable) as info:
        await a.publish("s", "lost")
    assert info.value.status == 503
    assert time.monotonic() - start < 1.5
    with pytest.raises(RedisUnavailable):
        await a.since("s", sent[0])
    redis_server.start()
    # Published before b's reader is back (its backoff is 0.3 s): b must
    # read these from its last delivered id, not from "now".
    sent += [(await a.publish("s", f"after{i}")).id for i in range(3)]
    await until(lambda: len(got.events) >= 6)
    await asyncio.sleep(0.1)
    assert [e.id for e in got.events] == sent
    assert not sub.closed
    assert isinstance(b.backplane, RedisBackplane) and b.backplane.reconnects >= 1
    # The operator is told of the loss and of the return, in that order.
    said = [r.getMessage() for r in caplog.records if r.name == "rawpush.hub.redis"]
    lost = next(i for i, m in enumerate(said) if "reader lost Redis" in m)
    back = next(i for i, m in enumerate(said) if "reader has Redis again after" in m)
    assert lost < back


async def test_redis_losing_its_data_reports_a_gap_to_old_cursors(
    make_hub: MakeHub, redis_server: RedisServer
) -> None:
    a, b = make_hub(), make_hub(backoff_min=0.05, backoff_max=0.1)
    got = Recorder()
    await b.subscribe("s", got.deliver)
    old = (await a.publish("s", "old")).id
    await until(lambda: len(got.events) == 1)
    redis_server.kill()
    # A running server's loop notices the dropped connections while Redis is
    # down. A publish on a connection whose loss nobody has seen yet fails
    # (503) rather than being retried: it may have been stored already.
    await asyncio.sleep(0.1)
    redis_server.start()
    new = (await a.publish("s", "new")).id
    replay = await a.since("s", old)
    assert replay.gap and [e.id for e in replay.events] == [new]
    assert not (await a.since("s", "0-0")).gap
    await until(lambda: got.data == ["old", "new"])


async def test_a_failing_sink_is_dropped_and_the_others_still_get_events(
    redis_server: RedisServer,
) -> None:
    backplane = RedisBackplane(redis_server.url)
    got: list[HubEvent] = []

    def broken(event: HubEvent) -> None:
        raise RuntimeError("boom")

    try:
        await backplane.watch("f", broken)
        await backplane.watch("f", got.append)
        await backplane.append("f", "1")
        await backplane.append("f", "2")
        await until(lambda: [e.data for e in got] == ["1", "2"])
        backplane.unwatch("f", got.append)
        backplane.unwatch("f", got.append)  # a no-op the second time
    finally:
        await backplane.close()
    with pytest.raises(Exception, match="closed"):
        await backplane.append("f", "3")


async def test_unreachable_redis_at_start(tmp_path: Path) -> None:
    require_redis()
    dead = RedisServer(tmp_path)  # never started: the port refuses
    hub = Hub(HubConfig(), RedisBackplane(dead.url))
    try:
        with pytest.raises(RedisUnavailable):
            await hub.publish("x", "y")
        with pytest.raises(RedisUnavailable):
            await hub.subscribe("x", Recorder().deliver)
        with pytest.raises(RedisUnavailable):
            await hub.latest_id("x")
    finally:
        await hub.close()


def test_without_redis_py_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"rawpush\[redis\]"):
        RedisBackplane("redis://127.0.0.1:1/0")


async def test_a_reader_that_falls_behind_the_trim_says_so(redis_server: RedisServer) -> None:
    config = HubConfig(history_size=5)
    writer = RedisBackplane(redis_server.url, config=config, min_retained=5)
    reader = RedisBackplane(redis_server.url, config=config, min_retained=5, batch=5)
    release = asyncio.Event()
    got: list[str | bytes] = []

    def stalling(event: HubEvent) -> Any:
        got.append("GAP" if event.gap else event.data)
        return release.wait() if len(got) == 1 else None

    try:
        await reader.watch("lag", stalling)
        await writer.append("lag", "0")
        await until(lambda: got == ["0"])
        for i in range(1, 20):  # trims 1..14 while the reader is stalled
            await writer.append("lag", str(i))
        release.set()
        await until(lambda: got[-1:] == ["19"])
        # The hole is announced where it is: after 0, before what survived.
        assert got == ["0", "GAP", *(str(i) for i in range(15, 20))]
        assert reader.lost_live == 1
    finally:
        await writer.close()
        await reader.close()
