"""Tickets in Redis, so a ticket issued by one node is redeemed on any.

Each ticket is one key, ``<prefix><ticket>``, holding ``Grant.to_json()``
and set with ``SET ... PX <ttl ms> NX``: Redis expires it on its own. A
redemption is one ``GETDEL`` (Redis >= 6.2), atomic on the server, so two
nodes redeeming the same ticket at once can never both get the grant.
Errors from Redis (``redis.exceptions.RedisError``, ``OSError``) pass
through: the server answers 503, the client retries with a new ticket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import AuthConfigError
from .model import Grant
from .tickets import DEFAULT_TICKET_TTL, TicketStore, _check_ttl, is_ticket, new_ticket

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["RedisTicketStore"]


class RedisTicketStore(TicketStore):
    """Tickets as expiring Redis keys; ``client`` is a redis-py asyncio client."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "rawpush:ticket:") -> None:
        if not prefix:
            raise AuthConfigError("a Redis key prefix keeps tickets apart from other keys")
        self._redis = client
        self.prefix = prefix

    async def issue(self, grant: Grant, ttl: float = DEFAULT_TICKET_TTL) -> tuple[str, float]:
        """Store ``grant`` under a new ticket expiring in ``ttl`` seconds;
        return the ticket and its lifetime in seconds (whole milliseconds)."""
        _check_ttl(ttl)
        ticket = new_ticket()
        milliseconds = max(1, int(ttl * 1000))
        # NX: 256 random bits never collide, but if they did, the older
        # ticket must not be silently replaced by another grant.
        stored = await self._redis.set(
            self.prefix + ticket, grant.to_json(), px=milliseconds, nx=True
        )
        if not stored:
            raise AssertionError("a new random ticket already existed in Redis")
        return ticket, milliseconds / 1000

    async def redeem(self, ticket: str) -> Grant | None:
        """The ticket's grant, deleted in the same step (GETDEL), or None."""
        if not is_ticket(ticket):
            return None  # never a Redis round trip (or key) for a made-up string
        value = await self._redis.getdel(self.prefix + ticket)
        if value is None:
            return None
        return Grant.from_json(value)
