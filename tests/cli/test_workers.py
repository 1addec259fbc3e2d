"""``rawpush serve --workers N`` on a real redis-server, and ``--loop``.

Which worker holds which connection is the kernel's choice (SO_REUSEPORT
hashes the addresses); the tests open enough subscribers that both workers
get some, and check it with each worker's own /metrics
(``rawpush_worker_info`` says which worker answered).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rawpush.client.http import parse_url, request
from tests.cli.support import LIMIT, USAGE, finish, one_line, publish, read_until, run, spawn
from tests.cluster.redis_server import RedisServer, require_redis

SUBSCRIBERS = 40  # all on one of two workers: a chance of 2 in 2**40


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@dataclass
class Group:
    proc: asyncio.subprocess.Process
    base: str
    pids: list[int]
    seen: list[str]


@pytest.fixture
async def group(redis_server: RedisServer) -> AsyncIterator[Group]:
    proc = await spawn(
        "serve", "--workers", "2", "--host", "127.0.0.1", "--port", "0",
        "--redis", redis_server.url, "--sse-heartbeat", "3600",
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        line = await read_until(proc.stderr, "listening on ", seen)
        base = line.split("listening on ", 1)[1]
        line = await read_until(proc.stderr, "workers sharing the port", seen)
        pids = [int(p) for p in re.findall(r"\d+", line.split("pids", 1)[1])]
        yield Group(proc, base, pids, seen)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class Subscriber:
    """A raw SSE stream: the head, then the data lines as they come."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, base: str, channel: str) -> Subscriber:
        url = parse_url(base)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        writer.write(
            f"GET /sse/{channel} HTTP/1.1\r\nHost: {url.host}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        async with asyncio.timeout(LIMIT):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        return cls(reader, writer)

    async def data(self, count: int) -> list[str]:
        got: list[str] = []
        async with asyncio.timeout(LIMIT):
            while len(got) < count:
                line = await self.reader.readline()
                assert line, f"stream ended after {got}"
                text = line.decode().strip()
                # The chunk-size lines of the chunked body carry no "data:".
                if "data: " in text:
                    got.append(text.split("data: ", 1)[1])
        return got

    async def until_end(self) -> bytes:
        async with asyncio.timeout(LIMIT):
            return await self.reader.read()

    def close(self) -> None:
        self.writer.close()


async def worker_metrics(base: str, count: int) -> dict[str, int]:
    """SSE connections per worker, asking /metrics on new connections until
    every one of ``count`` workers has answered (bounded)."""
    found: dict[str, int] = {}
    for _ in range(200):
        response = await request("GET", parse_url(f"{base}/metrics"), timeout=LIMIT)
        text = (await response.read(1 << 20, timeout=LIMIT)).decode()
        await response.aclose()
        worker = re.search(r'rawpush_worker_info\{pid="\d+",worker="(\d+)"\} 1', text)
        assert worker is not None, text
        sse = re.search(r'rawpush_connections\{transport="sse"\} (\d+)', text)
        found[worker.group(1)] = int(sse.group(1)) if sse else 0
        if len(found) == count:
            break
    return found


async def test_more_than_one_worker_needs_redis() -> None:
    code, _, err = await run("serve", "--workers", "2", "--port", "0")
    assert code == USAGE
    assert one_line(err) == (
        "rawpush: --workers 2: more than one worker needs a shared backplane "
        "(add --redis URL, so that every worker sees every channel)"
    )


async def test_zero_workers_is_a_usage_error() -> None:
    code, _, err = await run("serve", "--workers", "0", "--port", "0")
    assert code == USAGE
    assert "--workers: 0 is not a number of processes" in one_line(err)


async def test_loop_uvloop_without_uvloop_says_so() -> None:
    code, _, err = await finish(
        await spawn(
            python="import sys; sys.modules['uvloop'] = None\n"
            "from rawpush.cli import main\n"
            "sys.exit(main(['serve', '--loop', 'uvloop', '--port', '0']))"
        )
    )
    assert code == USAGE
    assert one_line(err) == (
        "rawpush: --loop uvloop: uvloop is not installed "
        "(pip install uvloop (it is in rawpush[bench]), or leave --loop out)"
    )


async def test_events_published_to_any_worker_reach_subscribers_on_every_worker(
    group: Group,
) -> None:
    subs = [await Subscriber.open(group.base, "news") for _ in range(SUBSCRIBERS)]
    per_worker = await worker_metrics(group.base, 2)
    assert sorted(per_worker) == ["1", "2"]
    assert all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) == SUBSCRIBERS
    # Each POST is a new connection: the kernel spreads them over both
    # workers as it does the subscribers.
    sent = [f"event {i}" for i in range(6)]
    for data in sent:
        await publish(group.base, "news", data)
    for sub in subs:
        assert await sub.data(len(sent)) == sent
        sub.close()


async def test_sigterm_to_the_parent_drains_every_worker(group: Group) -> None:
    subs = [await Subscriber.open(group.base, "news") for _ in range(SUBSCRIBERS)]
    per_worker = await worker_metrics(group.base, 2)
    assert all(n > 0 for n in per_worker.values()), per_worker
    group.proc.send_signal(signal.SIGTERM)
    for sub in subs:
        # The drain ends each stream with a retry hint, on both workers.
        assert b"retry:" in await sub.until_end()
    code, _, err = await finish(group.proc)
    assert code == 0, err
    lines = group.seen + err.splitlines()
    assert "rawpush: draining 2 workers" in lines
    assert "rawpush: worker 1: draining" in lines
    assert "rawpush: worker 2: draining" in lines
    assert lines[-1] == "rawpush: all workers drained"


async def test_a_worker_that_dies_stops_the_group(group: Group) -> None:
    sub = await Subscriber.open(group.base, "news")
    victim = group.pids[0]
    os.kill(victim, signal.SIGKILL)
    code, _, err = await finish(group.proc)
    assert code == 1
    assert f"rawpush: worker 1 (pid {victim}) was killed by SIGKILL: stopping the others" in err
    assert "rawpush: worker 2: draining" in err
    sub.close()


async def test_every_worker_writes_its_access_log_lines(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    proc = await spawn(
        "serve", "--workers", "2", "--host", "127.0.0.1", "--port", "0",
        "--redis", redis_server.url, "--access-log", str(log),
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    line = await read_until(proc.stderr, "listening on ", seen)
    base = line.split("listening on ", 1)[1]
    assert sorted(await worker_metrics(base, 2)) == ["1", "2"]  # both answered
    for _ in range(6):
        response = await request("GET", parse_url(f"{base}/healthz"), timeout=LIMIT)
        await response.read(1 << 16, timeout=LIMIT)
        await response.aclose()
    proc.send_signal(signal.SIGTERM)
    code, _, err = await finish(proc)
    assert code == 0, err
    # Each worker flushed its own writer before it exited.
    assert log.read_text().count("GET /healthz ") == 6
