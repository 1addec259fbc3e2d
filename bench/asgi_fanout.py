"""Fan-out inside an ASGI app under uvicorn: rawpush.asgi.App against peers.

Run: ``python bench/asgi_fanout.py`` (N = 1,000 and 10,000, three rounds;
about ten minutes on two shared cores) or ``--quick`` (N = 1,000, one
round; about a minute); ``--subscribers``, ``--rounds``, ``--ws`` and
``--coalesce`` pick others.

Every server is uvicorn in its own process, running a Starlette app:

- SSE: ``rawpush.asgi.App`` mounted at ``/`` (``GET /sse/bench``) against
  sse-starlette (``EventSourceResponse`` fed by one ``asyncio.Queue`` per
  subscriber, the way its README does it; the same server ``fanout.py``
  uses). rawpush.asgi runs at its default (every event sent as it is
  queued) and once more per ``--coalesce`` window (default 5 ms and 50 ms;
  ``ServerConfig.write_coalesce_window``: a stream's events of one window
  go out as one body message), each row named after its window
  (``asgi/rawpush+5ms``) and compared with sse-starlette on its own;
- WebSocket: the same ``rawpush.asgi.App`` (``GET /ws/bench``) under
  uvicorn with ``--ws rawpush.uvicorn:WebSocketProtocol``, ``--ws
  websockets`` and ``--ws wsproto`` (``--ws websockets-sansio`` on
  request): one application, so the differences are the protocol classes'.

Publishing is in-process through each server's own API (``hub.publish``;
``put_nowait`` for sse-starlette). The N connections are split over two
load-client processes (``_load.py``), and each scenario has the two
phases of ``fanout.py`` (see there): 200 B events at a fixed offered load
for p50/p99 publish-to-receive latency, then a burst for delivered
events/s. Kinds alternate within each round (the machine is shared);
the report gives each figure's median over the rounds, its spread
(min..max) and the ratios of the medians.

A plain script with no assertions. It talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import _common
import fanout
from _common import CHANNEL, LOOPBACK, BenchServer, Child, machine, raise_nofile

HERE = Path(__file__).resolve().parent
WS_CLASSES = {
    "rawpush": "rawpush.uvicorn:WebSocketProtocol",
    "websockets": "websockets",
    "websockets-sansio": "websockets-sansio",
    "wsproto": "wsproto",
}


class AsgiServer(BenchServer):
    """rawpush.asgi.App mounted in Starlette, under uvicorn in this process
    with the WebSocket protocol class ``ws`` and ``write_coalesce_window``
    ``coalesce``."""

    def __init__(self, ws: str, coalesce: float = 0.0) -> None:
        self.ws = ws
        self.coalesce = coalesce

    async def start(self) -> None:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Mount

        import rawpush
        import rawpush.asgi
        from rawpush.server.config import ServerConfig

        config = ServerConfig(
            max_connections=1_000_000,
            # No heartbeats during a run: the lean clients answer no pings.
            ws_ping_interval=3600.0,
            sse_heartbeat_interval=3600.0,
            keepalive_timeout=3600.0,
            write_coalesce_window=self.coalesce,
        )
        self.hub = rawpush.Hub(config.hub)
        push = rawpush.asgi.App(self.hub, config)
        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            await push.startup()  # a mounted app gets no lifespan events
            yield

        app = Starlette(routes=[Mount("/", push)], lifespan=lifespan)
        self.port, sock = _listen()
        uv = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            ws=self.ws,
            ws_ping_interval=None,
            ws_per_message_deflate=False,
            backlog=4096,
        )
        self.uvicorn = uvicorn.Server(uv)
        self.task = asyncio.ensure_future(self.uvicorn.serve(sockets=[sock]))
        while not self.uvicorn.started:
            await asyncio.sleep(0.01)

    def count(self) -> int:
        return self.hub.stats().subscribers

    async def publish(self, data: str) -> None:
        await self.hub.publish(CHANNEL, data)


def _listen() -> tuple[int, socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    return sock.getsockname()[1], sock


# The kinds this script adds to the shared server table (its own children
# run ``serve KIND`` through this file, so the table is extended there too).
def _factory(ws: str) -> Callable[[], BenchServer]:
    return lambda: AsgiServer(ws)


for _name, _cls in WS_CLASSES.items():
    _common.SERVERS[f"asgi/{_name}"] = _factory(_cls)

#: the kind of rawpush.asgi with a coalescing window: "asgi/rawpush+5ms"
_COALESCED = "asgi/rawpush+"


def coalesced_kind(seconds: float) -> str:
    """The server kind of rawpush.asgi with ``write_coalesce_window`` ``seconds``."""
    kind = f"{_COALESCED}{seconds * 1000:g}ms"
    _common.SERVERS[kind] = lambda: AsgiServer(WS_CLASSES["rawpush"], seconds)
    return kind


def _register(kind: str) -> None:
    # A child started with a coalesced kind registers it from its name.
    if kind.startswith(_COALESCED) and kind.endswith("ms"):
        coalesced_kind(float(kind[len(_COALESCED) : -2]) / 1000)


async def start_server(kind: str) -> tuple[Child, int]:
    """A server child of this file (``fanout.scenario`` calls it by name)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "serve",
        kind,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=64 * 1024 * 1024,
    )
    child = Child(proc)
    line = await child.read(30)
    if not line.startswith("PORT "):
        raise RuntimeError(f"{kind} server said {line!r}")
    return child, int(line.split()[1])


