"""``rawpush publish``: the data from an argument, stdin or a file; the id
on stdout, or the server's message in one line."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from rawpush.server.app import Server
from rawpush.server.config import ServerConfig
from tests.cli.support import NETWORK, REFUSED, USAGE, free_port, one_line, run


async def _last(server: Server, start: str, out: str) -> str | bytes:
    """The data of the event whose id ``publish`` printed."""
    ident = out.strip()
    replay = await server.hub.since("c", start)
    (event,) = [e for e in replay.events if e.id == ident]
    return event.data


async def test_data_from_argument_stdin_and_file(tmp_path: Path) -> None:
    big = "x" * (300 * 1024)  # over what one argv string may hold (128 KiB on Linux)
    path = tmp_path / "data.txt"
    path.write_text(big)
    async with Server(ServerConfig(port=0)) as server:
        start = (await server.hub.publish("c", "start")).id
        url = f"{server.url}/publish/c"
        code, out, err = await run("publish", url, "plain")
        assert (code, err) == (0, "") and await _last(server, start, out) == "plain"
        code, out, err = await run("publish", url, "-", stdin=b"from\nstdin")
        assert (code, err) == (0, "") and await _last(server, start, out) == "from\nstdin"
        code, out, err = await run("publish", url, f"@{path}")
        assert (code, err) == (0, "") and await _last(server, start, out) == big


async def test_errors_are_one_line() -> None:
    async with Server(ServerConfig(port=0, publish_token="sesame")) as server:
        url = f"{server.url}/publish/c"
        code, _, err = await run("publish", url, "x")
        assert code == REFUSED
        line = one_line(err)
        assert line.startswith(f"rawpush: publish to {url}: 401 "), line
        assert "{" not in line  # the server's message, not its JSON
        code, _, err = await run("publish", f"{server.url}/publish/a%2Fb", "x", "--token", "sesame")
        assert code == REFUSED
        assert one_line(err) == (
            f"rawpush: publish to {server.url}/publish/a%2Fb: 400 invalid channel name 'a%2Fb': "
            "expected 1-128 characters of [A-Za-z0-9._:-]"
        )
    code, _, err = await run("publish", f"{server.url}/publish/c", "@/no/such/file")
    assert code == USAGE
    assert one_line(err) == "rawpush: publish @/no/such/file: no such file or directory"
    url = f"http://127.0.0.1:{free_port()}/publish/c"
    code, _, err = await run("publish", url, "x")
    assert code == NETWORK
    assert one_line(err) == (
        f"rawpush: publish to {url}: connection refused: nothing is listening there"
    )


async def test_another_kind_of_server() -> None:
    app = web.Application()
    async def not_rawpush(_: web.Request) -> web.Response:
        return web.Response(text="<html>ok</html>")

    app.router.add_post("/publish/c", not_rawpush)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/publish/c"
        code, _, err = await run("publish", url, "x")
    finally:
        await runner.cleanup()
    assert code == REFUSED
    assert one_line(err) == (
        f"rawpush: publish to {url}: the answer has no event id "
        "(is this a rawpush server's /publish/CHANNEL URL?)"
    )
