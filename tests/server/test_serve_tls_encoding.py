"""``rawpush serve`` as a subprocess, TLS on the listener, and the
encode-once caches."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import sys
from pathlib import Path

from websockets.asyncio.client import connect

from rawpush.hub import HubEvent
from rawpush.proto.chunked import chunk
from rawpush.server.encoding import SSE_GAP, sse_event, ws_frame
from rawpush.sse import Decoder
from rawpush.ws import ClientConnection, Text
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, open_sse
from tests.tls_support import self_signed


async def test_rawpush_serve_subprocess_publish_receive_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rawpush", "serve", "--port", "0",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(WAIT):
            line = (await proc.stderr.readline()).decode()
        assert line.startswith("rawpush: listening on http://127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        stream = await open_sse(port, "/sse/cli")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /publish/cli HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        async with asyncio.timeout(WAIT):
            await reader.readuntil(b"\r\n\r\n")
        writer.close()
        assert [e.data for e in await stream.events(1)] == ["hi"]
        proc.send_signal(signal.SIGTERM)
        await stream.rest()  # the drain ends the stream
        stream.close()
        assert await asyncio.wait_for(proc.wait(), WAIT) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()




async def test_tls_listener_serves_wss_and_https(make_server: MakeServer, tmp_path: Path) -> None:
    certfile, keyfile = self_signed(tmp_path)
    server = await make_server(certfile=certfile, keyfile=keyfile)
    assert server.url.startswith("https://")
    client = ssl.create_default_context(cafile=certfile)
    async with connect(f"wss://127.0.0.1:{server.port}/ws/tls", ssl=client) as ws:
        event = await server.hub.publish("tls", "secret")
        async with asyncio.timeout(WAIT):
            assert json.loads(await ws.recv())["id"] == event.id
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=client)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    async with asyncio.timeout(WAIT):
        data = await reader.read()
    writer.close()
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"ok\n")
    assert os.path.exists(certfile)


def test_ws_frame_is_encoded_once_and_parses() -> None:
    event = HubEvent("5-1", "c", None, "héllo")
    frame = ws_frame(event)
    assert ws_frame(event) is frame  # shared, not re-encoded
    client = ClientConnection()
    client.receive_data(frame.wire)
    [text] = client.events()
    assert isinstance(text, Text)
    # One shape on every transport: an event without a type is "message".
    assert json.loads(text.data) == {"id": "5-1", "event": "message", "data": "héllo"}


def test_sse_event_is_encoded_once_per_framing() -> None:
    event = HubEvent("5-2", "c", "tick", "a\nb")
    framed = sse_event(event, chunked=True)
    raw = sse_event(event, chunked=False)
    assert sse_event(event, chunked=True) is framed
    assert sse_event(event, chunked=False) is raw
    assert framed == chunk(raw)
    [decoded] = Decoder().feed(raw)
    assert (decoded.id, decoded.event, decoded.data) == ("5-2", "tick", "a\nb")
    [gap] = Decoder().feed(SSE_GAP.split(b"\r\n")[1] + b"\n")
    assert gap.event == "gap"


def test_8996_the_tls_listener_refuses_versions_below_1_2(tmp_path: Path) -> None:
    # RFC 8996 deprecates TLS 1.0 and 1.1; the context the server listens with
    # says so itself (whatever the local OpenSSL would negotiate by default).
    from rawpush.server.app import _ssl_context
    from rawpush.server.config import ServerConfig

    certfile, keyfile = self_signed(tmp_path)
    context = _ssl_context(ServerConfig(certfile=certfile, keyfile=keyfile))
    assert context is not None
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
