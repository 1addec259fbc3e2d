"""The outbox policies other than ``disconnect`` (which
test_asgi_servers' stalled-reader test covers) for rawpush.asgi.App
mounted in a Starlette app, under uvicorn and under hypercorn as real
processes on loopback, with a reader that stops reading (a tiny receive
buffer and no ``recv``) while 8 KiB events are published:

- ``drop-oldest``: the stalled stream stays open; when it reads again it
  gets an ``event: gap`` notice where events were dropped, then the
  newest ones, while healthy readers beside it get everything;
- ``block``: nothing is lost: a reader that stalls for longer than every
  buffer on the way can hold (its queue full, as /metrics shows) gets
  every event, in order, once it reads again; the publisher waited.

Each reader resumes from a known id and the bursts wait, on /metrics, for
every stream to be open, so no event is missed by arriving early.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator

import pytest

from rawpush.client import EventSource
from tests.asgi import site
from tests.asgi.support import SERVERS, STOPPED, WAIT, Running, launch, metric, publish, stop

STREAMS = 'rawpush_connections{transport="sse"}'
QUEUED = 'rawpush_queue_bytes{transport="sse"}'
PAYLOAD = "x" * 8192


def _start(monkeypatch: pytest.MonkeyPatch, server: str, policy: str) -> Running:
    monkeypatch.setenv("RAWPUSH_TEST_OVERFLOW", policy)
    return launch(server)


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def _stall(running: Running, channel: str, last: str) -> socket.socket:
    """A subscriber that reads nothing until told to."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", running.port))
    sock.sendall(
        f"GET /push/sse/{channel} HTTP/1.1\r\nHost: x\r\nLast-Event-ID: {last}\r\n\r\n".encode()
    )
    return sock


async def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    """Read the stalled socket (in a thread) until ``marker`` arrives."""

    def read() -> bytes:
        sock.settimeout(WAIT)
        seen = bytearray()
        while marker not in seen:
            data = sock.recv(65536)
            if not data:
                break
            seen += data
        return bytes(seen)

    return await asyncio.to_thread(read)


async def _open_streams(running: Running, count: int) -> None:
    for _ in range(10_000):  # bounded: each try is a request
        if await metric(running, STREAMS) >= count:
            return
    raise AssertionError(f"fewer than {count} SSE streams open")


async def _healthy(running: Running, channel: str, last: str) -> list[str]:
    got: list[str] = []
    async with EventSource(f"{running.push}/sse/{channel}", last_event_id=last) as source:
        async for event in source:
            if event.data == "end":
                break
            got.append(event.id or "")
    return got


async def test_drop_oldest_gives_the_stalled_reader_a_gap_and_the_newest_events(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = _start(monkeypatch, server, "drop-oldest")
    stalled: socket.socket | None = None
    try:
        start = await publish(running, "drop", "start")
        stalled = _stall(running, "drop", start)
        async with asyncio.timeout(4 * WAIT):
            readers = [asyncio.ensure_future(_healthy(running, "drop", start)) for _ in range(20)]
            await _open_streams(running, 21)
            dropped = 'rawpush_dropped_total{transport="sse"}'
            sent: list[str] = []
            for _ in range(1000):  # bounded: drops begin within ~400 events here
                sent.append(await publish(running, "drop", PAYLOAD))
                if len(sent) % 10 == 0 and await metric(running, dropped) > 0:
                    break
            assert await metric(running, dropped) > 0
            sent.append(await publish(running, "drop", "end"))
            results = await asyncio.gather(*readers)
            seen = await _read_until(stalled, b"data: end\n")
        overflowed = await metric(running, 'rawpush_disconnects_total{reason="overflow"}')
    finally:
        if stalled is not None:
            # A stream cut by the app leaves its connection to the server,
            # which waits for a full buffer to drain before closing it.
            stalled.close()
        code, output = stop(running)
    assert code in STOPPED and "Traceback" not in output, output
    assert all(got == sent[:-1] for got in results)
    assert overflowed == 0  # the stalled stream was kept, not cut
    # What the buffers held, then the gap notice, then the newest events,
    # in the order they were published.
    head, gap, tail = seen.partition(b"event: gap\n")
    assert gap and _ids(head)[0] == sent[0] and _ids(tail)[-1] == sent[-1]
    order = {ident: n for n, ident in enumerate(sent)}
    positions = [order[ident] for ident in _ids(seen)]
    assert positions == sorted(set(positions)) and len(positions) < len(sent)


async def test_block_loses_nothing_for_a_reader_stalled_past_every_buffer(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = _start(monkeypatch, server, "block")
    stalled: socket.socket | None = None
    try:
        start = await publish(running, "block", "start")
        stalled = _stall(running, "block", start)
        async with asyncio.timeout(4 * WAIT):
            await _open_streams(running, 1)
            sent: list[str] = []
            full = site.config.queue_max_bytes - len(PAYLOAD) - 1024

            async def publisher() -> None:
                # More than the kernel, the server's buffers and the queue
                # can hold together (~4 MB here): only a publisher that
                # waits can get them all through.
                for _ in range(1000):
                    sent.append(await publish(running, "block", PAYLOAD))

            publishing = asyncio.ensure_future(publisher())
            for _ in range(10_000):  # bounded: each try is a request
                if await metric(running, QUEUED) >= full or publishing.done():
                    break
            # The queue is full and the publisher still has events to send.
            assert await metric(running, QUEUED) >= full
            assert not publishing.done()
            reading = asyncio.ensure_future(_read_until(stalled, b"data: end\n"))
            await publishing
            sent.append(await publish(running, "block", "end"))
            seen = await reading
        overflowed = await metric(running, 'rawpush_disconnects_total{reason="overflow"}')
        dropped = await metric(running, 'rawpush_dropped_total{transport="sse"}')
    finally:
        if stalled is not None:
            # A stream cut by the app leaves its connection to the server,
            # which waits for a full buffer to drain before closing it.
            stalled.close()
        code, output = stop(running)
    assert code in STOPPED and "Traceback" not in output, output
    assert (overflowed, dropped) == (0, 0)
    assert b"event: gap" not in seen and _ids(seen) == sent


def _ids(stream: bytes) -> list[str]:
    """The ``id:`` fields of a raw stream (each event is one chunk, so a
    chunk-size line never splits one)."""
    return [ident.decode() for ident in re.findall(rb"^id: (.+)$", stream, re.M)]
