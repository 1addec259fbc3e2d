"""Tickets in a real redis-server: shared by every node, redeemed once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from rawpush.auth.errors import AuthConfigError
from rawpush.auth.model import Grant
from rawpush.auth.patterns import PatternSet
from rawpush.auth.redis_tickets import RedisTicketStore
from tests.cluster.redis_server import RedisServer, require_redis

GRANT = Grant("alice", PatternSet.parse(["news", "u.*"]), PatternSet.NONE, 1.9e9, "ticket")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_redis()
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop(save=False)


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisTicketStore]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_server.url)
    yield RedisTicketStore(client, prefix="test:ticket:")
    await client.flushdb()
    await client.aclose()


async def test_issue_then_redeem_once(store: RedisTicketStore) -> None:
    ticket, expires_in = await store.issue(GRANT, ttl=30)
    assert expires_in == 30.0
    assert await store.redeem(ticket) == GRANT
    assert await store.redeem(ticket) is None


async def test_another_node_redeems_it(store: RedisTicketStore, redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    other_client = aioredis.Redis.from_url(redis_server.url)
    try:
        other = RedisTicketStore(other_client, prefix="test:ticket:")
        ticket, _ = await store.issue(GRANT)
        assert await other.redeem(ticket) == GRANT
        assert await store.redeem(ticket) is None
    finally:
        await other_client.aclose()


async def test_concurrent_redemptions_give_the_grant_to_one(store: RedisTicketStore) -> None:
    ticket, _ = await store.issue(GRANT)
    results = await asyncio.gather(*(store.redeem(ticket) for _ in range(20)))
    assert results.count(GRANT) == 1
    assert results.count(None) == 19


async def test_redis_expires_the_key(store: RedisTicketStore, redis_server: RedisServer) -> None:
    ticket, expires_in = await store.issue(GRANT, ttl=0.0001)
    assert expires_in == 0.001  # one millisecond at least
    key = b"test:ticket:" + ticket.encode()
    # PTTL: Redis holds the deadline itself; no sleeping to watch it pass.
    reply = redis_server.command(b"PTTL", key)
    assert reply in (b":1\r\n", b":0\r\n", b":-2\r\n")
    ticket, _ = await store.issue(GRANT, ttl=30)
    reply = redis_server.command(b"PTTL", b"test:ticket:" + ticket.encode())
    assert reply.startswith(b":") and 29_000 <= int(reply[1:]) <= 30_000


async def test_a_made_up_ticket_never_reaches_redis(store: RedisTicketStore) -> None:
    assert await store.redeem("not-a-ticket") is None
    assert await store.redeem("*" * 43) is None


def test_prefix_is_required() -> None:
    with pytest.raises(AuthConfigError):
        RedisTicketStore(None, prefix="")  # type: ignore[arg-type]
