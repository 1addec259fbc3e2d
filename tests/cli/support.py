"""Helpers of the command-line tests: the real ``rawpush`` as a subprocess,
a self-signed certificate, a port nobody listens on."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

from rawpush.client.http import parse_url, request

LIMIT = 30.0  # seconds any one wait may take before the test fails
#: the exit statuses of rawpush.cli.errors, written out: the test checks them
USAGE, NETWORK, REFUSED, INTERRUPTED = 2, 3, 4, 130


async def spawn(*args: str, python: str | None = None) -> asyncio.subprocess.Process:
    """``rawpush ARGS`` (or, with ``python``, that code run as a script)."""
    head = ["-c", python] if python is not None else ["-m", "rawpush"]
    return await asyncio.create_subprocess_exec(
        sys.executable, *head, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finish(
    proc: asyncio.subprocess.Process, stdin: bytes = b""
) -> tuple[int, str, str]:
    try:
        async with asyncio.timeout(LIMIT):
            out, err = await proc.communicate(stdin)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    return await finish(await spawn(*args), stdin)


def one_line(err: str) -> str:
    """The single line a failure prints; fails on a traceback or more lines."""
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    return err.rstrip("\n")


def last_line(err: str) -> str:
    assert "Traceback" not in err, err
    return err.rstrip("\n").rsplit("\n", 1)[-1]


async def read_until(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> str:
    """Read lines until one contains ``needle``; keep them all in ``seen``."""
    async with asyncio.timeout(LIMIT):
        while True:
            raw = await stream.readline()
            assert raw, f"ended before {needle!r}: {seen}"
            line = raw.decode().rstrip("\n")
            seen.append(line)
            if needle in line:
                return line


async def interrupt(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGINT)
    code, _, _ = await finish(proc)
    return code


def free_port() -> int:
    """A port that was free a moment ago (nothing listens on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port




async def publish(base: str, channel: str, data: str) -> str:
    """POST one event to a plain-HTTP server; its id."""
    response = await request("POST", parse_url(f"{base}/publish/{channel}"), body=data.encode())
    body = await response.read(1 << 16, timeout=LIMIT)
    await response.aclose()
    assert response.status == 200, body
    ident: str = json.loads(body)["id"]
    return ident
