"""Keepalive through the ASGI server, for rawpush.asgi.App mounted in a
Starlette app under uvicorn and under hypercorn (real processes on
loopback):

- SSE: the session's own heartbeat, a comment (WHATWG HTML 9.2.6: a line
  starting with ":" is ignored by the client), re-armed after each one,
  goes out through ASGI ``send`` like any event;
- WebSocket: Pings (RFC 6455 section 5.5.2) come from the ASGI server's
  keepalive (``--ws-ping-interval``, ``--websocket-ping-interval``), as
  ASGI gives the app no way to send one; the answered ones keep the
  connection open and the subscription delivering.

Heartbeats every 0.2 s here (hypercorn's Pings every 1 s, its least);
each test waits for two of them.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from rawpush.client.http import parse_url
from rawpush.client.sse import open_stream
from rawpush.ws import ClientConnection, ClientHandshake, Ping, Text
from tests.asgi.support import SERVERS, STOPPED, WAIT, Running, launch, publish, stop

INTERVAL = "0.2"
KEEPALIVE = {
    "uvicorn": ("--ws-ping-interval", INTERVAL, "--ws-ping-timeout", "10"),
    "hypercorn": ("--websocket-ping-interval", "1"),  # whole seconds only
}
HEARTBEAT = b":\n\n"  # an empty comment line, then the blank line


def _start(server: str, monkeypatch: pytest.MonkeyPatch) -> Running:
    monkeypatch.setenv("RAWPUSH_TEST_HEARTBEAT", INTERVAL)
    return launch(server, "tests.asgi.site:app", *KEEPALIVE[server])


@pytest.mark.parametrize("server", SERVERS)
async def test_whatwg_9_2_6_sse_heartbeat_comments_go_out_through_asgi_send(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = _start(server, monkeypatch)
    try:
        async with asyncio.timeout(WAIT):
            stream = await open_stream(parse_url(f"{running.push}/sse/hb"), timeout=WAIT)
            body = bytearray()
            while body.count(HEARTBEAT) < 2:  # bounded by the timeout above
                chunk = await stream.read_chunk(WAIT)
                assert chunk, "the stream ended"
                body += chunk
            await stream.aclose()
    finally:
        code, output = stop(running)
    assert code in STOPPED and "Traceback" not in output, output
    assert body.replace(HEARTBEAT, b"") == b""  # nothing else was sent


@pytest.mark.parametrize("server", SERVERS)
async def test_6455_5_5_2_the_asgi_servers_pings_keep_a_subscription_alive(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = _start(server, monkeypatch)
    try:
        first = await publish(running, "hbws", "one")
        async with asyncio.timeout(WAIT):
            reader, writer = await asyncio.open_connection("127.0.0.1", running.port)
            handshake = ClientHandshake(
                f"127.0.0.1:{running.port}", f"/push/ws/hbws?lastEventId={first}"
            )
            writer.write(handshake.data_to_send())
            while handshake.receive_data(await reader.read(65536)) is None:
                pass
            conn = ClientConnection(extension=handshake.extension)
            conn.receive_data(handshake.trailing_data)
            pings, texts = 0, []
            while pings < 2:  # bounded by the timeout above
                for event in conn.events():
                    pings += isinstance(event, Ping)
                    if isinstance(event, Text):
                        texts.append(json.loads(event.data)["data"])
                writer.write(conn.data_to_send())  # the core's Pongs
                if pings < 2:
                    data = await reader.read(65536)
                    assert data, "the server closed the connection"
                    conn.receive_data(data)
            # Still subscribed after the answered Pings: a live event arrives.
            await publish(running, "hbws", "two")
            while "two" not in texts:
                for event in conn.events():
                    if isinstance(event, Text):
                        texts.append(json.loads(event.data)["data"])
                writer.write(conn.data_to_send())
                if "two" not in texts:
                    data = await reader.read(65536)
                    assert data, "the server closed the connection"
                    conn.receive_data(data)
            writer.close()
    finally:
        code, output = stop(running)
    assert code in STOPPED and "Traceback" not in output, output
    assert texts == ["two"]  # resumed after "one": nothing to replay
