"""Helpers for the HTTP/2 core tests: an h2 client (python-hyper's, a
peer nobody here wrote), raw frames, and the cuts every parser is fed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import Frame

from rawpush.proto.errors import H2Error
from rawpush.proto.h2 import PREFACE, Event, H2Config, H2Connection

__all__ = [
    "GET",
    "body_of",
    "client_start",
    "cuts",
    "events_of",
    "failure_of",
    "frame_list",
    "frames",
    "goaway_of",
    "head_of",
    "new_client",
    "pair",
    "request_fields",
    "to_client",
]


def request_fields(
    method: str = "GET", path: str = "/sse/news", *extra: tuple[str, str]
) -> list[tuple[str, str]]:
    return [
        (":method", method),
        (":scheme", "https"),
        (":authority", "example.test"),
        (":path", path),
        *extra,
    ]


GET = request_fields()


def new_client() -> h2.connection.H2Connection:
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    client = h2.connection.H2Connection(config)
    client.initiate_connection()
    return client


def pair(config: H2Config | None = None) -> tuple[H2Connection, h2.connection.H2Connection]:
    """A server and a client that have exchanged prefaces and SETTINGS."""
    server = H2Connection(config)
    client = new_client()
    assert server.receive_data(client.data_to_send()) == []
    client.receive_data(server.data_to_send())
    server.receive_data(client.data_to_send())  # the client's ACK
    server.data_to_send()  # and ours
    return server, client


def to_client(server: H2Connection, client: h2.connection.H2Connection, data: bytes) -> list[
    h2.events.Event
]:
    events = client.receive_data(data + server.data_to_send())
    return list(events)


def cuts(data: bytes) -> Iterator[list[bytes]]:
    """``data`` whole, byte by byte, and split in two at every offset."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def events_of(server: H2Connection, chunks: Sequence[bytes]) -> list[Event]:
    found: list[Event] = []
    for chunk in chunks:
        found += server.receive_data(chunk)
    return found


def failure_of(chunks: Sequence[bytes], config: H2Config | None = None) -> H2Error:
    """The H2Error a fresh server raises on a client preface + ``chunks``."""
    server = H2Connection(config)
    try:
        for chunk in chunks:
            server.receive_data(chunk)
    except H2Error as exc:
        # The GOAWAY with the same code is queued (RFC 9113 section 5.4.1).
        assert goaway_of(server.data_to_send()) == (exc.last_stream_id, exc.code)
        return exc
    raise AssertionError("no H2Error")


def head_of(events: Sequence[h2.events.Event]) -> list[tuple[str, str]]:
    """The response head the client read (its fields, as text)."""
    for event in events:
        if isinstance(event, h2.events.ResponseReceived):
            return cast(list[tuple[str, str]], list(event.headers or ()))
    raise AssertionError("no response head")


def body_of(events: Sequence[h2.events.Event]) -> bytes:
    return b"".join(
        e.data or b"" for e in events if isinstance(e, h2.events.DataReceived)
    )


def frame_list(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(type, flags, stream id, payload) of each frame in ``data``."""
    found = []
    at = 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 3], "big")
        kind, flags = data[at + 3], data[at + 4]
        sid = int.from_bytes(data[at + 5 : at + 9], "big") & 0x7FFFFFFF
        found.append((kind, flags, sid, data[at + 9 : at + 9 + length]))
        at += 9 + length
    return found


def goaway_of(data: bytes) -> tuple[int, int] | None:
    """(last stream id, error code) of the GOAWAY in ``data``, if any."""
    for kind, _, _, payload in frame_list(data):
        if kind == 0x7:
            return (
                int.from_bytes(payload[0:4], "big") & 0x7FFFFFFF,
                int.from_bytes(payload[4:8], "big"),
            )
    return None


def frames(*parts: Frame | bytes) -> bytes:
    return b"".join(p if isinstance(p, bytes) else p.serialize() for p in parts)


def client_start() -> bytes:
    """A client's preface and empty SETTINGS."""
    return PREFACE + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
