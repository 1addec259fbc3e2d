"""Server CPU per delivery at N subscribers, far less noisy than latency.

Run: ``python bench/fanout_cpu.py`` (N = 10,000, SSE and WebSocket, asyncio
and uvloop; about 2 minutes) or ``--subscribers 2000 --events 50
--transports sse --loops asyncio``.

Latency figures on a shared machine move by a factor of 2 from run to run;
the CPU time the server process itself spends per delivery moves by some
15 % (the other processes take wall time from it, and only some cache; run
two trees interleaved to compare them). So: the real
``rawpush serve`` (as ``fanout.py`` starts it), N connections held by two
load-client processes, then K events published one at a time over ``POST
/publish``, each published once every subscriber has the previous one (no
backlog, so no batching in the kernel or the transport flatters the
figure). The server's ``utime + stime`` from ``/proc/PID/stat`` across the K
events, less the same K publishes to a channel nobody listens to (the
request, the hub's publish, the history), divided by K x N, is the CPU of
one delivery all-in: hub slice, session, outbox, transport and the
loopback ``send`` (whose kernel work, on loopback, includes the receiving
side's TCP input, its ACK and the reader's wake-up: on a real network that
would be the client machine's). User and system time are shown apart:
rawpush's code moves the first; the second is the kernel's send.

``--inproc``: the Python share alone, in this process: N real HTTP/1.1
hosts and sessions on transports that take every write without a syscall
(``fanout_inproc.py``'s), this thread's CPU time per delivery, best of
several rounds (a loaded machine slows a round down, never speeds it up).

``--floor``: the kernel's share alone, for comparison: N loopback TCP
connections to a forked reader, 200 B written to each with a bare
``socket.send`` (no server, no asyncio) K times; this process's user and
system time per send. What rawpush spends above it is its own.

``--perf``: also run ``perf stat -e task-clock,context-switches`` on the
server during the delivering phase, if ``perf`` exists and may attach.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import time

from _common import LOOPBACK, Child, machine, payload, raise_nofile
from _http_publish import HTTPPublisher, RawpushTarget

CLIENTS = 2
TICK = os.sysconf("SC_CLK_TCK")


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of ``pid`` (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5), counted from after the command name.
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_seconds(pid: int) -> float:
    return sum(cpu_times(pid))


class Channel(HTTPPublisher):
    """``POST /publish/{channel}`` on one keep-alive connection."""

    async def open_on(self, port: int, channel: str) -> None:
        await self.open(port)
        self.head = self.head.replace("/publish/bench ", f"/publish/{channel} ")


async def ask_all(clients: list[Child], command: str, timeout: float = 120.0) -> list[str]:
    return await asyncio.gather(*(c.ask(command, timeout) for c in clients))


async def publish_each(publisher: HTTPPublisher, events: int) -> None:
    for _ in range(events):
        await publisher.publish(payload())


async def delivered_each(
    publisher: HTTPPublisher, clients: list[Child], events: int, shares: list[int]
) -> int:
    """Publish ``events``, each once the previous one reached everybody."""
    await ask_all(clients, "RESET")
    got = 0
    for k in range(1, events + 1):
        await publisher.publish(payload())
        lines = await asyncio.gather(
            *(c.ask(f"WAIT {share * k} 60", 90) for c, share in zip(clients, shares, strict=True))
        )
        got = sum(int(line.split()[1]) for line in lines)
    return got


async def run(loop: str, transport: str, n: int, events: int, perf: bool) -> str:
    target = RawpushTarget(loop=loop)
    await target.start()
    clients = [await Child.start("client") for _ in range(CLIENTS)]
    try:
        pid = target.proc.pid
        shares = [n // CLIENTS] * CLIENTS
        shares[0] += n - sum(shares)
        opened = await asyncio.gather(
            *(
                c.ask(f"OPEN {transport} {target.port} {share} 0", 300)
                for c, share in zip(clients, shares, strict=True)
            )
        )
        connected = sum(int(line.split()[1]) for line in opened)
        shares = [int(line.split()[1]) for line in opened]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and await target.count() < connected:
            await asyncio.sleep(0.2)
        empty = Channel()
        await empty.open_on(target.port, "nobody")
        bench = Channel()
        await bench.open_on(target.port, "bench")
        # Warm up both paths (first encodes, caches, lazily built objects).
        await publish_each(empty, 5)
        await delivered_each(bench, clients, 3, shares)

        before = cpu_seconds(pid)
        await publish_each(empty, events)
        baseline = cpu_seconds(pid) - before

        perf_proc = None
        if perf and shutil.which("perf"):
            perf_proc = await asyncio.create_subprocess_exec(
                "perf", "stat", "-e", "task-clock,context-switches", "-p", str(pid),
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            await asyncio.sleep(0.5)
        wall = time.monotonic()
        user0, sys0 = cpu_times(pid)
        got = await delivered_each(bench, clients, events, shares)
        user1, sys1 = cpu_times(pid)
        user, system = user1 - user0, sys1 - sys0
        spent = user + system
        wall = time.monotonic() - wall
        perf_text = ""
        if perf_proc is not None:
            with contextlib.suppress(ProcessLookupError):
                perf_proc.send_signal(2)
            _, err = await perf_proc.communicate()
            perf_text = "\n".join(
                "      " + line.strip()
                for line in err.decode().splitlines()
                if "task-clock" in line or "context-switches" in line
            )
        await empty.close()
        await bench.close()
        deliveries = events * connected
        per = (spent - baseline) / max(1, got) * 1e6
        line = (
            f"  {transport:3} {loop:7} N={connected:,}: {got:,}/{deliveries:,} delivered, "
            f"server CPU {spent:.2f} s (publish-only baseline {baseline:.2f} s), "
            f"{per:.2f} us per delivery (user {user / max(1, got) * 1e6:.2f}, "
            f"system {system / max(1, got) * 1e6:.2f}); "
            f"one fan-out {spent / events * 1e3:.0f} ms CPU, "
            f"{wall / events * 1e3:.0f} ms wall; load {os.getloadavg()[0]:.1f}"
        )
        return line + ("\n" + perf_text if perf_text else "")
    finally:
        await ask_all(clients, "CLOSE", 60)
        for c in clients:
            await c.stop()
        await target.stop()


async def inproc(transport: str, n: int, events: int, rounds: int) -> float:
    """Best CPU nanoseconds per delivery of the in-process fan-out."""
    from fanout_inproc import _SSE_REQUEST, _WS_REQUEST, Sink

    from rawpush.hub import Hub
    from rawpush.server.app import _index_html
    from rawpush.server.config import ServerConfig
    from rawpush.server.context import Context
    from rawpush.server.metrics import Metrics
    from rawpush.server.protocol import HTTPProtocol

    hub = Hub()
    ctx = Context(ServerConfig(), hub, Metrics(), _index_html())
    request = _WS_REQUEST if transport == "ws" else _SSE_REQUEST
    sinks = []
    for _ in range(n):
        proto = HTTPProtocol(ctx)
        sink = Sink()
        proto.connection_made(sink)
        proto.data_received(request)
        sinks.append(sink)
    for _ in range(500):
        if hub.stats().subscribers >= n:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time_ns()
        for _ in range(events):
            await hub.publish("bench", payload())
        await hub.delivery.idle()
        best = min(best, (time.thread_time_ns() - started) / (events * n))
    for sink in sinks:
        sink.closing = True
    await hub.close()
    return best


def floor(n: int, events: int) -> tuple[float, float]:
    """(user, system) microseconds per bare loopback ``send`` to ``n`` sockets."""
    import selectors
    import socket

    listener = socket.create_server((LOOPBACK, 0), backlog=4096)
    port = listener.getsockname()[1]
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:  # the reader: read everything, exit when the writer closes
        selector = selectors.DefaultSelector()
        for _ in range(n):
            conn = socket.create_connection((LOOPBACK, port))
            conn.setblocking(False)
            selector.register(conn, selectors.EVENT_READ)
        os.write(ready_w, b"+")
        while selector.get_map():
            for key, _ in selector.select(5):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    if not sock.recv(65536):
                        selector.unregister(sock)
                except BlockingIOError:
                    pass
                except OSError:
                    selector.unregister(sock)
        os._exit(0)
    peers = []
    for _ in range(n):
        conn, _ = listener.accept()
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as asyncio does
        peers.append(conn)
    os.read(ready_r, 1)
    data = payload().encode()
    before = os.times()
    for _ in range(events):
        for conn in peers:
            conn.send(data)
        time.sleep(0.2)  # the reader catches up: no backlog, as in ``run``
    after = os.times()
    for conn in peers:
        conn.close()
    os.waitpid(child, 0)
    sends = n * events
    return (
        (after.user - before.user) / sends * 1e6,
        (after.system - before.system) / sends * 1e6,
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--transports", nargs="+", choices=["sse", "ws"], default=["sse", "ws"])
    parser.add_argument(
        "--loops", nargs="+", choices=["asyncio", "uvloop"], default=["asyncio", "uvloop"]
    )
    parser.add_argument("--perf", action="store_true", help="also perf stat the server")
    parser.add_argument("--inproc", action="store_true", help="the Python share, in process")
    parser.add_argument("--floor", action="store_true", help="a bare socket.send, for comparison")
    parser.add_argument("--rounds", type=int, default=9, help="--inproc: best of this many")
    args = parser.parse_args()
    raise_nofile()
    print(f"fanout_cpu: {machine()}")
    if args.floor:
        user, system = floor(args.subscribers, args.events)
        print(
            f"  bare socket.send to N={args.subscribers:,} loopback sockets: "
            f"{user + system:.2f} us per send (user {user:.2f}, system {system:.2f}); "
            f"load {os.getloadavg()[0]:.1f}"
        )
        return
    if args.inproc:
        for transport in args.transports:
            ns = await inproc(transport, args.subscribers, args.events, args.rounds)
            print(
                f"  {transport:3} in process N={args.subscribers:,}: {ns:,.0f} ns CPU per "
                f"delivery, best of {args.rounds} rounds",
                flush=True,
            )
        return
    for transport in args.transports:
        for loop in args.loops:
            print(await run(loop, transport, args.subscribers, args.events, args.perf), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
