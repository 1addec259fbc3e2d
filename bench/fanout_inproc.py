"""Fan-out cost per delivery, in process: the server's own per-event path
without the network or the load clients.

``fanout.py`` measures the whole system across processes, which on a
shared 2-core machine swings by tens of percent between runs. This one
keeps only what the server does per delivered event: N subscriber
connections (the real HTTP/1.1 host, sessions and outboxes) on transports
that accept every write at once, one publish at a time through the hub,
and the best of several rounds. Run it on two trees to compare them::

    PYTHONPATH=. python bench/fanout_inproc.py
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from rawpush.hub import Hub
from rawpush.server.app import _index_html
from rawpush.server.config import ServerConfig
from rawpush.server.context import Context
from rawpush.server.metrics import Metrics
from rawpush.server.protocol import HTTPProtocol

_WS_REQUEST = (
    b"GET /ws/bench HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
_SSE_REQUEST = b"GET /sse/bench HTTP/1.1\r\nHost: x\r\n\r\n"


class Sink(asyncio.Transport):
    """A transport whose socket takes everything at once."""

    def __init__(self) -> None:
        super().__init__()
        self.written = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True

    def can_write_eof(self) -> bool:
        return False


async def run(transport: str, n: int, events: int, rounds: int) -> float:
    """Best nanoseconds per delivered event over ``rounds``."""
    hub = Hub()
    ctx = Context(ServerConfig(), hub, Metrics(), _index_html())
    sinks = []
    request = _WS_REQUEST if transport == "ws" else _SSE_REQUEST
    for _ in range(n):
        proto = HTTPProtocol(ctx)
        sink = Sink()
        proto.connection_made(sink)
        proto.data_received(request)
        sinks.append(sink)
    while hub.stats().subscribers < n:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    data = "x" * 200
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(events):
            await hub.publish("bench", data)
        await hub.delivery.idle()  # the fan-out goes on in slices after publish returns
        elapsed = time.perf_counter() - started
        best = min(best, elapsed / (events * n) * 1e9)
    for sink in sinks:
        sink.closing = True
    await hub.close()
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    for transport in ("sse", "ws"):
        ns = await run(transport, args.subscribers, args.events, args.rounds)
        print(f"{transport}: {ns:,.0f} ns per delivery ({1e9 / ns:,.0f} deliveries/s), "
              f"{args.subscribers} subscribers, best of {args.rounds} rounds")


if __name__ == "__main__":
    asyncio.run(main())
