"""Events the WebSocket core hands to its caller.

Each data event is a whole message: fragments (section 5.4) are joined by
the core, which checks text as UTF-8 while they arrive. Events are frozen
and slotted: cheap to create on the hot path and safe to share.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Binary", "Close", "Event", "Ping", "Pong", "Text"]


@dataclass(frozen=True, slots=True)
class Text:
    """A complete text message, already decoded from UTF-8."""

    data: str


@dataclass(frozen=True, slots=True)
class Binary:
    """A complete binary message."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A Ping arrived; the core has already queued the Pong (section 5.5.2)."""

    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Pong:
    """A Pong arrived, solicited or not (section 5.5.3)."""

    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Close:
    """The connection is closing or closed.

    ``code`` is the peer's status code, 1005 when its Close frame carried
    none, or 1006 when the transport ended without a Close frame (section
    7.1.5). When the peer started the closing handshake the core has
    already queued the echo.
    """

    code: int = 1000
    reason: str = ""


Event = Text | Binary | Ping | Pong | Close
