"""Memory per idle connection: rawpush against sse-starlette and websockets.

Run: ``python bench/idle_memory.py`` (about 40 s); ``--connections 5000``
for another count, ``--trace`` to always print where rawpush's memory goes.

For each server and transport, a fresh server process (see ``_common.py``):

1. 50 connections are opened and closed (warm-up: lazy imports, first
   allocations of each code path), then the server collects garbage and its
   RSS (``VmRSS`` from ``/proc/<pid>/status``) is read after a 1 s settle;
2. N idle subscribers (default 2,000) are opened from a separate client
   process, the server confirms it has registered all of them, and after a
   2 s settle and a ``gc.collect()`` the RSS is read again;
3. (RSS after - RSS before) / N is the cost of one idle connection, in KiB.

Kernel socket buffers are not in RSS: this is the server process's own
memory (Python objects, malloc arenas), which is what the implementation
controls. When rawpush is over its 4 KiB target (or with ``--trace``), a
second rawpush run takes a ``tracemalloc`` snapshot before and after
opening the connections and prints the 10 source lines that grew most.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from _common import Child, machine, raise_nofile, start_server

TARGET_KIB = 4.0
WARMUP = 50

CASES = (
    ("rawpush", "sse"),
    ("sse-starlette", "sse"),
    ("rawpush", "ws"),
    ("websockets", "ws"),
)


async def wait_count(server: Child, count: int, limit: float = 30.0) -> int:
    deadline = time.monotonic() + limit
    seen = 0
    while time.monotonic() < deadline:
        seen = int((await server.ask("COUNT")).split()[1])
        if seen >= count:
            break
        await asyncio.sleep(0.1)
    return seen


async def open_idle(client: Child, server: Child, transport: str, port: int, n: int) -> int:
    line = await client.ask(f"OPEN {transport} {port} {n} 0", 120)
    connected = int(line.split()[1])
    await wait_count(server, connected)
    return connected


async def measure(kind: str, transport: str, n: int, client: Child) -> tuple[float, int, int]:
    """KiB per idle connection, RSS before and after (KiB)."""
    server, port = await start_server(kind)
    try:
        await open_idle(client, server, transport, port, WARMUP)
        await client.ask("CLOSE")
        await wait_count(server, 0)  # not needed for the numbers; lets teardown finish
        before = int((await server.ask("RSS 1.0")).split()[1])
        connected = await open_idle(client, server, transport, port, n)
        after = int((await server.ask("RSS 2.0")).split()[1])
        await client.ask("CLOSE")
    finally:
        await server.stop()
    return (after - before) / max(connected, 1), before, after


async def trace(transport: str, n: int, client: Child) -> list[str]:
    server, port = await start_server("rawpush")
    try:
        await open_idle(client, server, transport, port, WARMUP)
        await client.ask("CLOSE")
        await asyncio.sleep(0.5)
        await server.ask("TRACE 1")
        connected = await open_idle(client, server, transport, port, n)
        await asyncio.sleep(1.0)
        assert server.proc.stdin is not None
        server.proc.stdin.write(b"TRACEDIFF 10\n")
        lines: list[str] = []
        while not (line := await server.read()).startswith("TRACED"):
            size, count, where = line.split()[1:4]
            lines.append(
                f"    {int(size) / connected:8.0f} B/conn {int(count) / connected:6.2f} "
                f"blocks/conn  {where}"
            )
        total = int(line.split()[1])
        lines.append(f"    traced total: {total / connected / 1024:.2f} KiB per connection")
        await client.ask("CLOSE")
    finally:
        await server.stop()
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--trace", action="store_true", help="always run the tracemalloc diff")
    args = parser.parse_args()
    n = args.connections
    limit = raise_nofile()
    print(f"idle_memory: {machine()}; open files {limit}; {n} idle connections per case")
    client = await Child.start("client")
    results: dict[tuple[str, str], float] = {}
    try:
        for kind, transport in CASES:
            per_conn, before, after = await measure(kind, transport, n, client)
            results[(kind, transport)] = per_conn
            print(
                f"  {transport:<4} {kind:<14} RSS {before / 1024:6.1f} -> {after / 1024:6.1f} MiB"
                f"  {per_conn:6.2f} KiB/connection",
                flush=True,
            )
        print()
        print(f"{'transport':<9} {'server':<14} {'KiB/conn':>9} {'peer/rawpush':>13}")
        for (kind, transport), per_conn in results.items():
            ours = results[("rawpush", transport)]
            ratio = "" if kind == "rawpush" else f"x{per_conn / ours:.2f}"
            print(f"{transport:<9} {kind:<14} {per_conn:>9.2f} {ratio:>13}")
        print()
        print(f"target: rawpush <= {TARGET_KIB:g} KiB per idle connection")
        for transport in ("sse", "ws"):
            ours = results[("rawpush", transport)]
            verdict = "met" if ours <= TARGET_KIB else "NOT met"
            print(f"  {transport}: {ours:.2f} KiB -> {verdict}")
            if args.trace or ours > TARGET_KIB:
                print(f"  where rawpush's {transport} memory goes (tracemalloc, top 10 lines):")
                for line in await trace(transport, n, client):
                    print(line)
    finally:
        await client.stop()


if __name__ == "__main__":
    asyncio.run(main())
