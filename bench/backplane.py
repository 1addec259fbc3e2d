"""Backplanes side by side: the in-memory hub against 1, 2 and 3 nodes on Redis.

Run: ``python bench/backplane.py`` (about 30 s; needs ``redis-server`` on
PATH and redis-py; starts its own Redis on a free port, without
persistence, and stops it at the end).

A "node" is a ``Hub`` with its own ``RedisBackplane`` (own connection
pool, own blocking reader), as one ``rawpush serve --redis`` process has.
All nodes run in this one process, on one event loop, so the Redis rows
pay for every node's reader on the same core: read them as a lower bound
on what separate processes on separate cores would do. Redis itself runs
in its own process.

Two phases per setup, each node with ``SUBSCRIBERS`` listeners on one
channel:

- throughput: ``PUBLISHERS`` concurrent publishers send ``EVENTS`` events
  round-robin over the nodes, back to back; delivered events per second
  is (events x subscribers on all nodes) / time until the last delivery;
- latency: one event every ``PACE`` seconds for ``LATENCY_SECONDS``;
  publish-to-receive latency (from just before ``publish`` to the
  listener call on each node) at p50 and p99 over every delivery.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from rawpush.hub import Hub, HubConfig, HubEvent

SUBSCRIBERS = 10  # per node
PUBLISHERS = 8
EVENTS = {"memory": 20_000, "redis": 4_000}
PACE = 0.002
LATENCY_SECONDS = 1.5
CHANNEL = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        ["redis-server", *args, "--dir", directory],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise SystemExit("redis-server did not start")


class Counter:
    """Counts deliveries; records latencies while ``sampling``."""

    def __init__(self) -> None:
        self.delivered = 0
        self.latencies: list[float] = []
        self.sampling = False
        self.done = asyncio.Event()
        self.target = 0

    def listener(self) -> Callable[[HubEvent], None]:
        def deliver(event: HubEvent) -> None:
            self.delivered += 1
            if self.sampling:
                self.latencies.append(time.perf_counter() - float(event.data))
            if self.delivered == self.target:
                self.done.set()

        return deliver


Row = tuple[str, float, float, float, float]


async def run(name: str, hubs: list[Hub], events: int) -> Row:
    counter = Counter()
    subs = [
        await hub.subscribe(CHANNEL, counter.listener())
        for hub in hubs
        for _ in range(SUBSCRIBERS)
    ]
    await asyncio.sleep(0.2)  # every reader now blocks on the channel
    per_event = len(subs)

    # Throughput: back to back, round-robin over the nodes.
    counter.target = events * per_event
    next_event = iter(range(events))

    async def publisher() -> None:
        for i in next_event:
            await hubs[i % len(hubs)].publish(CHANNEL, repr(time.perf_counter()))

    start = time.perf_counter()
    await asyncio.gather(*(publisher() for _ in range(PUBLISHERS)))
    await asyncio.wait_for(counter.done.wait(), 60)
    rate = counter.delivered / (time.perf_counter() - start)

    # Latency: paced, so it measures the path and not a queue.
    counter.delivered, counter.target = 0, -1
    counter.sampling = True
    deadline = time.perf_counter() + LATENCY_SECONDS
    sent = 0
    while time.perf_counter() < deadline:
        await hubs[sent % len(hubs)].publish(CHANNEL, repr(time.perf_counter()))
        sent += 1
        await asyncio.sleep(PACE)
    for _ in range(200):
        if counter.delivered >= sent * per_event:
            break
        await asyncio.sleep(0.01)
    for sub in subs:
        sub.close()
    lat = sorted(counter.latencies)
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    return name, rate / per_event, rate, p50, p99


async def main() -> None:
    if shutil.which("redis-server") is None:
        raise SystemExit("needs redis-server on PATH (apt-get install redis-server)")
    from rawpush.hub.redis import RedisBackplane

    rows: list[Row] = []
    memory = Hub(HubConfig())
    rows.append(await run("memory, 1 process", [memory], EVENTS["memory"]))
    await memory.close()
    with tempfile.TemporaryDirectory() as directory:
        process, url = start_redis(directory)
        try:
            for count in (1, 2, 3):
                config = HubConfig()
                hubs = [
                    Hub(config, RedisBackplane(url, config=config, prefix=f"bench{count}"))
                    for _ in range(count)
                ]
                label = f"redis, {count} node{'s' if count > 1 else ''}"
                rows.append(await run(label, hubs, EVENTS["redis"]))
                for hub in hubs:
                    await hub.close()
        finally:
            process.kill()
            process.wait()
    print(
        f"{SUBSCRIBERS} subscribers per node, {PUBLISHERS} publishers; "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cpus"
    )
    print(f"{'setup':<20} {'published/s':>12} {'delivered/s':>12} {'p50 ms':>8} {'p99 ms':>8}")
    for name, published, delivered, p50, p99 in rows:
        print(f"{name:<20} {published:>12,.0f} {delivered:>12,.0f} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    asyncio.run(main())
