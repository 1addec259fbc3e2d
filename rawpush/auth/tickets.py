"""Single-use tickets: a short-lived stand-in for a token in a URL.

A client that holds a token but must open a URL that cannot carry a header
(an ``EventSource`` on another origin, a WebSocket in a browser) asks for a
ticket with ``{"channels": [...]}`` and gets back an opaque string (32
random bytes, ``secrets.token_urlsafe``: 43 URL-safe characters) that
grants subscribe on those channels, once, for ``ttl`` seconds (default 30).
The token itself never appears in a URL, where logs would keep it.

``TicketStore`` is the interface; ``MemoryTicketStore`` serves one node,
``RedisTicketStore`` (``rawpush.auth.redis_tickets``) every node that
shares the Redis. ``redeem`` returns the grant exactly once: a second
call, an expired ticket or a string that was never issued all give None.
"""

from __future__ import annotations

import abc
import json
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .errors import AuthConfigError, InsufficientScope, InvalidRequest
from .model import Grant
from .patterns import MAX_PATTERNS, PatternSet

__all__ = [
    "DEFAULT_TICKET_TTL",
    "MAX_TICKET_REQUEST",
    "MemoryTicketStore",
    "TicketStore",
    "is_ticket",
    "new_ticket",
    "parse_ticket_request",
]

#: Seconds a ticket stays redeemable: long enough to open one connection.
DEFAULT_TICKET_TTL = 30.0
#: Bytes of a ticket request body, at most (MAX_PATTERNS patterns fit).
MAX_TICKET_REQUEST = 64 * 1024
_TICKET = re.compile(r"[A-Za-z0-9_-]{43}", re.ASCII)


def new_ticket() -> str:
    """An unguessable ticket: 256 random bits, base64url without padding."""
    return secrets.token_urlsafe(32)


def is_ticket(text: str) -> bool:
    """True if ``text`` has the shape of a ticket (stores refuse others unseen)."""
    return _TICKET.fullmatch(text) is not None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 section 4: names SHOULD be unique; two "channels" members
    # would let two parsers read two different requests.
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name")
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259 section 6)")


def parse_ticket_request(body: bytes, grant: Grant) -> PatternSet:
    """The channels a ticket request ``{"channels": [...]}`` asks for.

    ``InvalidRequest`` (400) for a body that is not one UTF-8 JSON object
    with exactly one member, ``channels``, a list of 1 to MAX_PATTERNS
    channel patterns (``PatternError`` for a bad pattern);
    ``InsufficientScope`` (403) unless ``grant`` may subscribe to all of
    them (a ticket never grants more than the token that bought it).
    """
    if len(body) > MAX_TICKET_REQUEST:
        raise InvalidRequest(f"a ticket request is at most {MAX_TICKET_REQUEST} bytes")
    try:
        obj = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
        )
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidRequest(f"a ticket request is a UTF-8 JSON object: {exc}") from None
    if not isinstance(obj, dict) or set(obj) != {"channels"}:
        raise InvalidRequest('a ticket request is {"channels": [...]}, nothing else')
    channels = obj["channels"]
    if not isinstance(channels, list) or not 1 <= len(channels) <= MAX_PATTERNS:
        raise InvalidRequest(f"channels is a list of 1 to {MAX_PATTERNS} channel patterns")
    wanted = PatternSet.parse(channels)
    if not grant.subscribe.covers(wanted):
        raise InsufficientScope("the token may not subscribe to every channel asked for")
    return wanted


class TicketStore(abc.ABC):
    """Where tickets wait for their one redemption."""

    @abc.abstractmethod
    async def issue(self, grant: Grant, ttl: float = DEFAULT_TICKET_TTL) -> tuple[str, float]:
        """Store ``grant`` under a new ticket; ``(ticket, expires_in)``."""

    @abc.abstractmethod
    async def redeem(self, ticket: str) -> Grant | None:
        """The ticket's grant the first time, None ever after (or if unknown
        or expired)."""


def _check_ttl(ttl: float) -> None:
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 0 < ttl <= 3600:
        raise AuthConfigError("a ticket ttl is a number of seconds in (0, 3600]")


class MemoryTicketStore(TicketStore):
    """Tickets of one process, at most ``max_tickets`` waiting at once.

    Expired tickets are dropped as new ones come in. When ``max_tickets``
    unexpired ones are waiting, issuing one more forgets the oldest: memory
    stays bounded, and the loser is the ticket closest to its expiry
    (issuing needs a valid token, and the server rate-limits it).
    """

    def __init__(
        self, *, max_tickets: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not isinstance(max_tickets, int) or max_tickets < 1:
            raise AuthConfigError("max_tickets must be an int >= 1")
        self.max_tickets = max_tickets
        self._clock = clock
        # Ticket -> (deadline, grant), in issue order.
        self._tickets: OrderedDict[str, tuple[float, Grant]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tickets)

    async def issue(self, grant: Grant, ttl: float = DEFAULT_TICKET_TTL) -> tuple[str, float]:
        """Store ``grant`` under a new ticket expiring in ``ttl`` seconds (the
        oldest waiting one is dropped when full); return the ticket and ``ttl``."""
        _check_ttl(ttl)
        now = self._clock()
        self._prune(now)
        while len(self._tickets) >= self.max_tickets:
            self._tickets.popitem(last=False)
        ticket = new_ticket()
        self._tickets[ticket] = (now + ttl, grant)
        return ticket, float(ttl)

    async def redeem(self, ticket: str) -> Grant | None:
        """The ticket's grant, forgotten at once, or None if unknown or expired."""
        entry = self._tickets.pop(ticket, None)
        if entry is None or self._clock() >= entry[0]:
            return None
        return entry[1]

    def _prune(self, now: float) -> None:
        # Issue order is deadline order while every ticket gets the same
        # ttl (the usual case), so expired ones are at the front; a ticket
        # with a shorter ttl behind a longer one waits for its turn here,
        # and redeem refuses it meanwhile.
        while self._tickets:
            ticket, (deadline, _) = next(iter(self._tickets.items()))
            if now < deadline:
                return
            del self._tickets[ticket]
