"""Fan-out: one event handed to every local subscriber of its channel, in slices.

The event loop runs one callback at a time, so handing an event to 10,000
subscribers in one go (a socket write each) holds every other connection,
every other channel and the publisher's own answer for the whole fan-out.
Here a channel's audience is served ``slice_size`` subscribers at a time,
with a yield to the loop between two slices: a small channel's event, a
``/healthz`` or a WebSocket read waits for one slice at most, not for the
whole audience of a big channel.

Per channel, events are handed over one after the other: event n+1 starts
once event n has reached every subscriber it was published to (the
audience is taken when the event arrives), so every subscriber still sees
id order, and a subscriber that joined later is not handed an older event.

Who waits for what (the sink's result, which the backplane awaits before
it hands over the channel's next event, and a memory hub's ``publish``
before it returns):

- an audience that fits in the first slice is served at once, and the
  publisher waits only for listeners that asked it to (an awaitable: the
  ``block`` policy), as without slicing;
- a larger one is finished by a task; the publisher is answered after the
  first slice, unless a listener asked it to wait (then it waits for its
  event's whole fan-out) or the channel already has ``max_backlog`` events
  waiting for their turn (then it waits for its own event's turn, which
  keeps the queued events, and their audiences, bounded).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

from .events import HubEvent
from .ids import parse_id

if TYPE_CHECKING:
    from .hub import Subscription

__all__ = ["DEFAULT_SLICE", "Fanout"]

logger = logging.getLogger("rawpush.hub")

#: subscribers served between two yields to the event loop. About 2 ms of
#: server work on this project's benchmark machine (some 7 us per delivery,
#: mostly the socket write): short enough for other connections, long
#: enough that the yields cost nothing measurable.
DEFAULT_SLICE = 256
#: events of one channel that may wait for their turn before publishers
#: wait too. Small on purpose: while fan-outs keep up, a publisher is
#: answered after the first slice; once they fall behind (a machine out of
#: CPU), the publisher is slowed and sees it, instead of events piling up
#: here as seconds of latency nobody is told about.
DEFAULT_BACKLOG = 2


def _retrieve(future: asyncio.Future[object]) -> None:
    # Mark the outcome as seen: ``_finish`` reports failures itself, and
    # when it was cancelled first there is nobody left to report them to.
    if not future.cancelled():
        future.exception()


class _Item:
    """One event on its way to the audience it had when it arrived."""

    __slots__ = ("done", "event", "index", "key", "pending", "subs")

    def __init__(self, event: HubEvent, subs: tuple[Subscription, ...]) -> None:
        self.event = event
        self.key = parse_id(event.id)
        self.subs = subs
        self.index = 0  # the next subscriber to serve
        self.pending: list[asyncio.Task[None]] = []  # listeners that hold the publisher
        self.done: asyncio.Future[None] | None = None  # made when a publisher waits

    def waiter(self) -> Awaitable[object]:
        if self.done is None:
            self.done = asyncio.get_running_loop().create_future()
        # Shielded: a cancelled publisher must not cancel the fan-out's future.
        return asyncio.shield(self.done)

    def finish(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(None)


class _Job:
    """A channel's fan-out in progress: the events waiting for their turn."""

    __slots__ = ("blocked", "queue", "task")

    def __init__(self, first: _Item) -> None:
        self.queue: deque[_Item] = deque([first])
        self.blocked = False  # waiting for listeners that hold the publisher
        self.task: asyncio.Task[None] | None = None


