"""rawpush.js across a node restart with Redis: nothing lost, nothing twice.

Two ``rawpush serve --redis`` nodes share one ``redis-server``. The page
is served by node A and subscribes to five channels over one transport;
A is killed (SIGKILL, no drain), events are published through node B
while A is down, and A comes back on the same port. The client resumes
each channel by its last id, so every event arrives exactly once and in
order per channel, with no gap: the history lives in Redis. The five
channels share one connection over WebSocket and SSE (/ws, /sse?channel=...).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.browser.rawpush_js_support import SUBSCRIBE, Serve, client_page, post, unexpected
from tests.browser.support import LIMIT, launch, wait_js
from tests.cluster.redis_server import RedisServer, require_redis

CHANNELS = ["r1", "r2", "r3", "r4", "r5"]


@pytest.mark.parametrize("transport", ["websocket", "sse", "poll"])
async def test_restart_with_redis_every_event_once_in_order(transport: str, tmp_path: Path) -> None:
    require_redis()
    redis = RedisServer(tmp_path)
    await asyncio.to_thread(redis.start)
    a = Serve(tmp_path, "--redis", redis.url)
    b = Serve(tmp_path, "--redis", redis.url)
    try:
        await asyncio.to_thread(a.start)
        await asyncio.to_thread(b.start)
        async with launch() as browser:
            async with asyncio.timeout(LIMIT * 2):
                page, errors = await client_page(browser, a.url)
                options = {"transports": [transport], "minDelay": 50, "maxDelay": 300}
                await page.evaluate(SUBSCRIBE, [CHANNELS, options])
                await wait_js(page, "window.client.state === 'open'")
                sent: dict[str, list[str]] = {ch: [] for ch in CHANNELS}
                for ch in CHANNELS:
                    sent[ch].append(await asyncio.to_thread(post, a.url, ch, "before"))
                await wait_js(page, "Object.values(window.got).every(l => l.length === 1)")

                await asyncio.to_thread(a.kill)
                await wait_js(page, "window.client.state === 'reconnecting'")
                for n in range(3):
                    for ch in CHANNELS:
                        sent[ch].append(await asyncio.to_thread(post, b.url, ch, f"down {n}"))
                await asyncio.to_thread(a.start)
                for ch in CHANNELS:
                    sent[ch].append(await asyncio.to_thread(post, b.url, ch, "after"))
                await wait_js(page, "Object.values(window.got).every(l => l.length >= 5)")
                # One more through A itself: had anything been repeated or
                # reordered, it would sit before this one.
                for ch in CHANNELS:
                    sent[ch].append(await asyncio.to_thread(post, a.url, ch, "last"))
                await wait_js(page, "Object.values(window.got).every(l => l.length >= 6)")
                got = await page.evaluate("window.got")
                gaps = await page.evaluate("window.gaps")
                transports = await page.evaluate("window.client.closes.map(c => c.transport)")
                assert unexpected(errors) == []
    finally:
        await asyncio.to_thread(a.stop)
        await asyncio.to_thread(b.stop)
        await asyncio.to_thread(redis.stop)

    assert gaps == []
    assert set(transports) == {transport}
    for ch in CHANNELS:
        assert [row[0] for row in got[ch]] == sent[ch], ch
        assert [row[1] for row in got[ch]] == [
            "before",
            "down 0",
            "down 1",
            "down 2",
            "after",
            "last",
        ]
