"""``rawpush echo`` as a process: it announces its address on stderr,
echoes, and exits cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import pytest

from rawpush.client import connect


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_rawpush_echo_command(sig: signal.Signals) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rawpush", "echo", "--host", "127.0.0.1", "--port", "0",
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        match = re.fullmatch(r"rawpush echo: listening on (ws://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        async with connect(match[1] + "/") as ws:
            await ws.send("through the command line")
            assert await ws.recv() == "through the command line"
            proc.send_signal(sig)
            # Shutdown says 1001 "going away" to connected clients (7.4.1).
            await ws.wait_closed()
        assert ws.close_code == 1001
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