# fanout.scenario starts its server through this module-level name.
setattr(fanout, "start_server", start_server)  # noqa: B010


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def _spread(values: list[float], digits: int = 0) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "-"
    return f"{min(values):,.{digits}f}..{max(values):,.{digits}f}"


def report(runs: dict[tuple[str, str, int], list[fanout.Result]], rounds: int) -> None:
    print()
    header = (
        f"{'':<4} {'N':>6} {'server (uvicorn)':<22} {'conn':>6} {'delivered/s':>12} "
        f"{'(min..max)':>19} {'got %':>6} {'p50 ms':>7} {'p99 ms':>7} {'(min..max)':>19} "
        f"{'got %':>6}"
    )
    print(
        f"medians of {rounds} round(s): burst delivered/s, then latency at the fixed offered "
        "load; got %: the least share of the deliveries seen in time in any round, burst "
        "after delivered/s, rate phase after p99"
    )
    print(header)
    print("-" * len(header))
    medians: dict[tuple[str, str, int], tuple[float, float]] = {}
    for (kind, transport, n), results in runs.items():
        rate = _median([r.events_per_s for r in results])
        p99 = _median([r.p99_ms for r in results])
        medians[kind, transport, n] = (rate, p99)
        burst_got = min(r.burst_delivered for r in results)
        rate_got = min(r.rate_delivered for r in results)
        notes = "; ".join(sorted({r.note for r in results if r.note}))
        print(
            f"{transport:<4} {n:>6} {kind:<22} {min(r.connected for r in results):>6} "
            f"{rate:>12,.0f} {_spread([r.events_per_s for r in results]):>19} "
            f"{100 * burst_got:>6.1f} {fanout.fmt(_median([r.p50_ms for r in results])):>7} "
            f"{fanout.fmt(p99):>7} {_spread([r.p99_ms for r in results], 1):>19} "
            f"{100 * rate_got:>6.1f}"
            + (f"  ({notes})" if notes else "")
        )
    print()
    print("ratios of the medians (rawpush / peer): delivered/s, and peer p99 / rawpush p99")
    # In the order they ran: the default first, then each window.
    ours_sse = dict.fromkeys(k[0] for k in medians if k[0].startswith("asgi/") and k[1] == "sse")
    pairs = [("sse", ours, "sse-starlette") for ours in ours_sse]
    pairs += [("ws", "asgi/rawpush", f"asgi/{name}") for name in WS_CLASSES if name != "rawpush"]
    for transport, ours, peer in pairs:
        for n in sorted({key[2] for key in medians}):
            if (ours, transport, n) not in medians or (peer, transport, n) not in medians:
                continue
            rate, p99 = medians[ours, transport, n]
            peer_rate, peer_p99 = medians[peer, transport, n]
            tput = rate / peer_rate if peer_rate else float("nan")
            lat = peer_p99 / p99 if p99 else float("nan")
            verdict = ""
            if transport == "sse":
                verdict = "  (target >= 3x: " + ("met)" if tput >= 3 else "NOT met)")
            print(
                f"  {transport:<4} N={n:<6} {ours} vs {peer:<22} x{fanout.fmt(tput, 2):>6}"
                f"   p99 x{fanout.fmt(lat, 2)}{verdict}"
            )


