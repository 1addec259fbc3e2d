"""Real ``rawpush serve --redis`` processes and small clients for them.

The clients speak plain HTTP/1.0 over asyncio streams (one request per
connection; an SSE body then simply runs until the server closes it), and
WebSocket through the ``websockets`` library: independent of rawpush's own
client, so a bug there cannot hide one in the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from rawpush.sse import Decoder, Event

__all__ = ["Node", "SSEClient", "WSClient", "get_json", "publish", "request"]

_LISTENING = re.compile(r"rawpush: listening on (http://\S+)")


class Node:
    """One ``python -m rawpush serve --port 0 --redis URL`` subprocess."""

    def __init__(self, redis_url: str, directory: Path, name: str, *args: str) -> None:
        self.log = directory / f"node-{name}.log"
        self.name = name
        command = [sys.executable, "-m", "rawpush", "serve", "--port", "0", "--redis", redis_url]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [*command, *args],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        self.url = ""

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log.read_text(errors="replace"))
            if match:
                self.url = match[1]
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"node {self.name} did not start:\n{self.log.read_text()}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        """SIGKILL: no drain, connections just drop."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


async def request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """One HTTP/1.0 exchange: (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        raw = await asyncio.wait_for(reader.read(-1), timeout)
    finally:
        writer.close()
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    return status, payload


async def publish(port: int, channel: str, data: str) -> tuple[int, str | None]:
    """POST /publish: (status, id or None)."""
    status, body = await request(port, "POST", f"/publish/{channel}", data.encode())
    return status, json.loads(body)["id"] if status == 200 else None


async def get_json(port: int, path: str) -> Any:
    status, body = await request(port, "GET", path)
    assert status == 200, (status, body)
    return json.loads(body)


class SSEClient:
    """``GET /sse/{channel}`` over HTTP/1.0; events as the WHATWG decoder gives them."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = Decoder()
        self._ready: list[Event] = []

    @classmethod
    async def open(cls, port: int, channel: str, last_id: str | None = None) -> SSEClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        extra = f"Last-Event-ID: {last_id}\r\n" if last_id else ""
        writer.write(f"GET /sse/{channel} HTTP/1.0\r\nHost: x\r\n{extra}\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200"), head
        return cls(reader, writer)

    async def next(self, timeout: float = 10.0) -> Event | None:
        """The next event, or None once the server closed the stream."""
        while not self._ready:
            chunk = await asyncio.wait_for(self._reader.read(65536), timeout)
            if not chunk:
                return None
            self._ready.extend(self._decoder.feed(chunk))
        return self._ready.pop(0)

    def close(self) -> None:
        self._writer.close()


class WSClient:
    """``/ws/{channel}`` through the ``websockets`` library."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    async def open(cls, port: int, channel: str, last_id: str | None = None) -> WSClient:
        query = f"?lastEventId={last_id}" if last_id else ""
        ws = await connect(f"ws://127.0.0.1:{port}/ws/{channel}{query}", open_timeout=10)
        return cls(ws)

    async def next(self, timeout: float = 10.0) -> dict[str, Any] | None:
        """The next message as JSON, or None once the connection is gone."""
        try:
            message = await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed:
            return None
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2)
