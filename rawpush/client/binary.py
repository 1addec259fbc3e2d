"""Which events of a rawpush event stream carry a binary payload.

A rawpush server sends a binary event on ``/sse/{channel}`` as base64 in
its data, with an ``encoding: base64`` line in the same block. SSE
parsers ignore a field they do not know (WHATWG HTML section 9.2.6), so
the event parser never shows it; this scanner reads the same bytes beside
it and says, for each event the parser dispatches, whether it was marked.
It counts blocks as the parser does: a blank line ends one, and only a
block with a ``data`` line dispatches an event.
"""

from __future__ import annotations

from collections import deque

__all__ = ["BinaryMarks"]

_MARK = b"encoding: base64"


class BinaryMarks:
    """Scans an event stream beside the SSE parser and remembers, for each
    event it will dispatch, whether its block had the ``encoding: base64`` line."""

    __slots__ = ("_data", "_marked", "_marks", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data = False  # this block has a data line
        self._marked = False  # this block has the marker
        self._marks: deque[bool] = deque()

    def feed(self, chunk: bytes) -> None:
        """Scan the next bytes of the stream (the ones given to the parser)."""
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if self._data:
                    self._marks.append(self._marked)
                self._data = self._marked = False
            elif line == _MARK:
                self._marked = True
            elif line == b"data" or line.startswith(b"data:"):
                self._data = True

    def pop(self) -> bool:
        """Whether the next dispatched event was marked binary."""
        return self._marks.popleft() if self._marks else False
