"""``rawpush tail`` and ``rawpush publish`` as real subprocesses against an
in-process server: what a user types, what a user sees."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest

from tests.client.test_sse_server import LIMIT, publish, rawpush_server


async def rawpush(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rawpush", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    async with asyncio.timeout(LIMIT):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def read_lines(proc: asyncio.subprocess.Process, count: int) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(LIMIT):
        while len(lines) < count:
            line = await proc.stdout.readline()
            assert line, "tail exited early"
            lines.append(line.decode().rstrip("\n"))
    return lines


async def interrupt(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        code, _, err = await finish(proc)
    except BaseException:
        # A tail that ignored Ctrl-C is the failure under test; never leave
        # it running after the test.
        proc.kill()
        await proc.wait()
        raise
    return code, err


@pytest.mark.parametrize("path", ["sse", "poll", "ws"])
async def test_tail_json_resumes_and_exits_on_ctrl_c(path: str) -> None:
    async with rawpush_server() as server:
        start = await publish(server.url, "c", "start")
        ids = [await publish(server.url, "c", f"m{n}", event="tick") for n in range(2)]
        base = server.url.replace("http", "ws") if path == "ws" else server.url
        proc = await rawpush("tail", f"{base}/{path}/c", "--json", "--last-event-id", start)
        lines = await read_lines(proc, 2)
        ids.append(await publish(server.url, "c", "live\nline"))
        lines += await read_lines(proc, 1)
        code, err = await interrupt(proc)
    assert [json.loads(line) for line in lines] == [
        {"id": ids[0], "event": "tick", "data": "m0"},
        {"id": ids[1], "event": "tick", "data": "m1"},
        {"id": ids[2], "event": "message", "data": "live\nline"},
    ]
    assert code == 130
    assert "Traceback" not in err


async def test_tail_plain_prints_data_one_line_per_event() -> None:
    async with rawpush_server() as server:
        start = await publish(server.url, "c", "start")
        await publish(server.url, "c", "two\nlines")
        proc = await rawpush("tail", f"{server.url}/sse/c", "--last-event-id", start)
        lines = await read_lines(proc, 1)
        code, err = await interrupt(proc)
    assert lines == ["two\\nlines"]
    assert code == 130 and "Traceback" not in err


async def test_publish_http_prints_id_and_uses_event_and_token() -> None:
    async with rawpush_server(publish_token="sesame") as server:
        url = f"{server.url}/publish/c"
        start = await publish(server.url, "c", "start", token="sesame")
        code, out, err = await finish(
            await rawpush("publish", url, "hello", "--event", "greet", "--token", "sesame")
        )
        assert code == 0, err
        ident = out.strip()
        proc = await rawpush("tail", f"{server.url}/poll/c", "--json", "--last-event-id", start)
        lines = await read_lines(proc, 1)
        await interrupt(proc)
        refused = await finish(await rawpush("publish", url, "x", "--token", "wrong"))
    assert json.loads(lines[0]) == {"id": ident, "event": "greet", "data": "hello"}
    assert refused[0] == 4  # Exit.REFUSED
    assert refused[2].startswith(f"rawpush: publish to {url}: 40"), refused[2]
    assert refused[2].count("\n") == 1 and "Traceback" not in refused[2]


async def test_publish_over_websocket_prints_the_id() -> None:
    async with rawpush_server() as server:
        ws_url = server.url.replace("http", "ws") + "/ws/c"
        start = await publish(server.url, "c", "start")
        code, out, err = await finish(await rawpush("publish", ws_url, "over ws"))
        assert code == 0, err
        proc = await rawpush("tail", f"{server.url}/poll/c", "--json", "--last-event-id", start)
        lines = await read_lines(proc, 1)
        await interrupt(proc)
    assert json.loads(lines[0]) == {"id": out.strip(), "event": "message", "data": "over ws"}


async def test_bad_url_is_one_clean_line() -> None:
    code, _, err = await finish(await rawpush("tail", "ftp://example.com/x"))
    assert code == 2  # Exit.USAGE
    assert err.startswith("rawpush: bad URL: unsupported URL scheme") and "Traceback" not in err


def test_cli_loop_hides_only_the_311_connect_race(caplog: pytest.LogCaptureFixture) -> None:
    from rawpush.cli.runner import _quiet_connect_race

    loop = asyncio.new_event_loop()
    try:
        _quiet_connect_race(loop, {"message": "race", "exception": asyncio.InvalidStateError()})
        assert not caplog.records
        _quiet_connect_race(loop, {"message": "real trouble", "exception": ValueError("x")})
        assert [r.getMessage() for r in caplog.records] == ["real trouble"]
    finally:
        loop.close()
