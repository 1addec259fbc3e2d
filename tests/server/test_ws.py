"""``/ws/{channel}`` end to end: a real WebSocket library as the client,
and raw sockets where the test needs a misbehaving peer."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rawpush.hub import HubConfig
from rawpush.server.app import Server
from rawpush.ws import ClientConnection, Close, Text, WSConfig
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, eventually, raw_ws, request


def url(server: Server, path: str) -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


async def test_websockets_library_receives_events_and_publishes(server: Server) -> None:
    async with connect(url(server, "/ws/chat")) as ws, asyncio.timeout(WAIT):
        # The 101 goes out only once the subscription is in place.
        published = await request(server.port, "POST", "/publish/chat?event=join", body=b"ann")
        event_id = json.loads(published.body)["id"]
        assert json.loads(await ws.recv()) == {"id": event_id, "event": "join", "data": "ann"}
        await ws.send("hello from ws")
        echoed = json.loads(await ws.recv())
        assert (echoed["event"], echoed["data"]) == ("message", "hello from ws")
    history = await server.hub.since("chat", "0-0")
    assert [e.data for e in history.events] == ["ann", "hello from ws"]


async def test_resume_with_last_event_id(server: Server) -> None:
    ids = [(await server.hub.publish("r", f"m{i}")).id for i in range(3)]
    async with connect(url(server, f"/ws/r?lastEventId={ids[0]}")) as ws, asyncio.timeout(WAIT):
        got = [json.loads(await ws.recv()) for _ in range(2)]
        assert [m["id"] for m in got] == ids[1:]
        live = await server.hub.publish("r", "m3")
        assert json.loads(await ws.recv())["id"] == live.id


async def test_gap_is_reported_before_the_replay(make_server: MakeServer) -> None:
    server = await make_server(hub=HubConfig(history_size=2))
    first = await server.hub.publish("g", "lost")
    for i in range(3):
        await server.hub.publish("g", f"kept{i}")
    async with connect(url(server, f"/ws/g?lastEventId={first.id}")) as ws, asyncio.timeout(WAIT):
        assert json.loads(await ws.recv()) == {"gap": True}
        assert [json.loads(await ws.recv())["data"] for _ in range(2)] == ["kept1", "kept2"]


async def test_silent_peer_is_closed_by_the_heartbeat_while_a_ponging_one_stays(
    make_server: MakeServer,
) -> None:
    server = await make_server(ws_ping_interval=0.2, ws_ping_timeout=0.3, close_timeout=0.3)
    async with connect(url(server, "/ws/hb"), ping_interval=None) as alive:
        # websockets answers pings itself; the raw peer reads and never answers.
        silent = await raw_ws(server.port, "/ws/hb")
        events = await silent.read_all()
        silent.close()
        closes = [e for e in events if isinstance(e, Close)]
        assert closes and closes[0].code == 1011
        assert server.metrics.get("rawpush_disconnects_total", (("reason", "ping_timeout"),)) >= 1
        # The live client survived several ping rounds and still gets events.
        event = await server.hub.publish("hb", "still here")
        async with asyncio.timeout(WAIT):
            assert json.loads(await alive.recv())["id"] == event.id


async def test_malformed_frame_fails_only_its_own_connection(server: Server) -> None:
    async with connect(url(server, "/ws/m")) as good:
        bad = await raw_ws(server.port, "/ws/m")
        # An unmasked frame from a client: RFC 6455 section 5.1, close 1002.
        await bad.send_raw(b"\x81\x02hi")
        events = await bad.read_all()
        bad.close()
        assert [e.code for e in events if isinstance(e, Close)][:1] == [1002]
        event = await server.hub.publish("m", "fine")
        async with asyncio.timeout(WAIT):
            assert json.loads(await good.recv())["id"] == event.id


async def test_oversize_message_closes_1009(make_server: MakeServer) -> None:
    server = await make_server(ws=WSConfig(max_message_size=1000))
    async with connect(url(server, "/ws/big")) as ws:
        await ws.send("x" * 2000)
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(WAIT):
                await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009


async def test_a_binary_message_is_a_binary_publish(server: Server) -> None:
    # A binary frame publishes bytes (delivered as binary frames here, base64
    # with a marker on SSE and long poll), under the text frames' rules.
    async with connect(url(server, "/ws/bin")) as ws:
        await ws.send(b"\x00\x01")
        async with asyncio.timeout(WAIT):
            assert await ws.recv() == b"\x00\x01"
    replay = await server.hub.since("bin", "0-0")
    assert [e.data for e in replay.events] == [b"\x00\x01"]


async def test_origin_outside_the_allow_list_gets_403(make_server: MakeServer) -> None:
    server = await make_server(allowed_origins=("https://ok.example",))
    with pytest.raises(InvalidStatus) as info:
        async with connect(url(server, "/ws/o"), origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert info.value.response.status_code == 403
    async with connect(url(server, "/ws/o"), origin="https://ok.example"):  # type: ignore[arg-type]
        pass


async def test_bad_resume_id_and_channel_are_400(server: Server) -> None:
    for path in ("/ws/x?lastEventId=nope", "/ws/bad%20channel"):
        with pytest.raises(InvalidStatus) as info:
            async with connect(url(server, path)):
                pass
        assert info.value.response.status_code == 400


async def test_first_frame_in_the_handshake_packet_is_not_lost(server: Server) -> None:
    # A client may send its first frame right behind the request (h11's
    # trailing data); the server must publish it, not drop it.
    from rawpush.proto.ws.handshake_client import ClientHandshake

    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    handshake = ClientHandshake("127.0.0.1", "/ws/t")
    client = ClientConnection()
    client.send_text("early bird")
    writer.write(handshake.data_to_send() + client.data_to_send())
    async with asyncio.timeout(WAIT):
        while handshake.receive_data(await reader.read(4096)) is None:
            pass
        client.receive_data(handshake.trailing_data)
        texts: list[str] = [e.data for e in client.events() if isinstance(e, Text)]
        while not texts:
            client.receive_data(await reader.read(4096))
            texts = [e.data for e in client.events() if isinstance(e, Text)]
    assert json.loads(texts[0])["data"] == "early bird"
    writer.close()


async def test_drain_sends_1001_and_loses_nothing(make_server: MakeServer) -> None:
    server = await make_server()
    received: list[str] = []
    async with connect(url(server, "/ws/d")) as ws:
        sent = [(await server.hub.publish("d", f"e{i}")).id for i in range(50)]
        closing = asyncio.ensure_future(server.close())
        with pytest.raises(ConnectionClosed) as info:
            async with asyncio.timeout(WAIT):
                while True:
                    received.append(json.loads(await ws.recv())["id"])
        await asyncio.wait_for(closing, WAIT)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    assert received == sent
    await eventually(lambda: server.hub.closed)
