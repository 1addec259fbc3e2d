"""Node's ``eventsource`` package against rawpush's /sse: it must read our
events, and after the stream breaks, reconnect with ``Last-Event-ID`` and
get exactly what it missed (WHATWG HTML 9.2.4), from an independent
implementation of the client side.

The break is a TCP proxy cut (the server stays up and keeps publishing);
events published during the cut reach the client only through resume.
The package waits its default 3 s before reconnecting: the server sends
no ``retry:`` outside of a drain.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from tests.client.test_sse_server import Proxy, publish, rawpush_server
from tests.conftest import require

HERE = Path(__file__).parent
SCRIPT = HERE / "eventsource_client.mjs"
LIMIT = 30.0


def _available() -> bool:
    return shutil.which("node") is not None and (HERE / "node_modules" / "eventsource").is_dir()


async def _next_json(stdout: asyncio.StreamReader) -> dict[str, Any]:
    line = await stdout.readline()
    assert line, "the node client exited"
    item: dict[str, Any] = json.loads(line)
    return item


async def test_node_eventsource_resumes_with_last_event_id() -> None:
    require("node and the npm eventsource package (cd tests/interop && npm install)", _available())
    async with rawpush_server() as server, Proxy(server.port) as proxy:
        proc = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), f"{proxy.url}/sse/c", "tick",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(LIMIT):
                assert await _next_json(proc.stdout) == {"open": True}
                ids = [await publish(server.url, "c", f"m{n}", event="tick") for n in range(3)]
                got = [await _next_json(proc.stdout) for _ in range(3)]
                proxy.cut()
                ids += [await publish(server.url, "c", f"m{n}") for n in range(3, 6)]
                assert await _next_json(proc.stdout) == {"open": True}
                got += [await _next_json(proc.stdout) for _ in range(3)]
        finally:
            proc.terminate()
            await proc.wait()
    expected = [{"id": ids[n], "event": "tick", "data": f"m{n}"} for n in range(3)]
    expected += [{"id": ids[n], "event": "message", "data": f"m{n}"} for n in range(3, 6)]
    assert got == expected
    assert proxy.connections == 2
