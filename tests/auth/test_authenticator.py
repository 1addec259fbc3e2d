"""The whole decision: credential -> grant -> hook or patterns -> answer."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest

from rawpush.auth.authenticator import AuthConfig, Authenticator, StaticToken
from rawpush.auth.errors import (
    AuthConfigError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    TokenExpired,
    Unauthenticated,
)
from rawpush.auth.hooks import Decision, RequestInfo, call_hook
from rawpush.auth.model import Action, Grant
from rawpush.auth.patterns import PatternSet
from rawpush.auth.tickets import MemoryTicketStore
from rawpush.auth.tokens import JWTConfig
from tests.auth.conftest import SECRET, Clock, claims, hs256

PUBLISH_TOKEN = "publish-token-0123456789abcdef"
SUB, PUB = Action.SUBSCRIBE, Action.PUBLISH


def info(*headers: tuple[str, str]) -> RequestInfo:
    return RequestInfo("GET", "/sse/news", headers, ("127.0.0.1", 50000))


def bearer(token: str) -> RequestInfo:
    return info(("authorization", f"Bearer {token}"))


def auth(clock: Clock | None = None, **kwargs: Any) -> Authenticator:
    config = AuthConfig(
        jwt=JWTConfig(secret=SECRET),
        static_tokens=(StaticToken(PUBLISH_TOKEN),),
        **kwargs,
    )
    return Authenticator(config, MemoryTicketStore(clock=clock or Clock()), clock or Clock())


def user_token(**rights: list[str]) -> str:
    return hs256(claims(rawpush=rights))


async def test_anonymous_may_subscribe_by_default() -> None:
    grant = await auth().authorize(info(), SUB, "news")
    assert grant.source == "anonymous"


async def test_6750_3_1_anonymous_publish_gets_a_bare_challenge() -> None:
    with pytest.raises(Unauthenticated) as exc:
        await auth().authorize(info(), PUB, "news")
    assert exc.value.status == 401
    assert exc.value.www_authenticate == 'Bearer realm="rawpush"'


async def test_static_token_publishes_everywhere_but_subscribes_nowhere() -> None:
    a = auth()
    grant = await a.authorize(bearer(PUBLISH_TOKEN), PUB, "any.channel")
    assert grant.source == "static" and grant.expires_at is None
    with pytest.raises(InsufficientScope):
        await a.authorize(bearer(PUBLISH_TOKEN), SUB, "news")


async def test_static_token_with_subscribe_rights() -> None:
    token = StaticToken(PUBLISH_TOKEN, subscribe=PatternSet.ALL, subject="backend")
    a = Authenticator(AuthConfig(static_tokens=(token,)))
    assert (await a.authorize(bearer(PUBLISH_TOKEN), SUB, "x")).subject == "backend"
    assert PUBLISH_TOKEN not in repr(token)


async def test_unknown_token_without_jwt_is_invalid() -> None:
    a = Authenticator(AuthConfig(static_tokens=(StaticToken(PUBLISH_TOKEN),)))
    with pytest.raises(InvalidToken, match="unknown"):
        await a.authorize(bearer(PUBLISH_TOKEN + "x"), PUB, "a")


def test_static_token_must_be_a_b64token() -> None:
    with pytest.raises(AuthConfigError):
        StaticToken("has space")


async def test_jwt_rights_decide() -> None:
    a = auth()
    token = user_token(subscribe=["user.42.*"], publish=["chat.*"])
    assert await a.authorize(bearer(token), SUB, "user.42.inbox")
    assert await a.authorize(bearer(token), PUB, "chat.room")
    with pytest.raises(InsufficientScope) as exc:
        await a.authorize(bearer(token), PUB, "news")
    assert exc.value.status == 403 and exc.value.close_code == 1008


async def test_a_jwt_in_the_cookie() -> None:
    token = user_token(subscribe=["news"])
    grant = await auth().authorize(info(("cookie", f"rawpush_token={token}")), SUB, "news")
    assert grant.subject == "alice"


async def test_6750_3_1_an_invalid_credential_is_refused_even_where_anonymous_may() -> None:
    with pytest.raises(InvalidToken) as exc:
        await auth().authorize(bearer("garbage"), SUB, "news")
    assert 'error="invalid_token"' in exc.value.www_authenticate


async def test_malformed_authorization_is_400() -> None:
    with pytest.raises(InvalidRequest):
        await auth().authorize(info(("authorization", "Basic abc")), SUB, "news")


async def test_expired_jwt() -> None:
    with pytest.raises(TokenExpired):
        await auth().authorize(bearer(hs256(claims(lifetime=-3600))), SUB, "news")


async def test_ticket_round_trip(clock: Clock) -> None:
    a = auth(clock)
    token = user_token(subscribe=["user.42.*"], publish=["chat.*"])
    grant = a.verify_token(token)
    ticket, expires_in = await a.issue_ticket(grant, b'{"channels": ["user.42.inbox"]}')
    assert expires_in == 30.0
    used = await a.authorize(info(), SUB, "user.42.inbox", ticket=ticket)
    assert used.source == "ticket" and used.subject == "alice"
    assert used.expires_at == grant.expires_at
    assert not used.publish
    with pytest.raises(InvalidToken, match="used"):
        await a.authorize(info(), SUB, "user.42.inbox", ticket=ticket)


async def test_a_ticket_grants_only_its_channels(clock: Clock) -> None:
    a = auth(clock)
    grant = a.verify_token(user_token(subscribe=["*"]))
    ticket, _ = await a.issue_ticket(grant, b'{"channels": ["news"]}')
    with pytest.raises(InsufficientScope):
        await a.authorize(info(), SUB, "sports", ticket=ticket)


async def test_ticket_lifetime_never_outlives_the_token() -> None:
    clock = Clock(1_000.0)
    a = auth(clock)
    grant = Grant("bob", PatternSet.ALL, PatternSet.NONE, 1_010.0)
    ticket, expires_in = await a.issue_ticket(grant, b'{"channels": ["a"]}')
    assert expires_in == 10.0
    clock.now = 1_010.0
    with pytest.raises(InvalidToken):  # expired in the store
        await a.authorize(info(), SUB, "a", ticket=ticket)
    clock.now = 1_011.0
    with pytest.raises(TokenExpired):
        await a.issue_ticket(grant, b'{"channels": ["a"]}')


async def test_a_ticket_whose_token_expired_is_refused() -> None:
    clock = Clock(1_000.0)
    store = MemoryTicketStore(clock=Clock(0.0))  # the store's clock never moves
    a = Authenticator(AuthConfig(), store, clock)
    ticket, _ = await store.issue(Grant("bob", PatternSet.ALL, expires_at=999.0, source="ticket"))
    with pytest.raises(TokenExpired):
        await a.authorize(info(), SUB, "a", ticket=ticket)


async def test_who_may_buy_a_ticket(clock: Clock) -> None:
    a = auth(clock)
    with pytest.raises(Unauthenticated):
        await a.issue_ticket(AuthConfig().anonymous, b'{"channels": ["a"]}')
    with pytest.raises(InvalidRequest):
        await a.issue_ticket(Grant(subscribe=PatternSet.ALL, source="ticket"), b'{"channels":[]}')
    with pytest.raises(AuthConfigError):
        await Authenticator(AuthConfig()).issue_ticket(Grant(), b"{}")


async def test_tickets_disabled() -> None:
    with pytest.raises(InvalidToken, match="not enabled"):
        await Authenticator(AuthConfig()).authorize(info(), SUB, "a", ticket="t" * 43)


async def test_hook_sees_the_grant_and_decides() -> None:
    seen: list[tuple[RequestInfo, Action, str]] = []

    def hook(request: RequestInfo, action: Action, channel: str) -> bool:
        seen.append((request, action, channel))
        return channel != "secret"

    a = auth(hook=hook)
    token = user_token(subscribe=["news"])
    grant = await a.authorize(bearer(token), PUB, "anything")  # the hook overrides
    assert grant.subject == "alice"
    assert seen[0][0].grant == grant and seen[0][0].peer == ("127.0.0.1", 50000)
    with pytest.raises(InsufficientScope):
        await a.authorize(bearer(token), SUB, "secret")
    with pytest.raises(Unauthenticated, match="not allowed"):
        await a.authorize(info(), SUB, "secret")


async def test_async_hook_with_a_decision() -> None:
    async def hook(request: RequestInfo, action: Action, channel: str) -> Decision:
        if channel == "short":
            return Decision(True, expires_at=1.0)
        return Decision(False, reason="closed for maintenance")

    a = auth(hook=hook)
    token = user_token()
    assert (await a.authorize(bearer(token), SUB, "short")).expires_at == 1.0
    with pytest.raises(InsufficientScope, match="maintenance"):
        await a.authorize(bearer(token), SUB, "other")


async def test_hook_expiry_never_extends_the_token() -> None:
    def hook(request: RequestInfo, action: Action, channel: str) -> Decision:
        return Decision(True, expires_at=4e9)

    token = user_token()
    grant = await auth(hook=hook).authorize(bearer(token), SUB, "a")
    assert grant.expires_at is not None and grant.expires_at < 4e9
    anonymous = await auth(hook=hook).authorize(info(), SUB, "a")
    assert anonymous.expires_at == 4e9


async def test_call_hook_refuses_a_wrong_return_type() -> None:
    def hook(request: RequestInfo, action: Action, channel: str) -> Awaitable[bool]:
        async def answer() -> Any:
            return "yes"

        return answer()

    with pytest.raises(AuthConfigError, match="str"):
        await call_hook(hook, info(), SUB, "a")


def test_request_info_header() -> None:
    request = info(("accept", "a"), ("accept", "b"))
    assert request.header("Accept") == "a, b"
    assert request.header("x") is None


async def test_a_static_token_with_subscribe_rights_buys_a_full_ttl_ticket(clock: Clock) -> None:
    a = auth(clock)
    static = StaticToken(PUBLISH_TOKEN, subscribe=PatternSet.parse(["feed.*"])).grant
    ticket, expires_in = await a.issue_ticket(static, b'{"channels": ["feed.a"]}')
    assert expires_in == 30.0
    used = await a.authorize(info(), SUB, "feed.a", ticket=ticket)
    assert used.expires_at is None and used.subject == "static"


async def test_a_connection_decides_again_without_its_used_ticket(clock: Clock) -> None:
    a = auth(clock)
    grant = a.verify_token(user_token(subscribe=["a", "b"]))
    ticket, _ = await a.issue_ticket(grant, b'{"channels": ["a", "b"]}')
    request = info()
    held = await a.identify(request, ticket)
    assert await a.decide(request, held, SUB, "a") == held
    assert await a.decide(request, held, SUB, "b") == held
    with pytest.raises(InsufficientScope):
        await a.decide(request, held, PUB, "a")
