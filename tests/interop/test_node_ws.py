"""Interop with Node's ``ws`` package, the most used WebSocket library of
the JavaScript world, over real sockets, both ways:

- ``ws_client.mjs`` (Node client) against ``rawpush echo``;
- rawpush's client against ``ws_server.mjs`` (Node server).

``.ci/run`` installs the package (``cd tests/interop && npm install``);
without node or the package these tests fail in CI and skip loudly elsewhere.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rawpush.client import ConnectionClosedError, ConnectionClosedOK, connect
from rawpush.server.echo import EchoServer
from tests.conftest import require

HERE = Path(__file__).parent
LIMIT = 20.0


def _require_node_ws() -> None:
    require(
        "node and the npm ws package (cd tests/interop && npm install)",
        shutil.which("node") is not None and (HERE / "node_modules" / "ws").is_dir(),
    )


async def _lines(proc: asyncio.subprocess.Process) -> AsyncIterator[dict[str, Any]]:
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        item: dict[str, Any] = json.loads(line)
        yield item


async def test_node_client_against_rawpush_echo() -> None:
    _require_node_ws()
    async with EchoServer(port=0) as server:
        proc = await asyncio.create_subprocess_exec(
            "node", str(HERE / "ws_client.mjs"), server.url + "room?x=1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            limit=1 << 20,  # one JSON line holds a 70 000-character message
        )
        try:
            async with asyncio.timeout(LIMIT):
                got = [item async for item in _lines(proc)]
                status = await proc.wait()
                assert proc.stderr is not None
                assert status == 0, (await proc.stderr.read()).decode()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    # The echo server speaks no subprotocol (none was offered).
    assert got[0] == {"open": True, "protocol": ""}
    assert got[1:7] == [
        {"text": "hello from node"},
        {"binary": "000102ff"},
        {"text": "frag-men-ted"},  # three frames in, one message back
        {"text": "𝄞 κόσμε"},
        {"text": "x" * 70000},
        {"pong": "node ping"},
    ]
    # Our echo of the client's Close carries its code (section 5.5.1).
    assert got[7] == {"close": 4000, "reason": "", "received": 5}


@pytest.fixture
async def node_server() -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    _require_node_ws()
    proc = await asyncio.create_subprocess_exec(
        "node", str(HERE / "ws_server.mjs"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), LIMIT)
        assert line, "ws_server.mjs exited before listening"
        port = json.loads(line)["port"]
        yield f"ws://127.0.0.1:{port}/", proc
    finally:
        proc.terminate()
        await proc.wait()


async def _next_line(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), LIMIT)
    assert line, "ws_server.mjs exited"
    item: dict[str, Any] = json.loads(line)
    return item


async def test_rawpush_client_against_node_server(
    node_server: tuple[str, asyncio.subprocess.Process],
) -> None:
    url, proc = node_server
    async with connect(url, subprotocols=["chat"]) as ws:
        assert ws.subprotocol == "chat"
        messages: list[str | bytes] = ["hello node", "", "𝄞 κόσμε", "y" * 70_000, b"\x00\xff", b""]
        for message in messages:
            await ws.send(message)
            assert await ws.recv() == message
        await ws.send("fragments")
        assert await ws.recv() == "fragmented"
        assert await ws.ping(b"rawpush ping") >= 0
        # Node pings us; our core answers, Node reports the pong's payload.
        await ws.send("ping-me")
        assert await ws.recv() == "pong: node server ping"
        await ws.close(4001, "rawpush done")
    assert ws.close_code == 4001
    assert await _next_line(proc) == {"closed": 4001, "reason": "rawpush done"}


@pytest.mark.parametrize(
    ("code", "exc"), [(1000, ConnectionClosedOK), (1001, ConnectionClosedOK),
                      (1011, ConnectionClosedError), (4999, ConnectionClosedError)],
)
async def test_node_server_close_code_reaches_rawpush(
    node_server: tuple[str, asyncio.subprocess.Process], code: int, exc: type[Exception]
) -> None:
    url, _ = node_server
    async with connect(url) as ws:
        await ws.send(f"close:{code}:node reason")
        with pytest.raises(exc):
            await ws.recv()
        await ws.wait_closed()
    assert (ws.close_code, ws.close_reason) == (code, "node reason")
