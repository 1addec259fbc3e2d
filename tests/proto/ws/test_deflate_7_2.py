"""RFC 7692 sections 6 and 7.2: compressing and decompressing messages.

The RFC's own examples (section 7.2.3) come first, byte for byte; then
round trips under every context-takeover and window setting, fragmented
messages, reads cut anywhere, and the failures: RSV1 where section 6
forbids it, a corrupt stream, and a deflate bomb stopped at the limit.
"""

from __future__ import annotations

import itertools
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rawpush.proto.errors import WebSocketError, WebSocketLocalError
from rawpush.proto.ws.connection import Connection
from rawpush.proto.ws.frames import Opcode
from rawpush.ws import (
    Binary,
    ClientConnection,
    PerMessageDeflate,
    ServerConnection,
    Text,
    WSConfig,
)
from tests.proto.ws.test_frames_5 import failure_code, frame

HELLO = bytes([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])


def client(**kwargs: int | bool) -> ClientConnection:
    return ClientConnection(extension=PerMessageDeflate(**kwargs))  # type: ignore[arg-type]


def server(**kwargs: int | bool) -> ServerConnection:
    return ServerConnection(extension=PerMessageDeflate(**kwargs))  # type: ignore[arg-type]


# -- section 7.2.3: the RFC's examples, as a server sends them ---------------


def test_7_2_3_1_a_message_compressed_into_one_frame() -> None:
    conn = client()
    conn.receive_data(bytes([0xC1, 0x07]) + HELLO)
    assert conn.events() == [Text("Hello")]


def test_7_2_3_1_the_same_message_in_two_fragments() -> None:
    conn = client()
    conn.receive_data(bytes([0x41, 0x03, 0xF2, 0x48, 0xCD, 0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00]))
    assert conn.events() == [Text("Hello")]


def test_7_2_3_2_the_second_message_refers_to_the_first() -> None:
    conn = client()
    conn.receive_data(
        bytes([0xC1, 0x07]) + HELLO + bytes([0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00])
    )
    assert conn.events() == [Text("Hello"), Text("Hello")]


def test_7_2_3_2_our_compressor_makes_the_rfc_bytes() -> None:
    sender = ServerConnection(extension=PerMessageDeflate())
    sender.send_text("Hello")
    sender.send_text("Hello")
    assert sender.data_to_send() == bytes([0xC1, 0x07]) + HELLO + bytes(
        [0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00]
    )


def test_7_2_3_2_no_context_takeover_sends_each_message_alone() -> None:
    sender = ServerConnection(extension=PerMessageDeflate(send_no_context_takeover=True))
    sender.send_text("Hello")
    sender.send_text("Hello")
    assert sender.data_to_send() == (bytes([0xC1, 0x07]) + HELLO) * 2


def test_7_2_3_3_a_stored_block_without_compression() -> None:
    conn = client()
    conn.receive_data(bytes([0xC1, 0x0B, 0x00, 0x05, 0x00, 0xFA, 0xFF]) + b"Hello" + b"\x00")
    assert conn.events() == [Text("Hello")]


def test_7_2_3_4_a_block_with_bfinal_set_then_a_fresh_stream() -> None:
    conn = client()
    bfinal = bytes([0xC1, 0x08, 0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00])
    conn.receive_data(bfinal + bfinal + bytes([0xC1, 0x07]) + HELLO)
    assert conn.events() == [Text("Hello")] * 3


FIRST = b"the quick brown fox jumps over the lazy dog, " * 4


def finished(data: bytes, history: bytes = b"") -> bytes:
    """``data`` as one DEFLATE stream ending in a BFINAL block (Z_FINISH),
    compressed against ``history`` as a peer with context takeover does."""
    if history:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=history)
    else:
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)


