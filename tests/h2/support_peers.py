"""Real HTTP/2 peers as subprocesses (curl, nghttp): their output read
line by line, every wait bounded, the process killed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator

from tests.conftest import require

#: one wait for a peer's line, seconds (a loaded 2-core machine)
WAIT = 15.0
#: lines read while looking for one, at most
MAX_LINES = 10_000


class Peer:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[str] = []

    async def line_with(self, text: str, stream: str = "stdout") -> str:
        """Read ``stream`` until a line containing ``text``."""
        pipe = self.proc.stdout if stream == "stdout" else self.proc.stderr
        assert pipe is not None
        async with asyncio.timeout(WAIT):
            for _ in range(MAX_LINES):
                raw = await pipe.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace")
                self.seen.append(line)
                if text in line:
                    return line
        raise AssertionError(f"{text!r} never came; the peer said: {''.join(self.seen)[-2000:]}")

    async def finish(self) -> tuple[int, str, str]:
        """Wait for the end: exit status, stdout, stderr."""
        async with asyncio.timeout(WAIT):
            out, err = await self.proc.communicate()
        assert self.proc.returncode is not None
        return self.proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def peer(*args: str) -> AsyncIterator[Peer]:
    """Run ``args`` (the program must be installed: ``.ci/run`` installs
    curl and nghttp2-client); killed on the way out if still running."""
    require(f"{args[0]} (Debian package)", shutil.which(args[0]) is not None)
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield Peer(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
