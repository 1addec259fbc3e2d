"""Hub under storms and faults: dot-segment names, idempotent publishes, channel lifecycle."""

from __future__ import annotations

import asyncio

import pytest

from rawpush.hub import (
    Hub,
    HubConfig,
    InvalidChannel,
    InvalidIdempotencyKey,
    MemoryBackplane,
    TooManyChannels,
    validate_channel,
)

from .conftest import Clock, Recorder


@pytest.mark.parametrize("name", [".", "..", "...", "." * 128])
async def test_rfc3986_5_2_4_dot_segment_channel_names_are_refused(hub: Hub, name: str) -> None:
    # A browser removes "." and ".." path segments before sending
    # (RFC 3986 section 5.2.4): such a channel could never be subscribed to.
    listener = Recorder().deliver
    for call in (
        hub.publish(name, "x"),
        hub.since(name, None),
        hub.latest_id(name),
        hub.subscribe(name, listener),
        hub.wait_since(name, None, 0),
    ):
        with pytest.raises(InvalidChannel) as info:
            await call
        assert info.value.status == 400
        assert "dot segment" in str(info.value)


@pytest.mark.parametrize("name", [".a", "a.", "..a", "a..b", "._", ".-.", "..:"])
def test_rfc3986_5_2_4_names_with_dots_and_more_are_channels(name: str) -> None:
    assert validate_channel(name) == name


async def test_idempotency_same_key_returns_the_original_event(hub: Hub) -> None:
    recorder = Recorder()
    await hub.subscribe("c", recorder.deliver)
    first = await hub.publish("c", "pay", idempotency_key="k-1")
    again = await hub.publish("c", "pay", idempotency_key="k-1")
    assert again is first
    assert recorder.data == ["pay"]  # delivered once
    assert (await hub.since("c", "0-0")).events == (first,)  # stored once
    other = await hub.publish("c", "pay", idempotency_key="k-2")
    elsewhere = await hub.publish("d", "pay", idempotency_key="k-1")  # keys are per channel
    assert len({first.id, other.id}) == 2 and elsewhere.channel == "d"
    assert recorder.data == ["pay", "pay"]


async def test_idempotency_key_is_forgotten_after_the_window(clock: Clock) -> None:
    hub = Hub(HubConfig(clock=clock, idempotency_window=300))
    first = await hub.publish("c", "x", idempotency_key="k")
    clock.now += 299.5
    assert (await hub.publish("c", "x", idempotency_key="k")).id == first.id
    clock.now += 1
    assert (await hub.publish("c", "x", idempotency_key="k")).id != first.id


async def test_idempotency_keys_are_bounded_oldest_forgotten_first(clock: Clock) -> None:
    hub = Hub(HubConfig(clock=clock, idempotency_keys=2))
    a = await hub.publish("c", "a", idempotency_key="a")
    b = await hub.publish("c", "b", idempotency_key="b")
    await hub.publish("c", "c", idempotency_key="c")  # pushes "a" out
    assert (await hub.publish("c", "b", idempotency_key="b")).id == b.id
    assert (await hub.publish("c", "a", idempotency_key="a")).id != a.id


async def test_idempotency_a_retry_while_a_block_subscriber_holds_the_first(hub: Hub) -> None:
    gate = asyncio.Event()
    got: list[str] = []

    async def slow(event: object) -> None:
        got.append("event")
        await gate.wait()

    await hub.subscribe("c", slow)
    first = asyncio.ensure_future(hub.publish("c", "x", idempotency_key="k"))
    while not got:  # bounded by the one publish in flight
        await asyncio.sleep(0)
    retry = await hub.publish("c", "x", idempotency_key="k")
    gate.set()
    assert (await first).id == retry.id and got == ["event"]


@pytest.mark.parametrize("key", ["", "a b", "é", "a\n", "k" * 257])
async def test_rfc9110_5_5_invalid_idempotency_keys_are_refused(hub: Hub, key: str) -> None:
    with pytest.raises(InvalidIdempotencyKey) as info:
        await hub.publish("c", "x", idempotency_key=key)
    assert info.value.status == 400
    assert await hub.latest_id("c") is None


