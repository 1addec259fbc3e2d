"""The one object the server asks: who is this, and may they do that?

``Authenticator.authorize(info, action, channel, ticket)`` is the whole
check for one request: ``identify`` finds the credential
(``credentials``) and verifies it (a static token, a JWT, or a ticket,
redeemed here), then ``decide`` asks the embedder's hook if there is one,
else the grant's patterns. A connection keeps its grant and calls
``decide`` alone for each later action. ``authorize`` returns
the ``Grant`` the connection runs under or raises an ``AuthError`` that
carries the answer:

- no credential and the anonymous rights fall short: ``Unauthenticated``
  (401, a bare ``Bearer realm="rawpush"`` challenge, RFC 6750 section 3.1);
- a credential that fails verification, an unknown or used ticket:
  ``InvalidToken`` / ``TokenExpired`` (401, ``error="invalid_token"``);
- a malformed ``Authorization`` or two credentials: ``InvalidRequest`` (400);
- a valid credential without this right: ``InsufficientScope`` (403).

Static tokens (``--publish-token`` today) are compared in constant time
(``hmac.compare_digest``, RFC 6750 section 5.3 on guessing) against every
configured one, so the time taken does not say which one nearly matched.
"""

from __future__ import annotations

import dataclasses
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .credentials import _B64TOKEN, COOKIE_NAME, Carrier, Credential, find_credential
from .errors import (
    AuthConfigError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    TokenExpired,
    Unauthenticated,
)
from .hooks import AuthorizeHook, RequestInfo, call_hook
from .model import Action, Grant
from .patterns import PatternSet
from .tickets import DEFAULT_TICKET_TTL, TicketStore, parse_ticket_request
from .tokens import JWTConfig, JWTVerifier

__all__ = ["AuthConfig", "Authenticator", "StaticToken"]


