"""Write coalescing on rawpush.asgi's SSE streams
(``ServerConfig.write_coalesce_window``), driven in process.

The coalescing clock's timer is taken over here (``Ticks``): a test fires
the tick itself when it wants the window to end, so nothing waits on the
wall clock and every assertion is about which messages went out, never
how fast.

- the ``Sender`` alone: with no window each write is its own message; with
  one, the writes of a window are one message, in order, each byte once;
  the window is bounded (one timer of exactly the window per loop, its tick
  releases every stream armed in it) and so is the size (half the high
  watermark pending sends at once); a message that is not a body, the end
  and a drop never wait;
- ``App``: a coalesced SSE stream carries every event in order exactly once
  (WHATWG HTML 9.2.6: the client sees the same events however the bytes are
  cut), the default sends each event at once, and the overflow policies
  (drop-oldest's gap notice, disconnect) still apply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from rawpush import Hub, ServerConfig
from rawpush.asgi import App, sender
from rawpush.asgi.scope import Message
from rawpush.asgi.sender import Sender
from rawpush.proto.sse import Decoder, Event
from rawpush.server.config import ConfigError

WAIT = 10.0
BODY = "http.response.body"


class Ticks:
    """The coalescing clock's timers on the running loop, held for the test
    to fire (``fire``) instead of the loop; every other timer runs as usual."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.delays: list[float] = []
        self._due: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._call_later = loop.call_later

    def call_later(
        self, delay: float, callback: Callable[..., None], *args: Any, **kw: Any
    ) -> asyncio.TimerHandle:
        if callback is not sender._ticked:
            return self._call_later(delay, callback, *args, **kw)
        self.delays.append(delay)
        self._due.append((callback, args))
        # A handle nobody runs: the test fires the tick.
        return asyncio.TimerHandle(self.loop.time() + delay, callback, args, self.loop)

    @property
    def pending(self) -> int:
        return len(self._due)

    async def fire(self) -> None:
        """End every window now, then let the released senders run."""
        due, self._due = self._due, []
        for callback, args in due:
            callback(*args)
        await settle()


@pytest.fixture
async def ticks(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Ticks]:
    loop = asyncio.get_running_loop()
    held = Ticks(loop)
    monkeypatch.setattr(loop, "call_later", held.call_later)
    yield held
    # A test that ends with a window open leaves no stream behind.
    sender._CLOCKS.clear()


async def settle() -> None:
    """Let every ready task run until the loop has nothing left to do now
    (bounded: a fixed number of passes, far more than any test needs)."""
    for _ in range(50):
        await asyncio.sleep(0)


