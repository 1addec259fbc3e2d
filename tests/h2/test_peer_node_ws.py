"""RFC 8441 with a peer nobody here wrote: Node 20's built-in ``http2``
client runs WebSocket exchanges over extended CONNECT streams of one
HTTP/2 connection (``tests/interop/h2_ws_client.mjs``, its RFC 6455
framing written in the script: Node has no WebSocket-over-h2 client).

Text both ways (an event published here arrives as the channel's JSON
frame; the client's text comes back as the channel's next event), Ping
and Pong, a close with 1000, and an unmasked client frame failed with
1002 (RFC 6455 section 5.1), on cleartext (prior knowledge) and on TLS
(ALPN h2).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

from rawpush.server.app import Server
from tests.conftest import require

SCRIPT = Path(__file__).parent.parent / "interop" / "h2_ws_client.mjs"
LIMIT = 30.0


async def _run(server: Server, channel: str, cafile: str | None = None) -> list[dict[str, Any]]:
    require("node (Node 20's http2 module)", shutil.which("node") is not None)
    args = ["node", str(SCRIPT), server.url, channel] + ([cafile] if cafile else [])
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    lines: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(LIMIT):
            assert proc.stdout is not None and proc.stderr is not None
            while raw := await proc.stdout.readline():
                line: dict[str, Any] = json.loads(raw)
                lines.append(line)
                if line.get("open") == 200 and len(lines) == 2:
                    # the client is subscribed once its stream is open
                    await server.hub.publish(channel, "from python")
            status = await proc.wait()
            assert status == 0, (lines, (await proc.stderr.read()).decode())
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return lines


def _check(lines: list[dict[str, Any]]) -> None:
    assert lines[0] == {"settings": {"enableConnectProtocol": True}}  # RFC 8441 section 3
    assert lines[1] == {"open": 200}  # section 5: 200, not 101
    assert lines[2]["text"]["data"] == "from python"
    assert lines[3]["text"]["data"] == "hello from node"
    assert lines[4] == {"pong": "ping-1"}
    assert lines[5] == {"close": 1000}
    assert lines[6] == {"ended": True}
    assert lines[7] == {"open": 200}
    assert lines[8] == {"close": 1002}
    assert lines[9] == {"ended": True}
    assert lines[10] == {"done": True}
    # Node's graceful close (its GOAWAY, then its last frames) ends cleanly
    # (section 6.8: a GOAWAY lets what is open finish)
    assert lines[11:] == [{"closed": True}]


async def test_8441_node_http2_websocket_on_cleartext(server: Server) -> None:
    _check(await _run(server, "node-h2c"))


async def test_8441_node_http2_websocket_on_tls(tls_server: Server, cert: tuple[str, str]) -> None:
    _check(await _run(tls_server, "node-h2", cert[0]))