@dataclass(frozen=True, slots=True)
class StaticToken:
    """A configured secret string: by default, publish on every channel."""

    token: str
    subscribe: PatternSet = PatternSet.NONE
    publish: PatternSet = PatternSet.ALL
    subject: str = "static"

    def __post_init__(self) -> None:
        # RFC 6750 section 2.1: a token outside b64token could never be sent.
        if not isinstance(self.token, str) or not _B64TOKEN.fullmatch(self.token):
            raise AuthConfigError("a static token must be a b64token (RFC 6750 section 2.1)")

    def __repr__(self) -> str:
        return f"StaticToken(subject={self.subject!r}, publish={self.publish!r})"

    @property
    def grant(self) -> Grant:
        """What this token allows, as a ``Grant`` (source ``"static"``)."""
        return Grant(self.subject, self.subscribe, self.publish, None, "static")


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Everything authorization needs; the server builds one from its flags.

    ``anonymous`` is what a request without any credential may do: by
    default subscribe to everything and publish nothing. (With no
    credential configured at all, a server that keeps today's open
    behaviour passes ``Grant(subscribe=PatternSet.ALL,
    publish=PatternSet.ALL, source="anonymous")``.)
    """

    jwt: JWTConfig | None = None
    static_tokens: tuple[StaticToken, ...] = ()
    anonymous: Grant = field(
        default_factory=lambda: Grant(subscribe=PatternSet.ALL, source="anonymous")
    )
    #: The cookie browsers carry a token in; None to ignore cookies.
    cookie_name: str | None = COOKIE_NAME
    ticket_ttl: float = DEFAULT_TICKET_TTL
    hook: AuthorizeHook | None = None


class Authenticator:
    """Verifies credentials and decides; stateless apart from ``tickets``."""

    def __init__(
        self,
        config: AuthConfig,
        tickets: TicketStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.tickets = tickets
        self._clock = clock
        self._jwt = JWTVerifier(config.jwt) if config.jwt is not None else None
        self._static = [(t.token.encode("utf-8"), t.grant) for t in config.static_tokens]

    def verify_token(self, token: str) -> Grant:
        """The grant of a bearer token (static or JWT); ``InvalidToken``."""
        given = token.encode("utf-8", "surrogateescape")
        found: Grant | None = None
        for secret, grant in self._static:
            # No early exit: every configured token is compared every time.
            if hmac.compare_digest(given, secret) and found is None:
                found = grant
        if found is not None:
            return found
        if self._jwt is None:
            raise InvalidToken("unknown token")
        return self._jwt.verify(token)

    async def authenticate(self, credential: Credential | None) -> Grant:
        """The grant of ``credential``, the anonymous grant for None."""
        if credential is None:
            return self.config.anonymous
        if credential.carrier is not Carrier.TICKET:
            return self.verify_token(credential.value)
        if self.tickets is None:
            raise InvalidToken("tickets are not enabled")
        grant = await self.tickets.redeem(credential.value)
        if grant is None:
            raise InvalidToken("unknown, used or expired ticket")
        if grant.expired(self._clock()):
            raise TokenExpired("the token behind this ticket expired")
        return grant

    async def identify(self, info: RequestInfo, ticket: str | None = None) -> Grant:
        """The grant of the request's one credential (the anonymous grant
        when it has none); ``InvalidToken``, ``TokenExpired`` or
        ``InvalidRequest``. A ``ticket`` is used up by this call."""
        credential = find_credential(info.headers, ticket, self.config.cookie_name)
        return await self.authenticate(credential)

    async def decide(
        self, info: RequestInfo, grant: Grant, action: Action, channel: str
    ) -> Grant:
        """May ``grant`` do ``action`` on ``channel``? The grant to run
        under (the hook may shorten ``expires_at``), else
        ``Unauthenticated`` for the anonymous grant, ``InsufficientScope``
        for any other. Call it again for each publish on an open
        WebSocket: it never looks at credentials, so a used ticket is no
        obstacle."""
        hook = self.config.hook
        if hook is None:
            if grant.allows(action, channel):
                return grant
            reason = f"no right to {action.value} on {channel!r}"
        else:
            seen = dataclasses.replace(info, grant=grant)
            decision = await call_hook(hook, seen, action, channel)
            if decision.allowed:
                if decision.expires_at is None or (
                    grant.expires_at is not None and grant.expires_at <= decision.expires_at
                ):
                    return grant
                return dataclasses.replace(grant, expires_at=decision.expires_at)
            reason = decision.reason or f"not allowed to {action.value} on {channel!r}"
        if grant.source == "anonymous":
            raise Unauthenticated(reason)
        raise InsufficientScope(reason)

    async def authorize(
        self, info: RequestInfo, action: Action, channel: str, ticket: str | None = None
    ) -> Grant:
        """``decide(info, await identify(info, ticket), action, channel)``:
        the whole check for one request."""
        return await self.decide(info, await self.identify(info, ticket), action, channel)

    async def issue_ticket(self, grant: Grant, body: bytes) -> tuple[str, float]:
        """Answer a ticket request: ``(ticket, expires_in)`` for the JSON
        ``body`` ``{"channels": [...]}``, which ``grant`` must cover.

        The ticket grants subscribe only, for the channels asked, until
        the token's own ``exp``; it lives ``ticket_ttl`` seconds or until
        the token expires, whichever is first. ``Unauthenticated`` for
        the anonymous grant, ``InvalidRequest`` for a ticket's grant (a
        ticket cannot buy another), ``InsufficientScope`` beyond the grant.
        """
        if self.tickets is None:
            raise AuthConfigError("issue_ticket needs a TicketStore")
        if grant.source == "anonymous":
            raise Unauthenticated("a ticket is bought with a token")
        if grant.source == "ticket":
            raise InvalidRequest("a ticket cannot buy another ticket")
        channels = parse_ticket_request(body, grant)
        ttl = self.config.ticket_ttl
        if grant.expires_at is not None:
            left = grant.expires_at - self._clock()
            if left <= 0:
                raise TokenExpired("the token expired")
            ttl = min(ttl, left)
        ticket_grant = Grant(grant.subject, channels, PatternSet.NONE, grant.expires_at, "ticket")
        return await self.tickets.issue(ticket_grant, ttl)
