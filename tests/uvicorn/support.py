"""uvicorn as a child process, on a socket this process bound (``--fd``),
and ``WebSocketProtocol`` in process on a recording transport.

uvicorn's command line takes no port 0, so the test binds 127.0.0.1:0
itself and hands the listening socket down: no port is guessed, none can
be taken by someone else in between. The child is ready once uvicorn says
it is running; every wait has a bound, and the child is stopped on exit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from rawpush.uvicorn import WebSocketProtocol
from rawpush.ws import ClientConnection, ClientHandshake, Event, WSConfig

__all__ = [
    "PROTOCOL",
    "STARTUP_TIMEOUT",
    "RawClient",
    "RecordingTransport",
    "Uvicorn",
    "http_get_json",
    "in_process",
    "turns",
]

PROTOCOL = "rawpush.uvicorn:WebSocketProtocol"
APP = "tests.uvicorn.app:app"
STARTUP_TIMEOUT = 30.0
_ROOT = Path(__file__).resolve().parents[2]


class Uvicorn:
    """``async with Uvicorn(*flags) as server``: ``server.url`` is ``ws://host:port``."""

    def __init__(self, *flags: str, ws: str = PROTOCOL, app: str = APP) -> None:
        self.flags: Sequence[str] = flags
        self.ws = ws
        self.app = app
        self.port = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self._lines)

    async def __aenter__(self) -> Uvicorn:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            self.port = sock.getsockname()[1]
            fd = sock.fileno()
            argv = [sys.executable, "-m", "uvicorn", self.app, "--fd", str(fd)]
            argv += ["--ws", self.ws, "--no-access-log", *self.flags]
            self._proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(fd,),
                cwd=_ROOT,
            )
        finally:
            sock.close()  # the child holds its own copy
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        self._reader = asyncio.create_task(self._drain())
        return self

    async def _wait_ready(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while True:
            raw = await self._proc.stderr.readline()
            if not raw:
                raise AssertionError(f"uvicorn exited before it was ready:\n{self.output}")
            line = raw.decode(errors="replace")
            self._lines.append(line)
            if "Uvicorn running" in line:
                return

    async def _drain(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while raw := await self._proc.stderr.readline():
            self._lines.append(raw.decode(errors="replace"))

    async def interrupt(self, timeout: float = 20.0) -> int:
        """Ask uvicorn to shut down (SIGINT, as Ctrl+C) and wait for it."""
        proc = self._proc
        assert proc is not None
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(timeout):
            return await proc.wait()

    async def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(10.0):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    await self._reader
        elif proc is not None and proc.stderr is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5.0):
                    self._lines.append((await proc.stderr.read()).decode(errors="replace"))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def http_get_json(port: int, target: str) -> Any:
    """GET ``target`` over HTTP/1.1 with ``Connection: close``; the JSON body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        async with asyncio.timeout(20.0):
            raw = await reader.read()
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw[:200]
    return json.loads(body)


class RawClient:
    """A WebSocket client on rawpush's sans-IO core that writes only when told.

    For what a polite client hides: frames written together in one segment,
    Pings left unanswered. ``events()`` returns what the server sent, in
    order; the core's own replies stay queued until ``flush()``.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = ClientConnection(WSConfig(max_frame_size=1 << 24, max_message_size=1 << 24))
        self.eof = False

    @classmethod
    async def open(cls, port: int, path: str = "/echo") -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        handshake = ClientHandshake(f"127.0.0.1:{port}", path)
        writer.write(handshake.data_to_send())
        async with asyncio.timeout(10.0):
            while handshake.receive_data(await reader.read(65536)) is None:
                pass
        client = cls(reader, writer)
        client.conn.receive_data(handshake.trailing_data)
        return client

    def flush(self) -> None:
        self.writer.write(self.conn.data_to_send())

    async def events(self, count: int, timeout: float = 10.0) -> list[Event]:
        """The next ``count`` events (fewer if the server closes TCP first)."""
        got: list[Event] = []
        async with asyncio.timeout(timeout):
            while len(got) < count:
                got += self.conn.events()
                if len(got) >= count or self.eof:
                    break
                data = await self.reader.read(65536)
                if not data:
                    self.eof = True
                    self.conn.receive_eof()
                else:
                    self.conn.receive_data(data)
        return got

    def close(self) -> None:
        self.writer.close()


class RecordingTransport(asyncio.Transport):
    """Keeps what is written; ``high_water`` bytes (if set) make a write call
    the protocol's ``pause_writing`` from inside it, as asyncio's does."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.writes = 0
        self.reading = True
        self.closed = False
        self.high_water: int | None = None
        self.protocol: asyncio.Protocol | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data
        self.writes += 1
        if self.high_water is not None and len(self.written) > self.high_water:
            assert self.protocol is not None
            self.high_water = None
            self.protocol.pause_writing()

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 80)}.get(name, default)


async def turns(n: int = 20) -> None:
    """Yield to the loop ``n`` times, so that queued callbacks run (no sleeping)."""
    for _ in range(n):
        await asyncio.sleep(0)


def in_process(app: Any) -> tuple[WebSocketProtocol, RecordingTransport, ClientHandshake]:
    """A protocol running ``app`` on a recording transport, the upgrade request fed."""
    config = Config(app=app, ws_ping_interval=None, ws_per_message_deflate=False, lifespan="off")
    protocol = WebSocketProtocol(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    transport.protocol = protocol
    protocol.connection_made(transport)
    handshake = ClientHandshake("127.0.0.1", "/")
    protocol.data_received(handshake.data_to_send())
    return protocol, transport, handshake
