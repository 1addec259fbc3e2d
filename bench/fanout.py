"""Fan-out: one publisher, N subscribers on loopback, rawpush against peers.

Run: ``python bench/fanout.py`` (N = 1,000 and 10,000; under 10 minutes) or
``python bench/fanout.py --quick`` (N = 1,000, smaller phases; about a
minute); ``--subscribers 2000 5000`` picks other sizes.

Scenarios per N, each with a fresh server process:

- SSE: rawpush ``GET /sse/bench`` against sse-starlette under uvicorn
  (``EventSourceResponse`` fed by a per-subscriber ``asyncio.Queue``);
- WebSocket: rawpush ``GET /ws/bench`` against the ``websockets`` asyncio
  server (``broadcast``).

``--publish http`` (the default): events go through each server's network
publish endpoint from the benchmark's own process (rawpush: ``POST
/publish`` to the real ``rawpush serve``, once per ``--loops`` entry,
asyncio and uvloop; see ``_http_publish.py``), and p99.9 and the publish
answer's own p99 are reported too, and during the burst a bystander's
``GET /healthz`` (a new connection every 5 ms): how long a request that
has nothing to do with the fan-out waits behind it. ``--publish inproc``: the publisher
runs inside the server process, through each server's Python API
(``_common.py``), as in the first measurements.

The server runs alone in its process; the N connections are split over two
load-client processes (lean asyncio Protocols, see ``_common.py``). Each
scenario has two phases, each bounded by a hard time limit:

1. **latency**: events of 200 B published at a fixed rate chosen so that
   every N gets the same offered load (``--load`` deliveries/s, default
   50,000: 50 events/s to 1,000 subscribers, 5/s to 10,000). p50/p99 of
   publish-to-receive time, measured on 200 sampled connections from the
   ``time.time_ns()`` the publisher put in each event.
2. **throughput**: a burst of events published back to back (yielding to
   the event loop between two); delivered events/s = events received by all
   subscribers / (last arrival - first publish).

Both sides share one machine: with 2 cores the server gets about one and the
clients the other, so the clients' reading speed bounds what can be seen.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from _common import Child, machine, payload, percentile, raise_nofile, start_server
from _http_publish import Publisher, Target, bystander, start_target

CLIENTS = 2
SAMPLED = 200  # connections that parse latencies, out of N


@dataclass
class Result:
    server: str
    transport: str
    subscribers: int
    connected: int = 0
    rate_events: int = 0
    rate: float = 0.0
    rate_delivered: float = 0.0  # fraction of rate-phase deliveries seen in time
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    p999_ms: float = float("nan")
    publish_p99_ms: float = float("nan")  # the publisher's wait for each answer
    healthz_p99_ms: float = float("nan")  # a bystander's GET /healthz, during the burst
    healthz_max_ms: float = float("nan")
    burst_events: int = 0
    burst_delivered: float = 0.0
    events_per_s: float = 0.0
    burst_p99_ms: float = float("nan")
    note: str = ""


async def ask_all(clients: list[Child], command: str, timeout: float = 120.0) -> list[str]:
    return list(await asyncio.gather(*(c.ask(command, timeout) for c in clients)))


async def phase(
    server: Child, clients: list[Child], *, events: int, rate: float, expected: int, limit: float
) -> tuple[int, int, int, list[int]]:
    """Publish ``events`` at ``rate`` (0: burst); return (received, t0, last, latencies)."""
    await ask_all(clients, "RESET")
    # Per client: wait for its share of the deliveries, or the hard limit.
    per_client = [expected // len(clients)] * len(clients)
    per_client[0] += expected - sum(per_client)
    waits = [
        asyncio.ensure_future(c.ask(f"WAIT {share * events} {limit}", limit + 60))
        for c, share in zip(clients, per_client, strict=True)
    ]
    published = await server.ask(f"PUBLISH {events} {rate}", limit + 60)
    t0 = int(published.split()[1])
    received, last = 0, 0
    latencies: list[int] = []
    for line in await asyncio.gather(*waits):
        fields = line.split()
        received += int(fields[1])
        last = max(last, int(fields[2]))
        latencies.extend(map(int, fields[4:]))
    # A server that fell behind is still sending: let it finish (bounded)
    # before the next phase, so its backlog is not counted there.
    await ask_all(clients, "QUIET 0.5 15", 30)
    return received, t0, last, latencies


async def http_phase(
    publisher: Publisher,
    clients: list[Child],
    *,
    events: int,
    rate: float,
    expected: int,
    limit: float,
    probe_port: int = 0,
) -> tuple[int, int, int, list[int], list[int], list[int]]:
    """``phase`` through a network publisher: also each answer's wait and,
    with ``probe_port``, a bystander's ``/healthz`` waits (us)."""
    await ask_all(clients, "RESET")
    stop = asyncio.Event()
    probe = asyncio.ensure_future(bystander(probe_port, stop)) if probe_port else None
    per_client = [expected // len(clients)] * len(clients)
    per_client[0] += expected - sum(per_client)
    waits = [
        asyncio.ensure_future(c.ask(f"WAIT {share * events} {limit}", limit + 60))
        for c, share in zip(clients, per_client, strict=True)
    ]
    loop = asyncio.get_running_loop()
    start = loop.time()
    t0 = time.time_ns()
    answers: list[int] = []
    for i in range(events):
        if rate > 0:
            await asyncio.sleep(max(0.0, start + i / rate - loop.time()))
        sent = time.perf_counter_ns()
        await publisher.publish(payload())
        answers.append((time.perf_counter_ns() - sent) // 1000)
    received, last = 0, 0
    latencies: list[int] = []
    for line in await asyncio.gather(*waits):
        fields = line.split()
        received += int(fields[1])
        last = max(last, int(fields[2]))
        latencies.extend(map(int, fields[4:]))
    stop.set()
    healthz = await probe if probe is not None else []
    await ask_all(clients, "QUIET 0.5 15", 30)
    return received, t0, last, latencies, answers, healthz


async def http_scenario(
    start: Callable[[], Awaitable[Target]],
    transport: str,
    n: int,
    clients: list[Child],
    *,
    load: float,
    rate_seconds: float,
    burst_deliveries: int,
) -> Result:
    """One server under test, published to over the network (``--publish http``)."""
    target = await start()
    result = Result(target.kind, transport, n)
    try:
        shares = [n // len(clients)] * len(clients)
        shares[0] += n - sum(shares)
        sample_every = max(1, n // SAMPLED)
        opened = await asyncio.gather(
            *(
                c.ask(f"OPEN {transport} {target.port} {share} {sample_every}", 180)
                for c, share in zip(clients, shares, strict=True)
            )
        )
        result.connected = sum(int(line.split()[1]) for line in opened)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if await target.count() >= result.connected:
                break
            await asyncio.sleep(0.2)
        if result.connected < n:
            result.note = f"only {result.connected}/{n} connected"
        expected = result.connected
        if expected == 0:
            return result
        publisher = await target.publisher()
        try:
            result.rate = load / n
            result.rate_events = max(10, round(result.rate * rate_seconds))
            limit = result.rate_events / result.rate + 10
            received, _t0, _last, lat, answers, _ = await http_phase(
                publisher, clients, events=result.rate_events, rate=result.rate,
                expected=expected, limit=limit,
            )  # fmt: skip
            result.rate_delivered = received / (expected * result.rate_events)
            lat.sort()
            answers.sort()
            result.p50_ms = percentile(lat, 0.50) / 1000
            result.p99_ms = percentile(lat, 0.99) / 1000
            result.p999_ms = percentile(lat, 0.999) / 1000
            result.publish_p99_ms = percentile(answers, 0.99) / 1000
            result.burst_events = max(10, burst_deliveries // n)
            received, t0, last, lat, _, healthz = await http_phase(
                publisher, clients, events=result.burst_events, rate=0,
                expected=expected, limit=25.0, probe_port=target.port,
            )  # fmt: skip
            healthz.sort()
            result.healthz_p99_ms = percentile(healthz, 0.99) / 1000
            result.healthz_max_ms = healthz[-1] / 1000 if healthz else float("nan")
            result.burst_delivered = received / (expected * result.burst_events)
            if last > t0:
                result.events_per_s = received / ((last - t0) / 1e9)
            lat.sort()
            result.burst_p99_ms = percentile(lat, 0.99) / 1000
        finally:
            await publisher.close()
    finally:
        await ask_all(clients, "CLOSE", 60)
        await target.stop()
    return result


async def scenario(
    server_kind: str,
    transport: str,
    n: int,
    clients: list[Child],
    *,
    load: float,
    rate_seconds: float,
    burst_deliveries: int,
) -> Result:
    result = Result(server_kind, transport, n)
    server, port = await start_server(server_kind)
    try:
        shares = [n // len(clients)] * len(clients)
        shares[0] += n - sum(shares)
        sample_every = max(1, n // SAMPLED)
        opened = await asyncio.gather(
            *(
                c.ask(f"OPEN {transport} {port} {share} {sample_every}", 180)
                for c, share in zip(clients, shares, strict=True)
            )
        )
        result.connected = sum(int(line.split()[1]) for line in opened)
        # Wait until the server has registered every subscriber.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            count = int((await server.ask("COUNT")).split()[1])
            if count >= result.connected:
                break
            await asyncio.sleep(0.1)
        if result.connected < n:
            result.note = f"only {result.connected}/{n} connected"
        expected = result.connected
        if expected == 0:
            return result

        rate = load / n
        result.rate = rate
        result.rate_events = max(10, round(rate * rate_seconds))
        limit = result.rate_events / rate + 10
        received, _t0, _last, lat = await phase(
            server, clients, events=result.rate_events, rate=rate, expected=expected, limit=limit
        )
        result.rate_delivered = received / (expected * result.rate_events)
        lat.sort()
        result.p50_ms = percentile(lat, 0.50) / 1000
        result.p99_ms = percentile(lat, 0.99) / 1000

        result.burst_events = max(10, burst_deliveries // n)
        received, t0, last, lat = await phase(
            server, clients, events=result.burst_events, rate=0, expected=expected, limit=25.0
        )
        result.burst_delivered = received / (expected * result.burst_events)
        if last > t0:
            result.events_per_s = received / ((last - t0) / 1e9)
        lat.sort()
        result.burst_p99_ms = percentile(lat, 0.99) / 1000
    finally:
        await ask_all(clients, "CLOSE", 60)
        await server.stop()
    return result


def fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def report(results: list[Result], started: float) -> None:
    print()
    header = (
        f"{'transport':<4} {'N':>6} {'server':<16} {'conn':>6} "
        f"{'rate ev/s':>9} {'got %':>6} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>8} "
        f"{'pub p99':>8} | {'burst':>5} {'got %':>6} {'delivered/s':>12} {'p99 ms':>8} "
        f"{'hz p99':>7} {'hz max':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.transport:<4} {r.subscribers:>6} {r.server:<16} {r.connected:>6} "
            f"{r.rate:>9.1f} {100 * r.rate_delivered:>6.1f} {fmt(r.p50_ms):>8} "
            f"{fmt(r.p99_ms):>8} {fmt(r.p999_ms):>8} {fmt(r.publish_p99_ms):>8} | "
            f"{r.burst_events:>5} {100 * r.burst_delivered:>6.1f} "
            f"{r.events_per_s:>12,.0f} {fmt(r.burst_p99_ms, 0):>8} "
            f"{fmt(r.healthz_p99_ms):>7} {fmt(r.healthz_max_ms):>7}"
            + (f"  ({r.note})" if r.note else "")
        )
    print()
    print("ratios (rawpush / peer): delivered events/s, and peer p99 / rawpush p99")
    ours = [r for r in results if r.server.startswith("rawpush")]
    peers = [r for r in results if not r.server.startswith("rawpush")]
    for r in peers:
        for mine in ours:
            if (mine.transport, mine.subscribers) != (r.transport, r.subscribers):
                continue
            tput = mine.events_per_s / r.events_per_s if r.events_per_s else float("nan")
            lat = r.p99_ms / mine.p99_ms if mine.p99_ms else float("nan")
            print(
                f"  {r.transport:<4} N={r.subscribers:<6} {mine.server:<16} vs {r.server:<14} "
                f"throughput x{fmt(tput, 2)}   p99 latency x{fmt(lat, 2)} lower"
            )
    print()
    print("pub p99: the publisher's wait for each answer (rate phase); hz p99 / hz max: a")
    print("bystander's GET /healthz on a new connection every 5 ms during the burst (ms)")
    print()
    print("targets: >= 5x sse-starlette fan-out; p99 < 100 ms at 10,000 subscribers")
    for mine in ours:
        if mine.transport == "sse":
            for peer in peers:
                key = (peer.server, peer.transport, peer.subscribers)
                if key != ("sse-starlette", "sse", mine.subscribers) or not peer.events_per_s:
                    continue
                ratio = mine.events_per_s / peer.events_per_s
                verdict = "met" if ratio >= 5 else "NOT met"
                print(f"  {mine.server} SSE N={mine.subscribers}: x{ratio:.2f} sse-starlette"
                      f" -> {verdict}")  # fmt: skip
        if mine.subscribers >= 10_000:
            verdict = "met" if mine.p99_ms < 100 else "NOT met"
            print(
                f"  {mine.server} {mine.transport} N={mine.subscribers}: "
                f"p99 {fmt(mine.p99_ms)} ms -> {verdict}"
            )
    print(f"\ntotal time {time.monotonic() - started:.0f} s")


def _starter(kind: str, **options: object) -> Callable[[], Awaitable[Target]]:
    return lambda: start_target(kind, **options)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="N = 1,000 only, short phases")
    parser.add_argument(
        "--load", type=float, default=50_000, help="offered deliveries/s in the latency phase"
    )
    parser.add_argument("--publish", choices=["http", "inproc"], default="http")
    parser.add_argument(
        "--loops", nargs="+", choices=["asyncio", "uvloop"], default=["asyncio", "uvloop"],
        help="rawpush serve --loop values to run (--publish http)",
    )  # fmt: skip
    parser.add_argument(
        "--transports", nargs="+", choices=["sse", "ws"], default=["sse", "ws"]
    )
    parser.add_argument("--no-peers", action="store_true", help="rawpush only")
    args = parser.parse_args()
    sizes = args.subscribers or ([1_000] if args.quick else [1_000, 10_000])
    rate_seconds = 2.0 if args.quick else 6.0
    burst_deliveries = 100_000 if args.quick else 300_000
    limit = raise_nofile()
    started = time.monotonic()
    print(f"fanout: {machine()}; open files {limit}")
    print(
        f"server in its own process, {CLIENTS} load-client processes; both share the "
        f"machine's {os.cpu_count()} cores; loopback 127.0.0.1, 200 B events; "
        f"publish {args.publish}"
    )
    peer_of = {"sse": "sse-starlette", "ws": "websockets"}
    clients = [await Child.start("client") for _ in range(CLIENTS)]
    results: list[Result] = []
    try:
        for n in sizes:
            for transport in args.transports:
                runs: list[tuple[str, Callable[[], Awaitable[Target]] | None]]
                if args.publish == "inproc":
                    kinds = ["rawpush"] + ([] if args.no_peers else [peer_of[transport]])
                    runs = [(kind, None) for kind in kinds]
                else:
                    runs = [
                        (f"rawpush/{loop}", _starter("rawpush", loop=loop)) for loop in args.loops
                    ]
                    if not args.no_peers:
                        runs.append((peer_of[transport], _starter(peer_of[transport])))
                for kind, start in runs:
                    t = time.monotonic()
                    if start is None:
                        r = await scenario(
                            kind, transport, n, clients, load=args.load,
                            rate_seconds=rate_seconds, burst_deliveries=burst_deliveries,
                        )  # fmt: skip
                    else:
                        r = await http_scenario(
                            start, transport, n, clients, load=args.load,
                            rate_seconds=rate_seconds, burst_deliveries=burst_deliveries,
                        )  # fmt: skip
                    results.append(r)
                    print(
                        f"  {transport} N={n} {r.server}: {r.events_per_s:,.0f} delivered/s, "
                        f"p50 {fmt(r.p50_ms)} ms, p99 {fmt(r.p99_ms)} ms, "
                        f"p99.9 {fmt(r.p999_ms)} ms ({time.monotonic() - t:.0f} s)",
                        flush=True,
                    )
    finally:
        for c in clients:
            await c.stop()
    report(results, started)


if __name__ == "__main__":
    asyncio.run(main())
