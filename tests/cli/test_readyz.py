"""``/readyz`` next to ``/healthz``: ready only while the backplane's
store answers (a memory hub always; a Redis hub only while Redis does)."""

from __future__ import annotations

from rawpush.client.http import parse_url, request
from rawpush.hub import Hub
from rawpush.hub.redis import RedisBackplane
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from tests.cli.support import LIMIT, free_port


async def _get(base: str, path: str) -> tuple[int, str | None, bytes]:
    response = await request("GET", parse_url(base + path), timeout=LIMIT)
    body = await response.read(1 << 16, timeout=LIMIT)
    await response.aclose()
    return response.status, response.header("content-type"), body


async def test_memory_hub_is_ready() -> None:
    async with Server(ServerConfig(port=0)) as server:
        assert await _get(server.url, "/readyz") == (200, "text/plain; charset=utf-8", b"ready\n")
        assert await _get(server.url, "/healthz") == (200, "text/plain; charset=utf-8", b"ok\n")


async def test_unreachable_redis_is_not_ready_but_healthy() -> None:
    backplane = RedisBackplane(f"redis://127.0.0.1:{free_port()}", connect_timeout=0.5)
    hub = Hub(backplane=backplane)
    try:
        async with Server(ServerConfig(port=0), hub) as server:
            status, kind, body = await _get(server.url, "/readyz")
            assert (status, kind) == (503, "text/plain; charset=utf-8")
            assert body.startswith(b"not ready: Redis unavailable"), body
            assert (await _get(server.url, "/healthz"))[0] == 200
    finally:
        await hub.close()
