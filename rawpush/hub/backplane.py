"""The store behind a hub: where events get their ids and their history.

A ``Backplane`` is what several server processes would share. The hub
(``rawpush.hub.Hub``) keeps only what is local to one process: its
subscribers, long-poll waiters and counters. Everything that must agree
across processes (id order, history, what was evicted) is here.

Contract
--------
- ``append(channel, data, event, *, idempotency_key=None) -> HubEvent``
  assigns the next id of the channel (strictly increasing), stores the
  event in the bounded history, and hands it to every sink watching the
  channel. It returns once the event is stored; whether it also waits for
  delivery is up to the backplane (see below). With an
  ``idempotency_key`` seen on the channel within
  ``HubConfig.idempotency_window``, it stores nothing and returns the
  event that key produced (same id), atomically with the check. When the
  store may have taken the event but did not say so (a timeout after
  sending), it raises ``PublishOutcomeUnknown``, never the errors that
  mean "not stored".
- ``read_since(channel, last_id) -> Replay``: the retained events with an
  id after ``last_id``, and ``gap=True`` exactly when some event after it
  was evicted, or when ``last_id`` is not one this store could have issued
  (after every id of the channel, or from a lost incarnation). A gap
  answer sets ``head``: the channel's newest id, or an id meaning "now"
  when it has none, so that a reader resuming from it waits rather than
  hears of the same gap again. ``None`` means "live only": an empty replay.
- ``latest_id(channel)``: the newest id ever issued on the channel (even if
  evicted since), or None; a starting cursor for pollers.
- ``watch(channel, sink)`` / ``unwatch(channel, sink)``: deliver the
  channel's new events to ``sink``, in id order, from now on. A sink has
  the ``Listener`` shape: it returns None or an awaitable the backplane
  awaits before handing it the next event.
- ``history_stats()``: cheap, synchronous, possibly stale numbers for
  ``/metrics``.
- ``close()``: refuse further appends (``HubClosed``), release resources.

In-memory (``MemoryBackplane``)
-------------------------------
Channels expire: one with no sink and no append for
``HubConfig.channel_idle_ttl`` is dropped with its history, and at
``max_channels`` the least recently used channel without a sink makes room
for a new one. The largest id a dropped channel issued raises the seed of
every channel created later, so a cursor from a dropped incarnation is
before the new channel's seed and reads as a gap, as a cursor from before
the process does.

One process, so "every node" is this one: ``append`` calls the sinks
synchronously before returning, then awaits whatever awaitables they
returned. Ordering is therefore exact, and a ``block`` subscriber slows the
publisher directly. Several hubs may share one ``MemoryBackplane`` (the
tests do, to play several nodes). History dies with the process: a cursor
issued before this backplane was made (older than its birth id, one ms
past the clock when it was made) is answered with a gap, since what followed it is lost;
so is a cursor after every id issued on the channel. A gap answer's
``head`` is the channel's newest id, or the birth id for a channel with
none: every id this backplane issues comes after it, so it means "now".

The Redis Streams mapping (``rawpush.hub.redis.RedisBackplane``)
----------------------------------------------------------------
- channel ``c`` is the stream key ``<prefix>:ch:c``; ids are the entry ids
  (the same ``"<ms>-<seq>"`` shape, so cursors work on any node).
- ``append``: one Lua script notes the entry about to be trimmed, runs
  ``XADD key MAXLEN <history_size> * data <d> [event <e>]`` (exact, not
  ``~``, so the evicted id is known) and records it with ``XSETID ...
  MAXDELETEDID``: Redis 7 moves ``max-deleted-entry-id`` only on ``XDEL``,
  never when it trims, so without that the gap test below never fires.
  The byte bound is not enforced on Redis.
- ``read_since``: ``XRANGE key (<last_id> +`` (exclusive start) and
  ``XINFO STREAM`` in one ``MULTI``; gap iff ``max-deleted-entry-id`` (our
  ``last_evicted``) is after ``last_id``.
- ``latest_id``: ``last-generated-id`` from ``XINFO STREAM``.
- ``watch``/``unwatch``: one reader task per process runs a single
  ``XREAD BLOCK <ms> STREAMS k1 k2 ... id1 id2 ...`` over every watched
  stream, remembering the last id seen per stream (so nothing falls
  between two calls), and fans each entry out to the local sinks, awaiting
  their awaitables. A process's own appends come back through this loop,
  so local delivery happens after ``append`` returns, and a ``block``
  subscriber slows that node's reader (and, through it, only what this
  node delivers) rather than the publisher. ``watch`` must learn the
  stream's current last id before returning, so a subscriber's buffered
  live events and its ``read_since`` overlap rather than leave a hole; the
  hub removes the overlap by id.
- ``close``: cancel the reader task, close the connection pool.
"""

