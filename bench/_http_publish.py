"""Publishing over the network for ``fanout.py`` and ``workers.py``.

The servers under test, each in its own process, each with a publish
endpoint of its own kind:

- ``rawpush``: the real ``rawpush serve`` command line (``--loop``,
  ``--workers``, ``--redis`` as asked), published to by ``POST
  /publish/bench`` on a keep-alive connection; its subscriber count comes
  from ``/metrics`` (per worker: asked until every worker has answered);
- ``sse-starlette`` (uvicorn): ``GET /sse/bench`` as in ``_common.py``,
  plus ``POST /publish/bench``, which does ``put_nowait`` on every
  subscriber's queue and answers the id;
- ``websockets``: subscribers on ``/ws/bench``; the publisher is one more
  WebSocket connection on ``/publish``, each message ``broadcast`` to the
  subscribers and acknowledged with its id (websockets serves no POST).

All three answer ``GET /healthz``, which ``bystander`` asks every 5 ms on
a new connection while events are published: the wait of a request that
has nothing to do with the fan-out (the fairness figure).

The publisher runs in the benchmark's own process (not the server's, not
a load client's): one request in flight, each event's data the 200 B of
``_common.payload()`` with its ``time.time_ns()`` taken just before the
request is written. Peers are run with ``python bench/_http_publish.py
serve KIND``: it prints ``PORT <n>`` and answers ``COUNT`` and ``QUIT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import CHANNEL, LOOPBACK, reply, stdin_lines

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_WORKER = re.compile(rb'rawpush_worker_info\{pid="\d+",worker="(\d+)"\} 1')
_CONNS = re.compile(rb'rawpush_connections\{transport="(?:sse|ws)"\} (\d+)')


async def http_get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    return data


class Target:
    """A server under test, in its own process."""

    port = 0
    kind = ""

    async def count(self) -> int:
        raise NotImplementedError

    async def publisher(self) -> Publisher:
        publisher = HTTPPublisher()
        await publisher.open(self.port)
        return publisher

    async def stop(self) -> None:
        raise NotImplementedError


class RawpushTarget(Target):
    """``rawpush serve``, as an operator runs it (gc.freeze included)."""

    def __init__(self, loop: str = "asyncio", workers: int = 1, redis: str | None = None):
        self.loop = loop
        self.workers = workers
        self.redis = redis
        self.kind = "rawpush" + ("" if loop == "asyncio" else f"/{loop}")
        if workers > 1 or redis:
            self.kind += f" {workers}w+redis"

    async def start(self) -> None:
        # -O with uvloop: HTTPProtocol asserts that its transport is an
        # asyncio.Transport, which uvloop's is not (see bench/README.md).
        opt = ["-O"] if self.loop == "uvloop" else []
        args = [
            "serve", "--host", LOOPBACK, "--port", "0", "--max-connections", "1000000",
            "--ws-ping-interval", "3600", "--sse-heartbeat", "3600",
            "--keepalive-timeout", "3600", "--loop", self.loop, "--workers", str(self.workers),
        ]  # fmt: skip
        if self.redis:
            args += ["--redis", self.redis]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, *opt, "-m", "rawpush", *args,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        assert self.proc.stderr is not None
        while True:
            line = (await asyncio.wait_for(self.proc.stderr.readline(), 60)).decode()
            if not line:
                raise RuntimeError(f"rawpush serve exited: {await self.proc.wait()}")
            if "listening on " in line:
                self.port = int(line.rsplit(":", 1)[1])
                break
        self._drain = asyncio.ensure_future(self._read_stderr())

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while await self.proc.stderr.readline():
            pass

    async def count(self) -> int:
        seen: dict[bytes, int] = {}
        for _ in range(50 * self.workers):
            text = await http_get(self.port, "/metrics")
            worker = _WORKER.search(text)
            seen[worker.group(1) if worker else b"1"] = sum(
                int(n) for n in _CONNS.findall(text)
            )
            if len(seen) >= self.workers:
                break
        return sum(seen.values())

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 60)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self._drain.cancel()


class PeerTarget(Target):
    """sse-starlette or websockets, in ``serve`` below."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(HERE / "_http_publish.py"), "serve", self.kind,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        line = await self._read()
        if not line.startswith("PORT "):
            raise RuntimeError(f"{self.kind} said {line!r}")
        self.port = int(line.split()[1])

    async def _read(self) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError(f"{self.kind} exited")
        return line.decode().strip()

    async def count(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"COUNT\n")
        await self.proc.stdin.drain()
        return int((await self._read()).split()[1])

    async def publisher(self) -> Publisher:
        if self.kind == "websockets":
            ws = WSPublisher()
            await ws.open(self.port)
            return ws
        return await super().publisher()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            with contextlib.suppress(Exception):
                self.proc.stdin.write(b"QUIT\n")
                await self.proc.stdin.drain()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start_target(kind: str, **options: Any) -> Target:
    target: Target
    if kind == "rawpush":
        target = RawpushTarget(**options)
        await target.start()
    else:
        target = PeerTarget(kind)
        await target.start()
    return target


