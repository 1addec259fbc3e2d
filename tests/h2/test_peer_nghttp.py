"""nghttp (Debian's nghttp2-client, the reference HTTP/2 client of the
nghttp2 project) against rawpush: /healthz, /metrics and an SSE stream,
on the cleartext port (nghttp speaks prior knowledge to http:// URLs)
and on TLS (ALPN h2; nghttp does not check certificates).
"""

from __future__ import annotations

from rawpush.server.app import Server
from tests.h2.support_peers import peer


async def test_9113_3_3_nghttp_fetches_healthz(server: Server) -> None:
    async with peer("nghttp", f"{server.url}/healthz") as nghttp:
        status, out, err = await nghttp.finish()
    assert status == 0, err
    assert out == "ok\n"


async def test_9113_3_3_nghttp_fetches_metrics(server: Server) -> None:
    async with peer("nghttp", f"{server.url}/metrics") as nghttp:
        status, out, err = await nghttp.finish()
    assert status == 0, err
    assert "# TYPE rawpush_" in out
    # the request itself was counted as HTTP/2
    assert 'protocol="h2"' in out


async def test_9113_3_2_nghttp_fetches_healthz_over_tls(tls_server: Server) -> None:
    async with peer("nghttp", "-v", f"{tls_server.url}/healthz") as nghttp:
        status, out, err = await nghttp.finish()
    assert status == 0, err
    assert "The negotiated protocol: h2" in out
    assert out.rstrip().endswith("ok") or "\nok\n" in out


async def test_9113_8_nghttp_streams_sse(server: Server) -> None:
    # -v: frames are printed (and flushed) as they come, the body with them
    async with peer("nghttp", "-v", f"{server.url}/sse/nghttp") as nghttp:
        await nghttp.line_with("First response header")
        for number in range(3):
            await server.hub.publish("nghttp", f"event {number}")
            await nghttp.line_with(f"data: event {number}")
