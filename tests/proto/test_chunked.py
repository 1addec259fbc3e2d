"""RFC 9112 section 7.1: chunked transfer coding built once for many streams."""

from __future__ import annotations

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawpush.proto.chunked import LAST_CHUNK, chunk
from rawpush.proto.errors import LocalProtocolError


def test_9112_7_1_a_chunk_is_hex_size_crlf_data_crlf() -> None:
    assert chunk(b"hello") == b"5\r\nhello\r\n"
    assert chunk(b"x" * 26) == b"1a\r\n" + b"x" * 26 + b"\r\n"


def test_9112_7_1_the_last_chunk_has_size_zero_and_no_trailer() -> None:
    assert LAST_CHUNK == b"0\r\n\r\n"


def test_9112_7_1_an_empty_chunk_is_refused_as_misuse() -> None:
    # A zero-size chunk would end the body early.
    with pytest.raises(LocalProtocolError):
        chunk(b"")


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=5))
def test_9112_7_1_chunks_decode_to_the_data_with_h11(pieces: list[bytes]) -> None:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    client.receive_data(head + b"".join(chunk(p) for p in pieces) + LAST_CHUNK)
    got = b""
    while True:
        event = client.next_event()
        if isinstance(event, h11.Data):
            got += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            break
    assert got == b"".join(pieces)
