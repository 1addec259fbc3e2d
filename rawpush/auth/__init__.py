"""Authorization: who may subscribe to or publish on which channel.

Pure decisions, no sockets: the server hands over what a request carries
and gets back a ``Grant`` or an ``AuthError`` holding the HTTP status, the
``WWW-Authenticate`` challenge and the WebSocket close code. The modules:

- ``errors``: the ``AuthError`` tree and the close codes.
- ``patterns``: channel patterns (``news``, ``user.42.*``, ``*``) and
  ``PatternSet``.
- ``model``: ``Grant`` (subject, rights, ``expires_at``) and ``Action``.
- ``credentials``: the ``Authorization`` field, the cookie, the ticket.
- ``tokens``: JWT verification with PyJWT (the ``jwt`` extra), the
  algorithm pinned by the key.
- ``tickets`` / ``redis_tickets``: single-use tickets, in memory or Redis.
- ``hooks``: the embedder's ``authorize`` hook, sync or async.
- ``authenticator``: ``Authenticator``, the one object the server asks.
- ``ratelimit``: token buckets and per-key limits with bounded memory.
"""

from __future__ import annotations

from .authenticator import AuthConfig, Authenticator, StaticToken
from .credentials import COOKIE_NAME, Carrier, Credential, find_credential
from .errors import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_TOKEN_EXPIRED,
    AuthConfigError,
    AuthError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    PatternError,
    TokenExpired,
    Unauthenticated,
)
from .hooks import AuthorizeHook, Decision, RequestInfo, call_hook
from .model import Action, Grant
from .patterns import PatternSet, parse_pattern
from .ratelimit import ConcurrencyLimiter, KeyedLimiter, TokenBucket
from .redis_tickets import RedisTicketStore
from .tickets import DEFAULT_TICKET_TTL, MemoryTicketStore, TicketStore, parse_ticket_request
from .tokens import DEFAULT_LEEWAY, JWTConfig, JWTVerifier

__all__ = [
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_TOKEN_EXPIRED",
    "COOKIE_NAME",
    "DEFAULT_LEEWAY",
    "DEFAULT_TICKET_TTL",
    "Action",
    "AuthConfig",
    "AuthConfigError",
    "AuthError",
    "Authenticator",
    "AuthorizeHook",
    "Carrier",
    "ConcurrencyLimiter",
    "Credential",
    "Decision",
    "Grant",
    "InsufficientScope",
    "InvalidRequest",
    "InvalidToken",
    "JWTConfig",
    "JWTVerifier",
    "KeyedLimiter",
    "MemoryTicketStore",
    "PatternError",
    "PatternSet",
    "RedisTicketStore",
    "RequestInfo",
    "StaticToken",
    "TicketStore",
    "TokenBucket",
    "TokenExpired",
    "Unauthenticated",
    "call_hook",
    "find_credential",
    "parse_pattern",
    "parse_ticket_request",
]
