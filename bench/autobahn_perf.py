"""Autobahn section 9 (performance) against ``rawpush echo`` and websockets.

The 54 cases of section 9 (kosoku, a runner of the Autobahn|Testsuite
case files) time an echo server on large messages (9.1/9.2: one message of
64 KiB to 16 MiB), fragmented ones (9.3/9.4: 4 MiB in frames of 64 B to
4 MiB), chopped writes (9.5/9.6) and 1,000 round trips of small messages
(9.7/9.8). Two servers, each a fresh child process, run the same cases in
the same run, alternating for ``--rounds`` rounds (the best round of each
case counts: the machine is shared):

- ``rawpush echo`` with 16 MiB frame and message limits;
- a websockets (asyncio API) echo server, the same limits, no compression.

Prints each case's duration for both and the ratio (rawpush / websockets:
under 1 is faster), then the totals per subsection. A plain script with no
assertions: ``python bench/autobahn_perf.py [--rounds 3] [-i '9.7.*']``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

LIMIT = 16 * 1024 * 1024  # section 9's largest message (9.1.6, 9.2.6)
KOSOKU = str(Path(sys.executable).with_name("kosoku"))
RUN_TIMEOUT = 600.0  # seconds for one kosoku run of the selection
URL = re.compile(r"ws://[\d.]+:\d+")


async def websockets_echo() -> None:
    """The peer: the websockets asyncio echo server (run with --websockets-echo)."""
    from websockets.asyncio.server import ServerConnection, serve

    async def echo(ws: ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async with serve(echo, "127.0.0.1", 0, max_size=LIMIT, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"websockets echo: listening on ws://127.0.0.1:{port}", file=sys.stderr, flush=True)
        await asyncio.Future()


@contextlib.asynccontextmanager
async def child(argv: Sequence[str]) -> AsyncIterator[str]:
    """Start a server process; yield the ws:// URL it prints on stderr."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            while True:
                line = (await proc.stderr.readline()).decode()
                if not line:
                    raise RuntimeError(f"{argv} exited before printing its URL")
                if match := URL.search(line):
                    break
        yield match.group(0)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def run_cases(url: str, include: Sequence[str], outdir: Path) -> dict[str, int]:
    """Run kosoku on ``include``; case id -> duration in ms (OK cases only)."""
    args = [a for pattern in include for a in ("-i", pattern)]
    proc = await asyncio.create_subprocess_exec(
        KOSOKU, "-m", "fuzzingclient", url, *args, "-o", str(outdir),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    [cases] = json.loads((outdir / "index.json").read_text()).values()
    durations: dict[str, int] = {}
    for case_id, entry in cases.items():
        if entry["behavior"] == "OK":
            durations[case_id] = int(entry["duration"])
        else:
            print(f"  {case_id}: {entry['behavior']} (left out)", file=sys.stderr)
    return durations


def servers() -> dict[str, list[str]]:
    limit = str(LIMIT)
    return {
        "rawpush": [sys.executable, "-m", "rawpush", "echo", "--port", "0",
                    "--max-message-size", limit, "--max-frame-size", limit],
        "websockets": [sys.executable, __file__, "--websockets-echo"],
    }


def _key(case_id: str) -> list[int]:
    return [int(part) for part in case_id.split(".")]


def report(best: dict[str, dict[str, int]]) -> None:
    names = list(best)
    common = sorted(set.intersection(*(set(b) for b in best.values())), key=_key)
    print(f"{'case':<8}" + "".join(f"{n + ' ms':>14}" for n in names) + f"{'ratio':>8}")
    groups: dict[str, list[str]] = defaultdict(list)
    for case_id in sorted(set.union(*(set(b) for b in best.values())), key=_key):
        row = [best[n].get(case_id) for n in names]
        ratio = f"{row[0] / row[1]:.2f}" if row[0] is not None and row[1] else "-"
        cells = "".join(f"{'-' if v is None else v:>14}" for v in row)
        print(f"{case_id:<8}{cells}{ratio:>8}")
        if case_id in common:
            groups[case_id.rsplit(".", 1)[0]].append(case_id)
    print("(sections and totals: the cases both servers passed)")
    print()
    print(f"{'section':<8}" + "".join(f"{n + ' ms':>14}" for n in names) + f"{'ratio':>8}")
    ratios = []
    for group, ids in groups.items():
        sums = [sum(best[n][c] for c in ids) for n in names]
        if sums[1]:
            ratios.append(sums[0] / sums[1])
        ratio = f"{sums[0] / sums[1]:.2f}" if sums[1] else "-"
        print(f"{group:<8}" + "".join(f"{v:>14}" for v in sums) + f"{ratio:>8}")
    totals = [sum(best[n][c] for c in common) for n in names]
    print(f"{'all':<8}" + "".join(f"{v:>14}" for v in totals)
          + f"{totals[0] / max(totals[1], 1):>8.2f}")
    if ratios:
        geo = math.exp(sum(math.log(r) for r in ratios if r > 0) / len(ratios))
        print(f"geometric mean of the section ratios: {geo:.2f}")


async def main(rounds: int, include: Sequence[str]) -> None:
    best: dict[str, dict[str, int]] = {name: {} for name in servers()}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            for name, argv in servers().items():
                print(f"round {n + 1}/{rounds}: {name}", file=sys.stderr)
                async with child(argv) as url:
                    got = await run_cases(url, include, Path(tmp) / f"{name}{n}")
                for case_id, ms in got.items():
                    old = best[name].get(case_id)
                    best[name][case_id] = ms if old is None else min(old, ms)
    report(best)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per server (default 3)")
    parser.add_argument("-i", "--include", action="append", help="case glob (default 9.*)")
    parser.add_argument("--websockets-echo", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.websockets_echo:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(websockets_echo())
    else:
        asyncio.run(main(options.rounds, options.include or ["9.*"]))
