"""SSE fan-out over HTTP/2 against HTTP/1.1, on one rawpush server.

Run: ``python bench/h2_fanout.py`` (1,000 subscribers; about two minutes)
or ``--quick`` (shorter phases); ``--subscribers``, ``--streams`` change
the shape.

The same ``rawpush`` server process (``_common.py serve rawpush``, HTTP/2
on by default: prior knowledge on the cleartext port, RFC 9113 section
3.3) is measured twice in one run, peers side by side:

- **h2**: N subscribers as N / S connections of S streams each (default
  10 x 100), ``GET /sse/bench`` on every stream, from a lean load client
  (this file, ``client``: frames walked by hand, as lean as the HTTP/1.1
  one; an h2-library client was the bottleneck itself);
- **h1**: N HTTP/1.1 connections, one ``GET /sse/bench`` each, from the
  lean load client of the other benchmarks (``_load.py``).

Per scenario: the server's RSS before and after the subscribers connect
and sit idle (memory per idle subscriber: an HTTP/2 stream against a whole
HTTP/1.1 connection; the kernel's socket buffers are not in the RSS), then
the two phases of ``fanout.py``: events of 200 B at a fixed rate
(``--load`` deliveries/s; p50/p99 publish-to-receive on sampled
subscribers) and a burst back to back (delivered events/s). Publishing is
in the server process (``hub.publish``), so both rows pay the same for it.
Every wait is bounded; the ratios h2/h1 are printed last.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from _common import (
    CHANNEL,
    HERE,
    LOOPBACK,
    MARK,
    Child,
    machine,
    percentile,
    raise_nofile,
    start_server,
)
from _load import Stats, open_counted, run_commands
from fanout import phase

CLIENTS = 2
SAMPLED = 200
MAX_WINDOW = (1 << 31) - 1
#: SETTINGS_INITIAL_WINDOW_SIZE the load client grants each stream
WINDOW = 16 << 20


@dataclass
class Row:
    kind: str
    subscribers: int
    connections: int
    connected: int = 0
    idle_kib: float = float("nan")
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    rate_delivered: float = 0.0
    events_per_s: float = 0.0
    burst_delivered: float = 0.0


# -- the HTTP/2 load client ------------------------------------------------------


def _frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    head = len(payload).to_bytes(3, "big") + bytes((kind, flags))
    return head + stream_id.to_bytes(4, "big") + payload


def _literal(name: bytes, value: bytes) -> bytes:
    # RFC 7541 section 6.2.2, lengths under 127: the same block every time
    return b"\x00" + bytes((len(name),)) + name + bytes((len(value),)) + value


class H2Load(asyncio.Protocol):
    """One HTTP/2 connection with ``streams`` SSE streams, as lean as the
    HTTP/1.1 load client: frame headers walked, DATA payloads searched for
    each event's marker (send time parsed on sampled streams), windows of
    16 MiB per stream given back once half used (RFC 9113 section 6.9)."""

    def __init__(
        self, stats: Stats, port: int, streams: int, sampled: set[int], ready: asyncio.Future[int]
    ) -> None:
        self.stats = stats
        self.port = port
        self.streams = streams
        self.sampled = {1 + 2 * index for index in sampled}
        self.ready: asyncio.Future[int] | None = ready
        self.ok = 0
        self.answered = 0
        self.buffer = b""
        self.used: dict[int, int] = {}
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        block = b"".join(
            _literal(name, value)
            for name, value in (
                (b":method", b"GET"),
                (b":scheme", b"http"),
                (b":path", f"/sse/{CHANNEL}".encode()),
                (b":authority", f"{LOOPBACK}:{self.port}".encode()),
                (b"accept", b"text/event-stream"),
            )
        )
        out = [
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            _frame(0x4, 0, 0, (0x4).to_bytes(2, "big") + WINDOW.to_bytes(4, "big")),
            _frame(0x8, 0, 0, (MAX_WINDOW - 65_535).to_bytes(4, "big")),
        ]
        out += [_frame(0x1, 0x5, 1 + 2 * i, block) for i in range(self.streams)]
        transport.write(b"".join(out))

    def data_received(self, data: bytes) -> None:
        buf = self.buffer + data if self.buffer else data
        stats = self.stats
        at, size, now = 0, len(buf), 0
        updates: list[bytes] = []
        while size - at >= 9:
            length = int.from_bytes(buf[at : at + 3], "big")
            if size - at < 9 + length:
                break
            kind, flags = buf[at + 3], buf[at + 4]
            stream_id = int.from_bytes(buf[at + 5 : at + 9], "big") & 0x7FFF_FFFF
            body = buf[at + 9 : at + 9 + length]
            at += 9 + length
            if kind == 0x0:  # DATA
                if stream_id in self.sampled:
                    now = now or time.time_ns()
                    hit = body.find(MARK)
                    while hit >= 0 and hit + 21 <= len(body):
                        stats.latencies_us.append((now - int(body[hit + 2 : hit + 21])) // 1000)
                        stats.events += 1
                        hit = body.find(MARK, hit + 21)
                else:
                    stats.events += body.count(MARK)
                stats.last_ns = now or time.time_ns()
                used = self.used.get(stream_id, 0) + length
                if used > WINDOW // 2:
                    updates.append(_frame(0x8, 0, stream_id, used.to_bytes(4, "big")))
                    updates.append(_frame(0x8, 0, 0, used.to_bytes(4, "big")))
                    used = 0
                self.used[stream_id] = used
            elif kind == 0x1 and stream_id:  # HEADERS: the response
                self.answered += 1
                # :status 200 is static table entry 8 (RFC 7541 appendix A)
                pad = body[0] + 1 if flags & 0x8 else 0
                start = pad + (5 if flags & 0x20 else 0)
                self.ok += b"\x88" in body[start : start + 8]
                if self.answered == self.streams and self.ready is not None:
                    ready, self.ready = self.ready, None
                    ready.set_result(self.ok)
            elif kind == 0x4 and not flags & 0x1:  # SETTINGS: acknowledge
                updates.append(_frame(0x4, 0x1, 0))
            elif kind == 0x6 and not flags & 0x1:  # PING: answer
                updates.append(_frame(0x6, 0x1, 0, body))
            elif kind in (0x3, 0x7):  # RST_STREAM, GOAWAY
                stats.lost += 1
        self.buffer = buf[at:]
        if updates and self.transport is not None:
            self.transport.write(b"".join(updates))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ready is not None and not self.ready.done():
            self.ready.set_result(self.ok)
        else:
            self.stats.lost += 1


async def open_h2(args: list[str], stats: Stats, transports: list[asyncio.Transport]) -> None:
    """``OPEN h2 PORT CONNECTIONS STREAMS SAMPLE_EVERY``: CONNECTIONS
    connections at once, each with STREAMS streams."""
    port, conns, streams, every = (int(a) for a in args[1:5])
    picks = [{s for s in range(streams) if (c * streams + s) % every == 0} for c in range(conns)]

    def factory(picked: set[int]) -> Callable[[asyncio.Future[int]], asyncio.Protocol]:
        return lambda ready: H2Load(stats, port, streams, picked, ready)

    await asyncio.gather(
        *(
            open_counted(
                stats, transports, factory(picked), port=port, subscribers=streams, timeout=60
            )
            for picked in picks
        )
    )


async def run_client() -> None:
    """The HTTP/2 load client: ``OPEN h2 ...`` (``open_h2``), then the
    commands of ``_load.py`` (RESET, WAIT, QUIET, CLOSE, QUIT)."""
    await run_commands(open_h2)


# -- the benchmark ----------------------------------------------------------------


async def _client(kind: str) -> Child:
    script = HERE / ("h2_fanout.py" if kind == "h2" else "_common.py")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script), "client",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=64 * 1024 * 1024,
    )  # fmt: skip
    return Child(proc)


async def scenario(kind: str, n: int, streams: int, args: argparse.Namespace) -> Row:
    server, port = await start_server("rawpush")
    clients = [await _client(kind) for _ in range(CLIENTS)]
    connections = n // streams if kind == "h2" else n
    row = Row(kind, n, connections)
    try:
        base = int((await server.ask("RSS 1")).split()[1])
        every = max(1, n // SAMPLED)
        if kind == "h2":
            shares = [connections // CLIENTS] * CLIENTS
            shares[0] += connections - sum(shares)
            commands = [f"OPEN h2 {port} {share} {streams} {every}" for share in shares]
        else:
            shares = [n // CLIENTS] * CLIENTS
            shares[0] += n - sum(shares)
            commands = [f"OPEN sse {port} {share} {every}" for share in shares]
        opened = await asyncio.gather(
            *(c.ask(cmd, 180) for c, cmd in zip(clients, commands, strict=True))
        )
        row.connected = sum(int(line.split()[1]) for line in opened)
        idle = int((await server.ask("RSS 2")).split()[1])
        row.idle_kib = (idle - base) / max(1, row.connected)
        if row.connected == 0:
            return row
        rate = args.load / n
        events = max(10, round(rate * args.seconds))
        received, _t0, _last, lat = await phase(
            server, clients, events=events, rate=rate, expected=row.connected,
            limit=events / rate + 10,
        )  # fmt: skip
        row.rate_delivered = received / (row.connected * events)
        lat.sort()
        row.p50_ms = percentile(lat, 0.50) / 1000
        row.p99_ms = percentile(lat, 0.99) / 1000
        burst = max(10, args.burst // n)
        received, t0, last, _ = await phase(
            server, clients, events=burst, rate=0, expected=row.connected, limit=25.0
        )
        row.burst_delivered = received / (row.connected * burst)
        if last > t0:
            row.events_per_s = received / ((last - t0) / 1e9)
    finally:
        for child in (*clients, server):
            await child.stop()
    return row


def report(rows: list[Row]) -> None:
    print(
        f"\n{'':4} {'subs':>6} {'conns':>6} {'ok':>6} {'KiB/idle sub':>13} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'rate recv':>10} {'burst ev/s':>12} {'burst recv':>10}"
    )
    for r in rows:
        print(
            f"{r.kind:4} {r.subscribers:6} {r.connections:6} {r.connected:6} {r.idle_kib:13.1f} "
            f"{r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.rate_delivered:10.1%} "
            f"{r.events_per_s:12,.0f} {r.burst_delivered:10.1%}"
        )
    h2, h1 = rows[0], rows[1]
    print(
        f"\nh2/h1: delivered/s x{h2.events_per_s / max(1.0, h1.events_per_s):.2f}, "
        f"p99 x{h2.p99_ms / h1.p99_ms:.2f}, "
        f"memory per idle subscriber x{h2.idle_kib / h1.idle_kib:.2f}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=100, help="h2 streams per connection")
    parser.add_argument("--load", type=float, default=50_000.0, help="deliveries/s, rate phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="rate phase length")
    parser.add_argument("--burst", type=int, default=200_000, help="deliveries in the burst")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.burst = 4.0, 50_000
    raise_nofile()
    print(f"h2_fanout: {machine()}")
    rows = []
    for kind in ("h2", "h1"):
        started = time.monotonic()
        rows.append(await scenario(kind, args.subscribers, args.streams, args))
        print(f"  {kind}: {time.monotonic() - started:.0f} s")
    report(rows)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        asyncio.run(run_client())
    else:
        asyncio.run(main())
