"""The hub: channels, local subscribers, long-poll waiters, on top of a backplane.

The backplane (``rawpush.hub.backplane``) owns ids and history; the hub owns
what belongs to this process: who is subscribed to what, delivery to them
in id order, the ``block`` backpressure hand-off, long-poll waits, counters.

Subscribing is atomic: a subscriber starts buffering live events *before*
the history is read, and the two are merged by id when the read returns,
so an event published meanwhile is neither lost nor seen twice, even on a
backplane whose reads and fan-out are separate network round trips.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from types import MethodType, TracebackType
from typing import Any

from .backplane import Backplane, MemoryBackplane
from .config import HubConfig
from .errors import HubClosed
from .events import (
    HubEvent,
    Listener,
    Replay,
    validate_channel,
    validate_event_name,
    validate_idempotency_key,
)
from .fanout import DEFAULT_SLICE, Fanout
from .ids import IdKey, parse_id

__all__ = ["ChannelStats", "Hub", "HubStats", "Subscription"]

@dataclass(frozen=True, slots=True)
class ChannelStats:
    """One channel's numbers, as ``/metrics`` shows them."""

    subscribers: int = 0  # includes long polls currently waiting
    published: int = 0  # publishes through this hub (this process)
    history_length: int = 0
    history_bytes: int = 0


@dataclass(frozen=True, slots=True)
class HubStats:
    """A snapshot of the hub's counters."""

    channels: Mapping[str, ChannelStats] = field(default_factory=dict)
    subscribers: int = 0
    waiters: int = 0
    published: int = 0
    listener_errors: int = 0


class Subscription:
    """A listener registered on one channel; ``close()`` unregisters it.

    ``replay`` holds what the subscriber missed (see ``Hub.subscribe``);
    every later event goes to the listener. Usable as a context manager.
    """

    __slots__ = (
        "_buffer",
        "_call",
        "_closed",
        "_hub",
        "_im_self",
        "_last",
        "_pending",
        "_tail",
        "channel",
        "replay",
    )

    def __init__(self, hub: Hub, channel: str, listener: Listener, buffering: bool) -> None:
        self._hub = hub
        # A bound method (a session's ``_deliver``) is kept as its function
        # and its object: the fan-out calls ``_call(_im_self, event)``, so
        # a delivery reads no method object (at 10,000 subscribers, one
        # cache miss less each) and none is kept per subscriber.
        self._im_self: Any
        self._call: Any
        if type(listener) is MethodType:
            self._call, self._im_self = listener.__func__, listener.__self__
        else:
            self._call, self._im_self = listener, None
        self.channel = channel
        self.replay = Replay()
        # Live events that arrive while the history is being read.
        self._buffer: list[tuple[IdKey, HubEvent]] | None = [] if buffering else None
        # Id of the last event handed over (replayed or delivered): the
        # backplane may re-send what the replay already covered.
        self._last: IdKey | None = None
        # The latest pending delivery of a listener that asked the publisher
        # to wait (later events chain behind it), and all of them, to cancel.
        self._tail: asyncio.Task[None] | None = None
        # Made on first use: only a listener that makes the publisher wait
        # (the block policy) ever has any, and an empty set costs 216 B.
        self._pending: set[asyncio.Task[None]] | None = None
        self._closed = False

    def _listener(self, event: HubEvent) -> Awaitable[object] | None:
        """The listener, called as given to ``Hub.subscribe``."""
        if self._im_self is None:
            result: Awaitable[object] | None = self._call(event)
        else:
            result = self._call(self._im_self, event)
        return result

    @property
    def closed(self) -> bool:
        """True once closed, by ``close()`` or because the listener failed."""
        return self._closed

    def close(self) -> None:
        """Stop delivery; publishers waiting on this listener are released. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._buffer = None
        current = asyncio.current_task()
        for task in self._pending or ():
            if task is not current:
                task.cancel()
        self._hub._remove(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Subscription {self.channel!r} {state}>"


class _Channel:
    """This process's subscribers of one channel, and its backplane watch."""

    __slots__ = ("ready", "subs")

    def __init__(self, ready: asyncio.Task[None]) -> None:
        self.subs: list[Subscription] = []
        # The backplane watch all local subscribers of the channel share.
        self.ready = ready


