"""``GET /ws`` (many channels on one WebSocket) through rawpush.asgi.App
mounted in a Starlette app with authorization on (``tests.asgi.auth_site``),
under uvicorn and under hypercorn as real processes on loopback, with the
``websockets`` library as the client (and under uvicorn with
``--ws rawpush.uvicorn:WebSocketProtocol``, rawpush's core as uvicorn's
WebSocket).

Every subscription resumes from a known id, so what a channel had before
the subscribe arrives as its replay (proof of the subscription) and what
is published after the ack arrives live: no test waits for anything but
the messages themselves.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from rawpush.client import subscribe
from rawpush.proto.multichannel import parse_binary_message
from tests.asgi.auth_site import TOKEN
from tests.asgi.support import SERVERS, STOPPED, WAIT, Running, fetch, launch, stop

APP = "tests.asgi.auth_site:app"
RAWPUSH_WS = "rawpush.uvicorn:WebSocketProtocol"
SIGNED = {"Authorization": f"Bearer {TOKEN}"}


#: the two servers, and uvicorn speaking WebSocket through rawpush's own
#: core (``rawpush.uvicorn``) under the same app
HOSTS = [*((server,) for server in SERVERS), ("uvicorn", "--ws", RAWPUSH_WS)]


@pytest.fixture(scope="module", params=HOSTS, ids=["uvicorn", "hypercorn", "uvicorn-rawpush-ws"])
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    name, *options = request.param
    server = launch(name, APP, *options)
    try:
        yield server
    finally:
        code, output = stop(server)
    assert code in STOPPED and "Traceback" not in output, output


def _ws_url(running: Running) -> str:
    return running.push.replace("http", "ws", 1) + "/ws"


async def _publish(running: Running, channel: str, data: str | bytes, event: str = "") -> str:
    """POST /publish with the team token; the new event's id."""
    headers: tuple[tuple[str, str], ...] = (("Authorization", f"Bearer {TOKEN}"),)
    if isinstance(data, bytes):
        headers += (("Content-Type", "application/octet-stream"),)
    body = data if isinstance(data, bytes) else data.encode()
    query = f"?event={event}" if event else ""
    status, _, answer = await fetch("POST", f"{running.push}/publish/{channel}{query}", body,
                                    headers)
    assert status == 200, answer
    ident: str = json.loads(answer)["id"]
    return ident


async def _json(ws: ClientConnection) -> Any:
    message = await ws.recv()
    assert isinstance(message, str), message
    return json.loads(message)


async def _ask(ws: ClientConnection, **control: Any) -> Any:
    await ws.send(json.dumps(control))
    return await _json(ws)


async def test_ws_multi_resume_live_unsubscribe_publish_errors_binary(running: Running) -> None:
    # Each server of the fixture is its own process, with its own hub.
    first = {ch: await _publish(running, ch, f"{ch} 0") for ch in ("open.a", "team.b", "open.c")}
    second = {ch: await _publish(running, ch, f"{ch} 1") for ch in ("open.a", "team.b")}
    async with websockets.connect(_ws_url(running), additional_headers=SIGNED,
                                  open_timeout=WAIT) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channel": "open.a",
                                  "since": first["open.a"], "ref": "1"}))
        await ws.send(json.dumps({"op": "subscribe", "channel": "team.b",
                                  "since": first["team.b"], "ref": "2"}))
        await ws.send(json.dumps({"op": "subscribe", "channel": "open.c", "ref": "3"}))
        got = [await _json(ws) for _ in range(5)]
        assert [(m["type"], m.get("ref"), m["channel"], m["id"]) for m in got] == [
            ("ack", "1", "open.a", second["open.a"]),
            ("event", None, "open.a", second["open.a"]),
            ("ack", "2", "team.b", second["team.b"]),
            ("event", None, "team.b", second["team.b"]),
            ("ack", "3", "open.c", first["open.c"]),
        ]
        assert [m["data"] for m in got if m["type"] == "event"] == ["open.a 1", "team.b 1"]
        # Live, from POST /publish, in publish order across channels.
        live = [await _publish(running, ch, f"live {ch}", "tick")
                for ch in ("open.c", "team.b", "open.a")]
        got = [await _json(ws) for _ in range(3)]
        assert [(m["type"], m["id"], m["event"]) for m in got] == [
            ("event", ident, "tick") for ident in live
        ]
        unsubscribed = await _ask(ws, op="unsubscribe", channel="team.b", ref="u")
        assert (unsubscribed["type"], unsubscribed["ref"]) == ("ack", "u")
        await _publish(running, "team.b", "not for us any more")
        # Published over the socket: acked with the id its event carries.
        await ws.send(json.dumps({"op": "publish", "channel": "open.a", "data": "hé",
                                  "ref": "p"}))
        got = [await _json(ws) for _ in range(2)]
        ack = next(m for m in got if m["type"] == "ack")
        event = next(m for m in got if m["type"] == "event")
        assert (ack["ref"], ack["op"], event["channel"], event["data"]) == (
            "p", "publish", "open.a", "hé"
        )
        assert ack["id"] == event["id"]
        # Bad messages: error replies by ref, and the socket stays.
        await ws.send("not json")
        assert (await _json(ws))["code"] == "bad_request"
        unknown = await _ask(ws, op="dance", ref="d")
        assert (unknown["type"], unknown["code"], unknown["ref"]) == ("error", "bad_request", "d")
        # A binary event: one binary message, JSON header, newline, bytes.
        octets = bytes(range(256))
        ident = await _publish(running, "open.c", octets)
        message = await ws.recv()
        assert isinstance(message, bytes)
        header, payload = parse_binary_message(message)
        assert (header["channel"], header["id"], header["binary"], payload) == (
            "open.c", ident, True, octets
        )
        # A binary publish over the socket comes back the same way.
        await ws.send(json.dumps({"op": "publish", "channel": "open.c", "encoding": "base64",
                                  "data": base64.b64encode(b"\x00\n\xff").decode()}))
        got_back = [await ws.recv() for _ in range(2)]
        [blob] = [parse_binary_message(m) for m in got_back if isinstance(m, bytes)]
        assert blob[1] == b"\x00\n\xff"
        assert await _ask(ws, op="ping", ref="alive") == {"type": "pong", "ref": "alive"}