async def test_channel_idle_ttl_drops_idle_channels_with_their_history(clock: Clock) -> None:
    hub = Hub(HubConfig(clock=clock, channel_idle_ttl=60))
    old = await hub.publish("idle", "x")
    await hub.publish("idle", "x2")
    sub = await hub.subscribe("watched", Recorder().deliver)
    await hub.publish("watched", "y")
    clock.now += 59
    await hub.publish("busy", "z")
    assert set(hub.backplane.history_stats()) == {"idle", "watched", "busy"}
    clock.now += 2
    # "idle" expired; a subscriber keeps "watched"; "busy" was used since.
    assert set(hub.backplane.history_stats()) == {"watched", "busy"}
    replay = await hub.since("idle", old.id)
    assert replay.gap and not replay.events  # "x2" is gone: never a silent loss
    sub.close()  # "watched" is idle from now on
    clock.now += 59
    assert set(hub.backplane.history_stats()) == {"watched"}
    clock.now += 2
    assert set(hub.backplane.history_stats()) == set()


async def test_channel_recreated_after_expiry_reports_a_gap_to_old_cursors(clock: Clock) -> None:
    hub = Hub(HubConfig(clock=clock, channel_idle_ttl=60))
    old = [await hub.publish("c", str(i)) for i in range(3)]
    clock.now += 61
    new = await hub.publish("c", "again")  # the sweep drops the old "c" first
    assert (await hub.since("c", old[0].id)).gap  # "1" and "2" are gone
    assert (await hub.since("c", old[-1].id)).events == (new,)  # nothing lost after it
    # A channel never published to resumes from the floor without a gap.
    head = (await hub.since("never", "1-1")).head
    assert head is not None
    replay = await hub.since("never", head)
    assert not replay.gap and not replay.events


async def test_channel_idle_ttl_none_keeps_channels(clock: Clock) -> None:
    hub = Hub(HubConfig(clock=clock, channel_idle_ttl=None))
    await hub.publish("c", "x")
    clock.now += 10**9
    assert set(hub.backplane.history_stats()) == {"c"}


async def test_max_channels_evicts_the_least_recently_used_idle_channel(clock: Clock) -> None:
    hub = Hub(HubConfig(clock=clock, max_channels=3))
    await hub.subscribe("kept", Recorder().deliver)
    await hub.publish("kept", "k")
    await hub.publish("a", "1")
    await hub.publish("b", "2")
    await hub.publish("a", "3")  # "b" is now the least recently used
    await hub.publish("new", "4")
    assert set(hub.backplane.history_stats()) == {"kept", "a", "new"}
    for name in ("x", "y", "z"):
        await hub.publish(name, "5")
    assert set(hub.backplane.history_stats()) == {"kept", "y", "z"}


async def test_max_channels_refuses_when_every_channel_has_a_subscriber(clock: Clock) -> None:
    backplane = MemoryBackplane(HubConfig(clock=clock, max_channels=2))
    hub = Hub(backplane.config, backplane)
    for name in ("a", "b"):
        await hub.subscribe(name, Recorder().deliver)
        await hub.publish(name, "x")
    with pytest.raises(TooManyChannels) as info:
        await hub.publish("c", "x")
    assert info.value.status == 503


async def test_ten_thousand_idle_channels_expire_and_new_ones_are_accepted(clock: Clock) -> None:
    hub = Hub(HubConfig(clock=clock, max_channels=10_000, channel_idle_ttl=3600))
    for i in range(10_000):
        await hub.publish(f"spam-{i}", "x")
    clock.now += 3601
    assert hub.backplane.history_stats() == {}
    assert hub.stats().channels == {}  # gone from /metrics as well
    await hub.publish("fresh", "y")
    assert set(hub.backplane.history_stats()) == {"fresh"}
    assert set(hub.stats().channels) == {"fresh"} and hub.stats().published == 1
