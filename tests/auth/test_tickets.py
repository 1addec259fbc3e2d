"""Single-use tickets: the request grammar and the in-memory store."""

from __future__ import annotations

import pytest

from rawpush.auth.errors import AuthConfigError, InsufficientScope, InvalidRequest, PatternError
from rawpush.auth.model import Grant
from rawpush.auth.patterns import MAX_PATTERNS, PatternSet
from rawpush.auth.tickets import (
    MAX_TICKET_REQUEST,
    MemoryTicketStore,
    is_ticket,
    new_ticket,
    parse_ticket_request,
)
from tests.auth.conftest import Clock

TOKEN_GRANT = Grant("alice", PatternSet.parse(["news", "user.42.*"]), PatternSet.NONE, None)


def test_ticket_request_within_the_rights() -> None:
    wanted = parse_ticket_request(b'{"channels": ["news", "user.42.inbox"]}', TOKEN_GRANT)
    assert wanted == PatternSet.parse(["news", "user.42.inbox"])


def test_ticket_request_may_name_a_narrower_pattern() -> None:
    wanted = parse_ticket_request(b'{"channels": ["user.42.a.*"]}', TOKEN_GRANT)
    assert wanted.matches("user.42.a.b")


@pytest.mark.parametrize(
    "body", [b'{"channels": ["sports"]}', b'{"channels": ["user.42"]}', b'{"channels": ["*"]}',
             b'{"channels": ["user.*"]}'],
)
def test_ticket_request_beyond_the_rights_is_403(body: bytes) -> None:
    with pytest.raises(InsufficientScope):
        parse_ticket_request(body, TOKEN_GRANT)


@pytest.mark.parametrize(
    "body",
    [
        b"", b"[]", b"null", b'"channels"', b"{}", b'{"channels": []}',
        b'{"channels": "news"}', b'{"channels": ["news"], "ttl": 5}',
        b'{"channels": ["news"], "channels": ["x"]}',  # RFC 8259 section 4
        b'{"channels": [NaN]}', b'{"channels": ["news"]} x', b"\xff",
        '{"channels": ["news"]}'.encode("utf-16"), b"[" * 100_000,
        b"{" + b" " * MAX_TICKET_REQUEST + b"}",
    ],
)
def test_malformed_ticket_request_is_400(body: bytes) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_ticket_request(body, TOKEN_GRANT)
    assert info.value.status == 400


def test_ticket_request_with_a_bad_pattern_is_a_pattern_error() -> None:
    with pytest.raises(PatternError):
        parse_ticket_request(b'{"channels": ["a*"]}', TOKEN_GRANT)
    with pytest.raises(InvalidRequest):
        parse_ticket_request(b'{"channels": [%s]}' % b",".join(
            b'"c%d"' % i for i in range(MAX_PATTERNS + 1)), TOKEN_GRANT)


def test_tickets_are_unguessable_urlsafe_strings() -> None:
    tickets = {new_ticket() for _ in range(50)}
    assert len(tickets) == 50
    assert all(is_ticket(t) and len(t) == 43 for t in tickets)
    assert not is_ticket("a" * 42)
    assert not is_ticket("a" * 42 + "=")


async def test_a_ticket_is_redeemed_exactly_once(clock: Clock) -> None:
    store = MemoryTicketStore(clock=clock)
    ticket, expires_in = await store.issue(TOKEN_GRANT)
    assert expires_in == 30.0
    assert await store.redeem(ticket) == TOKEN_GRANT
    assert await store.redeem(ticket) is None
    assert await store.redeem("never issued") is None


async def test_a_ticket_expires(clock: Clock) -> None:
    store = MemoryTicketStore(clock=clock)
    ticket, _ = await store.issue(TOKEN_GRANT, ttl=5)
    clock.now += 5
    assert await store.redeem(ticket) is None
    ticket, _ = await store.issue(TOKEN_GRANT, ttl=5)
    clock.now += 4.9
    assert await store.redeem(ticket) == TOKEN_GRANT


async def test_expired_tickets_are_dropped_and_the_store_is_bounded(clock: Clock) -> None:
    store = MemoryTicketStore(max_tickets=3, clock=clock)
    first, _ = await store.issue(TOKEN_GRANT)
    for _ in range(5):
        await store.issue(TOKEN_GRANT)
    assert len(store) == 3
    assert await store.redeem(first) is None  # the oldest was forgotten
    clock.now += 31
    await store.issue(TOKEN_GRANT)
    assert len(store) == 1


@pytest.mark.parametrize("ttl", [0, -1, 3601, float("nan"), True])
async def test_bad_ttl(ttl: float) -> None:
    with pytest.raises(AuthConfigError):
        await MemoryTicketStore().issue(TOKEN_GRANT, ttl)


def test_bad_bound() -> None:
    with pytest.raises(AuthConfigError):
        MemoryTicketStore(max_tickets=0)