async def test_ws_multi_each_channel_is_authorized_on_its_own(running: Running) -> None:
    async with websockets.connect(_ws_url(running), open_timeout=WAIT) as anonymous:
        assert (await _ask(anonymous, op="subscribe", channel="open.x"))["type"] == "ack"
        refused = await _ask(anonymous, op="subscribe", channel="team.x", ref="t")
        assert (refused["type"], refused["code"], refused["ref"]) == ("error", "unauthorized", "t")
        forged = await _ask(anonymous, op="publish", channel="open.x", data="x", ref="f")
        assert (forged["code"], forged["ref"]) == ("unauthorized", "f")
        # Still subscribed to what it may read.
        ident = await _publish(running, "open.x", "for everyone")
        assert (await _json(anonymous))["id"] == ident
    async with websockets.connect(_ws_url(running), additional_headers=SIGNED,
                                  open_timeout=WAIT) as member:
        assert (await _ask(member, op="subscribe", channel="team.x"))["type"] == "ack"
        secret = await _ask(member, op="subscribe", channel="secret", ref="s")
        assert (secret["code"], secret["ref"]) == ("forbidden", "s")
        # Its own event and the ack, in whichever order the hub gives them.
        await member.send(json.dumps({"op": "publish", "channel": "team.x", "data": "ok",
                                      "ref": "ok"}))
        got = [await _json(member) for _ in range(2)]
        assert sorted((m["type"], m.get("ref")) for m in got) == [("ack", "ok"), ("event", None)]


async def test_6455_7_4_1_ws_multi_drain_on_sigterm_closes_1001_with_retry_hint() -> None:
    for server in SERVERS:
        running = launch(server, APP)
        try:
            async with websockets.connect(_ws_url(running), open_timeout=WAIT) as ws:
                assert (await _ask(ws, op="subscribe", channel="open.bye"))["type"] == "ack"
                before = await _publish(running, "open.bye", "before the drain")
                assert (await _json(ws))["id"] == before
                running.terminate()  # SIGTERM
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
            received = closed.value.rcvd
            assert received is not None and received.code == 1001, server
            assert 1234 <= int(received.reason.split("retry=")[1]) <= 2468
        finally:
            code, output = stop(running)
        assert code in STOPPED and "Traceback" not in output, output


async def test_python_subscribe_resumes_over_ws_with_binary_ids(running: Running) -> None:
    """``rawpush.client.subscribe`` asks for ``/ws`` and gets it: a binary
    event arrives with its id, which only ``/ws`` carries (on
    ``/ws/{channel}``, where the client falls back on a 404, it has none)."""
    first = await _publish(running, "open.py", "before")
    blob = await _publish(running, "open.py", b"\x00\xff")
    text = await _publish(running, "open.py", "after")
    got = []
    async with asyncio.timeout(WAIT), contextlib.aclosing(
        subscribe(running.push, "open.py", transports=["ws"], last_id=first)
    ) as messages:
        async for message in messages:
            got.append((message.id, message.data, message.transport))
            if len(got) == 2:
                break
    assert got == [(blob, b"\x00\xff", "ws"), (text, "after", "ws")]
