"""One channel's bounded history, and the exact gap rule.

Events are kept oldest first and evicted oldest first, so the evicted
events are always a prefix of everything ever published on the channel.
That makes the gap test exact with a single remembered id: some event
after cursor ``c`` was lost if and only if the *last evicted* id is after
``c``. (Comparing ``c`` with the oldest kept id alone would report a false
gap after a restart or for a cursor between two kept events; comparing
only with the newest id would miss evictions.)
"""

from __future__ import annotations

from collections import deque

from .events import HubEvent, Replay
from .ids import IdGenerator, IdKey, format_id

__all__ = ["History"]


class History:
    """The kept events of one channel, bounded by count and by data bytes."""

    __slots__ = ("_entries", "_max_bytes", "_max_len", "bytes", "ids", "last_evicted")

    def __init__(self, ids: IdGenerator, max_len: int, max_bytes: int) -> None:
        self.ids = ids
        self._max_len = max_len
        self._max_bytes = max_bytes
        # (parsed id, data size, event): parsing ids once keeps replay cheap.
        self._entries: deque[tuple[IdKey, int, HubEvent]] = deque()
        #: Sum of the sizes of the kept events' data (UTF-8 for text).
        self.bytes = 0
        #: Id of the newest evicted event; None while nothing was evicted.
        self.last_evicted: IdKey | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, channel: str, data: str | bytes, event: str | None) -> HubEvent:
        """Add an event with the next id and return it, evicting the oldest
        while over the count or byte bound."""
        key = self.ids.next()
        item = HubEvent(format_id(key), channel, event, data)
        size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8"))
        self._entries.append((key, size, item))
        self.bytes += size
        entries = self._entries
        while entries and (len(entries) > self._max_len or self.bytes > self._max_bytes):
            old_key, old_size, _ = entries.popleft()
            self.bytes -= old_size
            self.last_evicted = old_key
        return item

    def evict_oldest(self) -> int:
        """Evict the oldest kept event (for a bound over all channels);
        return its data size. The history must not be empty."""
        key, size, _ = self._entries.popleft()
        self.bytes -= size
        self.last_evicted = key
        return size

    def since(self, cursor: IdKey) -> Replay:
        """Kept events after ``cursor``; ``gap`` if any after it were evicted.

        A cursor after everything we ever issued (a newer process with a
        faster clock, a client making ids up) is a gap with no events: we
        never issued it, so we cannot tell what the client has seen, and
        answering "nothing yet" would leave it waiting for ids that may
        never come, or behind a floor that hides every live event. A gap
        answer carries ``head`` (the newest id issued) to resume from.
        """
        # Resuming clients are usually near the head: walk back from the end.
        found: list[HubEvent] = []
        for key, _, item in reversed(self._entries):
            if key <= cursor:
                break
            found.append(item)
        found.reverse()
        last = self.ids.last
        gap = cursor > last or (self.last_evicted is not None and self.last_evicted > cursor)
        return Replay(tuple(found), gap, format_id(last) if gap else None)
