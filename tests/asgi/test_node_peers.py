"""Node's ``eventsource`` package (an independent EventSource) against
rawpush.asgi.App mounted in a Starlette app, under uvicorn and under
hypercorn as real processes on loopback.

It must read the events, and each time its stream breaks, reconnect with
``Last-Event-ID`` by itself and get exactly what it missed (WHATWG HTML
9.2.4), or, when the history no longer reaches back that far, the
``gap`` event first and then what the history still holds. The breaks
are cuts of a TCP relay in front of the server, which stays up.

The package waits its default 3 s before reconnecting (no ``retry:``
outside of a drain), so each cut costs that much.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.asgi.site import HISTORY
from tests.asgi.support import SERVERS, STOPPED, Proxy, Running, launch, publish, stop
from tests.conftest import require

INTEROP = Path(__file__).resolve().parent.parent / "interop"
SCRIPT = INTEROP / "eventsource_client.mjs"
LIMIT = 40.0  # two reconnects of 3 s each, on a loaded machine


def _available() -> bool:
    return shutil.which("node") is not None and (INTEROP / "node_modules" / "eventsource").is_dir()


@pytest.fixture(scope="module", params=SERVERS)
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    server = launch(request.param)
    try:
        yield server
    finally:
        code, output = stop(server)
    assert code in STOPPED and "Traceback" not in output, output


async def _line(stdout: asyncio.StreamReader) -> dict[str, Any]:
    line = await stdout.readline()
    assert line, "the node client exited"
    item: dict[str, Any] = json.loads(line)
    return item


async def test_whatwg_9_2_4_node_eventsource_resumes_and_gets_the_gap(running: Running) -> None:
    require("node and the npm eventsource package (cd tests/interop && npm install)", _available())
    async with Proxy(running.port) as proxy:
        proc = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), f"{proxy.base}/push/sse/node", "tick",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(LIMIT):
                assert await _line(proc.stdout) == {"open": True}
                # Live, with an event name.
                ids = [await publish(running, "node", f"m{n}", "tick") for n in range(3)]
                got = [await _line(proc.stdout) for _ in range(3)]
                # Cut: what is published now comes back through the resume.
                proxy.cut()
                ids += [await publish(running, "node", f"m{n}") for n in range(3, 6)]
                assert await _line(proc.stdout) == {"open": True}
                got += [await _line(proc.stdout) for _ in range(3)]
                # Cut again, and publish more than the history holds.
                proxy.cut()
                more = [await publish(running, "node", f"x{n}") for n in range(HISTORY + 2)]
                assert await _line(proc.stdout) == {"open": True}
                gap = await _line(proc.stdout)
                after = [await _line(proc.stdout) for _ in range(HISTORY)]
        finally:
            proc.terminate()
            await proc.wait()
    expected = [{"id": ids[n], "event": "tick", "data": f"m{n}"} for n in range(3)]
    expected += [{"id": ids[n], "event": "message", "data": f"m{n}"} for n in range(3, 6)]
    assert got == expected
    assert gap["event"] == "gap"
    kept = more[-HISTORY:]
    assert after == [
        {"id": kept[n], "event": "message", "data": f"x{n + 2}"} for n in range(HISTORY)
    ]
    assert proxy.connections == 3