class Hub:
    """Channels of events with ids, bounded history, resume and live delivery.

    Channels exist from their first use. All methods validate channel names
    (``InvalidChannel``) and ids (``InvalidId``) before doing anything.
    The hub owns its backplane: ``close()`` closes it.
    """

    def __init__(
        self,
        config: HubConfig | None = None,
        backplane: Backplane | None = None,
        *,
        fanout_slice: int = DEFAULT_SLICE,
    ) -> None:
        self.config = config if config is not None else HubConfig()
        self.backplane = backplane if backplane is not None else MemoryBackplane(self.config)
        #: delivery to local subscribers, ``fanout_slice`` of them between
        #: two yields to the event loop; its counters say how it went
        self.delivery = Fanout(fanout_slice)
        self._channels: dict[str, _Channel] = {}
        self._published: dict[str, int] = {}
        self._waiters: set[asyncio.Future[None]] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called: publishing and subscribing refuse."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise HubClosed("hub is closed")

    # -- publishing -------------------------------------------------------

    async def publish(
        self,
        channel: str,
        data: str | bytes,
        event: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> HubEvent:
        """Append an event to ``channel`` and deliver it to its subscribers.

        ``idempotency_key`` (1-256 printable ASCII characters, else
        ``InvalidIdempotencyKey``, status 400): a key already used on the
        channel within ``HubConfig.idempotency_window`` publishes nothing
        and returns the event it produced, same id (across nodes on Redis).
        ``PublishOutcomeUnknown`` (status 504) means the store may have
        taken the event: retry with the same key; every other failure
        means it was not stored.

        ``event`` is the type name (None: a plain message, which every
        transport calls "message"); ``"gap"`` is reserved for the gap notice
        and refused, as is any invalid name (``InvalidEventName``, a
        ``HubError`` with status 400).

        Returns the stored event (with its id) once the local listeners have
        taken it: listeners that returned an awaitable (``block`` policy)
        are awaited, so a full subscriber slows its publisher. An audience
        larger than one fan-out slice is finished after the return, unless
        a listener holds the publisher or the channel's backlog is full
        (``rawpush.hub.fanout``). Cancelling a publisher that waits there
        does not cancel the delivery.
        Raises ``HubClosed`` after ``close()``.
        """
        validate_channel(channel)
        validate_event_name(event)
        validate_idempotency_key(idempotency_key)
        if not isinstance(data, str | bytes):
            raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        self._check_open()
        if idempotency_key is None:
            item = await self.backplane.append(channel, data, event)
        else:
            item = await self.backplane.append(
                channel, data, event, idempotency_key=idempotency_key
            )
        self._published[channel] = self._published.get(channel, 0) + 1
        return item

    # -- reading ----------------------------------------------------------

    async def since(self, channel: str, last_id: str | None) -> Replay:
        """The retained events of ``channel`` after ``last_id``, and the gap flag.

        - ``last_id`` None: live only, an empty replay.
        - ``gap`` is True exactly when some event after ``last_id`` was
          evicted; ``events`` is then what is still retained after it.
        - an id after every id issued on the channel (made up, or from
          another, newer server) or from before an in-memory hub's process:
          a gap (with no events for a future id).
        - a gap answer carries ``head``, and ``last_id`` is then the cursor
          to answer with: the last event's id, else ``head`` (the newest id
          issued, or "now" on a channel with none). A poll from there waits
          for the next event; handing the client its own cursor back would
          get it the same gap at once, forever.
        """
        validate_channel(channel)
        if last_id is not None:
            parse_id(last_id)
        return await self.backplane.read_since(channel, last_id)

    async def latest_id(self, channel: str) -> str | None:
        """The newest id issued on ``channel``, or None: a poller's start cursor."""
        validate_channel(channel)
        return await self.backplane.latest_id(channel)

    # -- subscribing ------------------------------------------------------

    async def subscribe(
        self, channel: str, listener: Listener, last_id: str | None = None
    ) -> Subscription:
        """Register ``listener`` for live events of ``channel``, resuming after ``last_id``.

        The returned subscription's ``replay`` is what ``since(channel,
        last_id)`` would give, extended with anything published while it was
        being read; the listener gets exactly the events after that, in id
        order. Send the replay first, then what the listener received.
        Nothing at or before ``last_id`` is ever delivered (the event the
        client named is the one it has), except after a gap answer for a
        cursor the hub never issued: live events then follow ``replay.head``.
        """
        validate_channel(channel)
        if last_id is not None:
            parse_id(last_id)
        self._check_open()
        sub = Subscription(self, channel, listener, buffering=last_id is not None)
        chan = self._channels.get(channel)
        if chan is None:
            watch = asyncio.ensure_future(self.backplane.watch(channel, self._fanout))
            chan = self._channels[channel] = _Channel(watch)
        chan.subs.append(sub)
        try:
            # Shielded: a cancelled subscriber must not cancel the watch that
            # other subscribers of the channel share.
            await asyncio.shield(chan.ready)
            replay = await self.backplane.read_since(channel, last_id)
        except BaseException:
            sub.close()
            raise
        if sub._closed:  # closed while we were reading: nothing to start
            sub.replay = replay
            return sub
        self._go_live(sub, replay, last_id)
        return sub

    def _go_live(self, sub: Subscription, replay: Replay, cursor: str | None) -> None:
        # No await from here to the return: the merge and the switch to live
        # delivery happen at one instant of the event loop.
        events = list(replay.events)
        gap, head = replay.gap, replay.head
        # The floor below which nothing goes out: the last replayed event,
        # else the head a gap answer moved the client to, else the client's
        # own cursor. Without the cursor, a backplane whose fan-out lags its
        # reads (Redis: another node's reader) would hand a resuming client
        # the very event it named, and older ones, a second time.
        floor = replay.last_id or cursor
        last = parse_id(floor) if floor is not None else None
        for key, item in sub._buffer or ():
            if last is None or key > last:
                if item.gap:
                    # A replay states one gap, before its events: told a
                    # little early beats not told at all.
                    gap, head = True, item.id
                else:
                    events.append(item)
                last = key
        sub._buffer = None
        sub._last = last
        sub.replay = Replay(tuple(events), gap, head if gap else None)

    def _remove(self, sub: Subscription) -> None:
        chan = self._channels.get(sub.channel)
        if chan is None or sub not in chan.subs:
            return
        chan.subs.remove(sub)
        if chan.subs:
            return
        del self._channels[sub.channel]
        ready, fanout, backplane, channel = chan.ready, self._fanout, self.backplane, sub.channel
        if ready.done():
            if not ready.cancelled() and ready.exception() is None:
                backplane.unwatch(channel, fanout)
            return
        # Nobody needs the watch any more; if it completes all the same (a
        # backplane may finish what it started), undo it when it does.
        ready.cancel()

        def unwatch_when_watching(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is None:
                backplane.unwatch(channel, fanout)

        ready.add_done_callback(unwatch_when_watching)

    # -- delivery ---------------------------------------------------------

    def _fanout(self, event: HubEvent) -> Awaitable[object] | None:
        """The backplane's sink: hand ``event`` to every local subscriber.

        In slices that yield to the event loop (``rawpush.hub.fanout``): a
        channel with a huge audience does not hold up the others.
        """
        chan = self._channels.get(event.channel)
        if chan is None:
            return None
        return self.delivery.hand(chan.subs, event)

    # -- long polling -----------------------------------------------------

    async def wait_since(self, channel: str, cursor: str | None, timeout: float) -> Replay:
        """What a long poll answers: events after ``cursor``, waiting if there are none.

        Returns at once when there are events after ``cursor`` or a gap (a
        gap answer's ``last_id`` is the cursor to hand back, see ``since``;
        a cursor after every id issued is such a gap, never a wait).
        Otherwise waits up to ``timeout`` seconds for the next event(s) and
        returns them, or an empty replay on timeout; ``timeout <= 0`` is a
        short poll. ``cursor`` None waits for the next event from now.
        ``close()`` wakes every waiter with what it has; after it, polls
        return at once. Cancelling the caller (client gone) leaves nothing
        registered.
        """
        validate_channel(channel)
        if cursor is not None:
            parse_id(cursor)
        if timeout <= 0 or self._closed:
            return await self.backplane.read_since(channel, cursor)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        got: list[HubEvent] = []

        def collect(event: HubEvent) -> None:
            # Keep collecting after the wake-up: events that arrive before
            # the waiter resumes go out in the same answer.
            got.append(event)
            if not woken.done():
                woken.set_result(None)

        with await self.subscribe(channel, collect, cursor) as sub:
            if sub.replay.events or sub.replay.gap:
                return sub.replay
            self._waiters.add(woken)
            try:
                await asyncio.wait({woken}, timeout=timeout)
            finally:
                self._waiters.discard(woken)
            markers = [e.id for e in got if e.gap]
            events = tuple(e for e in got if not e.gap)
            return Replay(events, bool(markers), markers[-1] if markers else None)

    # -- lifecycle and metrics --------------------------------------------

    async def close(self) -> None:
        """Refuse new publishes and subscribers, wake long polls, close the backplane.

        Open subscriptions stay open: the server drains and closes them.
        Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        for woken in self._waiters:
            if not woken.done():
                woken.set_result(None)
        await self.backplane.close()
        self.delivery.close()

    def stats(self) -> HubStats:
        """Cheap counters for ``/metrics`` (history sizes may be stale on Redis)."""
        history = self.backplane.history_stats()
        if self.backplane.lists_every_channel:  # expired channels leave /metrics
            for gone in set(self._published) - set(history) - set(self._channels):
                del self._published[gone]
        names = set(history) | set(self._channels) | set(self._published)
        channels: dict[str, ChannelStats] = {}
        for name in sorted(names):
            chan = self._channels.get(name)
            hist = history.get(name)
            channels[name] = ChannelStats(
                subscribers=len(chan.subs) if chan is not None else 0,
                published=self._published.get(name, 0),
                history_length=hist.length if hist is not None else 0,
                history_bytes=hist.bytes if hist is not None else 0,
            )
        return HubStats(
            channels=channels,
            subscribers=sum(c.subscribers for c in channels.values()),
            waiters=len(self._waiters),
            published=sum(self._published.values()),
            listener_errors=self.delivery.listener_errors,
        )
