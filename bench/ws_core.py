"""WebSocket core throughput: rawpush (C accelerator and pure Python)
against websockets and wsproto, server side, in one run.

One *message* is what a server does for a client that talks back: parse
one masked client text frame fed as one ``receive_data`` call (one TCP
read per message), drain the events, serialize one text message of the
same size and flush it (``data_to_send()`` after every send). Sizes 256 B,
1 KiB, 16 KiB and 64 KiB; every library runs in the same process on the
same pre-built frames (64 of them, each with its own random mask).

rawpush runs twice: with the C accelerator (``rawpush.proto.ws._speedups``,
when built) and with the pure-Python masking bound in its place; the
implementations alternate with the peers round after round, so a busy
moment of the shared machine hits all of them alike; time is the
process's CPU time (``time.process_time``), so being descheduled is not
counted, only what each library costs. Each cell is the
median of ``--rounds`` rounds; the spread column is (max - min) / median
over those rounds for rawpush-C, the noise of that row.

A second, smaller table times the masking functions alone (us per call):
rawpush's C and pure-Python paths, websockets' C ``apply_mask`` and
wsproto's ``XorMaskerSimple``.

``--tricks`` adds a third table, each direction alone with and without
each trick (the send path before the fast path, pure vs C framing and
unmasking), for bench/README.md's "what each trick buys".

A plain script with no assertions: ``python bench/ws_core.py``
(``--rounds 15`` for a steadier table, ``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from types import ModuleType

from websockets.frames import Frame
from websockets.protocol import Protocol, Side
from websockets.protocol import State as WsState
from websockets.speedups import apply_mask as websockets_apply_mask
from wsproto.connection import Connection as WsprotoConnection
from wsproto.connection import ConnectionType
from wsproto.events import Message, TextMessage
from wsproto.frame_protocol import XorMaskerSimple

from rawpush.proto.ws import frames as rp_frames
from rawpush.proto.ws import mask as rp_mask
from rawpush.proto.ws import send as rp_send
from rawpush.proto.ws import utf8 as rp_utf8
from rawpush.ws import ClientConnection, ServerConnection, Text, WSConfig

SIZES = (256, 1024, 16 * 1024, 64 * 1024)
LIMIT = 1 << 20
PEERS = ("rawpush-C", "rawpush-py", "websockets", "wsproto")

Run = Callable[[int], None]

# CPU time of this process, not wall time: on a machine shared by many,
# wall time mostly measures how often the scheduler took the core away
# (spreads of 100 % between rounds at load 9 on 2 cores); the process's
# own CPU time, page faults included, is what each library costs.
CLOCK = time.process_time


def c_module() -> ModuleType | None:
    try:
        from rawpush.proto.ws import _speedups
    except ImportError:
        return None
    return _speedups


@contextlib.contextmanager
def masking(pure: bool) -> Iterator[None]:
    """Bind rawpush's masking call sites to the pure-Python functions (or
    to the C ones) for the duration; restores what was bound."""
    sites = [(rp_frames, "unmask"), (rp_frames, "apply_mask"), (rp_send, "apply_mask"),
             (rp_utf8, "apply_mask"), (rp_send, "server_frame")]
    saved = [getattr(module, name) for module, name in sites]
    c = c_module()
    if pure or c is None:
        chosen = {"unmask": rp_mask.py_unmask, "apply_mask": rp_mask.py_apply_mask,
                  "server_frame": rp_frames.py_server_frame}
    else:
        chosen = {"unmask": c.unmask, "apply_mask": c.apply_mask, "server_frame": c.server_frame}
    for module, name in sites:
        setattr(module, name, chosen[name])
    try:
        yield
    finally:
        for (module, name), value in zip(sites, saved, strict=True):
            setattr(module, name, value)


def client_frames(text: str, count: int) -> list[bytes]:
    """Masked client frames, each with its own random mask (as on the wire)."""
    client = ClientConnection(WSConfig(max_frame_size=LIMIT, max_message_size=LIMIT))
    out = []
    for _ in range(count):
        client.send_text(text)
        out.append(client.data_to_send())
    return out


def server_rawpush(frames: list[bytes], text: str) -> Run:
    conn = ServerConnection(WSConfig(max_frame_size=LIMIT, max_message_size=LIMIT))
    count = len(frames)

    def run(n: int) -> None:
        receive, events, send, out = (
            conn.receive_data, conn.events, conn.send_text, conn.data_to_send)
        for i in range(n):
            receive(frames[i % count])
            for event in events():
                assert isinstance(event, Text)
                send(event.data)
                out()

    return run


def server_websockets(frames: list[bytes], text: str) -> Run:
    proto = Protocol(Side.SERVER, state=WsState.OPEN, max_size=LIMIT)
    count = len(frames)

    def run(n: int) -> None:
        receive, events, send, out = (
            proto.receive_data, proto.events_received, proto.send_text, proto.data_to_send)
        for i in range(n):
            receive(frames[i % count])
            for frame in events():
                assert isinstance(frame, Frame)
                send(frame.data)  # websockets' Protocol sends bytes as they came
                out()

    return run


def server_wsproto(frames: list[bytes], text: str) -> Run:
    conn = WsprotoConnection(ConnectionType.SERVER)
    count = len(frames)

    def run(n: int) -> None:
        receive, events, send = conn.receive_data, conn.events, conn.send
        for i in range(n):
            receive(frames[i % count])
            for event in events():
                assert isinstance(event, Message)
                send(TextMessage(data=event.data))  # returns the bytes to write

    return run


def wsproto_mask(key: bytes, data: bytearray) -> bytes:
    """wsproto's masking of one frame: a masker per frame, as it does."""
    return bytes(XorMaskerSimple(key).process(data))


