"""WebSocket core throughput: rawpush against wsproto and websockets.

Both directions of the sans-IO frame layer, after the handshake:

- receive: a server parses masked client messages fed one message per
  ``receive_data`` call (one TCP read per message, the common case for
  small pushes), and drains its events;
- send: a server serializes a text message and drains the bytes.

Every library runs in the same process on the same pre-built input.
Prints messages per second and rawpush's ratio to each peer. A plain
script with no assertions: ``python bench/ws_core.py``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from websockets.protocol import Protocol, Side
from websockets.protocol import State as WsState
from wsproto.connection import Connection as WsprotoConnection
from wsproto.connection import ConnectionType
from wsproto.events import TextMessage

from rawpush.ws import ClientConnection, ServerConnection, WSConfig

SIZES = (256, 1024, 64 * 1024)
LIMIT = 1 << 20
BUDGET = 0.15  # seconds per measurement
ROUNDS = 3  # libraries alternate; the best round counts (the machine is shared)


def client_frames(text: str, count: int) -> list[bytes]:
    """Masked client frames, each with its own random mask (as on the wire)."""
    client = ClientConnection(WSConfig(max_frame_size=LIMIT, max_message_size=LIMIT))
    frames = []
    for _ in range(count):
        client.send_text(text)
        frames.append(client.data_to_send())
    return frames


def rate(run: Callable[[int], None]) -> float:
    """Messages per second, timing batches of growing size for BUDGET s."""
    run(8)  # warm-up
    n, spent, done = 8, 0.0, 0
    while spent < BUDGET:
        start = time.perf_counter()
        run(n)
        spent += time.perf_counter() - start
        done += n
        n *= 2
    return done / spent


def recv_rawpush(frames: list[bytes]) -> Callable[[int], None]:
    conn = ServerConnection(WSConfig(max_frame_size=LIMIT, max_message_size=LIMIT))

    def run(n: int) -> None:
        receive, events = conn.receive_data, conn.events
        for i in range(n):
            receive(frames[i % len(frames)])
            events()

    return run


def recv_wsproto(frames: list[bytes]) -> Callable[[int], None]:
    conn = WsprotoConnection(ConnectionType.SERVER)

    def run(n: int) -> None:
        receive, events = conn.receive_data, conn.events
        for i in range(n):
            receive(frames[i % len(frames)])
            for _ in events():
                pass

    return run


def recv_websockets(frames: list[bytes]) -> Callable[[int], None]:
    proto = Protocol(Side.SERVER, state=WsState.OPEN, max_size=LIMIT)

    def run(n: int) -> None:
        receive, events = proto.receive_data, proto.events_received
        for i in range(n):
            receive(frames[i % len(frames)])
            events()

    return run


def send_rawpush(text: str) -> Callable[[int], None]:
    conn = ServerConnection()

    def run(n: int) -> None:
        send, out = conn.send_text, conn.data_to_send
        for _ in range(n):
            send(text)
            out()

    return run


def send_wsproto(text: str) -> Callable[[int], None]:
    conn = WsprotoConnection(ConnectionType.SERVER)

    def run(n: int) -> None:
        send = conn.send
        for _ in range(n):
            send(TextMessage(data=text))

    return run


def send_websockets(text: str) -> Callable[[int], None]:
    proto = Protocol(Side.SERVER, state=WsState.OPEN, max_size=LIMIT)

    def run(n: int) -> None:
        send, out = proto.send_text, proto.data_to_send
        for _ in range(n):
            send(text.encode())
            out()

    return run


def main() -> None:
    print(f"Python {sys.version.split()[0]}; msgs/s, higher is better")
    print(f"{'direction':<9} {'size':>6} {'rawpush':>10} {'wsproto':>10} {'websockets':>10}"
          f" {'x wsproto':>9} {'x websockets':>12}")
    for size in SIZES:
        text = os.urandom(size // 2).hex()
        frames = client_frames(text, 64)
        rows = {
            "receive": (recv_rawpush(frames), recv_wsproto(frames), recv_websockets(frames)),
            "send": (send_rawpush(text), send_wsproto(text), send_websockets(text)),
        }
        for direction, runs in rows.items():
            best = [0.0, 0.0, 0.0]
            for _ in range(ROUNDS):
                for i, run in enumerate(runs):
                    best[i] = max(best[i], rate(run))
            ours, wsp, wss = best
            print(f"{direction:<9} {size:>6} {ours:>10,.0f} {wsp:>10,.0f} {wss:>10,.0f}"
                  f" {ours / wsp:>9.2f} {ours / wss:>12.2f}")


if __name__ == "__main__":
    main()
