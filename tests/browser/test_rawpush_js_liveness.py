"""rawpush.js notices a dead connection in bounded time, on every transport.

The server process is frozen with SIGSTOP: its sockets stay open and the
kernel keeps them established, so nothing closes, nothing errors, and the
browser's own APIs would wait forever. The client must see the silence:
SSE by its heartbeat comments no longer arriving (read with fetch, where
EventSource hides them), WebSocket by a control message with no answer,
long poll by a request unanswered past its timeout. After SIGCONT it
reconnects and events flow again, resumed by id.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.browser.rawpush_js_support import SUBSCRIBE, Serve, client_page, post, unexpected
from tests.browser.support import LIMIT, launch, wait_js

REASON = {"websocket": "no answer", "sse": "no heartbeat", "poll": "abort"}


@pytest.mark.parametrize("transport", ["websocket", "sse", "poll"])
async def test_a_frozen_server_is_noticed_and_left(transport: str, tmp_path: Path) -> None:
    serve = Serve(tmp_path, "--sse-heartbeat", "0.5")
    await asyncio.to_thread(serve.start)
    frozen = False
    try:
        async with launch() as browser:
            async with asyncio.timeout(LIMIT * 2):
                page, errors = await client_page(browser, serve.url)
                options = {
                    "transports": [transport],
                    "heartbeatTimeout": 2500,
                    "pingInterval": 1000,
                    "pingTimeout": 1500,
                    "pollTimeout": 1,
                    "pollGrace": 2000,
                    "openTimeout": 2000,
                    "minDelay": 50,
                    "maxDelay": 500,
                }
                await page.evaluate(SUBSCRIBE, [["live"], options])
                await wait_js(page, "window.client.state === 'open'")
                first = await asyncio.to_thread(post, serve.url, "live", "before")
                await wait_js(page, "window.got.live.length === 1")

                assert serve.process is not None
                os.kill(serve.process.pid, signal.SIGSTOP)
                frozen = True
                await wait_js(page, "window.client.state !== 'open'")
                reason = await page.evaluate("window.client.closes[0].reason")
                os.kill(serve.process.pid, signal.SIGCONT)
                frozen = False
                await wait_js(page, "window.client.state === 'open'")
                second = await asyncio.to_thread(post, serve.url, "live", "after")
                await wait_js(page, "window.got.live.length === 2")
                got = await page.evaluate("window.got.live.map(r => r[0])")
                assert unexpected(errors) == []
    finally:
        if frozen and serve.process is not None:
            os.kill(serve.process.pid, signal.SIGCONT)
        await asyncio.to_thread(serve.stop)

    assert REASON[transport] in reason.lower(), reason
    assert got == [first, second]
