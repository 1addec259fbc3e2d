"""Event ids: ``"<ms>-<seq>"``, the shape of a Redis stream entry id.

Using Redis's shape in memory too means a client cannot tell the backplanes
apart, and ids minted after a restart still sort after the ones minted
before it (the millisecond part comes from the wall clock). Ids are opaque
to clients, but the hub compares them numerically: ``"10-0"`` is after
``"9-5"``, which string comparison would get wrong.

Generation follows Redis (XADD with ``*``): take the current time in ms;
if it is not after the last id's ms (same ms, or the clock went back), keep
the last ms and bump the sequence. Ids are therefore strictly increasing
per channel whatever the clock does.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .errors import InvalidId

__all__ = [
    "IdGenerator",
    "IdKey",
    "compare_ids",
    "format_id",
    "is_after",
    "parse_id",
]

#: A parsed id; tuples compare in id order.
IdKey = tuple[int, int]

_MAX_PART = (1 << 64) - 1  # Redis stores both parts as unsigned 64-bit
# Canonical decimal only (no sign, no leading zeros, ASCII digits), so that
# an id a client echoes back is byte-for-byte one we could have issued.
_ID_RE = re.compile(r"(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})", re.ASCII)


def parse_id(value: str) -> IdKey:
    """Parse ``"<ms>-<seq>"`` into ``(ms, seq)``; raise ``InvalidId`` otherwise."""
    if not isinstance(value, str):
        raise InvalidId(f"event id must be a string, not {type(value).__name__}")
    match = _ID_RE.fullmatch(value)
    if match is None:
        raise InvalidId(f"malformed event id {value[:64]!r}: expected '<ms>-<seq>'")
    ms, seq = int(match[1]), int(match[2])
    if ms > _MAX_PART or seq > _MAX_PART:
        raise InvalidId(f"event id {value!r} is out of range")
    return ms, seq


def format_id(key: IdKey) -> str:
    """The inverse of ``parse_id``."""
    return f"{key[0]}-{key[1]}"


def compare_ids(a: str, b: str) -> int:
    """-1, 0 or 1 as id ``a`` is before, equal to or after id ``b``."""
    ka, kb = parse_id(a), parse_id(b)
    return (ka > kb) - (ka < kb)


def is_after(a: str, b: str) -> bool:
    """Whether id ``a`` comes strictly after id ``b``."""
    return parse_id(a) > parse_id(b)


class IdGenerator:
    """Mints strictly increasing ids for one channel.

    ``clock`` returns seconds since the epoch (``time.time`` by default);
    tests pass their own to move time without sleeping.
    """

    __slots__ = ("_clock", "last")

    def __init__(self, clock: Callable[[], float], last: IdKey = (0, 0)) -> None:
        self._clock = clock
        #: The last id minted, ``(0, 0)`` before the first one.
        self.last = last

    def next(self) -> IdKey:
        """The next id: this millisecond with sequence 0, or the last id's
        sequence plus one when the clock has not moved on (or went back)."""
        ms = int(self._clock() * 1000)
        last_ms, last_seq = self.last
        # Redis never issues 0-0, so neither do we.
        key = (ms, 0) if ms > last_ms else (last_ms, last_seq + 1)
        self.last = key
        return key
