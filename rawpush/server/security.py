"""Who may subscribe and publish: the server's side of ``rawpush.auth``.

Every path asks the same ``Authenticator`` with the same action names, so
one rule covers ``POST /publish``, WebSocket text frames, long polls and
event streams, on every host:

- a request is described once (``Caller``: the request's method, raw path,
  headers, query, peer address, and the ``?ticket=`` it carries);
- ``admit`` turns it into the ``Grant`` the exchange runs under, or raises
  ``HTTPError`` with the status and ``WWW-Authenticate`` challenge the
  refusal implies (RFC 6750 section 3), so a route or a session answers it
  like any other HTTP error;
- an open WebSocket asks ``allowed`` again for each publish.

Without any configuration the hub is open: anyone who can reach it may
subscribe and publish (what the two-command quick start needs; ``rawpush
serve`` says so at start-up). ``publish_token`` restricts publishing to
holders of the token; ``ServerConfig.auth`` configures the rest.

Cross-site requests: when a browser carries the credential by itself (a
cookie) or in the URL (a ticket), any page the user visits could make it do
so, so such requests must come from an allowed origin or the server's own
(cross-site WebSocket hijacking); a bearer header cannot be added by a
foreign page and needs no such rule.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rawpush.auth import (
    Action,
    AuthConfig,
    Authenticator,
    AuthError,
    Grant,
    PatternSet,
    RequestInfo,
    StaticToken,
    TicketStore,
)
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Request
from rawpush.server.config import ServerConfig

__all__ = ["OPEN", "Caller", "admit", "auth_config", "caller", "refusal"]

#: the rights of anyone when nothing is configured: the open hub
OPEN = Grant(subscribe=PatternSet.ALL, publish=PatternSet.ALL, source="anonymous")
#: anyone's rights once a publish token is set: read, not write
READ_ONLY = Grant(subscribe=PatternSet.ALL, publish=PatternSet.NONE, source="anonymous")


def auth_config(config: ServerConfig) -> AuthConfig:
    """The authorization a server runs: ``config.auth`` plus the publish
    token, or the open hub when neither is set."""
    base = config.auth
    static: tuple[StaticToken, ...] = ()
    if config.publish_token is not None:
        # A backend holding the token may read as well as write.
        token = StaticToken(config.publish_token, subscribe=PatternSet.ALL, subject="publish-token")
        static = (token,)
    if base is None:
        anonymous = READ_ONLY if static else OPEN
        return AuthConfig(static_tokens=static, anonymous=anonymous)
    if not static:
        return base
    return AuthConfig(
        jwt=base.jwt,
        static_tokens=(*base.static_tokens, *static),
        anonymous=base.anonymous,
        cookie_name=base.cookie_name,
        ticket_ttl=base.ticket_ttl,
        hook=base.hook,
    )


def is_open(config: AuthConfig) -> bool:
    """True when anyone may publish anywhere (said at start-up)."""
    return config.anonymous.publish == PatternSet.ALL and config.hook is None


def authenticator(config: ServerConfig, tickets: TicketStore | None) -> Authenticator:
    return Authenticator(auth_config(config), tickets=tickets, clock=time.time)


@dataclass(frozen=True, slots=True)
class Caller:
    """What authorization needs of one request, kept by the exchange."""

    info: RequestInfo
    ticket: str | None
    origin: str | None
    host: str | None


def caller(request: Request, peer: tuple[str, int] | None) -> Caller:
    info = RequestInfo(
        request.method,
        request.path,
        tuple(request.headers),
        peer,
        dict(request.query),
    )
    ticket = request.query.get("ticket")
    return Caller(info, ticket, request.header("origin"), request.header("host"))


def refusal(exc: AuthError) -> HTTPError:
    """The HTTP answer an ``AuthError`` implies (401/403/400, its challenge)."""
    return HTTPError(str(exc), exc.status, tuple(exc.headers))


def _same_site(config: ServerConfig, who: Caller) -> bool:
    origin = who.origin
    if origin is None:
        return True  # not a browser's cross-origin request
    allowed = config.allowed_origins
    if allowed is not None and origin.lower() in {o.lower() for o in allowed}:
        return True
    # The server's own origin: scheme://host[:port] naming the Host it was asked.
    host = (who.host or "").lower()
    return bool(host) and origin.lower().split("://", 1)[-1] == host


async def admit(
    config: ServerConfig, auth: Authenticator, who: Caller, action: Action, channel: str
) -> Grant:
    """The grant for ``action`` on ``channel``, or ``HTTPError`` (401, 403,
    400; 503 when the ticket store cannot be reached)."""
    ambient = who.ticket is not None or (
        auth.config.cookie_name is not None
        and who.info.header("authorization") is None
        and auth.config.cookie_name in (who.info.header("cookie") or "")
    )
    if ambient and not _same_site(config, who):
        raise HTTPError("a cookie or ticket is only accepted from an allowed origin", 403)
    try:
        return await auth.authorize(who.info, action, channel, who.ticket)
    except AuthError as exc:
        raise refusal(exc) from None
    except OSError as exc:  # a Redis ticket store that cannot be reached
        raise HTTPError(f"ticket store unavailable: {exc}", 503) from None


async def allowed(auth: Authenticator, who: Caller, grant: Grant, channel: str) -> AuthError | None:
    """May an open connection running under ``grant`` publish on
    ``channel``? None, or the refusal (its ``close_code`` for a WebSocket)."""
    try:
        await auth.decide(who.info, grant, Action.PUBLISH, channel)
    except AuthError as exc:
        return exc
    return None
