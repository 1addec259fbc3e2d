"""``rawpush tail --http2`` and ``rawpush publish --http2`` as a user runs
them, against a real server on 127.0.0.1: the server's counters say the
exchange was HTTP/2, and a server without HTTP/2 gets one line, at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from rawpush.hub import Hub
from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from tests.cli.support import REFUSED, USAGE, interrupt, one_line, read_until, run, spawn
from tests.tls_support import self_signed

H2 = (("protocol", "h2"),)
H1 = (("protocol", "h1"),)
FIX = "(is it serving with --no-http2? leave out --http2 to use HTTP/1.1)"


def h2_connections(server: Server) -> float:
    return server.metrics.get("rawpush_protocol_connections_total", H2)


@pytest.mark.parametrize("path", ["sse", "poll"])
async def test_9113_3_3_tail_http2_prints_events(path: str) -> None:
    async with Server(ServerConfig(port=0)) as server:
        url = f"{server.url}/{path}/c"
        proc = await spawn("tail", "--http2", url, "--format", "plain")
        assert proc.stdout is not None and proc.stderr is not None
        seen: list[str] = []
        connected = await read_until(proc.stderr, "connected to", seen)
        name = "SSE" if path == "sse" else "long polling"
        assert connected == f"rawpush: connected to 127.0.0.1:{server.port} via {name} over HTTP/2"
        event = await server.hub.publish("c", "over h2", event="tick")
        line = await read_until(proc.stdout, "over h2", [])
        assert line == f"{event.id}\ttick\tover h2"
        assert await interrupt(proc) == 130
        assert h2_connections(server) >= 1
        assert server.metrics.get("rawpush_h2_streams_total") >= 1


async def test_9113_6_8_tail_http2_follows_a_drain_and_resumes() -> None:
    hub = Hub()  # outlives both servers: ids and history carry over
    first = Server(ServerConfig(port=0, drain_retry_ms=100), hub)
    await first.start()
    port = first.port
    url = f"{first.url}/sse/c"
    proc = await spawn("tail", "--http2", url, "--format", "plain")
    assert proc.stdout is not None and proc.stderr is not None
    err: list[str] = []
    try:
        await read_until(proc.stderr, "connected to", err)
        before = await hub.publish("c", "before")
        assert await read_until(proc.stdout, "before", []) == f"{before.id}\tmessage\tbefore"
        await first.close()  # GOAWAY, then the retry hint on the open stream
        retry = await read_until(proc.stderr, "retrying in", err)
        second = Server(ServerConfig(port=port, drain_retry_ms=100), hub)
        await second.start()
        try:
            after = await hub.publish("c", "after")
            assert await read_until(proc.stdout, "after", []) == f"{after.id}\tmessage\tafter"
            resumed = await read_until(proc.stderr, "connected to", err)
            assert h2_connections(second) >= 1
        finally:
            await second.close()
    finally:
        code = await interrupt(proc)
        await hub.close()
    assert code == 130
    # RFC 9113 section 6.8: the stream the GOAWAY covered finished with its hint.
    assert "(the server's retry hint)" in retry, err
    assert resumed == (
        f"rawpush: connected to 127.0.0.1:{port} via SSE over HTTP/2, resuming after {before.id}"
    )


async def test_9113_3_2_tail_http2_over_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with Server(ServerConfig(port=0, certfile=cert, keyfile=key)) as server:
        proc = await spawn("tail", "--http2", f"{server.url}/sse/c", "--cacert", cert)
        assert proc.stdout is not None and proc.stderr is not None
        await read_until(proc.stderr, "connected to", [])
        await server.hub.publish("c", "secure over h2")
        assert await read_until(proc.stdout, "secure over h2", []) == "secure over h2"
        assert await interrupt(proc) == 130
        # ALPN decides before any byte of HTTP: nothing went over HTTP/1.1.
        assert h2_connections(server) == 1
        assert server.metrics.get("rawpush_protocol_connections_total", H1) == 0


async def test_9113_3_3_publish_http2_prints_the_id() -> None:
    async with Server(ServerConfig(port=0)) as server:
        code, out, err = await run("publish", "--http2", f"{server.url}/publish/c", "hello")
        assert (code, err) == (0, "")
        ident = out.strip()
        assert ident == await server.hub.latest_id("c")
        assert h2_connections(server) == 1


async def test_9113_3_2_publish_http2_over_tls_with_event_name(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with Server(ServerConfig(port=0, certfile=cert, keyfile=key)) as server:
        start = await server.hub.publish("c", "start")
        code, out, err = await run(
            "publish", "--http2", "--cacert", cert, "--event", "tick",
            f"{server.url}/publish/c", "-", stdin=b"from stdin",
        )  # fmt: skip
        assert (code, err) == (0, "")
        replay = await server.hub.since("c", start.id)
        assert [(e.id, e.event, e.data) for e in replay.events] == [
            (out.strip(), "tick", "from stdin")
        ]
        assert server.metrics.get("rawpush_protocol_connections_total", H1) == 0


async def test_publish_http2_refusal_is_the_servers_words() -> None:
    async with Server(ServerConfig(port=0)) as server:
        code, out, err = await run("publish", "--http2", f"{server.url}/publish/bad%2Fname", "x")
    assert code == REFUSED and out == ""
    line = one_line(err)
    assert line.startswith(f"rawpush: publish to {server.url}/publish/bad%2Fname: 400 ")
    assert h2_connections(server) == 1


async def test_9113_3_3_without_http2_publish_says_so_in_one_line() -> None:
    async with Server(ServerConfig(port=0, http2=False)) as server:
        url = f"{server.url}/publish/c"
        code, out, err = await run("publish", "--http2", url, "x")
        assert code == REFUSED and out == ""
        assert one_line(err) == (
            f"rawpush: publish to {url}: 127.0.0.1:{server.port} does not speak HTTP/2: "
            f"it answered in HTTP/1.1 {FIX}"
        )
        assert await server.hub.latest_id("c") is None


@pytest.mark.parametrize("path", ["sse", "poll"])
async def test_9113_3_3_without_http2_tail_gives_up_at_once(path: str) -> None:
    async with Server(ServerConfig(port=0, http2=False)) as server:
        url = f"{server.url}/{path}/c"
        code, out, err = await run("tail", "--http2", url)
    assert code == REFUSED and out == ""
    assert "retrying" not in err, err
    lines = err.splitlines()
    assert lines[0] == f"rawpush: connecting to {url}"
    assert lines[-1] == (
        f"rawpush: tail {url}: 127.0.0.1:{server.port} does not speak HTTP/2: "
        f"it answered in HTTP/1.1 {FIX}"
    )
    assert len(lines) == 2, err


async def test_9113_3_2_without_alpn_h2_tail_and_publish_say_so(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    config = ServerConfig(port=0, certfile=cert, keyfile=key, http2=False)
    async with Server(config) as server:
        why = f"127.0.0.1:{server.port} did not negotiate HTTP/2 (ALPN 'h2') over TLS {FIX}"
        url = f"{server.url}/publish/c"
        code, _, err = await run("publish", "--http2", "--cacert", cert, url, "x")
        assert code == REFUSED
        assert one_line(err) == f"rawpush: publish to {url}: {why}"
        url = f"{server.url}/sse/c"
        code, _, err = await run("tail", "--http2", "--cacert", cert, url)
        assert code == REFUSED
        assert err.splitlines()[-1] == f"rawpush: tail {url}: {why}"


@pytest.mark.parametrize("command", ["tail", "publish"])
async def test_http2_needs_an_http_url(command: str) -> None:
    args = ["ws://127.0.0.1:9/ws/c"] + (["x"] if command == "publish" else [])
    code, out, err = await run(command, "--http2", *args)
    assert code == USAGE and out == ""
    assert one_line(err).endswith(": --http2 needs an http(s):// URL")


async def test_http2_is_in_the_help() -> None:
    for command in ("tail", "publish"):
        code, out, _ = await run(command, "--help")
        assert code == 0 and "--http2" in out
