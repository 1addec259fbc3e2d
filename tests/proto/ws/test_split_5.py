"""Every parser fed whole, byte by byte, and split at chosen offsets.

The outcome (events, the close code of a failure, the bytes queued for the
peer) must not depend on how the stream was cut into reads: TCP may
deliver a frame in any number of pieces (RFC 6455 section 5.2 defines a
byte stream, not a datagram).
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.proto.errors import WebSocketError
from rawpush.proto.ws.connection import Connection
from rawpush.proto.ws.frames import serialize_frame
from rawpush.ws import ClientConnection, ServerConnection, WSConfig

KEY = b"\x0f\x1e\x2d\x3c"
CONFIG = WSConfig(max_frame_size=256, max_message_size=600)

# Mostly legal frames, with enough broken ones to exercise the failures.
frames = st.builds(
    lambda opcode, payload, fin, rsv: (opcode, payload, fin, rsv),
    st.sampled_from([0, 1, 1, 1, 2, 2, 8, 9, 10, 3]),
    st.one_of(
        st.text(max_size=80).map(str.encode),
        st.binary(max_size=300),
        st.sampled_from([b"\x03\xe8", b"\x03\xe8ok", b"\x0b\xb8", b"\x03"]),
    ),
    st.booleans(),
    st.sampled_from([0, 0, 0, 0, 0, 0x40]),
)


def stream(items: list[tuple[int, bytes, bool, int]], masked: bool) -> bytes:
    return b"".join(
        serialize_frame(op, payload, fin=fin, rsv=rsv, mask=KEY if masked else None)
        for op, payload, fin, rsv in items
    )


Outcome = tuple[list[object], int | None, bytes]


def run(cls: type[Connection], chunks: list[bytes]) -> Outcome:
    conn = cls(CONFIG, mask_source=lambda n: KEY)
    events: list[object] = []
    code = None
    for chunk in chunks:
        try:
            conn.receive_data(chunk)
        except WebSocketError as exc:
            code = exc.code
        events.extend(conn.events())
    conn.receive_eof()
    events.extend(conn.events())
    return events, code, conn.data_to_send()


def cut(data: bytes, offsets: list[int]) -> list[bytes]:
    points = sorted({o % (len(data) + 1) for o in offsets})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@given(st.lists(frames, max_size=8), st.lists(st.integers(0, 10_000), max_size=6), st.booleans())
@settings(max_examples=150)
def test_5_2_whole_bytewise_and_split_reads_give_the_same_outcome(
    items: list[tuple[int, bytes, bool, int]], offsets: list[int], server: bool
) -> None:
    cls: type[Connection] = ServerConnection if server else ClientConnection
    data = stream(items, masked=server)
    whole = run(cls, [data])
    assert run(cls, [data[i : i + 1] for i in range(len(data))]) == whole
    assert run(cls, cut(data, offsets)) == whole


@given(st.lists(frames, max_size=6), st.binary(max_size=40), st.integers(0, 1000))
@settings(max_examples=100)
def test_5_2_trailing_garbage_does_not_change_what_came_before(
    items: list[tuple[int, bytes, bool, int]], garbage: bytes, offset: int
) -> None:
    data = stream(items, masked=True)
    events, code, _ = run(ServerConnection, [data])
    more_events, more_code, _ = run(ServerConnection, cut(data + garbage, [offset]))
    # Garbage can add events or an error, never change the earlier ones;
    # an EOF in the middle of a frame is reported the same way either way.
    if code is not None:
        assert (more_events, more_code) == (events, code)
    else:
        assert more_events[: len(events) - 1] == events[:-1]