class Recorder:
    """An ASGI ``send`` that records every message; ``stall`` holds body
    sends (a reader that stopped) until it is set."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.stall: asyncio.Event | None = None
        self.seen = asyncio.Condition()

    async def send(self, message: Message) -> None:
        async with self.seen:
            self.sent.append(message)
            self.seen.notify_all()
        if self.stall is not None and message["type"] == BODY:
            await self.stall.wait()

    async def until(self, test: Callable[[list[Message]], bool]) -> None:
        async with asyncio.timeout(WAIT), self.seen:
            await self.seen.wait_for(lambda: test(self.sent))

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.sent if m["type"] == BODY and m["body"]]


async def started(send: Recorder, coalesce: float, high: int = 64 * 1024) -> Sender:
    out = Sender(send.send, high, high // 4, coalesce)
    out.start()
    await settle()  # the task waits for work
    return out


# -- the Sender ---------------------------------------------------------------------


async def test_default_zero_sends_each_write_as_its_own_message(ticks: Ticks) -> None:
    send = Recorder()
    out = await started(send, 0.0)
    for part in (b"a", b"b", b"c"):
        out.put_body(part)
    await settle()
    assert send.sent == [
        {"type": BODY, "body": part, "more_body": True} for part in (b"a", b"b", b"c")
    ]
    assert ticks.pending == 0 and out.buffered == 0 and out.sent == 3
    out.finish()


async def test_default_zero_keeps_writes_queued_during_a_send_apart(ticks: Ticks) -> None:
    send = Recorder()
    send.stall = asyncio.Event()
    out = await started(send, 0.0)
    out.put_body(b"first")
    await send.until(lambda sent: len(sent) == 1)
    out.put_body(b"a")
    out.put_body(b"b")
    send.stall.set()
    await send.until(lambda sent: len(sent) == 3)
    assert send.bodies() == [b"first", b"a", b"b"]


async def test_a_window_joins_its_writes_in_order_each_once(ticks: Ticks) -> None:
    send = Recorder()
    out = await started(send, 0.25)
    parts = [f"{i}:".encode() for i in range(100)]
    for part in parts:
        out.put_body(part)
    await settle()
    assert send.sent == []  # the window is open
    assert out.buffered == sum(map(len, parts))
    await ticks.fire()
    assert send.sent == [{"type": BODY, "body": b"".join(parts), "more_body": True}]
    assert out.buffered == 0 and out.sent == sum(map(len, parts))
    # The next write opens the next window.
    out.put_body(b"next")
    await settle()
    assert len(send.sent) == 1 and ticks.pending == 1
    await ticks.fire()
    assert send.bodies() == [b"".join(parts), b"next"]


async def test_the_window_is_one_timer_per_loop_of_exactly_the_window(ticks: Ticks) -> None:
    sends = [Recorder() for _ in range(3)]
    outs = [await started(send, 0.02) for send in sends]
    for out in outs:
        out.put_body(b"x")
        out.put_body(b"y")
    assert ticks.delays == [0.02]  # every stream armed in it shares one tick
    await ticks.fire()
    assert [send.bodies() for send in sends] == [[b"xy"]] * 3


async def test_a_stream_released_early_and_armed_again_waits_for_the_same_tick(
    ticks: Ticks,
) -> None:
    send = Recorder()
    out = await started(send, 0.25, high=100)
    out.put_body(b"a")  # armed on the pending tick
    out.put_body(b"b" * 60)  # past half the high watermark: released at once
    await settle()
    assert send.bodies() == [b"a" + b"b" * 60]
    out.put_body(b"c")  # armed again: on the same tick, so never past the window
    await settle()
    assert ticks.pending == 1 and len(send.sent) == 1
    await ticks.fire()
    assert send.bodies() == [b"a" + b"b" * 60, b"c"]  # released once, by its own arming


async def test_half_the_high_watermark_pending_is_sent_without_waiting(ticks: Ticks) -> None:
    send = Recorder()
    out = await started(send, 0.25, high=1000)
    out.put_body(b"x" * 499)
    await settle()
    assert send.sent == []
    out.put_body(b"y")
    await settle()
    assert send.bodies() == [b"x" * 499 + b"y"]


async def test_writes_queued_during_a_send_join_the_next_message(ticks: Ticks) -> None:
    send = Recorder()
    send.stall = asyncio.Event()
    out = await started(send, 0.25, high=100)
    out.put_body(b"s" * 60)  # sent at once (over half of 100), then stalls
    await send.until(lambda sent: len(sent) == 1)
    out.put_body(b"a")
    out.put_body(b"b")
    send.stall.set()
    await send.until(lambda sent: len(sent) == 2)
    assert send.bodies() == [b"s" * 60, b"ab"]


async def test_a_message_that_is_not_a_body_does_not_wait(ticks: Ticks) -> None:
    send = Recorder()
    out = await started(send, 0.25)
    out.put_body(b"early")
    out.put({"type": "http.response.start", "status": 200, "headers": []})
    await settle()
    # The head released the window: the write before it goes first, alone.
    assert [m["type"] for m in send.sent] == [BODY, "http.response.start"]
    assert send.bodies() == [b"early"]


async def test_finish_sends_what_waits_then_the_last_message(ticks: Ticks) -> None:
    send = Recorder()
    out = Sender(send.send, 64 * 1024, 16 * 1024, 0.25)
    task = out.start()
    await settle()
    out.put_body(b"a")
    out.put_body(b"b")
    last: Message = {"type": BODY, "body": b"", "more_body": False}
    out.finish(last)
    async with asyncio.timeout(WAIT):
        await task
    assert send.sent == [{"type": BODY, "body": b"ab", "more_body": True}, last]


async def test_a_drop_in_the_window_sends_nothing_and_the_tick_is_harmless(
    ticks: Ticks,
) -> None:
    send = Recorder()
    out = await started(send, 0.25)
    out.put_body(b"a")
    out.drop()
    await ticks.fire()
    assert send.sent == [] and out.buffered == 0
    out.put_body(b"late")  # ignored once closing
    assert out.buffered == 0


async def test_watermarks_pause_and_resume_a_coalesced_stream(ticks: Ticks) -> None:
    send = Recorder()
    send.stall = asyncio.Event()
    out = await started(send, 0.25, high=100)
    calls: list[str] = []
    out.on_pause = lambda: calls.append("pause")
    out.on_resume = lambda: calls.append("resume")
    out.put_body(b"s" * 60)  # sent at once, then the send stalls
    await send.until(lambda sent: len(sent) == 1)
    out.put_body(b"x" * 50)  # 110 bytes held: over the high watermark
    assert calls == ["pause"]
    send.stall.set()
    await send.until(lambda sent: len(sent) == 2)
    await settle()
    assert calls == ["pause", "resume"] and out.buffered == 0


# -- the config ---------------------------------------------------------------------


@pytest.mark.parametrize("window", [-0.001, 1.5, float("nan"), True, "0.01"])
def test_the_window_is_checked_when_the_config_is_made(window: Any) -> None:
    with pytest.raises(ConfigError, match="write_coalesce_window"):
        ServerConfig(write_coalesce_window=window)


def test_the_window_is_off_by_default() -> None:
    assert ServerConfig().write_coalesce_window == 0.0
    assert ServerConfig(write_coalesce_window=1).write_coalesce_window == 1


# -- App: the stream a client reads ----------------------------------------------------


def sse_scope(channel: str) -> dict[str, Any]:
    path = f"/sse/{channel}"
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "http_version": "1.1",
    }


class Call:
    """One SSE request to ``app``, the test playing its ASGI server."""

    def __init__(self, app: App, channel: str) -> None:
        self.peer = Recorder()
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.inbox.put_nowait({"type": "http.request"})
        self.task = asyncio.ensure_future(app(sse_scope(channel), self.inbox.get, self.peer.send))

    async def opened(self) -> None:
        await self.peer.until(lambda sent: any(m["type"] == "http.response.start" for m in sent))
        await settle()

    def events(self) -> list[Event]:
        return Decoder().feed(b"".join(self.peer.bodies()))

    async def leave(self) -> None:
        self.inbox.put_nowait({"type": "http.disconnect"})
        async with asyncio.timeout(WAIT):
            await self.task


def app_with(**fields: Any) -> tuple[Hub, App]:
    config = ServerConfig(sse_heartbeat_interval=3600.0, **fields)
    hub = Hub(config.hub)
    return hub, App(hub, config, drain_on_signal=False)


async def test_9_2_6_coalesced_stream_carries_every_event_in_order_once(ticks: Ticks) -> None:
    hub, app = app_with(write_coalesce_window=0.05)
    call = Call(app, "c")
    await call.opened()
    sent_ids = []
    for round_no in range(3):
        for i in range(20):
            sent_ids.append((await hub.publish("c", f"{round_no}-{i}")).id)
        await settle()
        assert len(call.peer.bodies()) == round_no  # held for the window
        await ticks.fire()
        assert len(call.peer.bodies()) == round_no + 1  # one message per window
    events = call.events()
    assert [e.data for e in events] == [f"{r}-{i}" for r in range(3) for i in range(20)]
    assert [e.id for e in events] == sent_ids
    await call.leave()
    await hub.close()


async def test_9_2_6_default_sends_each_event_as_it_is_published(ticks: Ticks) -> None:
    hub, app = app_with()
    call = Call(app, "d")
    await call.opened()
    for i in range(5):
        await hub.publish("d", f"e{i}")
        await settle()
        assert len(call.peer.bodies()) == i + 1  # out before the next publish
    assert [e.data for e in call.events()] == [f"e{i}" for i in range(5)]
    assert ticks.delays == []  # no window, no clock
    await call.leave()
    await hub.close()


async def test_drop_oldest_still_tells_a_coalesced_reader_of_its_gap(ticks: Ticks) -> None:
    hub, app = app_with(
        write_coalesce_window=0.05,
        overflow="drop-oldest",
        write_high_water=2048,
        write_low_water=512,
        queue_max_messages=4,
    )
    call = Call(app, "g")
    call.peer.stall = asyncio.Event()
    await call.opened()
    for i in range(30):  # 1 KiB events: the window fills, the send stalls, the outbox drops
        await hub.publish("g", f"{i:02d}" + "x" * 1022)
        await settle()
    call.peer.stall.set()
    await settle()
    await ticks.fire()
    events = call.events()
    names = [e.event for e in events]
    assert "gap" in names
    datas = [int(e.data[:2]) for e in events if e.event != "gap"]
    assert datas == sorted(set(datas))  # in order, none twice
    assert datas[-1] == 29  # the newest got through
    assert len(datas) < 30  # some were dropped, and said so
    await call.leave()
    await hub.close()


async def test_disconnect_still_ends_a_coalesced_stream_that_overflows(ticks: Ticks) -> None:
    hub, app = app_with(
        write_coalesce_window=0.05,
        write_high_water=2048,
        write_low_water=512,
        queue_max_bytes=8192,
    )
    call = Call(app, "o")
    call.peer.stall = asyncio.Event()
    await call.opened()
    for _ in range(100):  # bounded: 2 KiB held, then 8 KiB queued, overflow
        if call.task.done():
            break
        await hub.publish("o", "x" * 1024)
        await settle()
    async with asyncio.timeout(WAIT):
        await call.task
    assert 'rawpush_disconnects_total{reason="overflow"} 1' in app.metrics.render()
    assert hub.stats().channels["o"].subscribers == 0
    await hub.close()
