"""The Python clients hand the application bytes for a binary event, on
every transport, and text stays text."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from rawpush.client import subscribe
from rawpush.client.binary import BinaryMarks
from rawpush.server.app import Server
from tests.server.support import WAIT, eventually

BLOB = b"\x00\xff\n\r" + bytes(range(200))


@pytest.mark.parametrize("transport", ["ws", "sse", "poll"])
async def test_subscribe_gets_bytes_for_binary_events(server: Server, transport: str) -> None:
    base = f"http://127.0.0.1:{server.port}"
    got = []
    async with contextlib.aclosing(
        subscribe(base, "cb", transports=[transport], poll_timeout=5.0)
    ) as messages:
        reader = asyncio.ensure_future(anext(messages))
        # Subscribed (for poll: the wait after the first poll learnt "now").
        await eventually(lambda: server.hub.stats().subscribers >= 1)
        await server.hub.publish("cb", BLOB)
        await server.hub.publish("cb", "text")
        async with asyncio.timeout(WAIT):
            got.append(await reader)
            got.append(await anext(messages))
    assert [m.data for m in got] == [BLOB, "text"]
    assert {m.transport for m in got} == {transport}


def test_9_2_6_binary_marks_split_at_every_offset() -> None:
    stream = (
        b": hi\n\nencoding: base64\nid: 1-0\ndata: AP8=\n\n"
        b"id: 2-0\r\ndata: text\r\n\r\nretry: 5\n\nencoding: base64\ndata\n\n"
    )
    for cut in range(len(stream) + 1):
        marks = BinaryMarks()
        marks.feed(stream[:cut])
        marks.feed(stream[cut:])
        assert [marks.pop() for _ in range(3)] == [True, False, True]
        assert marks.pop() is False  # nothing more