def _scenarios(ws: list[str], coalesce: list[float]) -> list[tuple[str, str]]:
    kinds = [("asgi/rawpush", "sse")]
    kinds += [(coalesced_kind(seconds), "sse") for seconds in coalesce]
    kinds.append(("sse-starlette", "sse"))
    return kinds + [(f"asgi/{name}", "ws") for name in ws]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--subscribers", type=int, nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="N = 1,000, one round, short phases")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--ws",
        nargs="*",
        choices=sorted(WS_CLASSES),
        default=["rawpush", "websockets", "wsproto"],
        help="the WebSocket protocol classes (none: SSE only)",
    )
    parser.add_argument("--load", type=float, default=50_000, help="offered deliveries/s")
    parser.add_argument(
        "--coalesce",
        type=float,
        nargs="*",
        default=[0.005, 0.05],
        metavar="SECONDS",
        help="add an SSE row of rawpush.asgi with write_coalesce_window SECONDS, one per "
        "value (default 0.005 0.05; none given: only the default, no window)",
    )
    args = parser.parse_args()
    sizes = args.subscribers or ([1_000] if args.quick else [1_000, 10_000])
    rounds = args.rounds or (1 if args.quick else 3)
    limit = raise_nofile()
    started = time.monotonic()
    print(f"asgi_fanout: {machine()}; open files {limit}")
    print(
        f"uvicorn in its own process, {fanout.CLIENTS} load-client processes, all on "
        "the same cores; loopback 127.0.0.1, 200 B events, rate phase 2 s, burst 100,000 "
        f"deliveries; {rounds} round(s)"
    )
    clients = [await Child.start("client") for _ in range(fanout.CLIENTS)]
    runs: dict[tuple[str, str, int], list[fanout.Result]] = {}
    try:
        for round_no in range(rounds):
            for n in sizes:
                for kind, transport in _scenarios(args.ws, args.coalesce):
                    t = time.monotonic()
                    r = await fanout.scenario(
                        kind, transport, n, clients,
                        load=args.load, rate_seconds=2.0, burst_deliveries=100_000,
                    )
                    runs.setdefault((kind, transport, n), []).append(r)
                    print(
                        f"  round {round_no + 1} {transport} N={n} {kind}: "
                        f"{r.events_per_s:,.0f} delivered/s, p99 {fanout.fmt(r.p99_ms)} ms, "
                        f"got {100 * r.burst_delivered:.1f}% ({time.monotonic() - t:.0f} s)",
                        flush=True,
                    )
    finally:
        for c in clients:
            await c.stop()
    report(runs, rounds)
    print(f"\ntotal time {time.monotonic() - started:.0f} s")


def _serve(kind: str) -> Any:
    _register(kind)
    # BENCH_PROFILE=DIR, as for fanout.py: each server under cProfile.
    profile_dir = os.environ.get("BENCH_PROFILE")
    if not profile_dir:
        return asyncio.run(_common.run_server(kind))
    import cProfile

    profiler = cProfile.Profile()
    path = f"{profile_dir}/{kind.replace('/', '_')}.{os.getpid()}.prof"
    profiler.enable()
    return asyncio.run(_common.run_server(kind, lambda: profiler.dump_stats(path)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        _serve(sys.argv[2])
    else:
        asyncio.run(main())
