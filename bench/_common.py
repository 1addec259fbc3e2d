"""Shared machinery of the network benchmarks (fanout.py, idle_memory.py).

Three kinds of process, all started from the benchmark script:

- a **server** (``python bench/_common.py serve KIND``), one per scenario,
  KIND one of ``rawpush``, ``sse-starlette`` (uvicorn) or ``websockets``.
  It prints ``PORT <n>`` and then answers one-line commands on stdin:
  ``COUNT`` (subscribers registered), ``PUBLISH <n> <rate>`` (``rate`` 0:
  back to back, yielding to the loop between events), ``RSS`` (gc, then
  VmRSS in KiB), ``TRACE`` / ``TRACEDIFF <k>`` (tracemalloc), ``QUIT``.
  Publishing is in-process, through each server's own API (rawpush:
  ``hub.publish``; sse-starlette: ``put_nowait`` on every subscriber's
  ``asyncio.Queue``; websockets: ``broadcast``), so what is compared is
  fan-out, not an HTTP publish endpoint.
- a **load client** (``python bench/_common.py client``): lean asyncio
  Protocols that open N SSE or WebSocket connections, count the events
  that arrive (the ``@@`` marker each event's data starts with) and, on one
  connection in ``sample_every``, parse the publisher's ``time.time_ns()``
  that follows the marker to measure publish-to-receive latency.
- the benchmark script itself, which drives the others (``Child``).

Every event is the same 200 B of data: ``@@`` + 19 digits of
``time.time_ns()`` + padding. rawpush and sse-starlette send it as an SSE
event with an ``id:`` line; rawpush and websockets as the text frame
``{"id": ..., "event": null, "data": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import resource
import socket
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA_SIZE = 200
MARK = b"@@"
CHANNEL = "bench"
LOOPBACK = "127.0.0.1"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def raise_nofile(limit: int = 65536) -> int:
    """Raise RLIMIT_NOFILE (root may raise the hard limit too); return the soft limit."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))
    except (ValueError, OSError):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int | None = None) -> int:
    """VmRSS of ``pid`` (default: this process) in KiB, from /proc."""
    path = f"/proc/{pid or 'self'}/status"
    for line in Path(path).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in " + path)


def payload() -> str:
    """200 B of event data, starting with the marker and the send time."""
    head = f"@@{time.time_ns():019d}"
    return head + "x" * (DATA_SIZE - len(head))


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[index])


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at start"
    )


# -- child processes, driven by one-line commands ------------------------------


class Child:
    """A subprocess of this file, spoken to in lines over stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "_common.py"),
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=64 * 1024 * 1024,
        )
        return cls(proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def ask(self, command: str, timeout: float = 120.0) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.read(timeout)

    async def read(self, timeout: float = 120.0) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"child {self.pid} exited (code {await self.proc.wait()})")
        return line.decode().rstrip("\n")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b"QUIT\n")
                await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_server(kind: str) -> tuple[Child, int]:
    child = await Child.start("serve", kind)
    line = await child.read(30)
    if not line.startswith("PORT "):
        raise RuntimeError(f"{kind} server said {line!r}")
    return child, int(line.split()[1])


# -- servers -------------------------------------------------------------------


class BenchServer:
    """One server under test, with an in-process publisher."""

    port = 0

    async def start(self) -> None:
        raise NotImplementedError

    def count(self) -> int:
        raise NotImplementedError

    async def publish(self, data: str) -> None:
        raise NotImplementedError


class RawpushServer(BenchServer):
    async def start(self) -> None:
        import rawpush
        from rawpush.server.config import ServerConfig

        config = ServerConfig(
            host=LOOPBACK,
            port=0,
            max_connections=1_000_000,
            # No heartbeats during a run: the lean clients answer no pings.
            ws_ping_interval=3600.0,
            sse_heartbeat_interval=3600.0,
            keepalive_timeout=3600.0,
        )
        self.server = rawpush.Server(config)
        await self.server.start()
        self.port = self.server.port

    def count(self) -> int:
        metrics = self.server.metrics
        return int(
            metrics.get("rawpush_connections", (("transport", "sse"),))
            + metrics.get("rawpush_connections", (("transport", "ws"),))
        )

    async def publish(self, data: str) -> None:
        await self.server.hub.publish(CHANNEL, data)


def starlette_stream(
    queues: set[asyncio.Queue[dict[str, str]]],
) -> Callable[[Any], Awaitable[Any]]:
    """The sse-starlette endpoint as its README writes it: each subscriber
    gets an asyncio.Queue, kept in ``queues`` while it is connected, and an
    async generator yielding from it."""
    from sse_starlette.sse import EventSourceResponse

    async def stream(request: Any) -> Any:
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        queues.add(queue)

        async def events() -> Any:
            try:
                while True:
                    yield await queue.get()
            finally:
                queues.discard(queue)

        return EventSourceResponse(events(), ping=3600)

    return stream


class StarletteServer(BenchServer):
    """sse-starlette the way its README does it: one asyncio.Queue per
    subscriber, an async generator yielding from it, an in-process broadcast."""

    async def start(self) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Route

        self.queues: set[asyncio.Queue[dict[str, str]]] = set()
        app = Starlette(routes=[Route("/sse/{channel}", starlette_stream(self.queues))])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self.uvicorn = uvicorn.Server(config)
        self.task = asyncio.ensure_future(self.uvicorn.serve(sockets=[sock]))
        while not self.uvicorn.started:
            await asyncio.sleep(0.01)
        self.seq = 0

    def count(self) -> int:
        return len(self.queues)

    async def publish(self, data: str) -> None:
        self.seq += 1
        item = {"id": f"{time.time_ns() // 1_000_000}-{self.seq}", "data": data}
        for queue in self.queues:
            queue.put_nowait(item)


class WebsocketsServer(BenchServer):
    """websockets' asyncio server; ``broadcast`` to every open connection."""

    async def start(self) -> None:
        from websockets.asyncio.server import ServerConnection, serve

        clients: set[ServerConnection] = set()
        self.clients = clients

        async def handler(ws: ServerConnection) -> None:
            clients.add(ws)
            try:
                await ws.wait_closed()
            finally:
                clients.discard(ws)

        self.server = await serve(handler, LOOPBACK, 0, ping_interval=None, compression=None)
        self.port = self.server.sockets[0].getsockname()[1]
        self.seq = 0

    def count(self) -> int:
        return len(self.clients)

    async def publish(self, data: str) -> None:
        from websockets.asyncio.server import broadcast

        self.seq += 1
        ident = f"{time.time_ns() // 1_000_000}-{self.seq}"
        broadcast(self.clients, json.dumps({"id": ident, "event": None, "data": data}))


