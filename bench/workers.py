"""``rawpush serve --workers N``: one worker against two, on Redis, through POST /publish.

Run: ``python bench/workers.py`` (N = 10,000 SSE subscribers; a few
minutes) or ``--subscribers 2000 --transports sse ws``; ``--loops uvloop``
runs the workers on uvloop.

Every scenario starts a fresh redis-server (no persistence) and a fresh
``rawpush serve --redis URL --workers W`` (W = 1, then 2; 1 worker on Redis
too, so that the only difference is the second process), then measures as
``fanout.py --publish http`` does: the same two load-client processes, a
latency phase at a fixed offered load and a burst. With two workers the
kernel spreads the subscribers over both (SO_REUSEPORT), each POST reaches
one of them, and every event goes through Redis to both workers' readers.

What two workers can show here: the machine has 2 cores for the workers,
the two load clients, redis-server and the publisher, so a second worker
takes CPU from the clients rather than from an idle core. Read the figures
as "what the group costs and allows on this box", not as a scaling curve.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from _common import Child, machine, raise_nofile
from _http_publish import Redis, Target, start_target
from fanout import CLIENTS, Result, fmt, http_scenario


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--transports", nargs="+", choices=["sse", "ws"], default=["sse"])
    parser.add_argument("--loops", nargs="+", choices=["asyncio", "uvloop"], default=["asyncio"])
    parser.add_argument("--load", type=float, default=50_000)
    args = parser.parse_args()
    limit = raise_nofile()
    started = time.monotonic()
    print(f"workers: {machine()}; open files {limit}")
    print(
        f"rawpush serve --redis, {CLIENTS} load-client processes, redis-server and the "
        f"publisher all on the machine's {os.cpu_count()} cores"
    )
    clients = [await Child.start("client") for _ in range(CLIENTS)]
    results: list[Result] = []
    try:
        for n in args.subscribers:
            for transport in args.transports:
                for loop in args.loops:
                    for count in args.workers:
                        redis = Redis()
                        url = await redis.start()

                        async def start(
                            count: int = count, loop: str = loop, url: str = url
                        ) -> Target:
                            return await start_target(
                                "rawpush", loop=loop, workers=count, redis=url
                            )

                        t = time.monotonic()
                        try:
                            r = await http_scenario(
                                start, transport, n, clients, load=args.load,
                                rate_seconds=6.0, burst_deliveries=300_000,
                            )  # fmt: skip
                        finally:
                            await redis.stop()
                        results.append(r)
                        print(
                            f"  {transport} N={n} {r.server}: {r.events_per_s:,.0f} "
                            f"delivered/s, p50 {fmt(r.p50_ms)} ms, p99 {fmt(r.p99_ms)} ms "
                            f"({time.monotonic() - t:.0f} s)",
                            flush=True,
                        )
    finally:
        for c in clients:
            await c.stop()
    print()
    header = (
        f"{'transport':<4} {'N':>6} {'server':<24} {'got %':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'p99.9 ms':>8} {'pub p99':>8} | {'burst got %':>11} {'delivered/s':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.transport:<4} {r.subscribers:>6} {r.server:<24} {100 * r.rate_delivered:>6.1f} "
            f"{fmt(r.p50_ms):>8} {fmt(r.p99_ms):>8} {fmt(r.p999_ms):>8} "
            f"{fmt(r.publish_p99_ms):>8} | {100 * r.burst_delivered:>11.1f} "
            f"{r.events_per_s:>12,.0f}" + (f"  ({r.note})" if r.note else "")
        )
    print(f"\ntotal time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
