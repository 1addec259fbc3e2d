"""The cost of one ASGI ``websocket.send`` in uvicorn's WebSocket protocols.

What a fan-out pays once per delivery, with the kernel left out: each
protocol class (``rawpush.uvicorn:WebSocketProtocol``, uvicorn's
``wsproto``, ``websockets-sansio`` and ``websockets`` implementations) is
built in this process as uvicorn builds it, on a transport that keeps
nothing, and given a real upgrade request. The application accepts, then
awaits ``send({"type": "websocket.send", "text": ...})`` over and over;
the figure is nanoseconds per send, the best of ``--rounds`` batches of
``--sends`` (the machine is shared: the best batch is the least disturbed
one). Every class runs in the same process and the same loop, in turns.

    python bench/uvicorn_send.py                  # ~20 s
    python bench/uvicorn_send.py --size 4096 --rounds 60

``--extra NAME=MODULE:CLASS`` adds a class of your own (an earlier
rawpush.uvicorn copied under another name on ``PYTHONPATH``, say). A
plain script with no assertions; no socket is opened.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import time
from typing import Any

_UVICORN = "uvicorn.protocols.websockets."
CLASSES = {
    "rawpush": "rawpush.uvicorn:WebSocketProtocol",
    "wsproto": _UVICORN + "wsproto_impl:WSProtocol",
    "websockets-sansio": _UVICORN + "websockets_sansio_impl:WebSocketsSansIOProtocol",
    "websockets": _UVICORN + "websockets_impl:WebSocketProtocol",
}
# An upgrade request as uvicorn's HTTP protocol replays it (RFC 6455 4.1).
REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class NullTransport(asyncio.Transport):
    """Takes every write and keeps nothing; never over a high-water mark."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes += 1

    def writelines(self, data: Any) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return False

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 80)}.get(name, default)


def _load_class(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


async def measure(spec: str, text: str, sends: int, rounds: int) -> tuple[float, int]:
    """Best ns per send over ``rounds`` batches, and the writes of one batch."""
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    batches: list[float] = []
    writes: list[int] = []
    done = asyncio.Event()
    transport = NullTransport()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        message = {"type": "websocket.send", "text": text}
        for _ in range(sends):  # warm up
            await send(message)
        for _ in range(rounds):
            before = transport.writes
            start = time.perf_counter()
            for _ in range(sends):
                await send(message)
            batches.append((time.perf_counter() - start) / sends)
            writes.append(transport.writes - before)
        done.set()
        await receive()

    config = Config(app=app, ws_ping_interval=None, ws_per_message_deflate=False, lifespan="off")
    config.load()
    protocol = _load_class(spec)(config=config, server_state=ServerState(), app_state={})
    protocol.connection_made(transport)
    protocol.data_received(REQUEST)
    async with asyncio.timeout(120):
        await done.wait()
    protocol.connection_lost(None)
    for _ in range(10):
        await asyncio.sleep(0)  # let the application see the disconnect
    return min(batches) * 1e9, writes[0]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=200, help="text message size (bytes)")
    parser.add_argument("--sends", type=int, default=2000, help="sends per batch")
    parser.add_argument("--rounds", type=int, default=30, help="batches per class, in turns")
    parser.add_argument("--only", nargs="+", choices=sorted(CLASSES), default=list(CLASSES))
    parser.add_argument("--extra", nargs="+", default=[], metavar="NAME=MODULE:CLASS")
    args = parser.parse_args()
    classes = {name: CLASSES[name] for name in CLASSES if name in args.only}
    for extra in args.extra:
        name, sep, spec = extra.partition("=")
        if not sep or ":" not in spec or name in classes:
            parser.error(f"--extra wants NAME=MODULE:CLASS with a new NAME, not {extra!r}")
        classes[name] = spec
    text = ("abcdefghijklmnopqrstuvwxyz" * (args.size // 26 + 1))[: args.size]
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(
        f"ASGI websocket.send, {args.size} B text, best of {args.rounds} x {args.sends} "
        f"sends per class in turns, null transport; load average {load} at start"
    )
    best: dict[str, float] = {}
    writes: dict[str, int] = {}
    # Classes take turns in short runs, so a busy spell on the machine
    # hits them all; each turn keeps the best batch seen so far.
    turns = 5
    per_turn = max(1, args.rounds // turns)
    for _ in range(turns):
        for name, spec in classes.items():
            ns, count = await measure(spec, text, args.sends, per_turn)
            best[name] = min(best.get(name, ns), ns)
            writes[name] = count
    for name, ns in best.items():
        ratio = ns / best["rawpush"] if "rawpush" in best else float("nan")
        print(
            f"  {name:<20} {ns:>8,.0f} ns/send  {writes[name] / args.sends:>4.1f} writes/send"
            f"  x{ratio:.2f} of rawpush's cost"
        )
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"load average {load} at the end")


if __name__ == "__main__":
    asyncio.run(main())
