"""rawpush.js ``shared: true``: ten tabs of an origin, one connection.

Ten pages in one browser context (one origin, so one Web Locks name space
and one BroadcastChannel) connect with ``shared: true``. The server counts
one open WebSocket connection (``rawpush_connections`` in ``/metrics``),
and every page receives every event. Closing the leader's page releases
its lock; another page takes over, resumes by id, and the nine left get
the events published meanwhile, each exactly once and in order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.browser.rawpush_js_support import (
    SUBSCRIBE,
    Serve,
    client_page,
    metrics,
    post,
    unexpected,
)
from tests.browser.support import LIMIT, launch, wait_js

TABS = 10
_WS = 'rawpush_connections{transport="ws"}'


async def _ws_connections(base: str, want: int) -> float:
    """The open WebSocket connections, once they are ``want`` (bounded)."""
    seen = -1.0
    for _ in range(200):
        seen = (await asyncio.to_thread(metrics, base)).get(_WS, 0.0)
        if seen == want:
            break
        await asyncio.sleep(0.05)
    return seen


async def test_ten_tabs_share_one_connection_and_hand_over(tmp_path: Path) -> None:
    serve = Serve(tmp_path)
    await asyncio.to_thread(serve.start)
    try:
        async with launch() as browser:
            async with asyncio.timeout(LIMIT * 2):
                context = await browser.new_context()
                pages = []
                for _ in range(TABS):
                    page, errors = await client_page(context, serve.url)
                    options = {"transports": ["websocket"], "shared": True, "minDelay": 50}
                    await page.evaluate(SUBSCRIBE, [["tabs"], options])
                    pages.append((page, errors))
                for page, _ in pages:
                    await wait_js(page, "window.client.state === 'open'")
                assert await _ws_connections(serve.url, 1) == 1
                first = await asyncio.to_thread(post, serve.url, "tabs", "one")
                for page, _ in pages:
                    await wait_js(page, "window.got.tabs.length === 1")
                leaders = [
                    i for i, (p, _) in enumerate(pages) if await p.evaluate("window.client.leader")
                ]
                assert len(leaders) == 1

                old, old_errors = pages.pop(leaders[0])
                await old.close()
                # Published while nobody holds the connection, or just after.
                more = [await asyncio.to_thread(post, serve.url, "tabs", f"n{n}") for n in range(3)]
                for page, _ in pages:
                    await wait_js(page, "window.got.tabs.length === 4")
                leaders = [
                    i for i, (p, _) in enumerate(pages) if await p.evaluate("window.client.leader")
                ]
                assert await _ws_connections(serve.url, 1) == 1
                last = await asyncio.to_thread(post, serve.url, "tabs", "last")
                got = []
                for page, _ in pages:
                    await wait_js(page, "window.got.tabs.length === 5")
                    got.append(await page.evaluate("window.got.tabs.map(r => r[0])"))
                assert all(unexpected(e) == [] for _, e in pages)
                assert unexpected(old_errors) == []
                await context.close()
    finally:
        await asyncio.to_thread(serve.stop)

    assert len(leaders) == 1
    assert got == [[first, *more, last]] * (TABS - 1)
