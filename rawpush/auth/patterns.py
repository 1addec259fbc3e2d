"""Channel patterns: which channels a right covers.

The grammar, exactly (channel names are those the hub accepts)::

    channel  = 1*128( ALPHA / DIGIT / "." / "_" / ":" / "-" )
    pattern  = channel            ; that one channel
             / prefix ".*"        ; every channel that starts with prefix "."
             / "*"                ; every channel
    prefix   = 1*126( ALPHA / DIGIT / "." / "_" / ":" / "-" )

- ``news`` matches ``news`` only.
- ``user.42.*`` matches ``user.42.inbox`` and ``user.42.a.b`` (any depth
  below the dot), but not ``user.42`` itself (the dot and at least one more
  character are part of the match) and not ``user.420``. Grant both
  ``user.42`` and ``user.42.*`` when both are meant.
- ``*`` alone matches every channel; it is the only wildcard that is not a
  suffix after a dot. ``a*``, ``*.a``, ``a.*.b``, ``.*``, the empty string
  and anything with a character outside the set above raise
  ``PatternError``. The prefix is at most 126 characters, so that a channel
  it matches (prefix, dot, one more character) fits the 128 limit.

Matching costs one set lookup per dot in the channel name, however many
patterns a set holds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from .errors import PatternError

__all__ = ["MAX_PATTERNS", "PatternSet", "is_channel", "parse_pattern"]

_CHANNEL = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
_PREFIX = re.compile(r"[A-Za-z0-9._:-]{1,126}", re.ASCII)
#: At most this many patterns in one set: a token or ticket request holds
#: a handful, and a bound keeps parsing and storage small.
MAX_PATTERNS = 256


def is_channel(name: object) -> bool:
    """True if ``name`` is a channel name (1-128 of ``[A-Za-z0-9._:-]``)."""
    return isinstance(name, str) and _CHANNEL.fullmatch(name) is not None


def parse_pattern(text: object) -> tuple[str, bool]:
    """``(name, False)`` for an exact channel, ``(prefix + ".", True)`` for
    ``prefix.*``, ``("", True)`` for ``*``; ``PatternError`` otherwise."""
    if not isinstance(text, str):
        raise PatternError(f"a channel pattern is a string, not {type(text).__name__}")
    if text == "*":
        return "", True
    if _CHANNEL.fullmatch(text):
        return text, False
    if text.endswith(".*") and _PREFIX.fullmatch(text[:-2]):
        return text[:-1], True
    shown = text if len(text) <= 40 else text[:40] + "..."
    raise PatternError(
        f"invalid channel pattern {shown!r}: expected a channel name, 'prefix.*' or '*'"
    )


@dataclass(frozen=True, slots=True)
class PatternSet:
    """A set of channel patterns; ``matches`` and ``covers`` decide with it.

    Build one with ``PatternSet.parse([...])``; ``PatternSet.ALL`` (``*``)
    and ``PatternSet.NONE`` (empty) are the two ends. ``patterns`` gives
    the set back in the grammar, sorted, for JSON.
    """

    exact: frozenset[str] = frozenset()
    #: Each prefix with its trailing dot ("user.42."), for ``prefix.*``.
    prefixes: frozenset[str] = frozenset()
    everything: bool = False

    ALL: ClassVar[PatternSet]
    NONE: ClassVar[PatternSet]

    @classmethod
    def parse(cls, patterns: Iterable[object]) -> PatternSet:
        """The set of ``patterns`` (strings in the grammar); ``PatternError``
        for a bad one or more than ``MAX_PATTERNS``."""
        exact: set[str] = set()
        prefixes: set[str] = set()
        everything = False
        for count, text in enumerate(patterns, 1):
            if count > MAX_PATTERNS:
                raise PatternError(f"more than {MAX_PATTERNS} channel patterns")
            name, wildcard = parse_pattern(text)
            if not wildcard:
                exact.add(name)
            elif name:
                prefixes.add(name)
            else:
                everything = True
        if everything:
            # "*" holds every other pattern: one value for one meaning, so
            # equality and ``patterns`` agree.
            return cls.ALL
        return cls(frozenset(exact), frozenset(prefixes))

    def __bool__(self) -> bool:
        return self.everything or bool(self.exact) or bool(self.prefixes)

    def matches(self, channel: str) -> bool:
        """True if ``channel`` is one of the channels the set covers."""
        if self.everything or channel in self.exact:
            return True
        if not self.prefixes:
            return False
        # Every "prefix." the channel starts with, shortest first; the last
        # character never starts a match (the dot must be followed by one).
        dot = channel.find(".")
        while 0 <= dot < len(channel) - 1:
            if channel[: dot + 1] in self.prefixes:
                return True
            dot = channel.find(".", dot + 1)
        return False

    def covers(self, other: PatternSet) -> bool:
        """True if every channel ``other`` matches, this set matches too."""
        if self.everything:
            return True
        if other.everything:
            return False
        return all(self.matches(name) for name in other.exact) and all(
            self._covers_prefix(prefix) for prefix in other.prefixes
        )

    def _covers_prefix(self, prefix: str) -> bool:
        # "p.*" is inside "q.*" exactly when "p." starts with "q."; an
        # exact name never covers a prefix (it matches one channel).
        return any(prefix.startswith(mine) for mine in self.prefixes)

    @property
    def patterns(self) -> list[str]:
        """The set in the grammar, sorted: what ``parse`` reads back."""
        if self.everything:
            return ["*"]
        return sorted([*self.exact, *(p + "*" for p in self.prefixes)])

    def __repr__(self) -> str:
        return f"PatternSet.parse({self.patterns!r})"


PatternSet.ALL = PatternSet(everything=True)
PatternSet.NONE = PatternSet()
