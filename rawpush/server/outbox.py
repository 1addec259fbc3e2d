"""A bounded outgoing queue between the hub and one subscriber's socket.

Why it exists: a published event must reach a thousand sockets without one
slow reader slowing the publisher or the other 999, and without memory
growing without bound. asyncio transports buffer writes themselves and tell
the protocol (``pause_writing``/``resume_writing``) when that buffer crosses
its high watermark. While a transport is paused, the subscriber's events wait
here, in a queue bounded in bytes *and* in messages; when it overflows, the
configured policy decides (``OverflowPolicy``):

- ``disconnect``: the queue is dropped and ``on_overflow`` ends the session;
- ``drop-oldest``: the oldest queued events are dropped, and the next write
  starts with ``gap_notice`` so the client knows it missed something
  (never a silent gap);
- ``block``: the event is kept and ``put`` returns a future that resolves
  once the queue is back under its bounds; the hub awaits it, so the
  publisher is slowed by design, and memory stays bounded by one message per
  concurrent publisher.

Payloads are the shared, already-encoded form of an event (encoded once
per transport: ``bytes`` for SSE, a prepared frame for WebSocket), so
queueing costs a reference, not a copy; bounds count ``len()`` of each.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sized
from typing import Generic, TypeVar

from rawpush.server.config import OverflowPolicy

#: what an outbox queues: anything that says its size on the wire
Item = TypeVar("Item", bound=Sized)


class Outbox(Generic[Item]):
    __slots__ = (
        "_blocked",
        "_gap_pending",
        "_on_overflow",
        "_queue",
        "_write",
        "closed",
        "direct",
        "dropped",
        "gap_notice",
        "max_bytes",
        "max_messages",
        "paused",
        "policy",
        "queued_bytes",
        "write",
    )

    def __init__(
        self,
        write: Callable[[Item], None],
        *,
        max_bytes: int,
        max_messages: int,
        policy: OverflowPolicy = OverflowPolicy.DISCONNECT,
        on_overflow: Callable[[], None] | None = None,
        gap_notice: Item | None = None,
    ) -> None:
        self._write = write
        #: the same writer, for the caller's fast path (see ``direct``)
        self.write = write
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self.policy = policy
        self._on_overflow = on_overflow
        self.gap_notice = gap_notice
        # Both made on first use: most subscribers never wait, and an empty
        # deque costs ~760 B (CPython allocates a 64-slot block up front).
        self._queue: deque[Item] | None = None
        self._blocked: list[asyncio.Future[None]] | None = None
        self._gap_pending = False
        self.queued_bytes = 0
        self.paused = False
        self.closed = False
        #: events dropped by the drop-oldest policy (for metrics)
        self.dropped = 0
        #: True while ``put`` would hand its data straight to ``write`` (not
        #: paused, nothing queued, not closed). The subscriber's per-event
        #: path reads this one flag and calls ``write`` itself, which saves a
        #: call and three checks on each of a big fan-out's deliveries.
        self.direct = True

    def __len__(self) -> int:
        queue = self._queue
        return len(queue) if queue is not None else 0

    def _over(self) -> bool:
        return self.queued_bytes > self.max_bytes or len(self) > self.max_messages

    def put(self, data: Item) -> asyncio.Future[None] | None:
        """Send ``data`` now if the socket takes it, else queue it.

        Returns a future only under the ``block`` policy when the queue is
        over its bounds; the caller (the hub's publish) awaits it.
        """
        if self.closed:
            return None
        queue = self._queue
        if not self.paused and not queue:
            self._write(data)
            return None
        self.direct = False
        if queue is None:
            queue = self._queue = deque()
        queue.append(data)
        self.queued_bytes += len(data)
        if not self._over():
            return None
        if self.policy is OverflowPolicy.BLOCK:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._blocked is None:
                self._blocked = []
            self._blocked.append(waiter)
            return waiter
        if self.policy is OverflowPolicy.DROP_OLDEST:
            # Keep the newest event even when it alone is over the byte bound:
            # the client is better served by the latest state than by nothing.
            while len(queue) > 1 and self._over():
                self.queued_bytes -= len(queue.popleft())
                self.dropped += 1
                self._gap_pending = True
            return None
        self._overflow()
        return None

    def _overflow(self) -> None:
        self.close()
        if self._on_overflow is not None:
            self._on_overflow()

    def pause(self) -> None:
        """The transport's buffer is over its high watermark."""
        self.paused = True
        self.direct = False

    def resume(self) -> None:
        """The transport drained below its low watermark: flush what waits."""
        self.paused = False
        self.flush()

    def flush(self) -> None:
        queue = self._queue
        if queue is None:
            # ``paused`` may have been cleared by hand (a drain): say so.
            self.direct = not self.paused and not self.closed
            return
        # A write can make the transport call pause_writing() synchronously,
        # so the paused flag is re-read after every write.
        while queue and not self.paused and not self.closed:
            if self._gap_pending:
                self._gap_pending = False
                if self.gap_notice is not None:
                    self._write(self.gap_notice)
            data = queue.popleft()
            self.queued_bytes -= len(data)
            self._write(data)
        if not queue:
            # Back to the idle footprint once everything is out.
            self._queue = None
            self.direct = not self.paused and not self.closed
        if self._blocked and not self._over():
            self._release()

    def _release(self) -> None:
        blocked, self._blocked = self._blocked, None
        for waiter in blocked or ():
            if not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        """Forget what is queued and release any blocked publisher."""
        self.closed = True
        self.direct = False
        self._queue = None
        self.queued_bytes = 0
        self._release()
