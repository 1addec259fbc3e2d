"""``rawpush serve --access-log``: one line per exchange, in the documented
format (``rawpush.server.access_log``), off unless asked for."""

from __future__ import annotations

import asyncio
import base64
import os
import re
from pathlib import Path

from tests.cli.support import LIMIT, USAGE, finish, interrupt, one_line, read_until, run, spawn

#: the nine fields of a line, as the module docstring lists them
LINE = re.compile(
    r"(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) "
    r"(?P<peer>127\.0\.0\.1:\d+) (?P<method>\S+) (?P<target>\S+) "
    r"(?P<version>HTTP/1\.[01]|HTTP/2|-) (?P<status>\d{3}|-) (?P<bytes>\d+) "
    r"(?P<seconds>\d+\.\d{3}) (?P<transport>\S+)"
)


async def start(*flags: str) -> tuple[asyncio.subprocess.Process, int, list[str]]:
    proc = await spawn("serve", "--port", "0", *flags)
    assert proc.stderr is not None
    seen: list[str] = []
    line = await read_until(proc.stderr, "listening on", seen)
    return proc, int(line.rsplit(":", 1)[1]), seen


async def exchange(port: int, raw: bytes, *, keep: bool = False) -> bytes:
    """Send ``raw``; the status line of the answer. The connection is
    closed at once unless ``keep`` (then the answer is read to its end)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        async with asyncio.timeout(LIMIT):
            status = await reader.readline()
            if keep:
                await reader.read()
        return status
    finally:
        writer.close()


def get(path: str, *extra: str) -> bytes:
    return "\r\n".join([f"GET {path} HTTP/1.1", "Host: x", *extra, "", ""]).encode()


def upgrade(path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return get(
        path, "Upgrade: websocket", "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13",
    )  # fmt: skip


def parse(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    return [m.groupdict() for m in matches if m is not None]


async def test_one_line_per_request_and_per_session(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    proc, port, _ = await start("--access-log", str(path))
    try:
        assert (await exchange(port, get("/healthz"))).startswith(b"HTTP/1.1 200 ")
        assert (await exchange(port, get("/nowhere"))).startswith(b"HTTP/1.1 404 ")
        post = b"POST /publish/news HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
        assert (await exchange(port, post)).startswith(b"HTTP/1.1 200 ")
        # A session's line comes when it ends: here when the client leaves.
        assert (await exchange(port, get("/sse/news"))).startswith(b"HTTP/1.1 200 ")
        assert (await exchange(port, upgrade("/ws/news"))).startswith(b"HTTP/1.1 101 ")
        odd = get("/poll/news?cursor=0-0&timeout=0&q=%C3%A9\\")
        assert (await exchange(port, odd)).startswith(b"HTTP/1.1 200 ")
        assert (await exchange(port, b"NOT HTTP\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
    finally:
        assert await interrupt(proc) == 0
    got = parse(path.read_text())
    by_target = {(g["method"], g["target"]): g for g in got}
    assert len(got) == 7, got
    expected = [
        ("GET", "/healthz", "200", "http"),
        ("GET", "/nowhere", "404", "http"),
        ("POST", "/publish/news", "200", "http"),
        ("GET", "/sse/news", "200", "sse"),
        ("GET", "/ws/news", "101", "ws"),
        ("GET", "/poll/news?cursor=0-0&timeout=0&q=%C3%A9\\x5C", "200", "poll"),
        ("-", "-", "400", "http"),
    ]
    for method, target, status, transport in expected:
        line = by_target[(method, target)]
        assert (line["status"], line["transport"]) == (status, transport), line
        assert int(line["bytes"]) > 0, line
        assert line["version"] == ("-" if method == "-" else "HTTP/1.1"), line


async def test_stdout_and_refused_connections_with_debug_records() -> None:
    proc, port, seen = await start(
        "--access-log", "-", "--max-connections", "1", "--log-level", "debug"
    )
    assert proc.stderr is not None
    held_reader, held = await asyncio.open_connection("127.0.0.1", port)
    try:
        held.write(get("/sse/held"))
        async with asyncio.timeout(LIMIT):
            assert (await held_reader.readline()).startswith(b"HTTP/1.1 200 ")
        # One connection too many: the answer built before any request.
        assert (await exchange(port, get("/healthz"), keep=True)).startswith(b"HTTP/1.1 503 ")
        refused = await read_until(proc.stderr, "refused", seen)
        assert re.fullmatch(
            r"rawpush: debug: rawpush\.server: refused 127\.0\.0\.1:\d+: 503 \(max connections\)",
            refused,
        ), refused
    finally:
        held.close()
        proc.send_signal(2)
        code, out, err = await finish(proc)
    assert code == 0, err
    assert "Traceback" not in err
    lines = parse(out)
    assert [(g["method"], g["status"]) for g in lines] == [("-", "503"), ("GET", "200")], lines
    assert lines[1]["transport"] == "sse"


async def test_off_by_default() -> None:
    proc, port, _ = await start()
    assert (await exchange(port, get("/healthz"))).startswith(b"HTTP/1.1 200 ")
    proc.send_signal(2)
    code, out, _ = await finish(proc)
    assert (code, out) == (0, "")


async def test_a_path_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "access.log"
    code, _, err = await run("serve", "--port", "0", "--access-log", str(target))
    assert code == USAGE
    assert one_line(err) == f"rawpush: --access-log {target}: no such file or directory"


async def test_every_worker_writes_its_lines(tmp_path: Path) -> None:
    """``--workers 2``: the workers are forked after the log was opened;
    each writes its own lines (to the same file), none is lost."""
    from tests.cluster.redis_server import RedisServer, require_redis

    require_redis()
    redis = RedisServer(tmp_path)
    redis.start()
    path = tmp_path / "access.log"
    try:
        proc, port, seen = await start(
            "--workers", "2", "--redis", redis.url, "--access-log", str(path)
        )
        assert proc.stderr is not None
        await read_until(proc.stderr, "workers sharing the port", seen)
        # 40 connections: all on one worker with a chance of 2 in 2**40.
        for i in range(40):
            answer = await exchange(port, get(f"/healthz?n={i}", "Connection: close"), keep=True)
            assert answer.startswith(b"HTTP/1.1 200 "), answer
        proc.send_signal(15)
        code, _, err = await finish(proc)
        assert code == 0, err
    finally:
        redis.kill()
    targets = sorted(g["target"] for g in parse(path.read_text()))
    assert targets == sorted(f"/healthz?n={i}" for i in range(40))