# -- publishers ----------------------------------------------------------------


class Publisher:
    async def publish(self, data: str) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class HTTPPublisher(Publisher):
    """``POST /publish/bench`` on one keep-alive connection; waits for each answer."""

    async def open(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection(LOOPBACK, port)
        self.head = f"POST /publish/{CHANNEL} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"

    async def publish(self, data: str) -> None:
        body = data.encode()
        self.writer.write(
            f"{self.head}Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"publish answered {head[:60]!r}")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if length:
            await self.reader.readexactly(length)

    async def close(self) -> None:
        self.writer.close()


class WSPublisher(Publisher):
    """One WebSocket on the websockets server's ``/publish``; waits for each ack."""

    async def open(self, port: int) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(f"ws://{LOOPBACK}:{port}/publish", compression=None)

    async def publish(self, data: str) -> None:
        await self.ws.send(data)
        await self.ws.recv()

    async def close(self) -> None:
        await self.ws.close()


async def bystander(port: int, stop: asyncio.Event, every: float = 0.005) -> list[int]:
    """``GET /healthz`` on a new connection every ``every`` s until ``stop``:
    how long a request that has nothing to do with the fan-out waits (us)."""
    waits: list[int] = []
    while not stop.is_set():
        sent = time.perf_counter_ns()
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await asyncio.wait_for(reader.read(), 60)
        writer.close()
        waits.append((time.perf_counter_ns() - sent) // 1000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
    return waits


# -- a redis-server for the worker benchmark ------------------------------------


class Redis:
    """A throw-away ``redis-server`` on a free loopback port, no persistence."""

    async def start(self) -> str:
        if shutil.which("redis-server") is None:
            raise SystemExit("redis-server is needed (apt-get install redis-server)")
        with socket.socket() as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.proc = await asyncio.create_subprocess_exec(
            "redis-server", "--port", str(port), "--bind", LOOPBACK, "--save", "",
            "--appendonly", "no", "--dir", self.dir,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(LOOPBACK, port)
                writer.close()
                return f"redis://{LOOPBACK}:{port}/0"
            await asyncio.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    async def stop(self) -> None:
        self.proc.terminate()
        await self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- the peer servers (python bench/_http_publish.py serve KIND) -----------------


async def _serve_starlette() -> tuple[int, Any]:
    import uvicorn
    from _common import starlette_stream
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    queues: set[asyncio.Queue[dict[str, str]]] = set()
    seq = 0
    stream = starlette_stream(queues)

    async def publish(request: Request) -> Any:
        nonlocal seq
        seq += 1
        data = (await request.body()).decode()
        item = {"id": f"{time.time_ns() // 1_000_000}-{seq}", "data": data}
        for queue in queues:
            queue.put_nowait(item)
        return JSONResponse({"id": item["id"]})

    app = Starlette(
        routes=[
            Route("/sse/{channel}", stream),
            Route("/publish/{channel}", publish, methods=["POST"]),
            Route("/healthz", lambda request: PlainTextResponse("ok")),
        ]
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return sock.getsockname()[1], (lambda: len(queues), task)


async def _serve_websockets() -> tuple[int, Any]:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    clients: set[ServerConnection] = set()
    seq = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal seq
        if ws.request is not None and ws.request.path == "/publish":
            async for message in ws:
                seq += 1
                ident = f"{time.time_ns() // 1_000_000}-{seq}"
                text = json.dumps({"id": ident, "event": None, "data": message})
                broadcast(clients, text)
                await ws.send(ident)
            return
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    def healthz(connection: Any, request: Any) -> Any:
        if request.path == "/healthz":
            return connection.respond(200, "ok\n")
        return None

    server = await serve(
        handler, LOOPBACK, 0, ping_interval=None, compression=None, process_request=healthz
    )
    return server.sockets[0].getsockname()[1], (lambda: len(clients), server)


async def _serve(kind: str) -> None:
    if kind == "sse-starlette":
        port, (count, _keep) = await _serve_starlette()
    elif kind == "websockets":
        port, (count, _keep) = await _serve_websockets()
    else:
        raise SystemExit(f"unknown server {kind}")
    reply(f"PORT {port}")
    commands = await stdin_lines()
    while line := (await commands.readline()).decode().split():
        if line[0] == "COUNT":
            reply(f"COUNT {count()}")
        elif line[0] == "QUIT":
            break
    os._exit(0)


if __name__ == "__main__":
    from _common import raise_nofile

    raise_nofile()
    if sys.argv[1:2] != ["serve"]:
        raise SystemExit(f"usage: {sys.argv[0]} serve sse-starlette|websockets")
    asyncio.run(_serve(sys.argv[2]))
