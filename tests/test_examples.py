"""The programs in examples/ run as a user runs them (subprocesses, real
sockets), so they cannot silently rot as the library changes."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

from rawpush.client import EventSource, connect

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WAIT = 20.0  # bound on any one wait; nothing here should take a second


async def start(*args: str, stdin: bool = False) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-u", *args,
        stdin=asyncio.subprocess.PIPE if stdin else None,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def first_url(proc: asyncio.subprocess.Process, pattern: str) -> str:
    assert proc.stdout is not None
    async with asyncio.timeout(WAIT):
        while line := (await proc.stdout.readline()).decode():
            if match := re.search(pattern, line):
                return match.group(0)
    raise AssertionError("the example printed no URL")


async def stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    try:
        async with asyncio.timeout(WAIT):
            _, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert b"Traceback" not in err, err.decode()
    assert proc.returncode is not None
    return proc.returncode


async def events(url: str, count: int) -> list[str]:
    got: list[str] = []
    async with asyncio.timeout(WAIT), EventSource(url) as source:
        async for event in source:
            got.append(event.data)
            if len(got) == count:
                break
    return got


async def test_embedded_server_publishes_the_clock() -> None:
    proc = await start(str(EXAMPLES / "embedded_server.py"))
    try:
        url = await first_url(proc, r"http://127\.0\.0\.1:\d+/sse/clock")
        ticks = await events(url, 2)
        assert all(re.fullmatch(r"\d\d:\d\d:\d\d", tick) for tick in ticks)
    finally:
        await stop(proc)


async def test_sse_ticker_streams_named_prices_then_stops() -> None:
    proc = await start(str(EXAMPLES / "sse_ticker.py"), "--port", "0", "--ticks", "4")
    try:
        url = await first_url(proc, r"http://127\.0\.0\.1:\d+/sse/ticker")
        [price] = await events(url, 1)
        assert set(json.loads(price)) == {"symbol", "price"}
    finally:
        assert await stop(proc) in (0, 130, -signal.SIGINT)


async def test_ws_chat_room_echoes_what_a_member_types() -> None:
    room = await start(str(EXAMPLES / "ws_chat.py"), "serve", "0")
    try:
        url = await first_url(room, r"ws://127\.0\.0\.1:\d+/ws/room")
        async with connect(url) as watcher:
            member = await start(str(EXAMPLES / "ws_chat.py"), "join", "ada", url, stdin=True)
            assert member.stdin is not None and member.stdout is not None
            member.stdin.write(b"hello room\n")
            await member.stdin.drain()
            async with asyncio.timeout(WAIT):
                seen = await watcher.recv()
                printed = (await member.stdout.readline()).decode()
            member.stdin.close()
            assert await stop(member) in (0, 130, -signal.SIGINT)
        assert isinstance(seen, str) and json.loads(seen)["data"] == "ada: hello room"
        assert printed.strip() == "ada: hello room"
    finally:
        await stop(room)


async def test_fastapi_app_mounts_the_hub_and_publishes_from_a_route() -> None:
    from rawpush.client.http import parse_url, request

    proc = await start(str(EXAMPLES / "fastapi_app.py"), "--port", "0")
    try:
        url = await first_url(proc, r"http://127\.0\.0\.1:\d+/push/sse/news")
        announce = url.replace("/push/sse/news", "/announce?text=")
        ids = []
        for text in ("first", "second"):
            response = await request("POST", parse_url(announce + text), timeout=WAIT)
            ids.append(json.loads(await response.read(1024, timeout=WAIT))["id"])
            await response.aclose()
        # From the first id on: the second comes from the replay, never missed.
        async with asyncio.timeout(WAIT), EventSource(url, last_event_id=ids[0]) as source:
            event = await anext(source)
        assert (event.id, event.data) == (ids[1], "second")
    finally:
        assert await stop(proc) in (0, 130, -signal.SIGINT)