def referring(data: bytes, history: bytes) -> bytes:
    """``data`` sync-flushed against ``history``: back references into it."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, zdict=history)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def test_7_2_2_the_window_survives_a_message_that_ended_with_bfinal() -> None:
    # Section 7.2.2: without no_context_takeover the next message uses "the
    # LZ77 sliding window used to process the last compressed message",
    # even when that message ended its DEFLATE stream (section 7.2.3.4).
    second = referring(FIRST, FIRST)
    with pytest.raises(zlib.error):
        zlib.decompressobj(-15).decompress(second + b"\x00\x00\xff\xff")
    data = frame(Opcode.TEXT, finished(FIRST), rsv=0x40) + frame(Opcode.TEXT, second, rsv=0x40)
    for cut in range(len(data) + 1):
        conn = server()
        conn.receive_data(data[:cut])
        conn.receive_data(data[cut:])
        assert conn.events() == [Text(FIRST.decode())] * 2, cut


def test_7_2_2_the_window_spans_messages_before_the_bfinal_one() -> None:
    # Two sync-flushed messages, then one ending with BFINAL, then one that
    # refers back to all three.
    a, b, c = b"alpha " * 10, b"beta " * 10, b"gamma " * 10
    sender = zlib.compressobj(6, zlib.DEFLATED, -15)
    frames = b""
    for part in (a, b):
        out = sender.compress(part) + sender.flush(zlib.Z_SYNC_FLUSH)
        frames += frame(Opcode.BINARY, out[:-4], rsv=0x40)
    frames += frame(Opcode.BINARY, finished(c, a + b), rsv=0x40)
    frames += frame(Opcode.BINARY, referring(a + b + c, a + b + c), rsv=0x40)
    conn = server()
    conn.receive_data(frames)
    assert conn.events() == [Binary(a), Binary(b), Binary(c), Binary(a + b + c)]


def test_7_2_2_the_window_keeps_only_its_size() -> None:
    # A 512-byte window (9 bits) agreed: the last 512 bytes are what the
    # next message may refer to, and all that has to be kept.
    old = bytes(range(256)) * 8
    ender = zlib.compressobj(6, zlib.DEFLATED, -9)
    first = ender.compress(old) + ender.flush(zlib.Z_FINISH)
    recent = old[-512:]
    sender = zlib.compressobj(6, zlib.DEFLATED, -9, zdict=recent)
    second = (sender.compress(recent) + sender.flush(zlib.Z_SYNC_FLUSH))[:-4]
    extension = PerMessageDeflate(receive_max_window_bits=9)
    conn = ServerConnection(extension=extension)
    conn.receive_data(
        frame(Opcode.BINARY, first, rsv=0x40) + frame(Opcode.BINARY, second, rsv=0x40)
    )
    assert conn.events() == [Binary(old), Binary(recent)]


def test_7_2_2_no_context_takeover_starts_each_message_afresh() -> None:
    conn = server(receive_no_context_takeover=True)
    conn.receive_data(frame(Opcode.TEXT, finished(FIRST), rsv=0x40))
    assert failure_code(conn, frame(Opcode.TEXT, referring(FIRST, FIRST), rsv=0x40)) == 1007


def test_7_2_3_5_two_deflate_blocks_in_one_message() -> None:
    conn = client()
    payload = bytes([0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00])
    conn.receive_data(bytes([0xC1, 0x0D]) + payload)
    assert conn.events() == [Text("Hello")]


def test_7_2_3_6_an_empty_message_is_one_zero_byte() -> None:
    sender = ServerConnection(extension=PerMessageDeflate())
    sender.send_binary(b"")
    assert sender.data_to_send() == bytes([0xC2, 0x01, 0x00])
    conn = client()
    conn.receive_data(bytes([0xC2, 0x01, 0x00]) + bytes([0xC2, 0x00]))
    assert conn.events() == [Binary(b""), Binary(b"")]


def test_6_uncompressed_messages_pass_through() -> None:
    conn = server()
    conn.receive_data(
        frame(Opcode.TEXT, b"plain")
        + frame(Opcode.BINARY, b"ab", fin=False)
        + frame(Opcode.CONTINUATION, b"cd")
    )
    assert conn.events() == [Text("plain"), Binary(b"abcd")]


# -- round trips --------------------------------------------------------------

settings_ = st.fixed_dictionaries(
    {
        "server_bits": st.integers(8, 15),
        "client_bits": st.integers(8, 15),
        "server_reset": st.booleans(),
        "client_reset": st.booleans(),
    }
)
messages = st.lists(
    st.tuples(
        st.booleans(),
        st.lists(
            st.one_of(st.binary(max_size=400), st.just(b"abcabcabc" * 50)), min_size=1, max_size=3
        ),
    ),
    max_size=8,
)


def pair(cfg: dict[str, int | bool]) -> tuple[ServerConnection, ClientConnection]:
    srv = PerMessageDeflate(
        send_max_window_bits=int(cfg["server_bits"]),
        send_no_context_takeover=bool(cfg["server_reset"]),
        receive_max_window_bits=int(cfg["client_bits"]),
        receive_no_context_takeover=bool(cfg["client_reset"]),
    )
    cli = PerMessageDeflate(
        send_max_window_bits=int(cfg["client_bits"]),
        send_no_context_takeover=bool(cfg["client_reset"]),
        receive_max_window_bits=int(cfg["server_bits"]),
        receive_no_context_takeover=bool(cfg["server_reset"]),
    )
    return ServerConnection(extension=srv), ClientConnection(extension=cli)


def send_all(conn: Connection, script: list[tuple[bool, list[bytes]]]) -> list[object]:
    want: list[object] = []
    for is_text, parts in script:
        if is_text:
            texts = [p.decode("latin-1") for p in parts]
            for t in texts[:-1]:
                conn.send_text(t, fin=False)
            conn.send_text(texts[-1])
            want.append(Text("".join(texts)))
        else:
            for p in parts[:-1]:
                conn.send_binary(p, fin=False)
            conn.send_binary(parts[-1])
            want.append(Binary(b"".join(parts)))
    return want


@given(settings_, messages, messages)
@settings(max_examples=60)
def test_7_2_round_trips_both_ways_under_every_setting(
    cfg: dict[str, int | bool],
    up: list[tuple[bool, list[bytes]]],
    down: list[tuple[bool, list[bytes]]],
) -> None:
    srv, cli = pair(cfg)
    want = send_all(cli, up)
    srv.receive_data(cli.data_to_send())
    assert srv.events() == want
    want = send_all(srv, down)
    cli.receive_data(srv.data_to_send())
    assert cli.events() == want


def test_7_2_1_context_takeover_compresses_repeats_better() -> None:
    body = b"the same message, again and again " * 4
    sizes = []
    for reset in (False, True):
        conn = ServerConnection(extension=PerMessageDeflate(send_no_context_takeover=reset))
        conn.send_binary(body)
        conn.data_to_send()
        conn.send_binary(body)
        sizes.append(len(conn.data_to_send()))
    assert sizes[0] < sizes[1] // 3


def test_6_only_the_first_fragment_carries_rsv1() -> None:
    conn = ServerConnection(extension=PerMessageDeflate())
    conn.send_text("Hel", fin=False)
    first = conn.data_to_send()
    conn.send_text("lo")
    last = conn.data_to_send()
    assert first[0] == 0x41 and last[0] == 0x80
    peer = client()
    peer.receive_data(first + last)
    assert peer.events() == [Text("Hello")]


# -- reads cut anywhere -------------------------------------------------------


def stream() -> bytes:
    cli = ClientConnection(extension=PerMessageDeflate())
    for i in range(4):
        cli.send_text(f"message {i} " * 20, fin=False)
        cli.send_text("end")
        cli.send_binary(bytes(range(256)) * 3)
        cli.send_ping(b"p")
    return cli.data_to_send()


def feed(chunks: list[bytes]) -> list[object]:
    conn = server()
    for chunk in chunks:
        conn.receive_data(chunk)
    return list(conn.events())


WHOLE = stream()
EXPECTED = feed([WHOLE])


def test_7_2_2_whole_and_byte_by_byte_agree() -> None:
    assert len(EXPECTED) == 12
    assert feed([WHOLE[i : i + 1] for i in range(len(WHOLE))]) == EXPECTED


@given(st.lists(st.integers(0, len(WHOLE)), max_size=12))
def test_7_2_2_any_split_gives_the_same_events(cuts: list[int]) -> None:
    edges = [0, *sorted(cuts), len(WHOLE)]
    assert feed([WHOLE[a:b] for a, b in itertools.pairwise(edges)]) == EXPECTED


# -- failures -----------------------------------------------------------------


def test_6_1_rsv1_on_a_continuation_frame_is_a_protocol_error() -> None:
    data = frame(Opcode.TEXT, HELLO[:3], fin=False, rsv=0x40)
    data += frame(Opcode.CONTINUATION, HELLO[3:], rsv=0x40)
    assert failure_code(server(), data) == 1002


def test_6_1_rsv1_on_a_control_frame_is_a_protocol_error() -> None:
    assert failure_code(server(), frame(Opcode.PING, b"", rsv=0x40)) == 1002


def test_6_rsv2_is_still_unnegotiated() -> None:
    assert failure_code(server(), frame(Opcode.TEXT, HELLO, rsv=0x20)) == 1002


def test_7_2_2_a_corrupt_stream_is_1007() -> None:
    assert failure_code(server(), frame(Opcode.BINARY, b"\xff\xff\xff", rsv=0x40)) == 1007


def test_7_2_3_4_data_after_the_final_block_is_1007() -> None:
    final = bytes([0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
    data = frame(Opcode.BINARY, final, fin=False, rsv=0x40) + frame(Opcode.CONTINUATION, b"xyz")
    assert failure_code(server(), data) == 1007


def bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = compressor.compress(bytes(size)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert data.endswith(b"\x00\x00\xff\xff")
    return data[:-4]


def test_8_a_deflate_bomb_stops_at_the_limit_with_1009() -> None:
    payload = bomb(10 * 1024 * 1024)
    assert len(payload) < 20_000
    conn = ServerConnection(extension=PerMessageDeflate(max_message_size=64 * 1024))
    tracemalloc.start()
    try:
        code = failure_code(conn, frame(Opcode.BINARY, payload, rsv=0x40))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 1009
    # Never near the 10 MB the bomb would inflate to.
    assert peak < 1024 * 1024


def test_8_a_fragmented_bomb_counts_the_whole_message() -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    frames = frame(
        Opcode.BINARY,
        compressor.compress(bytes(1000)) + compressor.flush(zlib.Z_SYNC_FLUSH),
        fin=False,
        rsv=0x40,
    )
    for _ in range(3):
        chunk = compressor.compress(bytes(1000)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        frames += frame(Opcode.CONTINUATION, chunk, fin=False)
    conn = ServerConnection(extension=PerMessageDeflate(max_message_size=2500))
    assert failure_code(conn, frames) == 1009


def test_8_a_message_at_the_limit_passes() -> None:
    conn = ServerConnection(
        WSConfig(max_message_size=4096), extension=PerMessageDeflate(max_message_size=4096)
    )
    conn.receive_data(frame(Opcode.BINARY, bomb(4096), rsv=0x40))
    assert conn.events() == [Binary(bytes(4096))]


def test_the_extension_refuses_bad_settings() -> None:
    with pytest.raises(WebSocketLocalError):
        PerMessageDeflate(send_max_window_bits=16)
    with pytest.raises(WebSocketLocalError):
        PerMessageDeflate(receive_max_window_bits=7)
    with pytest.raises(WebSocketLocalError):
        PerMessageDeflate(max_message_size=0)
    assert "send_max_window_bits=9" in repr(PerMessageDeflate(send_max_window_bits=8))


def test_errors_are_websocket_errors() -> None:
    ext = PerMessageDeflate()
    with pytest.raises(WebSocketError):
        ext.decode(2, True, 0x40, b"\xff")
