"""Faults and storms, measured: what a node does when everything goes wrong at once.

Run: ``python bench/storms.py`` (about 4 minutes; needs ``redis-server`` on
PATH for the first two scenarios) or ``python bench/storms.py --quick``
(smaller counts, about a minute). Every server is a real ``rawpush serve``
subprocess on 127.0.0.1; the clients are lean asyncio sockets in this
process, so their cost is not the server's. Each scenario is bounded in
count and in time and prints one row of the "faults and storms" table:

1. **resume storm**: N SSE clients on a Redis node send ``Last-Event-ID``
   at the same moment; how many got an answer other than 200, and did every
   one get the whole replay. Then a rolling restart of one of two nodes
   with browser-style clients (a non-200 makes them give up, a drained
   stream makes them come back after its ``retry:``): clients lost, events
   missed or repeated, and the spread of their return times.
2. **Redis frozen**: redis-server gets SIGSTOP for a few seconds while a
   publisher keeps publishing through two nodes with ``Idempotency-Key``
   and retries the same key on 503/504/timeouts; each subscriber on each
   node must see every event exactly once.
3. **dead readers**: WebSocket clients that never read, next to healthy
   SSE subscribers: the healthy ones get every event; the kernel's TCP
   memory (``/proc/net/sockstat``) while they sit there and after they are
   cut off; orphans left.
4. **flooders**: 1 and 8 WebSocket clients publishing as fast as they can,
   with the default per-socket rate limit and without one: a bystander's
   ``/healthz`` p99 and publish-to-receive p99 on another channel.
5. **idle channels**: 10,000 channels created and left idle expire after
   ``--channel-idle-ttl``; the gauge goes back to 0 and RSS near baseline.
6. **churn**: connect-subscribe-disconnect cycles on every transport, half
   ending with FIN, half with RST; every gauge back to its exact baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from _common import raise_nofile, rss_kib
from _faults import (
    LOOPBACK,
    WS_HEAD,
    Node,
    SSEClient,
    gauges,
    http,
    percentile_ms,
    percentile_s,
    publish,
    sockstat,
)
from backplane import start_redis

_RESET = struct.pack("ii", 1, 0)
ROWS: list[tuple[str, str]] = []


def row(scenario: str, result: str) -> None:
    ROWS.append((scenario, result))
    print(f"  -> {scenario}: {result}", flush=True)


# ---- 1. resume storm and rolling restart --------------------------------------


async def resume_storm(redis_url: str, clients: int) -> None:
    node = Node("--redis", redis_url, "--max-connections", str(clients + 100)).start()
    try:
        ids = [(await publish(node.port, "storm", f"e{n}"))[1] for n in range(50)]
        stop = asyncio.Event()
        subs = [SSEClient(node.port, "storm", last_id=ids[0]) for _ in range(clients)]
        tasks = [asyncio.ensure_future(s.run(stop)) for s in subs]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(len(s.ids) >= 49 or s.ended.is_set() for s in subs):
                break
            await asyncio.sleep(0.1)
        stop.set()
        # A stream idle in read() only sees ``stop`` with its next chunk.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        bad = sum(1 for s in subs if s.status != 200)
        whole = sum(1 for s in subs if s.ids[:49] == ids[1:])
        row(f"{clients:,} SSE resuming at once on Redis",
            f"{bad} non-200 answers; {whole:,}/{clients:,} got the whole replay of 49")
    finally:
        node.stop()


async def rolling_restart(redis_url: str, clients: int) -> None:
    a = Node("--redis", redis_url, "--drain-retry-ms", "1000").start()
    b = Node("--redis", redis_url, "--drain-retry-ms", "1000").start()
    stop = asyncio.Event()
    lost: list[SSEClient] = []
    returns: list[float] = []
    came_back: set[int] = set()
    drained_at = 0.0

    async def browser(sub: SSEClient, nodes: list[Node]) -> None:
        # Like EventSource: a non-200 ends it for good; an ended stream comes
        # back after its retry hint, through the "load balancer" (any live node).
        while not stop.is_set():
            await sub.run(stop)
            if stop.is_set():
                return
            if sub.status not in (200, 0):
                lost.append(sub)
                return
            await asyncio.sleep((sub.retry_ms or 1000) / 1000)
            sub.port = random.choice([n.port for n in nodes if n.proc and n.proc.poll() is None])
            if drained_at and id(sub) not in came_back:  # its first return only
                came_back.add(id(sub))
                returns.append(time.monotonic() - drained_at)

    nodes = [a, b]
    subs = [SSEClient(n.port, "roll") for n in nodes for _ in range(clients // 2)]
    tasks = [asyncio.ensure_future(browser(s, nodes)) for s in subs]
    try:
        await asyncio.sleep(2)
        published: list[str] = []

        async def publisher() -> None:
            n = 0
            while not stop.is_set():
                port = b.port
                status, ident = await publish(port, "roll", f"r{n}", key=f"roll-{n}")
                if status == 200:
                    published.append(ident)
                    n += 1
                await asyncio.sleep(0.02)

        pub = asyncio.ensure_future(publisher())
        await asyncio.sleep(1)
        drained_at = time.monotonic()
        port_a = a.port
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, a.stop)
        # Back on its port (the rolling restart's second half), started off
        # the loop so that the clients run meanwhile.
        await loop.run_in_executor(None, a.start, port_a)
        await asyncio.sleep(4)
        stop.set()
        await pub
        await asyncio.wait(tasks, timeout=10)
    finally:
        stop.set()
        a.stop()
        b.stop()
    want = set(published)
    missing = sum(1 for s in subs if not want <= set(s.ids))
    repeated = sum(1 for s in subs if len(s.ids) != len(set(s.ids)))
    returns.sort()
    buckets = [0] * 5
    for t in returns:
        buckets[min(int(t / 0.5), 4)] += 1
    spread = " / ".join(f"{n}" for n in buckets)
    row(f"rolling restart, {clients:,} browser-style SSE clients on 2 nodes",
        f"{len(lost)} lost, {missing} missed events, {repeated} saw a repeat; "
        f"returns per 0.5 s after the drain: {spread} (p50 {percentile_s(returns, 50)}, "
        f"p99 {percentile_s(returns, 99)})")



# ---- 2. Redis frozen -----------------------------------------------------------


async def redis_frozen(redis: subprocess.Popen[bytes], redis_url: str, events: int) -> None:
    nodes = [Node("--redis", redis_url).start() for _ in range(2)]
    stop = asyncio.Event()
    subs = [SSEClient(n.port, "frozen") for n in nodes for _ in range(20)]
    tasks = [asyncio.ensure_future(s.run(stop)) for s in subs]
    statuses: dict[int, int] = {}
    try:
        await asyncio.sleep(1)
        ids: list[str] = []
        for n in range(events):
            if n == events // 4:
                redis.send_signal(signal.SIGSTOP)
                asyncio.get_running_loop().call_later(3.0, redis.send_signal, signal.SIGCONT)
            for attempt in range(200):  # retried with the same key until it is known
                status, ident = await publish(nodes[(n + attempt) % 2].port, "frozen",
                                              f"f{n}", key=f"frozen-{n}")
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200:
                    ids.append(ident)
                    break
                await asyncio.sleep(0.1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(len(s.ids) >= len(ids) for s in subs):
            await asyncio.sleep(0.1)
    finally:
        redis.send_signal(signal.SIGCONT)
        stop.set()
        await asyncio.wait(tasks, timeout=10)
        for node in nodes:
            node.stop()
    exact = sum(1 for s in subs if s.ids == ids)
    answers = ", ".join(f"{k or 'no answer'}: {v}" for k, v in sorted(statuses.items()))
    row(f"Redis SIGSTOP 3 s, {events} keyed publishes through 2 nodes",
        f"{exact}/{len(subs)} subscribers saw every event exactly once; answers {answers}")


# ---- 3. dead readers ------------------------------------------------------------


async def dead_readers(dead: int, healthy: int, events: int) -> None:
    node = Node("--max-connections", str(dead + healthy + 100)).start()
    stop = asyncio.Event()
    socks: list[socket.socket] = []
    try:
        base = sockstat()
        subs = [SSEClient(node.port, "dead") for _ in range(healthy)]
        tasks = [asyncio.ensure_future(s.run(stop)) for s in subs]
        loop = asyncio.get_running_loop()
        for _ in range(dead):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await loop.sock_connect(sock, (LOOPBACK, node.port))
            await loop.sock_sendall(sock, WS_HEAD.format(channel="dead").encode())
            socks.append(sock)  # never read again
        await asyncio.sleep(1)
        data = "x" * 1024
        peak = sockstat()
        for n in range(events):
            await publish(node.port, "dead", f"{n}:{data}")
            if n % 50 == 0:
                now = sockstat()
                if now.get("mem", 0) > peak.get("mem", 0):
                    peak = now
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(len(s.ids) >= events for s in subs):
            await asyncio.sleep(0.1)
        got = sum(1 for s in subs if len(s.ids) >= events)
        for sock in socks:
            sock.close()
        socks.clear()
        await asyncio.sleep(3)
        after = sockstat()
        stop.set()
        await asyncio.wait(tasks, timeout=10)
    finally:
        for sock in socks:
            sock.close()
        node.stop()
    page = os.sysconf("SC_PAGE_SIZE")
    per_reader = (peak.get("mem", 0) - base.get("mem", 0)) * page // max(dead, 1)
    row(f"{dead:,} never-reading WebSockets next to {healthy} healthy SSE, {events} x 1 KiB",
        f"{got}/{healthy} healthy got every event; kernel TCP memory "
        f"{base.get('mem', 0) * page // 1024:,} KiB before, "
        f"peak {peak.get('mem', 0) * page // 1024:,} KiB "
        f"({per_reader:,} B per dead reader), "
        f"{after.get('mem', 0) * page // 1024:,} KiB 3 s after the cut-off; "
        f"orphans {after.get('orphan', 0)}")


# ---- 4. flooders ------------------------------------------------------------------


async def bystander(port: int, seconds: float) -> tuple[list[float], list[float]]:
    stop = asyncio.Event()
    sub = SSEClient(port, "calm")
    task = asyncio.ensure_future(sub.run(stop))
    await asyncio.sleep(0.3)
    health: list[float] = []
    latency: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        await http(port, "GET", "/healthz")
        health.append(time.monotonic() - t0)
        before = len(sub.ids)
        t0 = time.monotonic()
        await publish(port, "calm", "ping")
        while len(sub.ids) == before and time.monotonic() - t0 < 2:
            await asyncio.sleep(0.001)
        latency.append(time.monotonic() - t0)
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait([task], timeout=5)
    return sorted(health), sorted(latency)


async def flooders(seconds: float) -> None:
    for limit in (None, "none"):
        for count in (1, 8):
            args = ("--ws-publish-rate", limit) if limit else ()
            node = Node(*args).start()
            # The flooders run in a process of their own: their loop must not
            # be the bystander's.
            flood = await asyncio.create_subprocess_exec(
                sys.executable, str(Path(__file__).with_name("_faults.py")), "flood",
                str(node.port), str(count), str(seconds + 1.5),
                stdout=asyncio.subprocess.PIPE,
            )
            try:
                await asyncio.sleep(0.5)
                health, latency = await bystander(node.port, seconds)
                out, _ = await flood.communicate()
            finally:
                if flood.returncode is None:
                    flood.kill()
                node.stop()
            frames = int(out.split()[0]) if out.strip() else 0
            row(f"{count} WebSocket flooder(s), rate limit {'off' if limit else 'default'}",
                f"bystander /healthz p50 {percentile_ms(health, 50):.1f} ms p99 "
                f"{percentile_ms(health, 99):.1f} ms max {percentile_ms(health, 100):.1f} ms "
                f"({len(health)} samples), publish->receive p50 {percentile_ms(latency, 50):.1f} ms"
                f" p99 {percentile_ms(latency, 99):.1f} ms; the flooders wrote {frames:,} frames"
                " (with the limit on, most into sockets already cut off)")


# ---- 5. idle channels ----------------------------------------------------------------


async def idle_channels(count: int) -> None:
    node = Node("--channel-idle-ttl", "2", "--max-channels", str(count + 1000),
                "--new-channels-per-minute", str(count * 10)).start()
    try:
        await publish(node.port, "warm", "x")
        base = rss_kib(node.pid)
        sem = asyncio.Semaphore(50)

        async def one(n: int) -> int:
            async with sem:
                return (await publish(node.port, f"idle.{n}", "x" * 100))[0]

        statuses = await asyncio.gather(*(one(n) for n in range(count)))
        made = sum(1 for s in statuses if s == 200)
        peak = rss_kib(node.pid)
        held = (await gauges(node.port)).get("rawpush_channels", 0)
        deadline = time.monotonic() + 40
        left = held
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            left = (await gauges(node.port)).get("rawpush_channels", 0)
            if left <= 1:
                break
        after = rss_kib(node.pid)
        status, _ = await publish(node.port, "fresh", "x")
    finally:
        node.stop()
    row(f"{count:,} channels created, then idle (TTL 2 s)",
        f"{made:,} made, gauge {held:,.0f} -> {left:,.0f} after the TTL; RSS {base:,} KiB "
        f"-> {peak:,} -> {after:,} KiB; a new channel then: {status}")


# ---- 6. churn -----------------------------------------------------------------------


async def churn(cycles: int, concurrency: int) -> None:
    node = Node("--max-connections", str(concurrency * 4)).start()
    loop = asyncio.get_running_loop()
    heads = {
        "sse": b"GET /sse/churn HTTP/1.1\r\nHost: x\r\n\r\n",
        "poll": b"GET /poll/churn?cursor=0-0&timeout=30 HTTP/1.1\r\nHost: x\r\n\r\n",
        "ws": WS_HEAD.format(channel="churn").encode(),
    }
    done = [0]
    try:
        base = await gauges(node.port, labelled=True)

        async def cycle(n: int) -> None:
            kind = ("sse", "poll", "ws")[n % 3]
            sock = socket.socket()
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (LOOPBACK, node.port))
                await loop.sock_sendall(sock, heads[kind])
                if kind != "poll":
                    await loop.sock_recv(sock, 4096)  # the head: subscribed
                if n % 2:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            except OSError:
                pass
            finally:
                sock.close()
                done[0] += 1

        sem = asyncio.Semaphore(concurrency)

        async def bounded(n: int) -> None:
            async with sem:
                await cycle(n)

        t0 = time.monotonic()
        await asyncio.gather(*(bounded(n) for n in range(cycles)))
        elapsed = time.monotonic() - t0
        # Every labelled sample of every gauge, one by one: a long poll
        # counted under "http" and not "poll" must not cancel out in a sum.
        prefixes = ("rawpush_connections{", "rawpush_protocol_connections{",
                    "rawpush_queue_messages", "rawpush_queue_bytes")
        after: dict[str, float] = {}
        keys: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            after = await gauges(node.port, labelled=True)
            keys = sorted(k for k in {*base, *after} if k.startswith(prefixes))
            # /metrics itself is one connection while it is answered.
            if all(after.get(k, 0) <= base.get(k, 0) for k in keys):
                break
            await asyncio.sleep(0.2)
    finally:
        node.stop()
    moved = [f"{k} {base.get(k, 0):.0f} -> {after.get(k, 0):.0f}"
             for k in keys if after.get(k, 0) != base.get(k, 0)]
    shown = "; ".join(moved) if moved else f"all {len(keys)} gauge samples back exactly"
    row(f"{cycles:,} churn cycles (sse/poll/ws, half FIN, half RST)",
        f"{done[0]:,} done in {elapsed:.1f} s; {shown}")


# ---- main ------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (about a minute)")
    parser.add_argument("--only", help="comma-separated scenario numbers, e.g. 3,6")
    args = parser.parse_args()
    quick = args.quick
    only = {int(x) for x in args.only.split(",")} if args.only else set(range(1, 7))
    raise_nofile()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"rawpush storms, {started}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    steps: list[tuple[int, Callable[[], Awaitable[None]]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        redis: subprocess.Popen[bytes] | None = None
        url = ""
        if only & {1, 2}:
            if shutil.which("redis-server") is None:
                raise SystemExit("scenarios 1 and 2 need redis-server (apt-get redis-server)")
            redis, url = start_redis(tmp)
        try:
            steps = [
                (1, lambda: resume_storm(url, 1000 if quick else 5000)),
                (1, lambda: rolling_restart(url, 200 if quick else 1000)),
                (2, lambda: redis_frozen(redis, url, 80 if quick else 200)),  # type: ignore[arg-type]
                (3, lambda: dead_readers(200 if quick else 1000, 100 if quick else 400,
                                         200 if quick else 500)),
                (4, lambda: flooders(2.0 if quick else 5.0)),
                (5, lambda: idle_channels(2000 if quick else 10_000)),
                (6, lambda: churn(5000 if quick else 50_000, 100 if quick else 200)),
            ]
            for number, step in steps:
                if number in only:
                    await step()
        finally:
            if redis is not None:
                redis.send_signal(signal.SIGCONT)
                redis.terminate()
                redis.wait()
    print(f"\n## Faults and storms ({started}, {os.cpu_count()} CPUs)\n")
    print("| scenario | result |\n| --- | --- |")
    for scenario, result in ROWS:
        print(f"| {scenario} | {result} |")


if __name__ == "__main__":
    asyncio.run(main())
