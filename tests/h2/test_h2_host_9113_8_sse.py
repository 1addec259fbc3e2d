"""Server-Sent Events over HTTP/2 (RFC 9113 section 8.1: a response whose
body is a stream of DATA frames), with prior knowledge (section 3.3)."""

from __future__ import annotations

from tests.h2.support_client import client, serving


async def test_9113_8_1_sse_stream_receives_published_events() -> None:
    async with serving() as server, client(server.port) as conn:
        sid = await conn.request("GET", "/sse/news")
        state = await conn.head(sid)
        assert state.status == 200
        assert (state.header("content-type") or "").startswith("text/event-stream")
        # RFC 9113 section 8.2.2: no connection-specific field over HTTP/2.
        assert state.header("connection") is None
        assert state.header("transfer-encoding") is None
        await server.hub.publish("news", "one")
        await server.hub.publish("news", "two")
        events = await conn.events(sid, 2)
        assert [e.data for e in events] == ["one", "two"]


async def test_9113_8_1_sse_resume_with_last_event_id() -> None:
    async with serving() as server:
        first = await server.hub.publish("news", "one")
        await server.hub.publish("news", "two")
        await server.hub.publish("news", "three")
        async with client(server.port) as conn:
            sid = await conn.request("GET", "/sse/news", [("last-event-id", first.id)])
            events = await conn.events(sid, 2)
            assert [e.data for e in events] == ["two", "three"]


async def test_9113_5_twenty_sse_streams_on_one_connection_all_receive() -> None:
    async with serving() as server, client(server.port) as conn:
        sids = [await conn.request("GET", f"/sse/c{i % 4}") for i in range(20)]
        for sid in sids:
            assert (await conn.head(sid)).status == 200
        for i in range(4):
            await server.hub.publish(f"c{i}", f"to {i}")
        for n, sid in enumerate(sids):
            events = await conn.events(sid, 1)
            assert events[0].data == f"to {n % 4}"
        assert server.metrics.get("rawpush_h2_streams") == 20
        assert server.metrics.get("rawpush_protocol_connections", (("protocol", "h2"),)) == 1


async def test_9113_5_2_stalled_stream_does_not_stall_its_sibling() -> None:
    # Each event is 8 KiB: the stalled stream's 65,535-byte window (the
    # client's default) runs dry after eight, its sibling keeps reading.
    payload = "x" * 8192
    async with serving() as server, client(server.port) as conn:
        stalled = await conn.request("GET", "/sse/big")
        sibling = await conn.request("GET", "/sse/big")
        conn.stalled.add(stalled)
        await conn.head(stalled)
        await conn.head(sibling)
        for _ in range(40):
            await server.hub.publish("big", payload)
        events = await conn.events(sibling, 40)
        assert len(events) == 40
        stuck = conn.streams[stalled]
        assert len(stuck.body) <= 65_535
        assert len(stuck.events) < 40
        # The stream resumes once the client gives it credit again.
        conn.stalled.discard(stalled)
        conn.conn.increment_flow_control_window(1 << 20, stalled)
        await conn.flush()
        assert len(await conn.events(stalled, 40)) == 40


async def test_9113_8_1_head_of_an_event_stream_has_no_body() -> None:
    async with serving() as server, client(server.port) as conn:
        sid = await conn.request("HEAD", "/sse/news")
        state = await conn.response(sid)
        assert state.status == 200
        assert state.body == b""


async def test_9113_6_5_2_a_hundred_streams_the_default_limit_all_flow() -> None:
    async with serving() as server, client(server.port) as conn:
        await conn.until(lambda: 0x3 in conn.remote_settings, "SETTINGS")
        assert conn.remote_settings[0x3] == 100  # SETTINGS_MAX_CONCURRENT_STREAMS
        sids = [await conn.request("GET", "/sse/many") for _ in range(100)]
        for sid in sids:
            await conn.head(sid)
        for n in range(3):
            await server.hub.publish("many", f"event {n} " + "x" * 1000)
        for sid in sids:
            events = await conn.events(sid, 3)
            assert [e.data.split()[1] for e in events] == ["0", "1", "2"]


async def test_h2_max_concurrent_streams_is_configurable() -> None:
    async with serving(h2_max_concurrent_streams=7) as server, client(server.port) as conn:
        await conn.until(lambda: 0x3 in conn.remote_settings, "SETTINGS")
        assert conn.remote_settings[0x3] == 7


async def test_9113_5_2_a_stream_stalled_past_write_stall_timeout_is_reset_alone() -> None:
    # A window that stays shut is a reader that reads nothing: past the
    # stall timeout the stream ends (RST_STREAM CANCEL), its sibling and
    # the connection carry on.
    payload = "y" * 8192
    async with serving(write_stall_timeout=0.2) as server, client(server.port) as conn:
        stalled = await conn.request("GET", "/sse/slow")
        sibling = await conn.request("GET", "/sse/slow")
        conn.stalled.add(stalled)
        await conn.head(stalled)
        await conn.head(sibling)
        for _ in range(30):  # 240 KiB: past the window and the high water
            await server.hub.publish("slow", payload)
        await conn.until(lambda: conn.streams[stalled].reset is not None, "the reset")
        assert conn.streams[stalled].reset == 0x8  # CANCEL
        assert len(await conn.events(sibling, 30)) == 30
        reason = (("reason", "write_stall"),)
        assert server.metrics.get("rawpush_disconnects_total", reason) == 1
