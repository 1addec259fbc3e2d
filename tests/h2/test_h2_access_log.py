"""The access log over HTTP/2: one line per stream's exchange, with the
version ``HTTP/2``, its status, bytes and transport."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from rawpush.server import access_log
from tests.h2.support_client import client, serving


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    out = io.StringIO()
    access_log.enable(out)
    try:
        yield out
    finally:
        access_log.disable()


async def test_each_h2_stream_is_one_access_log_line(log: io.StringIO) -> None:
    async with serving() as server, client(server.port) as conn:
        health = await conn.response(await conn.request("GET", "/healthz"))
        assert health.status == 200
        sid = await conn.request("POST", "/publish/news", [("content-type", "text/plain")], b"x")
        assert (await conn.response(sid)).status == 200
    access_log.disable()  # flushes the writer
    lines = [line.split(" ") for line in log.getvalue().splitlines()]
    assert [(f[2], f[3], f[4], f[5], f[8]) for f in lines] == [
        ("GET", "/healthz", "HTTP/2", "200", "http"),
        ("POST", "/publish/news", "HTTP/2", "200", "http"),
    ]
    assert all(int(f[6]) > 0 for f in lines)  # the HEADERS and DATA frames sent
