"""Drive an Autobahn fuzzing server with ``rawpush.client.connect``.

What every Autobahn client runner does, with rawpush's client:

1. ``GET /getCaseCount``: the server sends the number of cases as one
   text message, then closes;
2. for N in 1..count, ``GET /runCase?case=N&agent=AGENT``: echo every
   message back, text as text and binary as binary, until the connection
   ends (the case decides who closes, and how);
3. ``GET /updateReports?agent=AGENT``: the server writes its reports (kosoku
   then stops).

Cases are independent connections, so several may run at once
(``concurrency``); the server numbers them in the order of its selection.

    python -m tests.autobahn.client_driver ws://127.0.0.1:9001 [--compression deflate]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from urllib.parse import quote

from rawpush.client import ConnectionClosed, InvalidHandshake, connect
from rawpush.proto.ws.deflate import DeflateParams

__all__ = ["NO_CONTEXT_TAKEOVER", "Compression", "case_count", "run_all", "run_case",
           "update_reports"]

Compression = str | DeflateParams | None

#: The offer Autobahn's 13.2, 13.5 and 13.6 servers want: they decline one
#: without ``client_no_context_takeover`` (RFC 7692 section 7.1.1.2, the
#: client's promise to compress each message alone).
NO_CONTEXT_TAKEOVER = DeflateParams(client_no_context_takeover=True)

# Section 9 sends 16 MiB messages; the client's limits must take them.
MAX_SIZE = 64 * 1024 * 1024


async def case_count(base: str) -> int:
    """How many cases the server holds (``/getCaseCount``)."""
    async with connect(f"{base}/getCaseCount", ping_interval=None) as ws:
        message = await ws.recv()
    return int(message)


async def run_case(base: str, n: int, agent: str, compression: Compression) -> None:
    """Run case ``n``: echo until the server or the case ends the connection."""
    url = f"{base}/runCase?case={n}&agent={quote(agent)}"
    ws = await connect(
        url,
        ping_interval=None,  # no Ping of ours in the cases' expected traffic
        max_frame_size=MAX_SIZE,
        max_message_size=MAX_SIZE,
        compression=compression,
    )
    try:
        # Section 5.5.1 lets a data frame go out after the peer's Close was
        # received and before ours; the client refuses, which ends the case.
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await ws.recv())
    finally:
        await ws.close()


async def update_reports(base: str, agent: str) -> None:
    """Tell the server we are done; it drops the connection after the 101."""
    with contextlib.suppress(ConnectionClosed, InvalidHandshake, OSError):
        ws = await connect(f"{base}/updateReports?agent={quote(agent)}", ping_interval=None)
        await ws.wait_closed()


async def run_all(
    base: str, *, agent: str = "rawpush", compression: Compression = None, concurrency: int = 1
) -> int:
    """Every case of the server, at most ``concurrency`` at once; their number."""
    base = base.rstrip("/")
    count = await case_count(base)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(n: int) -> None:
        async with gate:
            try:
                await run_case(base, n, agent, compression)
            except (InvalidHandshake, OSError) as exc:
                # The server's report says what went wrong; go on.
                print(f"case {n}: {exc!r}", file=sys.stderr)

    async with asyncio.TaskGroup() as group:
        for n in range(1, count + 1):
            group.create_task(one(n))
    await update_reports(base, agent)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the fuzzing server, ws://host:port")
    parser.add_argument("--agent", default="rawpush")
    parser.add_argument("--compression", choices=["deflate", "deflate-no-context"])
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args(argv)
    compression: Compression = args.compression
    if compression == "deflate-no-context":
        compression = NO_CONTEXT_TAKEOVER
    count = asyncio.run(
        run_all(args.url, agent=args.agent, compression=compression,
                concurrency=args.concurrency)
    )
    print(f"ran {count} cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