def rate(run: Run, budget: float) -> float:
    """Messages per second, timing batches of growing size for ``budget`` s."""
    run(4)  # warm-up
    n, spent, done = 4, 0.0, 0
    while spent < budget:
        start = CLOCK()
        run(n)
        spent += CLOCK() - start
        done += n
        n *= 2
    return done / spent


def per_call(func: Callable[[], object], budget: float) -> float:
    """Median microseconds per call over 5 batches."""
    n = 16
    while True:
        start = CLOCK()
        for _ in range(n):
            func()
        if CLOCK() - start > budget / 5:
            break
        n *= 2
    times = []
    for _ in range(5):
        start = CLOCK()
        for _ in range(n):
            func()
        times.append((CLOCK() - start) / n)
    return statistics.median(times) * 1e6


def trick_runs(frames: list[bytes], text: str) -> dict[str, tuple[bool, Run]]:
    """What each trick buys, one direction at a time: name -> (pure, run)."""
    conn = ServerConnection(WSConfig(max_frame_size=LIMIT, max_message_size=LIMIT))
    count = len(frames)

    def receive(n: int) -> None:
        for i in range(n):
            conn.receive_data(frames[i % count])
            conn.events()

    def send_before(n: int) -> None:
        # The send path before the fast path: encode, the state table and
        # the fragment checks, header and payload joined on flush.
        for _ in range(n):
            conn._send_data(0x1, text.encode(), True)
            conn.data_to_send()

    def send_now(n: int) -> None:
        for _ in range(n):
            conn.send_text(text)
            conn.data_to_send()

    return {
        "receive, pure unmask": (True, receive),
        "receive, C unmask": (False, receive),
        "send, before (encode + join)": (True, send_before),
        "send, fast path, pure framing": (True, send_now),
        "send, fast path, C server_frame": (False, send_now),
    }


