"""The pieces bench/storms.py builds its scenarios from: ``rawpush serve``
subprocesses, raw HTTP/1.0 requests, ``/metrics`` and ``/proc/net/sockstat``
readers, and a raw SSE subscriber that keeps every id it was given."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import percentile

from rawpush.sse import Decoder

LOOPBACK = "127.0.0.1"
_LISTENING = re.compile(r"rawpush: listening on http://127\.0\.0\.1:(\d+)")
WS_HEAD = (
    "GET /ws/{channel} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)


# ---- servers -----------------------------------------------------------------


class Node:
    """One ``rawpush serve`` subprocess; its port is read from stderr."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self, port: int = 0) -> Node:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rawpush", "serve", "--port", str(port), *self.args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline().decode()
            if match := _LISTENING.search(line):
                self.port = int(match[1])
                # Keep draining stderr so the node never blocks on a full pipe.
                threading.Thread(target=self.proc.stderr.read, daemon=True).start()
                return self
            if not line and self.proc.poll() is not None:
                break
        raise SystemExit(f"rawpush serve {' '.join(self.args)} did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


async def http(
    port: int,
    method: str,
    target: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """One HTTP/1.0 request: ``(status, body)``; status 0 on a network error."""
    lines = [f"{method} {target} HTTP/1.0", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(LOOPBACK, port)
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            answer = await reader.read()
            writer.close()
    except (OSError, TimeoutError):
        return 0, b""
    head, _, rest = answer.partition(b"\r\n\r\n")
    try:
        return int(head.split(b" ", 2)[1]), rest
    except (IndexError, ValueError):
        return 0, b""


async def gauges(port: int, *, labelled: bool = False) -> dict[str, float]:
    """Every sample of ``/metrics``: summed per name, or with ``labelled``
    one entry per sample (``name{labels}``), so that two labels moving in
    opposite directions do not cancel out."""
    _, body = await http(port, "GET", "/metrics")
    out: dict[str, float] = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            key = name if labelled else name.split("{", 1)[0]
            out[key] = out.get(key, 0.0) + float(value)
    return out


def sockstat() -> dict[str, int]:
    """``/proc/net/sockstat``'s TCP line: inuse, orphan, tw, alloc, mem (pages)."""
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            parts = line.split()[1:]
            return {parts[i]: int(parts[i + 1]) for i in range(0, len(parts), 2)}
    return {}


# ---- clients -----------------------------------------------------------------


@dataclass
class SSEClient:
    """A raw SSE subscriber that keeps every id it was given."""

    port: int
    channel: str
    last_id: str = ""
    status: int = 0
    ids: list[str] = field(default_factory=list)
    retry_ms: int | None = None
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, stop: asyncio.Event) -> None:
        headers = f"Last-Event-ID: {self.last_id}\r\n" if self.last_id else ""
        self.ended.clear()
        self.retry_ms = None
        try:
            reader, writer = await asyncio.open_connection(LOOPBACK, self.port)
        except OSError:
            self.status = 0
            self.ended.set()
            return
        writer.write(f"GET /sse/{self.channel} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.status = int(head.split(b" ", 2)[1])
            decoder = Decoder()
            while self.status == 200 and not stop.is_set():
                chunk = await reader.read(65536)
                if not chunk:
                    break
                for event in decoder.feed(chunk):
                    if event.id:
                        self.ids.append(event.id)
                        self.last_id = event.id
                self.retry_ms = decoder.retry
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            pass
        finally:
            writer.close()
            self.ended.set()


async def publish(port: int, channel: str, data: str, key: str | None = None) -> tuple[int, str]:
    headers = {"Idempotency-Key": key} if key else {}
    status, body = await http(port, "POST", f"/publish/{channel}", data.encode(), headers,
                              timeout=5.0)
    ident = json.loads(body).get("id", "") if status == 200 else ""
    return status, ident


def percentile_s(values: list[float], q: float) -> str:
    """The ``q``-th percentile of sorted seconds, printed; ``-`` for none."""
    if not values:
        return "-"
    return f"{values[min(len(values) - 1, int(len(values) * q / 100))]:.2f} s"


def percentile_ms(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of sorted seconds, in milliseconds."""
    # percentile() takes a fraction: passing 99 there gave the maximum.
    return percentile([int(v * 1e6) for v in values], q / 100) / 1000


async def flooder(port: int, until: float, sent: list[int]) -> None:
    """Publish as fast as the socket takes it; cut off, come straight back
    (what a hostile client does)."""
    frame = b"\x81\x85" + b"\x00\x00\x00\x00" + b"flood"  # masked with a zero key
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(LOOPBACK, port)
        except OSError:
            await asyncio.sleep(0.01)
            continue

        async def discard(reader: asyncio.StreamReader = reader) -> None:
            with contextlib.suppress(OSError):
                while await reader.read(65536):
                    pass

        sink = asyncio.ensure_future(discard())
        try:
            writer.write(WS_HEAD.format(channel="flood").encode())
            while time.monotonic() < until and not sink.done():
                writer.write(frame * 64)
                sent[0] += 64
                await writer.drain()
        except OSError:
            pass
        finally:
            sink.cancel()
            writer.close()


async def _flood(port: int, count: int, seconds: float) -> None:
    sent = [0]
    until = time.monotonic() + seconds
    await asyncio.gather(*(flooder(port, until, sent) for _ in range(count)))
    print(sent[0], flush=True)


if __name__ == "__main__":  # python bench/_faults.py flood PORT COUNT SECONDS
    if sys.argv[1:2] == ["flood"]:
        asyncio.run(_flood(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])))
