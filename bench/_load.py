"""The load client of the network benchmarks (``python bench/_common.py client``).

Lean asyncio Protocols that open N SSE or WebSocket connections, count the
events that arrive and sample publish-to-receive latency; see ``_common.py``.
The command loop (``run_commands``) and the counting of opened connections
(``open_counted``) serve the HTTP/2 load client of ``h2_fanout.py`` too.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from _common import CHANNEL, LOOPBACK, MARK, WS_KEY, raise_nofile, reply, stdin_lines


class Stats:
    __slots__ = ("connected", "events", "failed", "last_ns", "latencies_us", "lost")

    def __init__(self) -> None:
        self.connected = 0
        self.failed = 0
        self.lost = 0
        self.events = 0
        self.last_ns = 0
        self.latencies_us: list[int] = []


class LoadProtocol(asyncio.Protocol):
    """Reads the response head, then counts markers; a sampled connection
    also parses the send time after each marker."""

    def __init__(self, stats: Stats, request: bytes, ready: asyncio.Future[int], sampled: bool):
        self.stats = stats
        self.request = request
        self.ready: asyncio.Future[int] | None = ready
        self.sampled = sampled
        self.head = b""
        self.tail = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if self.ready is not None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status = self.head[9:12]
            data, self.head = self.head[end + 4 :], b""
            ready, self.ready = self.ready, None
            if not ready.done():
                ready.set_result(int(status in (b"101", b"200")))
            if not data:
                return
        stats = self.stats
        if self.sampled:
            self._parse(data)
        else:
            count = data.count(MARK)
            if self.tail and data[:1] == b"@":
                count += 1
            self.tail = b"@" if data[-1:] == b"@" and data[-2:] != MARK else b""
            if count:
                stats.events += count
                stats.last_ns = time.time_ns()

    def _parse(self, data: bytes) -> None:
        now = time.time_ns()
        buf = self.tail + data if self.tail else data
        stats = self.stats
        pos = 0
        size = len(buf)
        found = 0
        while True:
            hit = buf.find(MARK, pos)
            if hit < 0:
                self.tail = b"@" if buf[-1:] == b"@" and size - 1 >= pos else b""
                break
            if hit + 21 > size:
                self.tail = buf[hit:]
                break
            sent = int(buf[hit + 2 : hit + 21])
            stats.latencies_us.append((now - sent) // 1000)
            found += 1
            pos = hit + 21
        if found:
            stats.events += found
            stats.last_ns = now

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(0)
        else:
            self.stats.lost += 1


def request_bytes(transport: str, port: int) -> bytes:
    if transport == "sse":
        return (
            f"GET /sse/{CHANNEL} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
        ).encode()
    return (
        f"GET /ws/{CHANNEL} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


#: what an OPEN command does: open connections as ``args`` asks, counting
#: them into the stats and keeping their transports for CLOSE
Opener = Callable[[list[str], Stats, list[asyncio.Transport]], Awaitable[None]]


async def open_counted(
    stats: Stats,
    transports: list[asyncio.Transport],
    factory: Callable[[asyncio.Future[int]], asyncio.Protocol],
    *,
    port: int,
    subscribers: int,
    timeout: float,
) -> None:
    """Open one connection that carries ``subscribers`` subscriptions; the
    protocol ``factory`` builds sets its future to how many of them the
    server took, and the rest count as failed (all of them when the
    connection fails or no answer comes within ``timeout`` seconds)."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[int] = loop.create_future()
    try:
        transport, _ = await loop.create_connection(lambda: factory(ready), LOOPBACK, port)
    except OSError:
        stats.failed += subscribers
        return
    transports.append(transport)
    try:
        ok = await asyncio.wait_for(ready, timeout)
    except TimeoutError:
        ok = 0
    stats.connected += ok
    stats.failed += subscribers - ok


async def run_commands(opener: Opener) -> None:
    """Answer the parent's commands on stdin until QUIT or EOF, then exit:
    ``OPEN ...`` (its arguments are the ``opener``'s), ``RESET``,
    ``WAIT target timeout``, ``QUIET quiet limit``, ``CLOSE``."""
    raise_nofile()
    loop = asyncio.get_running_loop()
    commands = await stdin_lines()
    stats = Stats()
    transports: list[asyncio.Transport] = []
    while line := (await commands.readline()).decode().split():
        cmd, args = line[0], line[1:]
        if cmd == "OPEN":
            await opener(args, stats, transports)
            reply(f"OPENED {stats.connected} {stats.failed}")
        elif cmd == "RESET":
            stats.events = 0
            stats.last_ns = 0
            stats.latencies_us = []
            reply("RESET")
        elif cmd == "WAIT":
            # Until `target` events have arrived in all, or `timeout` seconds.
            target, deadline = int(args[0]), loop.time() + float(args[1])
            while stats.events < target and loop.time() < deadline:
                await asyncio.sleep(0.02)
            lat = " ".join(map(str, stats.latencies_us))
            reply(f"GOT {stats.events} {stats.last_ns} {stats.lost} {lat}")
        elif cmd == "QUIET":
            # Until no event arrived for `quiet` seconds (or `limit`): a
            # backlog from one phase must not leak into the next.
            quiet, deadline = float(args[0]), loop.time() + float(args[1])
            seen, since = stats.events, loop.time()
            while loop.time() < deadline and loop.time() - since < quiet:
                await asyncio.sleep(0.05)
                if stats.events != seen:
                    seen, since = stats.events, loop.time()
            reply(f"QUIET {stats.events}")
        elif cmd == "CLOSE":
            for each in transports:
                each.abort()
            transports.clear()
            await asyncio.sleep(0.1)
            stats = Stats()
            reply("CLOSED")
        elif cmd == "QUIT":
            break
        else:
            reply(f"ERROR {cmd}")
    os._exit(0)


async def open_h1(args: list[str], stats: Stats, transports: list[asyncio.Transport]) -> None:
    """``OPEN sse|ws PORT COUNT SAMPLE_EVERY``: COUNT HTTP/1.1 connections,
    at most 64 of them being opened at a time."""
    kind, port, count, sample_every = args[0], int(args[1]), int(args[2]), int(args[3])
    request = request_bytes(kind, port)
    gate = asyncio.Semaphore(64)

    async def open_one(sampled: bool) -> None:
        async with gate:
            await open_counted(
                stats,
                transports,
                lambda ready: LoadProtocol(stats, request, ready, sampled),
                port=port,
                subscribers=1,
                timeout=30,
            )

    await asyncio.gather(
        *(open_one(sample_every > 0 and i % sample_every == 0) for i in range(count))
    )


async def run_client() -> None:
    """The HTTP/1.1 load client: ``run_commands`` with ``open_h1``."""
    await run_commands(open_h1)
