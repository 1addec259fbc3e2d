"""A bounded queue between a session's synchronous writes and ASGI's
awaitable ``send``.

A session writes with a plain call (``Host.write``), as on a socket; ASGI
sends with ``await send(message)``, which waits while the server's own
buffer is full. The messages in between wait here, counted in bytes, and
the same two watermarks as on HTTP/1.1 (``write_high_water`` and
``write_low_water``) tell the session to pause and resume, so its outbox
policy (disconnect, drop-oldest, block) applies exactly as it does there.

Write coalescing (``coalesce`` seconds, opt-in): an ASGI server pays for
each message (its HTTP framing, one ``socket.send``), and in a fan-out a
stream's sender is woken once per event, so each event is one message.
With a window, the first body write after a quiet spell waits for the
next tick of a clock shared by the loop's streams (one timer per window,
not one per stream) instead of waking the sender; the body writes that
arrive until then go out joined, as one ``http.response.body``. The delay is bounded by the
window, and by size: once half the high watermark waits, it goes at once
(a write that big gains nothing from waiting, and the session must not be
paused for bytes the socket could take). Without a window every write is
sent on its own as soon as the sender runs, as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from rawpush.asgi.scope import Message, Send

_BODY = "http.response.body"


class Sender:
    """The queue of ASGI messages between a session's writes and ``send``:
    pauses the session above ``high`` queued bytes, resumes it below ``low``;
    with ``coalesce`` > 0, joins the body writes of up to that many seconds."""

    __slots__ = (
        "_armed",
        "_closing",
        "_coalesce",
        "_dropped",
        "_flush_at",
        "_high",
        "_loop",
        "_low",
        "_queue",
        "_send",
        "_task",
        "_waiter",
        "buffered",
        "on_pause",
        "on_resume",
        "paused",
        "sent",
    )

    def __init__(self, send: Send, high: int, low: int, coalesce: float = 0.0) -> None:
        self._send = send
        self._high = high
        self._low = low
        self._coalesce = coalesce
        self._flush_at = max(1, high // 2)
        # A body write is queued as its bytes, every other message with its
        # size: most items are bodies, and a tuple or a dict apiece costs.
        self._queue: deque[bytes | tuple[Message, int]] = deque()
        self._closing = False
        self._dropped = False
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Set while the sending task waits for work: a bare future, resolved
        # once, is cheaper per event than an asyncio.Event's set/clear/wait.
        self._waiter: asyncio.Future[None] | None = None
        self._armed = False  # waiting for the coalescing clock's tick
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
        """Queue ``message`` (``size`` body bytes), sent on its own and with
        no coalescing wait; ignored once closing."""
        if self._closing:
            return
        self._queue.append((message, size))
        self._queued(size, urgent=True)

    def put_body(self, data: bytes) -> None:
        """Queue ``data`` as an ``http.response.body`` with more to come;
        within a coalescing window, joined with the body writes beside it.
        Ignored once closing."""
        if self._closing:
            return
        self._queue.append(data)
        self._queued(len(data), urgent=False)

    def _queued(self, size: int, urgent: bool) -> None:
        self.buffered += size
        waiter = self._waiter
        if waiter is not None:
            if urgent or not self._coalesce or self.buffered >= self._flush_at:
                self._release()
            elif not self._armed:
                loop = self._loop
                assert loop is not None  # a waiter exists only once started
                self._armed = True
                _arm(loop, self._coalesce, self)
        if not self.paused and self.buffered > self._high:
            self.paused = True
            self.on_pause()

    def _tick(self) -> None:
        # Released since it was armed (and maybe armed again, for a later
        # tick): this tick is not its own any more.
        if self._armed:
            self._release()

    def _release(self) -> None:
        self._armed = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def finish(self, last: Message | None = None) -> None:
        """Send ``last`` after what is queued, then stop."""
        if self._closing:
            return
        if last is not None:
            self._queue.append((last, 0))
        self._closing = True
        self._release()

    def drop(self) -> None:
        """Stop now: what is queued is dropped, a send under way abandoned
        (ASGI cannot abort a response; the caller returns without ending it)."""
        self._closing = True
        self._dropped = True
        self._queue.clear()
        self.buffered = 0
        self._release()
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    def start(self) -> asyncio.Task[None]:
        """Run the sending task: it ends after ``finish`` (or ``drop``), or
        with the exception of a send the server refused."""
        self._loop = asyncio.get_running_loop()
        task = self._task = asyncio.ensure_future(self._run())
        return task

    async def _run(self) -> None:
        queue = self._queue
        loop = self._loop
        assert loop is not None
        joining = self._coalesce > 0
        try:
            while True:
                if not queue:
                    if self._closing:
                        return
                    waiter = self._waiter = loop.create_future()
                    await waiter
                    continue
                item = queue.popleft()
                if isinstance(item, bytes):
                    size = len(item)
                    if joining and queue and isinstance(queue[0], bytes):
                        item, size = _join(item, queue)
                    message: Message = {"type": _BODY, "body": item, "more_body": True}
                else:
                    message, size = item
                await self._send(message)
                if self._dropped:
                    return
                self.buffered -= size
                self.sent += size
                if self.paused and self.buffered <= self._low:
                    self.paused = False
                    self.on_resume()
        except asyncio.CancelledError:
            if not self._closing:
                raise
        finally:
            self._release()


#: The coalescing clocks with a tick pending: the streams waiting for it, by
#: loop and window. One timer per window serves every stream of a loop (a
#: timer per stream per window costs as much as the sends it saves). A
#: stream armed late in a window waits less, never longer than the window.
_CLOCKS: dict[tuple[asyncio.AbstractEventLoop, float], list[Sender]] = {}


def _arm(loop: asyncio.AbstractEventLoop, window: float, sender: Sender) -> None:
    key = (loop, window)
    due = _CLOCKS.get(key)
    if due is None:
        due = _CLOCKS[key] = []
        loop.call_later(window, _ticked, key)
    due.append(sender)


def _ticked(key: tuple[asyncio.AbstractEventLoop, float]) -> None:
    for sender in _CLOCKS.pop(key):
        sender._tick()


def _join(first: bytes, queue: deque[bytes | tuple[Message, int]]) -> tuple[bytes, int]:
    """``first`` and the body writes queued right after it, as one body."""
    parts = [first]
    while queue:
        item = queue[0]
        if not isinstance(item, bytes):
            break
        queue.popleft()
        parts.append(item)
    body = b"".join(parts)
    return body, len(body)


def _nothing() -> None:
    pass