SERVERS: dict[str, Callable[[], BenchServer]] = {
    "rawpush": RawpushServer,
    "sse-starlette": StarletteServer,
    "websockets": WebsocketsServer,
}


async def stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def reply(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def run_server(kind: str, on_quit: Callable[[], None] | None = None) -> None:
    raise_nofile()
    server = SERVERS[kind]()
    await server.start()
    reply(f"PORT {server.port}")
    commands = await stdin_lines()
    trace_base: tracemalloc.Snapshot | None = None
    while line := (await commands.readline()).decode().split():
        cmd, args = line[0], line[1:]
        if cmd == "COUNT":
            reply(f"COUNT {server.count()}")
        elif cmd == "PUBLISH":
            count, rate = int(args[0]), float(args[1])
            loop = asyncio.get_running_loop()
            start = loop.time()
            t0 = time.time_ns()
            for i in range(count):
                if rate > 0:
                    delay = start + i / rate - loop.time()
                    await asyncio.sleep(max(0.0, delay))
                else:
                    await asyncio.sleep(0)
                await server.publish(payload())
            reply(f"PUBLISHED {t0} {time.time_ns()}")
        elif cmd == "RSS":
            await asyncio.sleep(float(args[0]) if args else 1.0)
            gc.collect()
            reply(f"RSS {rss_kib()}")
        elif cmd == "TRACE":
            gc.collect()
            tracemalloc.start(int(args[0]) if args else 1)
            trace_base = tracemalloc.take_snapshot()
            reply("TRACING")
        elif cmd == "TRACEDIFF":
            gc.collect()
            assert trace_base is not None
            snapshot = tracemalloc.take_snapshot()
            top = int(args[0]) if args else 10
            stats = snapshot.compare_to(trace_base, "lineno")
            for stat in stats[:top]:
                frame = stat.traceback[0]
                reply(f"LINE {stat.size_diff} {stat.count_diff} {frame.filename}:{frame.lineno}")
            total = sum(stat.size_diff for stat in stats)
            reply(f"TRACED {total}")
        elif cmd == "QUIT":
            break
        else:
            reply(f"ERROR {cmd}")
    if on_quit is not None:
        on_quit()
    os._exit(0)  # no drain: the clients are told to go away by the parent


def main() -> None:
    if sys.argv[1] == "serve":
        # BENCH_PROFILE=DIR: profile each server process into DIR/KIND.PID.prof
        # (cProfile slows the server down: for finding hot spots, not numbers).
        profile_dir = os.environ.get("BENCH_PROFILE")
        if profile_dir:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
            atexit_path = f"{profile_dir}/{sys.argv[2]}.{os.getpid()}.prof"
            try:
                asyncio.run(run_server(sys.argv[2], lambda: profiler.dump_stats(atexit_path)))
            finally:
                profiler.dump_stats(atexit_path)
        else:
            asyncio.run(run_server(sys.argv[2]))
    elif sys.argv[1] == "client":
        from _load import run_client

        asyncio.run(run_client())
    else:
        raise SystemExit(f"usage: {sys.argv[0]} serve KIND | client")


if __name__ == "__main__":
    main()
