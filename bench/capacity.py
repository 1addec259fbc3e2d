"""Capacity, measured: how many live subscribers one ``rawpush serve`` holds.

Run: ``python bench/capacity.py`` (about 4 minutes) or with
``--connections 4000 --hold 10 --churn 10000`` for a quick look.

1. **Hold**: ``--connections`` (default 19,000, under the 20,000
   descriptors a process may open here) SSE and WebSocket subscribers,
   half each, from several client processes, on one server whose
   heartbeats are shortened so they fire during the hold (a WebSocket Ping
   and an SSE comment every 5 s; the clients answer every Ping). Reported:
   the server's RSS and the kernel's TCP memory (``/proc/net/sockstat``,
   both ends of each loopback connection, so an upper bound for the
   server's share) per connection, and the server's CPU while idle.
2. **Deliver**: three events published; every connection must receive all.
3. **Churn**: ``--churn`` (default 100,000) connect-subscribe-disconnect
   cycles, half ending with FIN and half with RST, on every transport;
   then RSS against the baseline taken before them, open descriptors and
   the connection and queue gauges, which must be back exactly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import sys
import time
from pathlib import Path

from _common import raise_nofile, rss_kib
from _faults import LOOPBACK, WS_HEAD, Node, gauges, publish, sockstat

HERE = Path(__file__).resolve().parent
_RESET = struct.pack("ii", 1, 0)
_GAUGES = ("rawpush_connections", "rawpush_queue_messages", "rawpush_queue_bytes")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slab_kib() -> int:
    """The kernel's slab memory (socket structures, dentries, ...) in KiB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Slab:"):
            return int(line.split()[1])
    return 0


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class Client:
    """One load process (bench/_capacity_client.py), spoken to in lines."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, port: int, kind: str, count: int) -> Client:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "_capacity_client.py"), str(port), kind, str(count), "cap",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def line(self, timeout: float = 120.0) -> list[str]:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        return raw.decode().split()

    async def ask(self, command: str) -> list[str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.line()

    async def quit(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"QUIT\n")
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()


async def churn(port: int, cycles: int, concurrency: int = 200) -> float:
    """``cycles`` connect-subscribe-disconnect rounds; returns seconds taken."""
    loop = asyncio.get_running_loop()
    heads = [
        b"GET /sse/churn HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /poll/churn?cursor=0-0&timeout=30 HTTP/1.1\r\nHost: x\r\n\r\n",
        WS_HEAD.format(channel="churn").encode(),
    ]
    sem = asyncio.Semaphore(concurrency)

    async def cycle(n: int) -> None:
        async with sem:
            sock = socket.socket()
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (LOOPBACK, port))
                await loop.sock_sendall(sock, heads[n % 3])
                if n % 3 != 1:  # SSE and WebSocket answer their head at once
                    await loop.sock_recv(sock, 4096)
                if n % 2:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
            except OSError:
                pass
            finally:
                sock.close()

    t0 = time.monotonic()
    for start in range(0, cycles, 5000):  # bounded batches of tasks
        await asyncio.gather(*(cycle(n) for n in range(start, min(cycles, start + 5000))))
    return time.monotonic() - t0


async def settle(port: int, base: dict[str, float]) -> dict[str, float]:
    """The gauges once they are back to ``base`` (or after 30 s)."""
    after: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = await gauges(port)
        if all(after.get(k, 0) == base.get(k, 0) for k in _GAUGES):
            break
        await asyncio.sleep(0.25)
    return after


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--connections", type=int, default=19_000)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--hold", type=float, default=60.0, help="seconds held idle")
    parser.add_argument("--churn", type=int, default=100_000, help="churn cycles")
    args = parser.parse_args()
    raise_nofile(65536)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    n = args.connections
    node = Node(
        "--max-connections", str(n + 500), "--backlog", "4096",
        "--ws-ping-interval", "5", "--ws-ping-timeout", "10", "--sse-heartbeat", "5",
    ).start()
    page = os.sysconf("SC_PAGE_SIZE")
    clients: list[Client] = []
    try:
        await publish(node.port, "warm", "x")
        base_rss, base_tcp, base_slab = rss_kib(node.pid), sockstat().get("mem", 0), slab_kib()
        per = n // args.processes
        counts = [per + (1 if i < n % args.processes else 0) for i in range(args.processes)]
        t0 = time.monotonic()
        for i, count in enumerate(counts):
            clients.append(await Client.start(node.port, ("sse", "ws")[i % 2], count))
        ready = [await c.line(300) for c in clients]
        opened = sum(int(r[1]) for r in ready)
        connect_s = time.monotonic() - t0
        await asyncio.sleep(2)
        cpu0, w0 = cpu_seconds(node.pid), time.monotonic()
        await asyncio.sleep(args.hold)
        idle_cpu = (cpu_seconds(node.pid) - cpu0) / (time.monotonic() - w0)
        held_rss, held_tcp, held_slab = rss_kib(node.pid), sockstat().get("mem", 0), slab_kib()
        held = await gauges(node.port)
        for k in range(3):
            await publish(node.port, "cap", f"event {k}")
        done = [await c.ask("WAIT 3") for c in clients]
        complete = sum(int(d[1]) for d in done)
        alive = sum(int(d[2]) for d in done)
        pings = sum(int(d[3]) for d in done)
        comments = sum(int(d[4]) for d in done)
        for c in clients:
            await c.quit()
        clients.clear()
        # Nothing left but the /metrics request itself.
        idle = {k: (1.0 if k == "rawpush_connections" else 0.0) for k in _GAUGES}
        base = await settle(node.port, idle)
        rss0, fds0 = rss_kib(node.pid), descriptors(node.pid)
        churn_s = await churn(node.port, args.churn)
        after = await settle(node.port, base)
        rss1, fds1 = rss_kib(node.pid), descriptors(node.pid)
    finally:
        for c in clients:
            await c.quit()
        node.stop()
    print(f"\n## Capacity ({started}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]})\n")
    print("| measure | value |\n| --- | --- |")
    print(f"| connections open (SSE + WebSocket) | {opened:,} of {n:,}, in {connect_s:.1f} s |")
    print(f"| server RSS per connection | {(held_rss - base_rss) * 1024 / max(opened, 1):,.0f} B "
          f"({base_rss:,} -> {held_rss:,} KiB) |")
    print(f"| kernel TCP buffers per connection (both ends, sockstat) | "
          f"{(held_tcp - base_tcp) * page / max(opened, 1):,.0f} B |")
    print(f"| kernel slab per connection (both ends and the clients' side) | "
          f"{(held_slab - base_slab) * 1024 / max(opened, 1):,.0f} B |")
    print(f"| server CPU while idle, heartbeats every 5 s | {idle_cpu * 100:.1f} % of a core |")
    print(f"| heartbeats seen in the hold | {pings:,} Pings answered, {comments:,} SSE comments |")
    print(f"| gauge rawpush_connections while held | {held.get('rawpush_connections', 0):,.0f} |")
    print(f"| every event delivered | {complete:,} of {alive:,} live connections got all 3 |")
    print(f"| churn: {args.churn:,} cycles (sse/poll/ws, half FIN, half RST) | {churn_s:.1f} s |")
    growth = (rss1 - rss0) * 100 / rss0
    print(f"| RSS before / after churn | {rss0:,} / {rss1:,} KiB ({growth:+.1f} %) |")
    print(f"| descriptors before / after churn | {fds0} / {fds1} |")
    shown = ", ".join(f"{k[8:]} {base.get(k, 0):.0f} -> {after.get(k, 0):.0f}" for k in _GAUGES)
    print(f"| gauges before -> after churn | {shown} |")


if __name__ == "__main__":
    asyncio.run(main())
