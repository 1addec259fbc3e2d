"""RFC 9113 sections 5.2 and 6.9: send-side flow control. A send never
blocks: what a window does not let out waits per stream and goes out,
one frame per stream in turn, as credit arrives."""

from __future__ import annotations

import h2.connection
import h2.events
import pytest
from h2.settings import SettingCodes

from rawpush.proto.errors import LocalProtocolError
from rawpush.proto.h2 import H2Config, H2Connection, RequestReceived, StreamReset, WindowOpened
from rawpush.proto.http import HTTPConfig
from tests.proto.h2.support import GET, frame_list, new_client, pair, request_fields


def _data_frames(data: bytes) -> list[tuple[int, int]]:
    """(stream id, length) of each DATA frame."""
    return [(sid, len(payload)) for kind, _, sid, payload in frame_list(data) if kind == 0x0]


def _opened(count: int) -> tuple[H2Connection, h2.connection.H2Connection]:
    server, client = pair()
    for n in range(count):
        client.send_headers(1 + 2 * n, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    for n in range(count):
        client.receive_data(server.send_head(1 + 2 * n, 200))
    return server, client


def test_9113_6_9_2_our_windows_are_raised_at_start() -> None:
    server = H2Connection(H2Config(initial_window_size=2 << 20, connection_window_size=1 << 24))
    client = new_client()
    events = client.receive_data(server.data_to_send())
    settings = next(e for e in events if isinstance(e, h2.events.RemoteSettingsChanged))
    changed = settings.changed_settings
    assert changed[SettingCodes.INITIAL_WINDOW_SIZE].new_value == 2 << 20
    assert changed[SettingCodes.MAX_CONCURRENT_STREAMS].new_value == 100
    assert changed[SettingCodes.MAX_HEADER_LIST_SIZE].new_value == 16 * 1024
    update = next(e for e in events if isinstance(e, h2.events.WindowUpdated))
    assert (update.stream_id, update.delta) == (0, (1 << 24) - 65_535)
    # The default connection window needs no WINDOW_UPDATE.
    small = H2Config(
        http=HTTPConfig(max_body_bytes=1000),
        initial_window_size=65_535,
        connection_window_size=65_535,
    )
    default = H2Connection(small)
    events = new_client().receive_data(default.data_to_send())
    assert not any(isinstance(e, h2.events.WindowUpdated) for e in events)


def test_9113_5_2_what_the_window_refuses_waits_and_follows_credit() -> None:
    server, client = _opened(1)
    out = server.send_data(1, b"x" * 100_000)
    # 65,535 bytes fit the client's initial window, in 16 KiB frames.
    assert sum(n for _, n in _data_frames(out)) == 65_535
    assert max(n for _, n in _data_frames(out)) == 16_384
    assert server.pending(1) == 100_000 - 65_535
    client.receive_data(out)
    assert server.end_stream(1) == b""  # END_STREAM waits behind the data
    client.increment_flow_control_window(50_000, 1)
    client.increment_flow_control_window(50_000)
    events = server.receive_data(client.data_to_send())
    assert WindowOpened(1) in events
    out = server.data_to_send()
    assert sum(n for _, n in _data_frames(out)) == 100_000 - 65_535
    assert server.pending(1) == 0
    last = frame_list(out)[-1]
    assert last[0] == 0x0 and last[1] & 0x1  # END_STREAM on the last DATA


def test_9113_5_2_the_connection_window_is_shared_in_turn() -> None:
    server, client = _opened(2)
    client.increment_flow_control_window(1 << 20, 1)
    client.increment_flow_control_window(1 << 20, 3)
    server.receive_data(client.data_to_send())
    server.data_to_send()
    # Stream 1 queues first and takes the whole connection window ...
    out = server.send_data(1, b"a" * 100_000) + server.send_data(3, b"b" * 100_000)
    assert {sid for sid, _ in _data_frames(out)} == {1}
    # ... then the next credit goes one frame each, in turn.
    client.increment_flow_control_window(4 * 16_384)
    events = server.receive_data(client.data_to_send())
    assert set(events) == {WindowOpened(1), WindowOpened(3)}
    assert [sid for sid, _ in _data_frames(server.data_to_send())] == [1, 3, 1, 3]


def test_9113_6_5_2_a_larger_initial_window_releases_queued_data() -> None:
    server, client = _opened(1)
    server.send_data(1, b"x" * 70_000)
    client.increment_flow_control_window(1 << 20)
    client.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 1 << 20})
    events = server.receive_data(client.data_to_send())
    assert WindowOpened(1) in events
    assert server.pending(1) == 0


def test_9113_5_2_end_alone_needs_no_credit_and_head_drops_the_body() -> None:
    server, client = pair()
    client.send_headers(1, request_fields("HEAD", "/"), end_stream=True)
    client.send_headers(3, GET, end_stream=True)
    server.receive_data(client.data_to_send())
    server.send_head(1, 200)
    assert _data_frames(server.send_data(1, b"dropped", end_stream=True)) == [(1, 0)]
    server.send_head(3, 200)
    server.send_data(3, b"x" * 65_535)
    out = server.end_stream(3)
    assert _data_frames(out) == [(3, 0)]  # the window is empty, END_STREAM is not held


def test_9113_5_1_no_data_after_the_end() -> None:
    server, client = _opened(1)
    server.send_data(1, b"x" * 70_000, end_stream=True)
    with pytest.raises(LocalProtocolError):
        server.send_data(1, b"more")
    client.increment_flow_control_window(1 << 20)
    client.increment_flow_control_window(1 << 20, 1)
    server.receive_data(client.data_to_send())
    with pytest.raises(LocalProtocolError):
        server.send_data(1, b"more")  # the stream is closed now


def _window_updates(data: bytes) -> list[tuple[int, int]]:
    return [
        (sid, int.from_bytes(payload, "big")) for kind, _, sid, payload in frame_list(data)
        if kind == 0x8
    ]


#: windows small enough that h2 gives credit back as soon as it may
_TIGHT = H2Config(
    http=HTTPConfig(max_body_bytes=100_000),
    initial_window_size=131_072,
    connection_window_size=131_072,
)


def _post_part(client: h2.connection.H2Connection) -> None:
    client.send_headers(1, request_fields("POST", "/publish/c"))
    for _ in range(8):
        client.send_data(1, b"x" * 10_000)


def test_9113_5_2_2_a_body_keeps_its_credit_until_it_is_complete() -> None:
    server, client = pair(_TIGHT)
    _post_part(client)
    assert server.receive_data(client.data_to_send()) == []
    # No credit back while the body is in progress: the connection window
    # bounds what bodies in progress hold.
    assert _window_updates(server.data_to_send()) == []
    client.send_data(1, b"y", end_stream=True)
    (event,) = server.receive_data(client.data_to_send())
    assert isinstance(event, RequestReceived) and len(event.request.body) == 80_001
    assert (0, 80_001) in _window_updates(server.data_to_send())


def test_9113_5_2_2_a_reset_body_gives_its_credit_back_to_the_connection() -> None:
    server, client = pair(_TIGHT)
    _post_part(client)
    server.receive_data(client.data_to_send())
    client.reset_stream(1)
    assert server.receive_data(client.data_to_send()) == [StreamReset(1, 0)]
    assert _window_updates(server.data_to_send()) == [(0, 80_000)]