from __future__ import annotations

import abc
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass

from .config import HubConfig
from .errors import HubClosed, TooManyChannels
from .events import HubEvent, Listener, Replay
from .history import History
from .idempotency import KeyMemory
from .ids import IdGenerator, IdKey, format_id, parse_id

__all__ = ["Backplane", "HistoryStats", "MemoryBackplane", "Sink"]

#: What a backplane delivers new events to; the same shape as a listener.
Sink = Listener


@dataclass(frozen=True, slots=True)
class HistoryStats:
    """Size of one channel's retained history."""

    length: int
    bytes: int


def remove_sink(sinks: dict[str, list[Sink]], channel: str, sink: Sink) -> bool:
    """Forget ``sink`` for ``channel``; True when the channel has no sink left
    (the backplane can stop watching it). A no-op when it was not there."""
    watching = sinks.get(channel)
    if watching is None or sink not in watching:
        return False
    watching.remove(sink)
    if watching:
        return False
    del sinks[channel]
    return True


class Backplane(abc.ABC):
    """The shared store a ``Hub`` runs on. See the module docstring."""

    #: True when ``history_stats()`` names every channel held: one missing
    #: from it was dropped, and the hub forgets its counters too.
    lists_every_channel: bool = False

    @abc.abstractmethod
    async def append(
        self,
        channel: str,
        data: str | bytes,
        event: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> HubEvent:
        """Store a new event with the channel's next id and hand it to the sinks;
        with a key already used on the channel, return that key's event."""

    @abc.abstractmethod
    async def read_since(self, channel: str, last_id: str | None) -> Replay:
        """Retained events after ``last_id``; ``gap`` iff some after it were evicted."""

    @abc.abstractmethod
    async def latest_id(self, channel: str) -> str | None:
        """The newest id issued on ``channel`` (even if evicted), or None."""

    @abc.abstractmethod
    async def watch(self, channel: str, sink: Sink) -> None:
        """Start delivering ``channel``'s new events to ``sink``, in id order."""

    @abc.abstractmethod
    def unwatch(self, channel: str, sink: Sink) -> None:
        """Stop delivering to ``sink``; a no-op when it was not watching."""

    @abc.abstractmethod
    def history_stats(self) -> Mapping[str, HistoryStats]:
        """Cheap per-channel history sizes, for metrics; may be stale."""

    def counters(self) -> Mapping[str, int]:
        """Monotonic counters of the backplane's own troubles, for metrics
        (``rawpush_backplane_<name>_total``); none for a memory backplane."""
        return {}

    @abc.abstractmethod
    async def close(self) -> None:
        """Refuse further appends and release resources; idempotent."""


class MemoryBackplane(Backplane):
    """A backplane for one process: dicts of ``History``, sinks called inline."""

    lists_every_channel = True

    def __init__(self, config: HubConfig | None = None) -> None:
        self.config = config if config is not None else HubConfig()
        self._histories: dict[str, History] = {}
        self._sinks: dict[str, list[Sink]] = {}
        self._closed = False
        # Ids this backplane issues come after this one; a cursor before it
        # came from an earlier process. One millisecond past the clock at
        # birth: a process stopped within this very millisecond issued ids
        # up to (ms, n), and every one of them must read as "before".
        self._born: IdKey = (int(self.config.clock() * 1000) + 1, 0)
        # What new channels are seeded with: the birth id, raised past every
        # id of a dropped channel. Per channel, the seed it was created with.
        self._floor: IdKey = self._born
        self._seeds: dict[str, IdKey] = {}
        # Channels with a history and no sink, least recently used first,
        # with the time they were last used (appended to, or left).
        self._idle: OrderedDict[str, float] = OrderedDict()
        # Every channel with a history, least recently published to first,
        # and the data bytes all of them keep (history_memory bounds it).
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._kept = 0
        cfg = self.config
        self._keys = KeyMemory(cfg.idempotency_window, cfg.idempotency_keys, cfg.clock)

    def _drop(self, channel: str) -> None:
        history = self._histories.pop(channel)
        del self._seeds[channel]
        self._idle.pop(channel, None)
        self._recent.pop(channel, None)
        self._kept -= history.bytes
        self._floor = max(self._floor, history.ids.last)

    def _sweep(self) -> None:
        """Drop the channels idle for ``channel_idle_ttl`` (oldest first, so cheap)."""
        ttl = self.config.channel_idle_ttl
        if ttl is None:
            return
        deadline = self.config.clock() - ttl
        idle = self._idle
        while idle:
            channel, since = next(iter(idle.items()))
            if since > deadline:
                return
            self._drop(channel)

    def _touch(self, channel: str) -> None:
        if channel in self._idle:
            self._idle[channel] = self.config.clock()
            self._idle.move_to_end(channel)

    def _history(self, channel: str) -> History:
        history = self._histories.get(channel)
        if history is None:
            limit = self.config.max_channels
            if limit is not None and len(self._histories) >= limit:
                if not self._idle:
                    raise TooManyChannels(f"cannot create channel {channel!r}: {limit} exist")
                # Make room with the least recently used channel nobody
                # listens to: refusing would let made-up names lock out
                # every new channel for good. Its resumers hear of a gap.
                self._drop(next(iter(self._idle)))
            # Seeded at the floor: even a clock that steps back never mints
            # an id that would read as "from before this process", or from
            # a dropped incarnation of the channel.
            history = History(
                IdGenerator(self.config.clock, last=self._floor),
                self.config.history_size,
                self.config.history_bytes,
            )
            self._histories[channel] = history
            self._seeds[channel] = self._floor
            if channel not in self._sinks:
                self._idle[channel] = self.config.clock()
        return history

    async def append(
        self,
        channel: str,
        data: str | bytes,
        event: str | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> HubEvent:
        """Store the event in the channel's ``History`` and call its sinks inline
        (see ``Backplane.append``)."""
        if self._closed:
            raise HubClosed("backplane is closed")
        if idempotency_key is not None:
            seen = self._keys.get(channel, idempotency_key)
            if seen is not None:
                return seen
        self._sweep()
        history = self._history(channel)
        before = history.bytes
        item = history.append(channel, data, event)
        self._kept += history.bytes - before
        self._recent[channel] = None
        self._recent.move_to_end(channel)
        self._bound_memory()
        self._touch(channel)
        if idempotency_key is not None:
            # Before any await: a retry arriving while a block subscriber
            # holds this publish must find the key already taken.
            self._keys.put(idempotency_key, item)
        # Call every sink before awaiting any: one slow (blocking) sink must
        # not delay the others' delivery, only the publisher's return.
        pending: list[Awaitable[object]] = []
        for sink in tuple(self._sinks.get(channel, ())):
            result = sink(item)
            if result is not None:
                pending.append(result)
        for result in pending:
            await result
        return item

    def _bound_memory(self) -> None:
        """Keep all histories within ``history_memory``: the oldest events
        of the least recently published channel go first (its resumers hear
        of a gap, as after any eviction)."""
        limit = self.config.history_memory
        if limit is None:
            return
        recent = self._recent
        while self._kept > limit and recent:
            channel = next(iter(recent))
            history = self._histories[channel]
            if not len(history):
                del recent[channel]  # nothing kept there now; back on its next publish
                continue
            self._kept -= history.evict_oldest()

    async def read_since(self, channel: str, last_id: str | None) -> Replay:
        """The kept events after ``last_id`` (see ``Backplane.read_since``)."""
        if last_id is None:
            return Replay()
        cursor = parse_id(last_id)  # before the lookup: garbage is refused everywhere
        self._sweep()
        history = self._histories.get(channel)
        if history is None:
            # No history: never published to, or dropped. Only "0-0" (from
            # the start) and the floor ("now", see below) are ours; any
            # other cursor was issued elsewhere, or by a dropped incarnation.
            if cursor in ((0, 0), self._floor):
                return Replay()
            return Replay(gap=True, head=format_id(self._floor))
        replay = history.since(cursor)
        if (0, 0) < cursor < self._seeds[channel] and not replay.gap:
            # The cursor was issued before this channel's history began
            # (by an earlier process, or a dropped incarnation): whatever
            # followed it is lost. Say so (never a silent gap); "0-0"
            # means "from the start".
            return Replay(replay.events, True, format_id(history.ids.last))
        return replay

    async def latest_id(self, channel: str) -> str | None:
        """The newest id issued on ``channel``, or None (see ``Backplane.latest_id``)."""
        self._sweep()
        history = self._histories.get(channel)
        if history is None:
            return None
        return format_id(history.ids.last)

    async def watch(self, channel: str, sink: Sink) -> None:
        """Add ``sink`` to the channel's sinks; the channel is no longer idle."""
        self._sinks.setdefault(channel, []).append(sink)
        self._idle.pop(channel, None)

    def unwatch(self, channel: str, sink: Sink) -> None:
        """Remove ``sink``; a channel left with no sink starts its idle clock."""
        if remove_sink(self._sinks, channel, sink) and channel in self._histories:
            self._idle[channel] = self.config.clock()

    def history_stats(self) -> Mapping[str, HistoryStats]:
        """Each kept channel's event count and data bytes."""
        self._sweep()
        return {c: HistoryStats(len(h), h.bytes) for c, h in self._histories.items()}

    async def close(self) -> None:
        """Refuse further appends; idempotent."""
        self._closed = True
