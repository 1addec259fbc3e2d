"""What an idle subscriber keeps, and counters that are folded rather than
updated per event: regressions here cost memory per connection (see
bench/idle_memory.py) or CPU per delivered event (bench/fanout.py)."""

from __future__ import annotations

from rawpush.server.app import Server
from rawpush.server.session import StreamSession
from tests.server.support import eventually, metric, open_sse, raw_ws


def _sessions(server: Server) -> list[StreamSession]:
    ctx = server._ctx
    assert ctx is not None
    return [c.session for c in ctx.connections if isinstance(c.session, StreamSession)]


async def test_an_idle_subscriber_keeps_only_what_it_needs(server: Server) -> None:
    sse = await open_sse(server.port, "/sse/idle")
    ws = await raw_ws(server.port, "/ws/idle")
    await eventually(lambda: server.hub.stats().subscribers == 2)
    await server.hub.publish("idle", "one")
    await sse.events(1)
    await eventually(lambda: all(s._task is None for s in _sessions(server)))
    sessions = _sessions(server)
    assert len(sessions) == 2
    for session in sessions:
        assert not hasattr(session, "__dict__")
        assert session.outbox._queue is None  # nothing waits: no deque
        assert session.sub is not None and session.sub._pending is None
        # The HTTP parser is gone once the stream owns the connection.
        assert not hasattr(session.host, "http")
    sse.close()
    ws.close()


async def test_counters_folded_from_live_and_ended_connections(server: Server) -> None:
    sse = await open_sse(server.port, "/sse/count")
    await eventually(lambda: server.hub.stats().subscribers == 1)
    for i in range(3):
        await server.hub.publish("count", f"m{i}")
    await sse.events(3)
    # Read while the connection is open (folded at collection time) ...
    assert metric(server, 'rawpush_messages_out_total{transport="sse"}') == 3
    out = metric(server, 'rawpush_bytes_out_total{transport="sse"}')
    assert out > 0
    await server.hub.publish("count", "last")
    await sse.events(1)
    sse.close()
    await eventually(lambda: server.hub.stats().subscribers == 0)
    # ... and after it ended (folded in connection_lost), nothing counted twice.
    await eventually(lambda: not _sessions(server))
    assert metric(server, 'rawpush_messages_out_total{transport="sse"}') == 4
    assert metric(server, 'rawpush_bytes_out_total{transport="sse"}') > out
    assert metric(server, 'rawpush_bytes_in_total{transport="http"}') > 0
