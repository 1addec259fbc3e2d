"""A prior-knowledge connection (RFC 9113 section 3.3) is counted once, as
HTTP/2: the HTTP/1.1 host that sniffed its preface does not count it too."""

from __future__ import annotations

from tests.h2.support_client import client, serving
from tests.server.support import metric, request


async def test_9113_3_3_prior_knowledge_is_counted_as_h2_only() -> None:
    async with serving() as server:
        async with client(server.port) as conn:
            assert (await conn.response(await conn.request("GET", "/healthz"))).status == 200
        total = 'rawpush_protocol_connections_total{protocol="%s"}'
        assert metric(server, total % "h2") == 1
        assert metric(server, total % "h1") == 0
        assert metric(server, 'rawpush_connections_total{transport="http"}') == 0
        assert (await request(server.port, "GET", "/healthz")).status == 200
        assert metric(server, total % "h1") == 1
