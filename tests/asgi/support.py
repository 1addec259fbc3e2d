"""Run ``tests.asgi.site:app`` under a real ASGI server in a subprocess.

The test binds the listening socket itself (port 0, on loopback) and
hands its descriptor to the server (``uvicorn --fd``, ``hypercorn --bind
fd://``): the port is known before the server starts, and a client that
connects early waits in the backlog instead of being refused, so no test
waits for the server to come up.

``ScriptedWS`` is the other way to run the app: in process, the test
playing the ASGI server of one ``websocket`` call.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rawpush.asgi.scope import Message, Receive, Send
from rawpush.client.http import parse_url, request

ROOT = Path(__file__).resolve().parent.parent.parent
SERVERS = ("uvicorn", "hypercorn")
WAIT = 20.0  # bound on any one wait


@dataclass
class Running:
    server: str
    proc: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]
    #: SIGTERM was sent already: ``stop`` waits instead of sending another
    #: (a second one during the server's own shutdown races its loop)
    terminated: bool = False

    def terminate(self) -> None:
        self.terminated = True
        self.proc.terminate()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def push(self) -> str:
        """Where rawpush is mounted in the host application."""
        return f"{self.base}/push"

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def launch(server: str, app: str = "tests.asgi.site:app", *options: str) -> Running:
    """``server`` running ``app`` (with more command-line ``options``)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    fd = sock.fileno()
    if server == "uvicorn":
        args = ["-m", "uvicorn", "--fd", str(fd), "--no-access-log", *options, app]
    else:
        # --workers 0: serve in this process. With worker processes the
        # worker learns of SIGTERM through a multiprocessing event, not a
        # signal, so App's drain could not start before hypercorn waits
        # for the streams to end (rawpush.asgi.application's docstring).
        args = ["-m", "hypercorn", "--workers", "0", "--bind", f"fd://{fd}", *options, app]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
    proc = subprocess.Popen(
        [sys.executable, *args], pass_fds=[fd], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    port = sock.getsockname()[1]
    sock.close()  # the child holds its own copy
    return Running(server, proc, port, log)


#: how a server ends on SIGTERM when all went well: uvicorn restores the
#: default handler and raises the signal again once it has shut down
STOPPED = (0, -signal.SIGTERM)


def stop(running: Running) -> tuple[int, str]:
    """SIGTERM, as a process manager stops it; the exit status and output."""
    proc = running.proc
    if proc.poll() is None and not running.terminated:
        proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{running.server} did not stop:\n{running.output()}") from None
    output = running.output()
    running.log.close()
    return code, output


async def fetch(
    method: str, url: str, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()
) -> tuple[int, dict[str, str], bytes]:
    """One request with rawpush's own HTTP client: status, headers, body."""
    response = await request(method, parse_url(url), body=body, headers=headers, timeout=WAIT)
    try:
        data = await response.read(16 << 20, timeout=WAIT)
    finally:
        await response.aclose()
    return response.status, dict(response.headers), data


async def publish(running: Running, channel: str, data: str, event: str = "") -> str:
    query = f"?event={event}" if event else ""
    url = f"{running.push}/publish/{channel}{query}"
    status, _, body = await fetch("POST", url, data.encode())
    assert status == 200, body
    ident = body.decode().split('"')[3]  # {"id":"..."}
    return ident


async def metric(running: Running, line_start: str) -> float:
    """The value of the first /metrics sample whose line starts so (0 if none)."""
    _, _, body = await fetch("GET", f"{running.push}/metrics")
    for line in body.decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


class Proxy:
    """A TCP relay in front of the server: ``cut()`` breaks every link while
    the server stays up, so a client's reconnect must resume to catch up."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.connections = 0
        self._links: set[asyncio.StreamWriter] = set()
        self._listener: asyncio.Server | None = None

    async def __aenter__(self) -> Proxy:
        self._listener = await asyncio.start_server(self._link, "127.0.0.1", 0)
        self.port = self._listener.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._listener is not None
        self._listener.close()
        self.cut()
        await self._listener.wait_closed()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            far_reader, far_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, far_writer}

        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, RuntimeError):
                pass  # the other side was cut
            finally:
                dst.transport.abort()

        await asyncio.gather(copy(reader, far_writer), copy(far_reader, writer))


class ScriptedWS:
    """One ASGI ``websocket`` call to ``app``, driven in process: the test
    plays the ASGI server (``say`` a message, ``recv`` what the app sent,
    ``leave`` as the client); every wait is bounded by ``WAIT``."""

    def __init__(
        self,
        app: Callable[[Message, Receive, Send], Awaitable[None]],
        path: str = "/ws",
        query: bytes = b"",
        headers: tuple[tuple[bytes, bytes], ...] = (),
        extensions: Message | None = None,
    ) -> None:
        self.scope: Message = {
            "type": "websocket", "path": path, "raw_path": path.encode(),
            "query_string": query, "headers": [(b"host", b"test"), *headers],
            "http_version": "1.1", "client": ["127.0.0.1", 40000],
            "extensions": extensions or {},
        }
        self._app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._inbox.put_nowait({"type": "websocket.connect"})
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        #: everything the app sent, in order
        self.sent: list[Message] = []
        self.task: asyncio.Task[None] | None = None
        #: while cleared, a ``websocket.send`` does not return (a client
        #: that stopped reading); set by default
        self.reading = asyncio.Event()
        self.reading.set()

    async def _receive(self) -> Message:
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        self.sent.append(message)
        self._outbox.put_nowait(message)
        if message["type"] == "websocket.send":
            await self.reading.wait()

    async def open(self) -> Message:
        """Start the call; the app's first message (accept, or a refusal)."""
        self.task = asyncio.ensure_future(self._app(self.scope, self._receive, self._send))
        return await self.recv()

    async def recv(self) -> Message:
        """The next message the app sends."""
        async with asyncio.timeout(WAIT):
            return await self._outbox.get()

    async def recv_json(self) -> Any:
        """The next message, a text one, as JSON."""
        message = await self.recv()
        assert message["type"] == "websocket.send" and "text" in message, message
        return json.loads(message["text"])

    def say(self, text: str | None = None, /, **control: Any) -> None:
        """The client sends the text ``text``, or the control message ``control``."""
        if text is None:
            text = json.dumps(control)
        self._inbox.put_nowait({"type": "websocket.receive", "text": text})

    def say_bytes(self, data: bytes, /) -> None:
        """The client sends a binary message."""
        self._inbox.put_nowait({"type": "websocket.receive", "bytes": data})

    async def ask(self, /, **control: Any) -> Any:
        """Send a control message; the next reply, as JSON."""
        self.say(**control)
        return await self.recv_json()

    async def leave(self) -> None:
        """The client goes away (``websocket.disconnect``); the call ends."""
        self._inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await self.done()

    async def done(self) -> None:
        """Wait for the app to end the call."""
        assert self.task is not None
        async with asyncio.timeout(WAIT):
            await self.task

    def pending(self) -> list[Message]:
        """What the app sent that ``recv`` has not taken yet."""
        out = []
        while not self._outbox.empty():
            out.append(self._outbox.get_nowait())
        return out
