"""A real ``redis-server`` on a free port, for the backplane and cluster tests.

Started without persistence (``--save ''``, no AOF) in a temporary
directory. ``stop(save=True)`` asks for ``SHUTDOWN SAVE`` so that a restart
reloads the data (a Redis with persistence); ``kill()`` loses it (a Redis
without persistence, or a failover to an empty replica).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.conftest import require

__all__ = ["RedisServer", "free_port", "require_redis"]


def require_redis() -> None:
    """Fail in CI, skip loudly elsewhere, when ``redis-server`` is missing."""
    require("redis-server", shutil.which("redis-server") is not None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process that the test can stop and start again."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port if port is not None else free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        assert self.process is None, "already running"
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: see {self.directory}/redis.log")
            with contextlib.suppress(OSError):
                if self.command(b"PING") == b"+PONG\r\n":
                    return
            time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING in time")

    def command(self, *parts: bytes) -> bytes:
        """Send one command (RESP) and return the raw reply's first chunk."""
        request = b"*%d\r\n" % len(parts) + b"".join(
            b"$%d\r\n%s\r\n" % (len(p), p) for p in parts
        )
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(request)
            return sock.recv(65536)

    def stop(self, save: bool = True) -> None:
        """Shut down; with ``save`` the data is reloaded by the next ``start``."""
        process = self.process
        if process is None:
            return
        if save:
            with contextlib.suppress(OSError):
                self.command(b"SHUTDOWN", b"SAVE")
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        else:
            self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: whatever was in memory is gone."""
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        dump = self.directory / "dump.rdb"
        dump.unlink(missing_ok=True)
        self.process = None
