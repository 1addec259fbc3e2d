"""The Redis backplane under storms and faults, against a real redis-server.

Idempotent publishes across nodes, the "unknown outcome" of a publish whose
reply never came (Redis frozen with SIGSTOP), and resume storms: thousands
of subscribers resuming at once on a small pool all succeed.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from rawpush.hub import HubConfig, PublishOutcomeUnknown, Subscription, TooManyChannels
from rawpush.hub.redis import RedisBackplane
from tests.cluster.redis_server import RedisServer

from .conftest import Recorder
from .redis_support import MakeHub, until


def xlen(server: RedisServer, channel: str) -> int:
    reply = server.command(b"XLEN", b"rawpush:ch:" + channel.encode())
    return int(reply[1:].strip())


async def test_idempotency_same_key_on_two_nodes_is_one_event(
    make_hub: MakeHub, redis_server: RedisServer
) -> None:
    a, b = make_hub(), make_hub()
    got_a, got_b = Recorder(), Recorder()
    await a.subscribe("pay", got_a.deliver)
    await b.subscribe("pay", got_b.deliver)
    first = await a.publish("pay", "100", event="charge", idempotency_key="order-7")
    again = await b.publish("pay", "100", event="charge", idempotency_key="order-7")
    assert again == first  # the original: id, event type and data as stored
    other = await b.publish("pay", "5", idempotency_key="order-8")
    await until(lambda: len(got_a.events) == 2 and len(got_b.events) == 2)
    assert [e.id for e in got_a.events] == [e.id for e in got_b.events] == [first.id, other.id]
    assert xlen(redis_server, "pay") == 2


async def test_idempotency_keys_expire_with_the_window_and_are_per_channel(
    make_hub: MakeHub, redis_server: RedisServer
) -> None:
    hub = make_hub(HubConfig(idempotency_window=30))
    one = await hub.publish("a:b", "x", idempotency_key="c")
    two = await hub.publish("a", "y", idempotency_key="b:c")  # no collision across channels
    assert two.data == "y"
    for key in (b"rawpush:idem:3:a:b:c", b"rawpush:idem:1:a:b:c"):
        ttl = int(redis_server.command(b"PTTL", key)[1:].strip())
        assert 0 < ttl <= 30_000  # Redis forgets the key with the window
    assert (await hub.publish("a:b", "x", idempotency_key="c")) == one
    assert (await hub.publish("a", "y", idempotency_key="b:c")) == two
    assert xlen(redis_server, "a:b") == 1 and xlen(redis_server, "a") == 1


def test_read_slots_must_be_positive(redis_server: RedisServer) -> None:
    with pytest.raises(ValueError, match="read_slots"):
        RedisBackplane(redis_server.url, read_slots=0)


async def test_idempotency_the_original_survives_its_trim_by_id(make_hub: MakeHub) -> None:
    hub = make_hub(HubConfig(history_size=1), min_retained=1)
    first = await hub.publish("t", "x", idempotency_key="k")
    await hub.publish("t", "y")  # trims the first entry
    again = await hub.publish("t", "x", idempotency_key="k")
    assert (again.id, again.data) == (first.id, "x")


async def test_rfc9110_15_6_5_publish_without_an_answer_is_outcome_unknown_not_503(
    make_hub: MakeHub, redis_server: RedisServer
) -> None:
    # Redis frozen after the command is sent: it may commit once resumed,
    # so "not accepted" (503) would make a retrying publisher duplicate it.
    hub = make_hub(command_timeout=0.3)
    got = Recorder()
    await hub.subscribe("f", got.deliver)
    await hub.publish("f", "warm")  # a pooled connection, already connected
    assert redis_server.process is not None
    pid = redis_server.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        with pytest.raises(PublishOutcomeUnknown) as info:
            await hub.publish("f", "pay", idempotency_key="k")
        assert info.value.status == 504
    finally:
        os.kill(pid, signal.SIGCONT)
    retry = await hub.publish("f", "pay", idempotency_key="k")  # the publisher retries
    await until(lambda: len(got.events) == 2)
    assert [e.data for e in got.events] == ["warm", "pay"] and got.events[1].id == retry.id
    assert xlen(redis_server, "f") == 2  # exactly once


async def test_resume_storm_on_a_small_pool_every_subscriber_is_served(make_hub: MakeHub) -> None:
    # 2,000 subscribers resume at once, from 20 different cursors, on a
    # 4-connection pool whose command timeout is short: none is refused.
    hub = make_hub(max_connections=4, command_timeout=0.25)
    ids = [(await hub.publish("storm", str(i))).id for i in range(20)]
    recorders = [Recorder() for _ in range(2000)]
    subs: list[Subscription] = await asyncio.wait_for(
        asyncio.gather(
            *(hub.subscribe("storm", r.deliver, ids[i % 20]) for i, r in enumerate(recorders))
        ),
        timeout=60,
    )
    for i, sub in enumerate(subs):
        assert [e.id for e in sub.replay.events] == ids[i % 20 + 1 :]
        assert not sub.replay.gap
    live = await hub.publish("storm", "live")
    await until(lambda: all(r.events for r in recorders))
    assert all([e.id for e in r.events] == [live.id] for r in recorders)


async def test_resume_storm_while_publishing_loses_and_repeats_nothing(make_hub: MakeHub) -> None:
    # Shared reads must not open a hole: a subscriber joins only a read not
    # yet sent, whose snapshot follows the start of its live buffering.
    a, b = make_hub(), make_hub(max_connections=2)
    first = await a.publish("race", "start")
    sent: list[str] = []
    stop = asyncio.Event()

    async def publisher() -> None:
        for i in range(10_000):  # bounded; stopped long before
            if stop.is_set():
                return
            sent.append((await a.publish("race", str(i))).id)

    task = asyncio.ensure_future(publisher())
    recorders = [Recorder() for _ in range(300)]
    subs = []
    for group in range(10):
        subs += await asyncio.gather(
            *(
                b.subscribe("race", r.deliver, first.id)
                for r in recorders[group * 30 : group * 30 + 30]
            )
        )
    stop.set()
    await task

    def seen(sub: Subscription, rec: Recorder) -> list[str]:
        return [e.id for e in sub.replay.events] + [e.id for e in rec.events]

    await until(
        lambda: all(len(seen(s, r)) >= len(sent) for s, r in zip(subs, recorders, strict=True))
    )
    for sub, rec in zip(subs, recorders, strict=True):
        assert seen(sub, rec) == sent


async def test_a_cancelled_subscriber_does_not_cancel_the_shared_read(make_hub: MakeHub) -> None:
    hub = make_hub(max_connections=2, read_slots=1)
    first = await hub.publish("c", "a")
    second = await hub.publish("c", "b")
    tasks = [
        asyncio.ensure_future(hub.subscribe("c", Recorder().deliver, first.id)) for _ in range(3)
    ]
    await asyncio.sleep(0)
    tasks[0].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[0], asyncio.CancelledError)
    for sub in done[1:]:
        assert isinstance(sub, Subscription) and [e.id for e in sub.replay.events] == [second.id]


async def test_channel_idle_ttl_a_stream_expires_after_its_last_publish(
    make_hub: MakeHub, redis_server: RedisServer
) -> None:
    hub = make_hub(HubConfig(channel_idle_ttl=60))
    await hub.publish("idle", "x")
    ttl = int(redis_server.command(b"PTTL", b"rawpush:ch:idle")[1:].strip())
    assert 0 < ttl <= 60_000
    forever = make_hub(HubConfig(channel_idle_ttl=None))
    await forever.publish("kept", "x")
    assert redis_server.command(b"PTTL", b"rawpush:ch:kept") == b":-1\r\n"


async def test_max_channels_forgets_expired_channels_before_refusing(
    make_hub: MakeHub, redis_server: RedisServer
) -> None:
    hub = make_hub(HubConfig(max_channels=2))
    old = await hub.publish("a", "x")
    await hub.publish("b", "x")
    redis_server.command(b"DEL", b"rawpush:ch:a")  # what Redis does when "a" expires
    await hub.publish("c", "x")  # room made by forgetting "a"
    with pytest.raises(TooManyChannels):
        await hub.publish("d", "x")  # "b" and "c" still exist
    replay = await hub.since("a", old.id)
    assert replay.gap  # the expired channel's cursor: never a silent loss
