"""curl (libcurl on nghttp2, a peer nobody here wrote) over HTTP/2:
``--http2`` on TLS (ALPN h2, the test certificate as its CA) and
``--http2-prior-knowledge`` on the cleartext port (RFC 9113 section
3.3), streaming SSE as published, publishing, and HTTP/1.1 still there.
"""

from __future__ import annotations

import json

from rawpush.server.app import Server
from tests.h2.support_peers import peer


async def _streams_sse(server: Server, channel: str, *flags: str) -> None:
    async with peer("curl", "-sS", "-N", "-v", *flags, f"{server.url}/sse/{channel}") as curl:
        # the response head means the subscription is made (it comes first)
        await curl.line_with("< HTTP/2 200", "stderr")
        for number in range(3):
            await server.hub.publish(channel, f"over h2 {number}")
            await curl.line_with(f"data: over h2 {number}")


async def test_9113_3_2_curl_http2_on_tls_streams_sse(
    tls_server: Server, cert: tuple[str, str]
) -> None:
    await _streams_sse(tls_server, "curl-tls", "--http2", "--cacert", cert[0])


async def test_9113_3_3_curl_prior_knowledge_streams_sse(server: Server) -> None:
    await _streams_sse(server, "curl-h2c", "--http2-prior-knowledge")


async def test_9113_3_2_curl_negotiates_h2_by_alpn(
    tls_server: Server, cert: tuple[str, str]
) -> None:
    args = ("curl", "-sS", "--http2", "--cacert", cert[0], "-w", "\\n%{http_version}")
    async with peer(*args, f"{tls_server.url}/healthz") as curl:
        status, out, err = await curl.finish()
    assert status == 0, err
    assert out == "ok\n\n2"


async def test_9113_8_curl_publishes_over_prior_knowledge(server: Server) -> None:
    args = ("curl", "-sS", "--http2-prior-knowledge", "-H", "Content-Type: text/plain")
    async with peer(*args, "--data-binary", "from curl", f"{server.url}/publish/curl-pub") as curl:
        status, out, err = await curl.finish()
    assert status == 0, err
    ident = json.loads(out)["id"]
    assert server.hub.stats().channels["curl-pub"].published == 1
    assert ident


async def test_9113_3_3_curl_http_1_1_on_the_same_port(server: Server) -> None:
    args = ("curl", "-sS", "--http1.1", "-w", "\\n%{http_version}")
    async with peer(*args, f"{server.url}/healthz") as curl:
        status, out, err = await curl.finish()
    assert status == 0, err
    assert out == "ok\n\n1.1"
