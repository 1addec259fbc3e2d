"""``/sse/{channel}`` end to end: curl as the client nobody here wrote,
raw streams for resume, gaps, heartbeats and drain."""

from __future__ import annotations

import asyncio
import shutil

from rawpush.hub import HubConfig
from rawpush.server.app import Server
from tests.conftest import require
from tests.server.conftest import MakeServer
from tests.server.support import WAIT, eventually, open_sse


async def test_curl_receives_the_stream(server: Server) -> None:
    require("curl", shutil.which("curl") is not None)
    first = await server.hub.publish("news", "before")
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sN", "-H", f"Last-Event-ID: {first.id}",
        f"http://127.0.0.1:{server.port}/sse/news",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(WAIT):
            # Wait for the subscription (curl is connected once it counts).
            while server.hub.stats().subscribers == 0:
                await asyncio.sleep(0.01)
            second = await server.hub.publish("news", "two\nlines", event="update")
            lines: list[str] = []
            while len(lines) < 4:
                lines.append((await proc.stdout.readline()).decode().rstrip("\n"))
    finally:
        proc.terminate()
        await proc.wait()
    assert lines == ["event: update", f"id: {second.id}", "data: two", "data: lines"]


async def test_resume_by_header_and_by_query(server: Server) -> None:
    ids = [(await server.hub.publish("r", f"m{i}")).id for i in range(3)]
    by_header = await open_sse(server.port, "/sse/r", [("Last-Event-ID", ids[0])])
    by_query = await open_sse(server.port, f"/sse/r?lastEventId={ids[1]}")
    assert by_header.status == 200
    assert by_header.headers["content-type"].startswith("text/event-stream")
    assert [e.id for e in await by_header.events(2)] == ids[1:]
    assert [e.data for e in await by_query.events(1)] == ["m2"]
    live = await server.hub.publish("r", "m3")
    assert [e.id for e in await by_header.events(1)] == [live.id]
    assert [e.id for e in await by_query.events(1)] == [live.id]
    by_header.close()
    by_query.close()


async def test_gap_event_before_the_replay(make_server: MakeServer) -> None:
    server = await make_server(hub=HubConfig(history_size=2))
    first = await server.hub.publish("g", "lost")
    for i in range(3):
        await server.hub.publish("g", f"kept{i}")
    stream = await open_sse(server.port, "/sse/g", [("Last-Event-ID", first.id)])
    events = await stream.events(3)
    assert [(e.event, e.data) for e in events] == [
        ("gap", ""),
        ("message", "kept1"),
        ("message", "kept2"),
    ]
    stream.close()


async def test_heartbeat_comments(make_server: MakeServer) -> None:
    server = await make_server(sse_heartbeat_interval=0.05)
    stream = await open_sse(server.port, "/sse/hb")
    async with asyncio.timeout(WAIT):
        while stream.raw.count(b":\n\n") < 2:
            await stream._more()
    stream.close()


async def test_http_10_stream_is_close_delimited(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /sse/old HTTP/1.0\r\n\r\n")
    async with asyncio.timeout(WAIT):
        head = await reader.readuntil(b"\r\n\r\n")
    assert b"transfer-encoding" not in head.lower()
    event = await server.hub.publish("old", "plain")
    async with asyncio.timeout(WAIT):
        body = await reader.readuntil(b"\n\n")
    assert body == f"id: {event.id}\ndata: plain\n\n".encode()
    writer.close()


async def test_drain_ends_the_stream_with_a_retry_hint(make_server: MakeServer) -> None:
    server = await make_server(drain_retry_ms=2500)
    stream = await open_sse(server.port, "/sse/d")
    sent = [(await server.hub.publish("d", f"e{i}")).id for i in range(20)]
    closing = asyncio.ensure_future(server.close())
    events = await stream.rest()
    await asyncio.wait_for(closing, WAIT)
    assert [e.id for e in events] == sent
    # Spread per connection over drain_retry_ms .. 2 x drain_retry_ms.
    assert stream.decoder.retry is not None and 2500 <= stream.decoder.retry <= 5000
    stream.close()


async def test_bad_last_event_id_is_400(server: Server) -> None:
    stream = await open_sse(server.port, "/sse/x", [("Last-Event-ID", "garbage")])
    assert stream.status == 400
    stream.close()


async def test_backplane_gap_marker_becomes_event_gap_in_place() -> None:
    # A backplane that lost events (a Redis reader behind the trim) sends a
    # gap marker; the stream must say "gap" exactly there, never skip silently.
    from rawpush.hub import Hub, HubEvent, MemoryBackplane
    from tests.server.conftest import FAST

    backplane = MemoryBackplane()
    hub = Hub(backplane=backplane)
    async with Server(FAST, hub=hub) as server:
        stream = await open_sse(server.port, "/sse/m")
        before = await hub.publish("m", "before")
        await eventually(lambda: len(backplane._sinks.get("m", ())) == 1)
        ms, _ = before.id.split("-")
        marker = HubEvent(f"{ms}-99", "m", None, "", gap=True)
        for sink in tuple(backplane._sinks["m"]):
            result = sink(marker)
            if result is not None:
                await result
        await asyncio.sleep(0.01)  # the next id's millisecond is past the marker's
        await server.hub.publish("m", "after")
        events = await stream.events(3)
        assert [(e.event, e.data) for e in events] == [
            ("message", "before"),
            ("gap", ""),
            ("message", "after"),
        ]
        stream.close()
    await hub.close()
