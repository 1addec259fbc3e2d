"""Headless Chromium over HTTP/2: the six-connection limit gone.

Browsers open at most six HTTP/1.1 connections per origin, so a page's
seventh EventSource waits, silently, for one of the six to end. Over
HTTP/2 every EventSource is a stream of one connection (RFC 9113 section
5), so twenty of them all flow. The comparison, documented by the tests:

- ``http2=True`` over TLS: 20 EventSources open, one publish reaches all
  20 within a second (the issue's bar, measured in the page from the
  publish ``fetch`` to the last ``message``), and the resource timing of
  the page's requests says ``nextHopProtocol == "h2"``;
- ``http2=False`` over TLS: the same page gets 6 EventSources open and
  the other 14 stuck in CONNECTING; the hub has 6 subscribers, after a
  publish has gone to those 6 (so the browser had its chance to open more);
- a WebSocket to ``wss://`` on the origin the page already talks h2 to
  goes over RFC 8441: on the server its session's host is an HTTP/2
  stream, and it receives published events.

Chromium trusts the test certificate by its public key's hash
(``--ignore-certificate-errors-spki-list``, the SHA-256 of the
SubjectPublicKeyInfo, base64), nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rawpush.server.app import Server
from rawpush.server.h2_stream import H2Stream
from rawpush.server.ws_session import WSSession
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, LIMIT, WAIT_MS, _available
from tests.conftest import require
from tests.server.conftest import FAST
from tests.tls_support import self_signed

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

STREAMS = 20
#: HTTP/1.1 connections Chromium opens per origin (its socket pool's
#: per-group limit, the same in every major browser)
H1_LIMIT = 6

_OPEN = """([channel, count]) => {
    window.opened = 0; window.got = []; window.sources = [];
    for (let i = 0; i < count; i++) {
        const source = new EventSource(`/sse/${channel}`);
        source.onopen = () => { window.opened += 1; };
        source.onmessage = (e) => { window.got.push([i, e.data, performance.now()]); };
        window.sources.push(source);
    }
}"""

_PUBLISH = """async ([channel, data]) => {
    window.t0 = performance.now();
    const r = await fetch(`/publish/${channel}`, {
        method: "POST", body: data, headers: {"Content-Type": "text/plain"} });
    return r.status;
}"""


def _spki_hash(certfile: str) -> str:
    cert = x509.load_pem_x509_certificate(Path(certfile).read_bytes())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@contextlib.asynccontextmanager
async def _chromium(certfile: str) -> AsyncIterator[Browser]:
    require(f"chromium ({CHROMIUM}) and playwright (pip install playwright)", _available())
    from playwright.async_api import async_playwright

    args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={_spki_hash(certfile)}"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=args, timeout=WAIT_MS
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def _tls_server(tmp_path: Path, **overrides: Any) -> AsyncIterator[tuple[Server, str]]:
    cert, key = self_signed(tmp_path)
    server = Server(dataclasses.replace(FAST, certfile=cert, keyfile=key, **overrides))
    await server.start()
    try:
        yield server, cert
    finally:
        await server.close()


async def _page(browser: Browser, url: str) -> Page:
    """A page at ``url``: /healthz, a plain text page of the origin that
    opens nothing itself (the demo page at / holds an EventSource, a long
    poll and a WebSocket of its own)."""
    page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    await page.goto(url)
    return page


async def test_9113_5_twenty_eventsources_share_one_h2_connection(tmp_path: Path) -> None:
    async with _tls_server(tmp_path) as (server, cert), _chromium(cert) as browser:
        async with asyncio.timeout(LIMIT):
            page = await _page(browser, server.url + "/healthz")
            await page.evaluate(_OPEN, ["h2-twenty", STREAMS])
            await page.wait_for_function(f"window.opened === {STREAMS}")
            assert await page.evaluate(_PUBLISH, ["h2-twenty", "to all twenty"]) == 200
            await page.wait_for_function(f"window.got.length === {STREAMS}")
            got = await page.evaluate("window.got.map(([i, d, t]) => [i, d, t - window.t0])")
            assert sorted(i for i, _, _ in got) == list(range(STREAMS))
            assert {d for _, d, _ in got} == {"to all twenty"}
            # the bar: every one of the twenty within a second
            assert max(t for _, _, t in got) < 1000.0, got
            protocols = await page.evaluate(
                """() => [
                    performance.getEntriesByType('navigation')[0].nextHopProtocol,
                    ...performance.getEntriesByType('resource').map(e => e.nextHopProtocol)]"""
            )
            # the page and the publish fetch at least (an EventSource that
            # never ends has no resource entry yet)
            assert len(protocols) >= 2
            assert set(protocols) == {"h2"}
            assert server.hub.stats().channels["h2-twenty"].subscribers == STREAMS
            h2_conns = server.metrics.render()
            assert 'rawpush_protocol_connections{protocol="h2"} 1' in h2_conns


async def test_9112_six_connection_limit_holds_the_rest_over_http_1_1(tmp_path: Path) -> None:
    # The same page with HTTP/2 off: the documented comparison.
    async with _tls_server(tmp_path, http2=False) as (server, cert), _chromium(cert) as browser:
        async with asyncio.timeout(LIMIT):
            page = await _page(browser, server.url + "/healthz")
            await page.evaluate(_OPEN, ["h1-twenty", STREAMS])
            await page.wait_for_function(f"window.opened === {H1_LIMIT}")
            # a publish the six receive: by then the browser has had every
            # chance to open a seventh connection, and has not
            await server.hub.publish("h1-twenty", "to the six")
            await page.wait_for_function(f"window.got.length === {H1_LIMIT}")
            assert await page.evaluate("window.opened") == H1_LIMIT
            states = await page.evaluate("window.sources.map(s => s.readyState)")
            assert states.count(1) == H1_LIMIT  # OPEN
            assert states.count(0) == STREAMS - H1_LIMIT  # CONNECTING, silently
            assert server.hub.stats().channels["h1-twenty"].subscribers == H1_LIMIT
            protocol = await page.evaluate(
                "performance.getEntriesByType('navigation')[0].nextHopProtocol"
            )
            assert protocol == "http/1.1"


async def test_8441_chromium_websocket_goes_over_the_h2_connection(tmp_path: Path) -> None:
    async with _tls_server(tmp_path) as (server, cert), _chromium(cert) as browser:
        async with asyncio.timeout(LIMIT):
            page = await _page(browser, server.url + "/healthz")
            # the page's origin already speaks h2: the WebSocket joins it
            await page.evaluate(
                """(url) => {
                    window.frames_in = [];
                    window.ws = new WebSocket(url);
                    window.ws.onmessage = (e) => window.frames_in.push(JSON.parse(e.data));
                }""",
                server.url.replace("https://", "wss://") + "/ws/h2-ws",
            )
            await page.wait_for_function("window.ws.readyState === 1")
            assert server._ctx is not None
            ws_sessions = [s for s in server._ctx.sessions() if isinstance(s, WSSession)]
            assert len(ws_sessions) == 1
            # RFC 8441: the session's host is a stream of the HTTP/2 connection
            assert isinstance(ws_sessions[0].host, H2Stream)
            await server.hub.publish("h2-ws", "over RFC 8441")
            await page.wait_for_function("window.frames_in.length === 1")
            frame = await page.evaluate("window.frames_in[0]")
            assert frame["data"] == "over RFC 8441"
