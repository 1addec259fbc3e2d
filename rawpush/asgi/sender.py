"""A bounded queue between a session's synchronous writes and ASGI's
awaitable ``send``.

A session writes with a plain call (``Host.write``), as on a socket; ASGI
sends with ``await send(message)``, which waits while the server's own
buffer is full. The messages in between wait here, counted in bytes, and
the same two watermarks as on HTTP/1.1 (``write_high_water`` and
``write_low_water``) tell the session to pause and resume, so its outbox
policy (disconnect, drop-oldest, block) applies exactly as it does there.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from rawpush.asgi.scope import Message, Send


class Sender:
    """The queue of ASGI messages between a session's writes and ``send``:
    pauses the session above ``high`` queued bytes, resumes it below ``low``."""

    __slots__ = (
        "_closing",
        "_high",
        "_low",
        "_queue",
        "_send",
        "_task",
        "_wake",
        "buffered",
        "on_pause",
        "on_resume",
        "paused",
        "sent",
    )

    def __init__(self, send: Send, high: int, low: int) -> None:
        self._send = send
        self._high = high
        self._low = low
        self._queue: deque[tuple[Message, int]] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        #: bytes queued and not yet handed to the server
        self.buffered = 0
        #: bytes handed to the server (the host's bytes_out)
        self.sent = 0
        self.paused = False
        self.on_pause: Callable[[], None] = _nothing
        self.on_resume: Callable[[], None] = _nothing

    @property
    def closing(self) -> bool:
        """True once ``finish`` or ``drop`` was called: later messages are ignored."""
        return self._closing

    def put(self, message: Message, size: int = 0) -> None:
        """Queue ``message`` (``size`` body bytes); ignored once closing."""
        if self._closing:
            return
        self._queue.append((message, size))
        self.buffered += size
        self._wake.set()
        if not self.paused and self.buffered > self._high:
            self.paused = True
            self.on_pause()

    def finish(self, last: Message | None = None) -> None:
        """Send ``last`` after what is queued, then stop."""
        if self._closing:
            return
        if last is not None:
            self._queue.append((last, 0))
        self._closing = True
        self._wake.set()

    def drop(self) -> None:
        """Stop now: what is queued is dropped, a send under way abandoned
        (ASGI cannot abort a response; the caller returns without ending it)."""
        self._closing = True
        self._queue.clear()
        self.buffered = 0
        self._wake.set()
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    def start(self) -> asyncio.Task[None]:
        """Run the sending task: it ends after ``finish`` (or ``drop``), or
        with the exception of a send the server refused."""
        task = self._task = asyncio.ensure_future(self._run())
        return task

    async def _run(self) -> None:
        queue = self._queue
        try:
            while True:
                while queue:
                    message, size = queue[0]
                    await self._send(message)
                    if queue and queue[0][0] is message:
                        queue.popleft()
                        self.buffered -= size
                        self.sent += size
                    if self.paused and self.buffered <= self._low:
                        self.paused = False
                        self.on_resume()
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
        except asyncio.CancelledError:
            if not self._closing:
                raise


def _nothing() -> None:
    pass