def tricks(rounds: int, budget: float) -> None:
    print(f"\nwhat each trick buys: msgs/s of one direction, median of {rounds} rounds")
    names = list(trick_runs([b""], ""))
    print(f"{'size':>6} " + " ".join(f"{n:>{max(len(n), 9)}}" for n in names))
    for size in SIZES:
        text = os.urandom(size // 2).hex()
        runs = trick_runs(client_frames(text, 64), text)
        samples: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(rounds):
            for name, (pure, run) in runs.items():
                with masking(pure):
                    samples[name].append(rate(run, budget))
        print(f"{size:>6} " + " ".join(
            f"{statistics.median(samples[n]):>{max(len(n), 9)},.0f}" for n in names))


def machine() -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load {load}; Python {sys.version.split()[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--budget", type=float, default=0.12, help="seconds per cell per round")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 0.04 s")
    parser.add_argument("--tricks", action="store_true",
                        help="also time each direction with and without each trick")
    args = parser.parse_args()
    rounds, budget = (3, 0.04) if args.quick else (args.rounds, args.budget)
    if c_module() is None:
        print("NOTE: the C accelerator is not built; rawpush-C runs pure Python too")
    print(machine())
    print(f"server side, msgs/s (receive masked + send + flush), median of {rounds} rounds")
    header = (f"{'size':>6} " + " ".join(f"{p:>11}" for p in PEERS)
              + f" {'spread':>7} {'C/wss':>6} {'C/wsp':>6} {'py/wsp':>6} {'py/wss':>6} {'C/py':>6}")
    print(header)
    results: dict[int, list[float]] = {}
    for size in SIZES:
        text = os.urandom(size // 2).hex()
        frames = client_frames(text, 64)
        runs = {
            "rawpush-C": server_rawpush(frames, text),
            "rawpush-py": server_rawpush(frames, text),
            "websockets": server_websockets(frames, text),
            "wsproto": server_wsproto(frames, text),
        }
        samples: dict[str, list[float]] = {p: [] for p in PEERS}
        for _ in range(rounds):
            for peer in PEERS:
                with masking(pure=peer == "rawpush-py"):
                    samples[peer].append(rate(runs[peer], budget))
        med = [statistics.median(samples[p]) for p in PEERS]
        results[size] = med
        c, py, wss, wsp = med
        spread = (max(samples["rawpush-C"]) - min(samples["rawpush-C"])) / c
        print(f"{size:>6} " + " ".join(f"{m:>11,.0f}" for m in med)
              + f" {spread:>6.0%} {c / wss:>6.2f} {c / wsp:>6.2f} {py / wsp:>6.2f}"
              f" {py / wss:>6.2f} {c / py:>6.2f}")
    print()
    goals = [
        ("C >= 1.0x websockets at 64 KiB", results[65536][0] / results[65536][2], 1.0),
        ("C >= 1.5x websockets at 256 B", results[256][0] / results[256][2], 1.5),
        *[(f"pure >= 1.2x wsproto at {s} B", results[s][1] / results[s][3], 1.2) for s in SIZES],
    ]
    for name, got, goal in goals:
        print(f"goal {name}: x{got:.2f} {'met' if got >= goal else 'NOT met'}")

    print("\nmasking alone, us per call (median of 5 batches)")
    print(f"{'size':>6} {'rawpush-C':>10} {'rawpush-py':>10} {'websockets':>10} {'wsproto':>10}")
    module = c_module()
    key = os.urandom(4)
    for size in SIZES:
        data = os.urandom(size)
        mutable = bytearray(data)
        cells = [
            per_call(partial(module.apply_mask, data, key), budget) if module else float("nan"),
            per_call(partial(rp_mask.py_apply_mask, data, key), budget),
            per_call(partial(websockets_apply_mask, data, key), budget),
            per_call(partial(wsproto_mask, key, mutable), budget),
        ]
        print(f"{size:>6} " + " ".join(f"{x:>10.2f}" for x in cells))
    if args.tricks:
        tricks(rounds, budget)


if __name__ == "__main__":
    main()
