"""Autobahn|Testsuite against the production server: ``rawpush serve --ws-echo``.

``--ws-echo`` mounts a channel-less echo route, ``/echo``, on the same
WebSocket driver as ``/ws/{channel}``, so the cases exercise what users
run: the HTTP/1.1 upgrade, the session, the server's limits and timers.
Same selections as ``test_echo_server``, except that 12.* and 13.* run
whole here.
"""

from __future__ import annotations

from pathlib import Path

from tests.autobahn.support import (
    RAWPUSH,
    Child,
    check_report,
    run_kosoku_client,
    select,
)

# No keepalive Pings: a case longer than the 20 s interval would get a frame
# it does not expect (the echo server turns them off the same way).
SERVE = [RAWPUSH, "serve", "--port", "0", "--ws-echo", "--ws-ping-interval", "86400"]
# Section 9 sends messages of up to 16 MiB, in one frame (9.1.6, 9.2.6).
NINE_LIMIT = str(16 * 1024 * 1024)


def echo_url(child: Child) -> str:
    # The server announces http://HOST:PORT; the route is ws://HOST:PORT/echo.
    assert child.url.startswith("http://"), child.url
    return "ws://" + child.url.removeprefix("http://") + "/echo"


async def test_rfc6455_autobahn_1_to_10_rawpush_serve(tmp_path: Path) -> None:
    cases = select(exclude=["9.*", "12.*", "13.*"])
    async with Child(SERVE) as server:
        await run_kosoku_client(echo_url(server), tmp_path, cases, parallelism=16, timeout=120)
    print(check_report(tmp_path, cases))


async def test_rfc7692_autobahn_12_13_rawpush_serve_deflate(tmp_path: Path) -> None:
    # The production path runs every compression case (all 216; several
    # minutes, two at a time for the machine's two cores); the echo and
    # client targets run the CI subset.
    cases = select(["12.*", "13.*"])
    async with Child([*SERVE, "--compression", "deflate"]) as server:
        await run_kosoku_client(echo_url(server), tmp_path, cases, parallelism=2, timeout=1500)
    print(check_report(tmp_path, cases))


async def test_rfc6455_autobahn_9_performance_rawpush_serve(tmp_path: Path) -> None:
    # All 54 cases, one at a time, bounded as in test_echo_server.
    cases = select(["9.*"])
    async with Child([*SERVE, "--max-message-size", NINE_LIMIT]) as server:
        await run_kosoku_client(echo_url(server), tmp_path, cases, parallelism=1, timeout=300)
    print(check_report(tmp_path, cases))
