"""The bounded subscriber queue and its three overflow policies.

These drive the Outbox directly with a recording writer; the end-to-end
behaviour over real sockets (a stalled reader next to a healthy one) is
tested in test_server_backpressure.py.
"""

from __future__ import annotations

import asyncio

from rawpush.server.config import OverflowPolicy
from rawpush.server.metrics import Metrics
from rawpush.server.outbox import Outbox


class Sink:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.overflowed = 0

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def overflow(self) -> None:
        self.overflowed += 1


def make(
    policy: OverflowPolicy, *, max_bytes: int = 100, max_messages: int = 3
) -> tuple[Sink, Outbox[bytes]]:
    sink = Sink()
    box = Outbox(
        sink.write,
        max_bytes=max_bytes,
        max_messages=max_messages,
        policy=policy,
        on_overflow=sink.overflow,
        gap_notice=b"GAP",
    )
    return sink, box


def test_unpaused_writes_go_straight_through() -> None:
    sink, box = make(OverflowPolicy.DISCONNECT)
    assert box.put(b"a") is None
    assert sink.written == [b"a"]
    assert len(box) == 0


def test_paused_queues_then_flushes_in_order_on_resume() -> None:
    sink, box = make(OverflowPolicy.DISCONNECT)
    box.pause()
    for item in (b"1", b"2", b"3"):
        box.put(item)
    assert sink.written == []
    assert (len(box), box.queued_bytes) == (3, 3)
    box.resume()
    assert sink.written == [b"1", b"2", b"3"]
    assert (len(box), box.queued_bytes) == (0, 0)


def test_disconnect_policy_on_message_bound() -> None:
    sink, box = make(OverflowPolicy.DISCONNECT, max_messages=2)
    box.pause()
    box.put(b"1")
    box.put(b"2")
    assert sink.overflowed == 0
    box.put(b"3")
    assert sink.overflowed == 1
    assert box.closed and len(box) == 0
    box.put(b"4")  # after close: ignored, no second overflow
    box.resume()
    assert sink.written == [] and sink.overflowed == 1


def test_disconnect_policy_on_byte_bound() -> None:
    sink, box = make(OverflowPolicy.DISCONNECT, max_bytes=10, max_messages=100)
    box.pause()
    box.put(b"x" * 10)
    assert sink.overflowed == 0
    box.put(b"y")
    assert sink.overflowed == 1


def test_drop_oldest_keeps_newest_and_announces_gap_once() -> None:
    sink, box = make(OverflowPolicy.DROP_OLDEST, max_messages=2)
    box.pause()
    for item in (b"1", b"2", b"3", b"4"):
        box.put(item)
    assert box.dropped == 2
    assert sink.overflowed == 0
    box.resume()
    assert sink.written == [b"GAP", b"3", b"4"]
    box.put(b"5")
    assert sink.written[-1] == b"5"


def test_drop_oldest_keeps_a_single_oversized_event() -> None:
    sink, box = make(OverflowPolicy.DROP_OLDEST, max_bytes=4)
    box.pause()
    box.put(b"12")
    box.put(b"123456")
    box.resume()
    assert sink.written == [b"GAP", b"123456"]


def test_resume_stops_when_the_transport_pauses_again() -> None:
    sink, box = make(OverflowPolicy.DISCONNECT, max_messages=10)

    def write(data: bytes) -> None:
        sink.written.append(data)
        box.pause()  # as asyncio does from inside transport.write()

    box._write = write
    box.pause()
    box.put(b"1")
    box.put(b"2")
    box.resume()
    assert sink.written == [b"1"]
    box.resume()
    assert sink.written == [b"1", b"2"]


async def test_block_policy_returns_a_waiter_released_on_drain() -> None:
    sink, box = make(OverflowPolicy.BLOCK, max_messages=1)
    box.pause()
    assert box.put(b"1") is None
    waiter = box.put(b"2")
    assert waiter is not None and not waiter.done()
    box.resume()
    await asyncio.wait_for(waiter, 1)
    assert sink.written == [b"1", b"2"]
    assert sink.overflowed == 0


async def test_block_policy_waiter_released_on_close() -> None:
    _, box = make(OverflowPolicy.BLOCK, max_messages=1)
    box.pause()
    box.put(b"1")
    waiter = box.put(b"2")
    assert waiter is not None
    box.close()
    await asyncio.wait_for(waiter, 1)


def test_the_queue_exists_only_while_something_waits() -> None:
    # An empty deque is ~760 B: an idle subscriber must not carry one.
    sink, box = make(OverflowPolicy.DISCONNECT)
    box.put(b"now")
    assert box._queue is None and len(box) == 0
    box.pause()
    box.put(b"1")
    assert box._queue is not None and len(box) == 1
    box.resume()
    assert box._queue is None and len(box) == 0
    assert sink.written == [b"now", b"1"]


def test_metrics_render_prometheus_text() -> None:
    metrics = Metrics()
    metrics.inc("rawpush_messages_out_total", (("transport", "ws"),), 2)
    metrics.inc("rawpush_messages_out_total", (("transport", "ws"),))
    metrics.set("rawpush_connections", (("transport", "sse"),), 1.5)
    metrics.add_collector(lambda: [("rawpush_queue_bytes", (("transport", 'a"b'),), 7)])
    text = metrics.render()
    assert 'rawpush_messages_out_total{transport="ws"} 3\n' in text
    assert 'rawpush_connections{transport="sse"} 1.5\n' in text
    assert 'rawpush_queue_bytes{transport="a\\"b"} 7\n' in text
    assert "# TYPE rawpush_messages_out_total counter\n" in text
    assert metrics.get("rawpush_messages_out_total", (("transport", "ws"),)) == 3
    assert metrics.get("nothing") == 0


def test_metrics_folders_run_before_render_and_get() -> None:
    # Per-connection counts are kept as plain ints and folded in on reading.
    metrics = Metrics()
    pending = {"n": 2}

    def fold() -> None:
        if pending["n"]:
            metrics.inc("rawpush_bytes_out_total", (("transport", "sse"),), pending["n"])
            pending["n"] = 0

    metrics.add_folder(fold)
    assert metrics.get("rawpush_bytes_out_total", (("transport", "sse"),)) == 2
    pending["n"] = 3
    assert 'rawpush_bytes_out_total{transport="sse"} 5\n' in metrics.render()
