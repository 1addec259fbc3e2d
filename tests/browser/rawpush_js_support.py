"""What the rawpush.js browser tests share: a real ``rawpush serve``
subprocess (killed and restarted on the same port), publishes and
``/metrics`` from Python, and a page with rawpush.js loaded.

Publishes and metrics go through ``urllib`` (an HTTP client independent of
rawpush's own), in a thread, with no proxy.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser.support import WAIT_MS, open_page

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page

_LISTENING = re.compile(r"rawpush: listening on (http://\S+)")
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Serve:
    """``python -m rawpush serve`` on 127.0.0.1; ``port`` 0 picks one, and
    a restart keeps the one it got."""

    def __init__(self, directory: Path, *args: str, port: int = 0) -> None:
        self.directory = directory
        self.args = args
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        log = self.directory / f"serve-{self.starts}.log"
        command = [sys.executable, "-m", "rawpush", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), *self.args]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(log.read_text(errors="replace"))
            if match:
                self.port = int(match[1].rsplit(":", 1)[1])
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"rawpush serve did not start:\n{log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no drain, every connection just drops."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None


def post(base: str, channel: str, data: str) -> str:
    """POST /publish/{channel}; the event id."""
    request = urllib.request.Request(
        f"{base}/publish/{channel}",
        data=data.encode("utf-8"),
        method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    with _OPENER.open(request, timeout=WAIT_MS / 1000) as response:
        ident: str = json.loads(response.read())["id"]
    return ident


def metrics(base: str) -> dict[str, float]:
    """``/metrics`` as ``{'name{labels}': value}``."""
    with _OPENER.open(f"{base}/metrics", timeout=WAIT_MS / 1000) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            found[key] = float(value)
    return found


#: what the browser logs while the server is down or was killed mid-response
_DOWN = (
    "ERR_CONNECTION_REFUSED",
    "ERR_INCOMPLETE_CHUNKED_ENCODING",
    "ERR_CONNECTION_RESET",
    "ERR_EMPTY_RESPONSE",
    "WebSocket connection to",
)


def unexpected(errors: list[str]) -> list[str]:
    """The console errors that a server going down does not explain."""
    return [e for e in errors if not any(mark in e for mark in _DOWN)]


def serve_help() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "rawpush", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout


async def client_page(browser: Browser | BrowserContext, base: str) -> tuple[Page, list[str]]:
    """A page of the server with rawpush.js loaded as a classic script."""
    page, errors = await open_page(browser, base + "/healthz")
    await page.add_script_tag(url="/rawpush.js")
    return page, errors


#: In the page: ``window.got[channel]`` lists [id, data, transport] in
#: arrival order; gaps, states and closes are recorded too.
SUBSCRIBE = """([channels, options]) => {
    window.got = {}; window.gaps = []; window.states = [];
    const c = window.client = rawpush.connect("", options);
    c.on("state", s => window.states.push(s.state + ":" + s.transport));
    c.on("gap", g => window.gaps.push(g.channel));
    for (const ch of channels) {
        window.got[ch] = [];
        c.subscribe(ch, m => window.got[ch].push([m.id, m.data, m.transport, m.event]));
    }
}"""
