"""``rawpush tail`` as a user runs it: what it says on stderr, when it
gives up, TLS, and a server restart under it on each transport."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rawpush.hub import Hub
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from tests.cli.support import (
    NETWORK,
    REFUSED,
    free_port,
    interrupt,
    last_line,
    read_until,
    run,
    spawn,
)
from tests.tls_support import self_signed


async def test_nothing_listening_gives_up_after_its_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}/sse/c"
    code, out, err = await run("tail", url, "--retries", "2", "--retry-delay", "0.05")
    assert code == NETWORK and out == ""
    lines = err.splitlines()
    assert lines[0] == f"rawpush: connecting to {url}"
    retries = [line for line in lines if "retrying in" in line]
    assert len(retries) == 2, err
    assert retries[0].startswith(
        "rawpush: connection refused: nothing is listening there; retrying in "
    )
    assert last_line(err) == (
        f"rawpush: tail {url}: connection refused: nothing is listening there; gave up after "
        "3 attempts (is the server running? --retries N or --retry-forever to wait longer)"
    )


async def test_unknown_host_is_permanent() -> None:
    url = "http://no-such-host.invalid/sse/c"
    code, _, err = await run("tail", url)
    assert code == NETWORK
    assert "retrying" not in err
    assert last_line(err).startswith(f"rawpush: tail {url}: cannot resolve the host name")


@pytest.mark.parametrize("path", ["sse", "poll", "ws"])
async def test_a_refusal_prints_the_servers_words(path: str) -> None:
    async with Server(ServerConfig(port=0)) as server:
        base = server.url.replace("http", "ws") if path == "ws" else server.url
        url = f"{base}/{path}/bad%2Fname"
        code, _, err = await run("tail", url)
    assert code == REFUSED
    assert "retrying" not in err
    line = last_line(err)
    assert line.startswith(f"rawpush: tail {url}: "), line
    assert "400 invalid channel name 'bad%2Fname': expected 1-128 characters" in line


@pytest.mark.parametrize("scheme", ["https", "wss"])
async def test_self_signed_certificate(tmp_path: Path, scheme: str) -> None:
    cert, key = self_signed(tmp_path)
    async with Server(ServerConfig(port=0, certfile=cert, keyfile=key)) as server:
        url = f"{scheme}://127.0.0.1:{server.port}/{'ws' if scheme == 'wss' else 'sse'}/c"
        code, _, err = await run("tail", url)
        assert code == NETWORK
        assert "retrying" not in err
        assert last_line(err) == (
            f"rawpush: tail {url}: certificate verification failed: self-signed certificate "
            "(pass --cacert FILE to trust its issuer, or --insecure to skip the check)"
        )
        for flags in (["--insecure"], ["--cacert", cert]):
            proc = await spawn("tail", url, *flags)
            assert proc.stdout is not None and proc.stderr is not None
            seen: list[str] = []
            await read_until(proc.stderr, "connected to", seen)
            await server.hub.publish("c", "over tls")
            await read_until(proc.stdout, "over tls", [])
            assert await interrupt(proc) == 130


@pytest.mark.parametrize("path", ["sse", "poll", "ws"])
async def test_a_server_restart_is_resumed_and_said(path: str) -> None:
    hub = Hub()  # outlives both servers: ids and history carry over
    config = ServerConfig(port=0, drain_retry_ms=100)
    first = Server(config, hub)
    await first.start()
    port = first.port
    base = first.url.replace("http", "ws") if path == "ws" else first.url
    proc = await spawn("tail", f"{base}/{path}/c", "--format", "plain")
    assert proc.stdout is not None and proc.stderr is not None
    err: list[str] = []
    try:
        await read_until(proc.stderr, "connected to", err)
        before = await hub.publish("c", "before", event="tick")
        line = await read_until(proc.stdout, "before", [])
        assert line == f"{before.id}\ttick\tbefore"
        await first.close()
        # Nothing listens now: tail's next attempt fails and it says when it
        # retries (a long poll drained at the right moment would otherwise
        # reach the new server without ever failing, and say nothing).
        await read_until(proc.stderr, "retrying in", err)
        second = Server(ServerConfig(port=port, drain_retry_ms=100), hub)
        await second.start()
        try:
            after = await hub.publish("c", "after")
            line = await read_until(proc.stdout, "after", [])
            assert line == f"{after.id}\tmessage\tafter"
            resumed = await read_until(proc.stderr, "connected to", err)
        finally:
            await second.close()
    finally:
        code = await interrupt(proc)
        await hub.close()
    assert code == 130
    name = {"sse": "SSE", "poll": "long polling", "ws": "WebSocket"}[path]
    assert resumed == (
        f"rawpush: connected to 127.0.0.1:{port} via {name}, resuming after {before.id}"
    )
    retry = next(line for line in err if "retrying in" in line)
    assert "Traceback" not in "\n".join(err)
    if path != "poll":  # a drained long poll is answered: the next poll just fails over
        assert "(the server's retry hint)" in retry, err


async def test_json_and_gap() -> None:
    async with Server(ServerConfig(port=0)) as server:
        start = await server.hub.publish("c", "start")
        await server.hub.publish("c", "one\ntwo", event="e")
        proc = await spawn("tail", f"{server.url}/sse/c", "--json", "--last-event-id", start.id)
        assert proc.stdout is not None
        line = await read_until(proc.stdout, "one", [])
        assert json.loads(line)["data"] == "one\ntwo"
        assert await interrupt(proc) == 130
