"""What a verified credential grants: ``Grant``, and the two ``Action``\\s.

A ``Grant`` is the whole outcome of authentication: who (``subject``),
which channels they may subscribe to and publish on (two ``PatternSet``\\s),
and until when (``expires_at``, seconds since the epoch, or None for a
credential that never expires, such as a static publish token). The server
keeps the grant for the life of a connection and ends the connection at
``expires_at`` (WebSocket close ``CLOSE_TOKEN_EXPIRED``; an SSE stream or
long poll simply ends, and the client reconnects with a fresh token).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import InsufficientScope, PatternError
from .patterns import PatternSet

__all__ = ["Action", "Grant"]


class Action(enum.StrEnum):
    """What a request wants to do on a channel."""

    SUBSCRIBE = "subscribe"
    PUBLISH = "publish"


@dataclass(frozen=True, slots=True)
class Grant:
    """The rights one credential carries.

    ``source`` says where it came from: ``"jwt"``, ``"static"`` (a
    configured token), ``"ticket"`` or ``"anonymous"`` (no credential:
    what the server allows everyone).
    """

    subject: str | None = None
    subscribe: PatternSet = field(default=PatternSet.NONE)
    publish: PatternSet = field(default=PatternSet.NONE)
    expires_at: float | None = None
    source: str = "jwt"

    def rights(self, action: Action) -> PatternSet:
        """The channel patterns this grant holds for ``action``."""
        return self.subscribe if action is Action.SUBSCRIBE else self.publish

    def allows(self, action: Action, channel: str) -> bool:
        """True if this grant may ``action`` on ``channel``."""
        return self.rights(action).matches(channel)

    def require(self, action: Action, channel: str) -> None:
        """``InsufficientScope`` (403) unless ``allows(action, channel)``."""
        if not self.allows(action, channel):
            raise InsufficientScope(f"no right to {action.value} on {channel!r}")

    def expired(self, now: float) -> bool:
        """True once ``now`` reached ``expires_at``."""
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> str:
        """A compact JSON form that ``from_json`` reads back (ticket stores)."""
        return json.dumps(
            {
                "sub": self.subject,
                "subscribe": self.subscribe.patterns,
                "publish": self.publish.patterns,
                "exp": self.expires_at,
                "source": self.source,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Grant:
        """The grant ``to_json`` wrote; ``ValueError`` for anything else."""
        obj: Any = json.loads(text)
        if not isinstance(obj, dict):
            raise ValueError("a stored grant is a JSON object")
        subject, exp, source = obj.get("sub"), obj.get("exp"), obj.get("source")
        if subject is not None and not isinstance(subject, str):
            raise ValueError("sub must be a string or null")
        if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
            raise ValueError("exp must be a number or null")
        if not isinstance(source, str):
            raise ValueError("source must be a string")
        subscribe_list, publish_list = obj.get("subscribe"), obj.get("publish")
        if not isinstance(subscribe_list, list) or not isinstance(publish_list, list):
            raise ValueError("subscribe and publish must be lists")
        try:
            subscribe, publish = PatternSet.parse(subscribe_list), PatternSet.parse(publish_list)
        except PatternError as exc:
            raise ValueError(str(exc)) from None
        return cls(subject, subscribe, publish, None if exp is None else float(exp), source)
