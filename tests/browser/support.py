"""What every headless-Chromium test shares: the browser and a page.

The browser is Debian's ``chromium`` driven by Playwright with its
executable path set: no browser download (never ``playwright install``).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.conftest import require

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page

CHROMIUM = os.environ.get("RAWPUSH_CHROMIUM", "/usr/bin/chromium")
#: root in a container with a closed network: no sandbox, no GPU, nothing
#: that phones home
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
]
#: every Playwright wait, in milliseconds (a loaded 2-core machine)
WAIT_MS = 15_000
#: a whole test, in seconds
LIMIT = 40.0
SCREENSHOT = Path(tempfile.gettempdir()) / "rawpush-demo.png"
ID_RE = re.compile(r"\d+-\d+")


def _available() -> bool:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return False
    return os.access(CHROMIUM, os.X_OK)


@contextlib.asynccontextmanager
async def launch() -> AsyncIterator[Browser]:
    """Headless Chromium; called in the test body, so that in CI a missing
    browser is a test failure, not a fixture error."""
    require(f"chromium ({CHROMIUM}) and playwright (pip install playwright)", _available())
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=WAIT_MS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_page(browser: Browser | BrowserContext, url: str) -> tuple[Page, list[str]]:
    """A fresh page at ``url`` (in ``browser``'s default context, or the one
    given), and the list its script errors and console errors will be
    appended to."""
    page = await browser.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def on_console(message: ConsoleMessage) -> None:
        # The browser's own favicon request (the page names none) is no error.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            errors.append(f"{message.text} ({message.location['url']})")

    page.on("console", on_console)
    await page.goto(url)
    return page, errors


async def wait_js(page: Page, expression: str, arg: Any = None) -> None:
    await page.wait_for_function(expression, arg=arg, timeout=WAIT_MS)
