"""``serve_forever`` in this process: it says where it listens, drains on
SIGTERM, and runs as one worker of ``serve --workers`` on Redis (the CLI
tests run the same in subprocesses)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from rawpush.server.app import Server, WorkerRole, serve_forever
from rawpush.server.config import ServerConfig
from tests.cluster.redis_server import RedisServer, require_redis
from tests.server.support import WAIT, request


@pytest.fixture(autouse=True)
def _unfreeze() -> Iterator[None]:
    yield
    gc.unfreeze()  # serve_forever freezes what start-up made; the suite goes on


async def test_it_says_where_it_listens_and_drains_on_sigterm(
    capfd: pytest.CaptureFixture[str],
) -> None:
    task = asyncio.ensure_future(serve_forever(ServerConfig(port=0)))
    err = ""
    async with asyncio.timeout(WAIT):
        while "listening on" not in err:
            await asyncio.sleep(0.01)
            assert not task.done()
            err += capfd.readouterr().err
    assert "anyone who can reach this server may subscribe and publish" in err
    port = int(err.split("listening on http://127.0.0.1:")[1].split()[0])
    assert (await request(port, "GET", "/healthz")).status == 200
    os.kill(os.getpid(), signal.SIGTERM)  # the handler it installed stops it
    async with asyncio.timeout(WAIT):
        await task
    assert "rawpush: draining" in capfd.readouterr().err


async def test_a_worker_on_redis_tells_its_parent_and_counts_itself(tmp_path: Path) -> None:
    require_redis()
    redis = RedisServer(tmp_path)
    await asyncio.to_thread(redis.start)
    ready: asyncio.Future[Server] = asyncio.get_running_loop().create_future()
    try:
        role = WorkerRole(index=3, ready=ready.set_result)
        task = asyncio.ensure_future(
            serve_forever(ServerConfig(port=0), redis_url=redis.url, worker=role)
        )
        async with asyncio.timeout(WAIT):
            server = await ready
        assert server.reuse_port
        assert f'rawpush_worker_info{{pid="{os.getpid()}",worker="3"}} 1' in server.metrics.render()
        published = await request(server.port, "POST", "/publish/w", body=b"x")
        assert published.status == 200
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(WAIT):
            await task
    finally:
        redis.kill()