class Fanout:
    """The hub's delivery: slices, per-subscriber order, the ``block`` hand-off.

    Counters (read by tests and metrics): ``slices`` (slices served),
    ``yields`` (times a fan-out gave the loop back before its next slice),
    ``listener_errors`` (listeners that raised and were unsubscribed).
    """

    def __init__(self, slice_size: int = DEFAULT_SLICE, max_backlog: int = DEFAULT_BACKLOG):
        if slice_size < 1 or max_backlog < 0:
            raise ValueError("slice_size must be >= 1 and max_backlog >= 0")
        self.slice_size = slice_size
        self.max_backlog = max_backlog
        self._jobs: dict[str, _Job] = {}
        self.slices = 0
        self.yields = 0
        self.listener_errors = 0

    def busy(self, channel: str) -> bool:
        """True while an earlier event of ``channel`` is still being handed over."""
        return channel in self._jobs

    def hand(self, subs: Sequence[Subscription], event: HubEvent) -> Awaitable[object] | None:
        """Hand ``event`` to ``subs`` (see the module docstring for who waits)."""
        item = _Item(event, tuple(subs))  # a listener may close subscriptions
        job = self._jobs.get(event.channel)
        if job is not None:
            job.queue.append(item)
            if job.blocked or len(job.queue) > self.max_backlog:
                return item.waiter()
            return None
        self._serve(item)
        if item.index >= len(item.subs):
            if not item.pending:
                return None
            # Shielded so that a cancelled publisher does not cancel deliveries.
            return asyncio.shield(asyncio.gather(*item.pending, return_exceptions=True))
        job = self._jobs[event.channel] = _Job(item)
        job.task = asyncio.ensure_future(self._run(event.channel, job))
        return item.waiter() if item.pending else None

    async def _run(self, channel: str, job: _Job) -> None:
        try:
            while job.queue:
                item = job.queue[0]
                while item.index < len(item.subs):
                    self.yields += 1
                    await asyncio.sleep(0)
                    self._serve(item)
                if item.pending:
                    job.blocked = True
                    await asyncio.gather(*item.pending, return_exceptions=True)
                    job.blocked = False
                job.queue.popleft()
                item.finish()
        finally:
            # Also on cancellation (the hub closed): no publisher waits forever.
            for left in job.queue:
                left.finish()
            if self._jobs.get(channel) is job:
                del self._jobs[channel]

    async def idle(self) -> None:
        """Return once no fan-out is in progress (every event handed over)."""
        while self._jobs:
            tasks = {job.task for job in self._jobs.values() if job.task is not None}
            await asyncio.wait(tasks)

    def close(self) -> None:
        """Stop the fan-outs in progress (the hub is closing)."""
        for job in list(self._jobs.values()):
            if job.task is not None:
                job.task.cancel()

    # -- one slice ---------------------------------------------------------

    def _serve(self, item: _Item) -> None:
        self.slices += 1
        key, event, subs, pending = item.key, item.event, item.subs, item.pending
        start = item.index
        stop = min(len(subs), start + self.slice_size)
        item.index = stop
        # Once per subscriber per event: the common case (a listener that
        # holds nobody) is written out here rather than in helpers: two
        # Python calls fewer per delivery.
        for sub in subs[start:stop]:
            if sub._closed:
                continue
            if sub._buffer is not None:
                sub._buffer.append((key, event))
                continue
            last = sub._last
            if last is not None and key <= last:
                continue  # already replayed
            sub._last = key
            if sub._tail is None:
                try:
                    im_self = sub._im_self
                    result = sub._call(event) if im_self is None else sub._call(im_self, event)
                except Exception:
                    self._drop(sub)
                    continue
                if result is None:
                    continue
                pending.append(self._hold(sub, event, result))
            else:
                pending.append(self._queue(sub, event))

    def _queue(self, sub: Subscription, event: HubEvent) -> asyncio.Task[None]:
        # The listener still holds the publisher of an earlier event:
        # this one waits its turn, so the listener sees id order.
        return self._track(sub, asyncio.ensure_future(self._finish(sub, sub._tail, event, None)))

    def _hold(
        self, sub: Subscription, event: HubEvent, result: Awaitable[object]
    ) -> asyncio.Task[None]:
        # Start the awaitable now (a listener may return a bare
        # coroutine, e.g. ``queue.put(event)``): if the subscription is
        # closed before ``_finish`` runs, it is not left never-awaited.
        started = asyncio.ensure_future(result)
        started.add_done_callback(_retrieve)
        return self._track(sub, asyncio.ensure_future(self._finish(sub, None, event, started)))

    def _track(self, sub: Subscription, task: asyncio.Task[None]) -> asyncio.Task[None]:
        sub._tail = task
        pending = sub._pending
        if pending is None:
            pending = sub._pending = set()
        pending.add(task)
        task.add_done_callback(pending.discard)
        return task

    def _call(self, sub: Subscription, event: HubEvent) -> Awaitable[object] | None:
        try:
            return sub._listener(event)
        except Exception:
            self._drop(sub)
            return None

    async def _finish(
        self,
        sub: Subscription,
        previous: asyncio.Task[None] | None,
        event: HubEvent,
        result: Awaitable[object] | None,
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait({previous})
                if sub._closed:
                    return
                result = self._call(sub, event)
            if result is not None:
                try:
                    await result
                except Exception:
                    self._drop(sub)
        finally:
            if sub._tail is asyncio.current_task():
                sub._tail = None

    def _drop(self, sub: Subscription) -> None:
        # One broken subscriber must not stop the others: log it, forget it.
        self.listener_errors += 1
        logger.exception("listener of channel %r failed; unsubscribing it", sub.channel)
        sub.close()
