"""Authorization of every channel of a multi-channel connection: a ticket
(used up by the first check) still covers every channel it names, and
only those; a JWT's expiry ends the connection as on single channels."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt

from rawpush.auth import AuthConfig, Grant, JWTConfig
from rawpush.ws import Close, Text
from tests.server.conftest import MakeServer
from tests.server.support import open_sse, raw_ws, request

SECRET = "s" * 40
CLOSED = AuthConfig(jwt=JWTConfig(secret=SECRET), anonymous=Grant(source="anonymous"))


def token(subscribe: list[str], publish: list[str] | None = None, **claims: Any) -> str:
    body: dict[str, Any] = {"sub": "u1", "exp": time.time() + 3600, **claims}
    body["rawpush"] = {"subscribe": subscribe, "publish": publish or []}
    return jwt.encode(body, SECRET, algorithm="HS256")


async def _ticket(port: int, channels: list[str]) -> str:
    answer = await request(
        port,
        "POST",
        "/tickets",
        [("Authorization", f"Bearer {token(channels)}")],
        body=json.dumps({"channels": channels}).encode(),
    )
    assert answer.status == 200
    ticket: str = json.loads(answer.body)["ticket"]
    return ticket


async def test_a_ticket_covers_every_channel_it_names(make_server: MakeServer) -> None:
    server = await make_server(auth=CLOSED)
    ticket = await _ticket(server.port, ["a", "b"])
    stream = await open_sse(server.port, f"/sse?channel=a&channel=b&ticket={ticket}")
    try:
        assert stream.status == 200
    finally:
        stream.close()
    beyond = await _ticket(server.port, ["a"])
    refused = await request(server.port, "GET", f"/poll?channel=a&channel=b&ticket={beyond}")
    assert refused.status == 403
    used = await request(server.port, "GET", f"/poll?channel=a&ticket={ticket}")
    assert used.status == 401  # good once


async def test_a_ticket_on_ws_covers_later_subscribes(make_server: MakeServer) -> None:
    server = await make_server(auth=CLOSED)
    ticket = await _ticket(server.port, ["a", "b"])
    ws = await raw_ws(server.port, f"/ws?ticket={ticket}")
    try:
        for channel, kind in (("a", "ack"), ("b", "ack"), ("c", "error")):
            await ws.send_text(json.dumps({"op": "subscribe", "channel": channel}))
            [reply] = [e for e in await ws.recv_until(Text) if isinstance(e, Text)]
            assert json.loads(reply.data)["type"] == kind, channel
    finally:
        ws.close()


async def test_an_expiring_token_ends_the_ws(make_server: MakeServer) -> None:
    server = await make_server(auth=CLOSED)
    short = token(["a"], exp=time.time() + 0.5)
    ws = await raw_ws(server.port, "/ws", headers=[("Authorization", f"Bearer {short}")])
    try:
        await ws.send_text('{"op":"subscribe","channel":"a"}')
        events = await ws.recv_until(Close)
        closes = [e for e in events if isinstance(e, Close)]
        assert closes and closes[0].code == 4001
    finally:
        ws.close()
