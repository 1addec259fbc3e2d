"""A stock ticker over Server-Sent Events.

Starts a server and publishes made-up prices to channel ``ticker``; each
event is named after its symbol, so a browser can listen per symbol::

    const es = new EventSource("http://127.0.0.1:PORT/sse/ticker");
    es.addEventListener("ACME", (e) => console.log(e.data));

or from a terminal: ``curl -N http://127.0.0.1:PORT/sse/ticker``.
Reconnecting clients resume from ``Last-Event-ID`` without missing a tick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random

import rawpush

SYMBOLS = {"ACME": 101.0, "GLOBEX": 42.5, "INITECH": 7.25}


async def main(port: int, ticks: int | None) -> None:
    server = await rawpush.serve(port=port, sse_heartbeat_interval=5.0)
    print(f"curl -N {server.url}/sse/ticker")
    prices = dict(SYMBOLS)
    try:
        n = 0
        while ticks is None or n < ticks:
            symbol = random.choice(list(prices))
            prices[symbol] = round(prices[symbol] * random.uniform(0.98, 1.02), 2)
            data = json.dumps({"symbol": symbol, "price": prices[symbol]})
            await server.hub.publish("ticker", data, event=symbol)
            n += 1
            await asyncio.sleep(0.5)
    finally:
        await server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ticks", type=int, default=None, help="stop after this many")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.port, args.ticks))
