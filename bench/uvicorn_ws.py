"""Echo round trips per second under uvicorn, one WebSocket protocol each.

The same ASGI echo application (``app`` below) runs under uvicorn with
``--ws rawpush.uvicorn:WebSocketProtocol``, ``--ws websockets``,
``--ws websockets-sansio`` and ``--ws wsproto``, each in a fresh uvicorn
process, without compression unless ``--deflate``. The load comes from
this process: ``--connections`` WebSocket clients on rawpush's sans-IO
core, each sending one text message and waiting for its echo, over and
over, for ``--seconds``. The client is the same for every server, so the
differences are the servers'. Protocols alternate for ``--rounds`` rounds
and the best round of each counts (the machine is shared). Prints round
trips per second, rawpush's ratio to each of the others, and the load
average before and after (other work on the machine moves every figure).

``--extra NAME=MODULE:CLASS`` adds a protocol class of your own to the
same run, e.g. an earlier rawpush.uvicorn copied under another name on
``PYTHONPATH``, to compare before and after a change side by side.

    python bench/uvicorn_ws.py                 # ~40 s
    python bench/uvicorn_ws.py --sizes 16 65536 --seconds 3 --deflate
    PYTHONPATH=/tmp/old python bench/uvicorn_ws.py --extra before=old_uvicorn:WebSocketProtocol

A plain script with no assertions. It talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from rawpush.ws import ClientConnection, ClientHandshake, DeflateParams, Text, WSConfig

HERE = Path(__file__).resolve().parent
PROTOCOLS = {
    "rawpush": "rawpush.uvicorn:WebSocketProtocol",
    "websockets": "websockets",
    "websockets-sansio": "websockets-sansio",
    "wsproto": "wsproto",
}
LIMIT = 1 << 24


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The echo application every server runs."""
    if scope["type"] != "websocket":
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


class Server:
    """uvicorn in a child process on a free port of 127.0.0.1.

    Not ``--fd``: uvicorn takes a descriptor for a Unix socket, and asyncio
    then leaves Nagle's algorithm on, which would time the peers' split
    writes instead of the protocols. A port taken in between is retried.
    """

    def __init__(self, ws: str, deflate: bool) -> None:
        self.ws = ws
        self.deflate = deflate
        self.port = 0
        self.proc: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[bytes] | None = None

    async def __aenter__(self) -> Server:
        for _ in range(5):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
            argv = [sys.executable, "-m", "uvicorn", "uvicorn_ws:app", "--app-dir", str(HERE)]
            argv += ["--port", str(self.port), "--ws", self.ws, "--no-access-log"]
            argv += ["--ws-max-size", str(LIMIT), "--ws-ping-interval", "0"]
            argv += ["--ws-per-message-deflate", str(self.deflate).lower()]
            proc = self.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
            assert proc.stderr is not None
            async with asyncio.timeout(30):
                while line := await proc.stderr.readline():
                    if b"Uvicorn running" in line:
                        self._drain = asyncio.create_task(proc.stderr.read())
                        return self
            await proc.wait()  # it could not bind: try another port
        raise RuntimeError(f"uvicorn --ws {self.ws} did not start")

    async def __aexit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._drain is not None:
            await self._drain


async def open_client(
    port: int, deflate: bool
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, ClientConnection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    handshake = ClientHandshake(
        f"127.0.0.1:{port}", "/", deflate=DeflateParams(max_message_size=LIMIT) if deflate else None
    )
    writer.write(handshake.data_to_send())
    async with asyncio.timeout(30):
        while handshake.receive_data(await reader.read(65536)) is None:
            pass
    conn = ClientConnection(
        WSConfig(max_frame_size=LIMIT, max_message_size=LIMIT), extension=handshake.extension
    )
    conn.receive_data(handshake.trailing_data)
    return reader, writer, conn


async def echo_loop(port: int, text: str, seconds: float, deflate: bool) -> int:
    """Round trips of one connection until ``seconds`` have passed."""
    reader, writer, conn = await open_client(port, deflate)
    done = 0
    deadline = time.perf_counter() + seconds
    try:
        while time.perf_counter() < deadline:
            conn.send_text(text)
            writer.write(conn.data_to_send())
            while True:
                texts = [e for e in conn.events() if isinstance(e, Text)]
                if texts:
                    assert len(texts) == 1 and len(texts[0].data) == len(text), texts
                    break
                data = await reader.read(1 << 20)
                if not data:
                    raise ConnectionError("the server closed the connection")
                conn.receive_data(data)
            done += 1
    finally:
        with contextlib.suppress(Exception):
            conn.send_close()
            writer.write(conn.data_to_send())
        writer.close()
    return done


async def measure(ws: str, size: int, args: argparse.Namespace) -> float:
    text = ("abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
    async with Server(ws, args.deflate) as server:
        # Warm up with one short run.
        await echo_loop(server.port, text, 0.3, args.deflate)
        start = time.perf_counter()
        counts = await asyncio.gather(
            *(
                echo_loop(server.port, text, args.seconds, args.deflate)
                for _ in range(args.connections)
            )
        )
        return sum(counts) / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 4096, 262144])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--deflate", action="store_true", help="permessage-deflate on")
    parser.add_argument("--only", nargs="+", choices=sorted(PROTOCOLS), default=sorted(PROTOCOLS))
    parser.add_argument(
        "--extra",
        nargs="+",
        default=[],
        metavar="NAME=MODULE:CLASS",
        help="more --ws classes for the same run (importable by the uvicorn child)",
    )
    args = parser.parse_args()
    names = [name for name in PROTOCOLS if name in args.only]
    for extra in args.extra:
        name, sep, spec = extra.partition("=")
        if not sep or ":" not in spec or name in PROTOCOLS:
            parser.error(f"--extra wants NAME=MODULE:CLASS with a new NAME, not {extra!r}")
        PROTOCOLS[name] = spec
        names.append(name)
    print(
        f"uvicorn echo, {args.connections} connections x {args.seconds} s, "
        f"best of {args.rounds} rounds, deflate={'on' if args.deflate else 'off'}, "
        f"{os.cpu_count()} CPUs, load average {_load()} at start"
    )
    best: dict[tuple[str, int], float] = {}
    for _ in range(args.rounds):
        for size in args.sizes:
            for name in names:
                rate = await measure(PROTOCOLS[name], size, args)
                key = (name, size)
                best[key] = max(best.get(key, 0.0), rate)
    header = f"{'size':>8}" + "".join(f"{name:>19}" for name in names)
    print(header)
    for size in args.sizes:
        print(f"{size:>8}" + "".join(f"{best[name, size]:>15.0f} rt/s" for name in names))
    if "rawpush" in names:
        for name in names:
            if name == "rawpush":
                continue
            ratios = ", ".join(
                f"{size} B {best['rawpush', size] / best[name, size]:.2f}x" for size in args.sizes
            )
            print(f"rawpush / {name}: {ratios}")
    print(f"load average {_load()} at the end")


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    asyncio.run(main())
