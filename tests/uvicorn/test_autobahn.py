"""Autobahn|Testsuite (kosoku, fuzzingclient mode) against uvicorn running
``--ws rawpush.uvicorn:WebSocketProtocol`` and the echo application.

RFC 6455 sections 1-7 and 10 without compression; RFC 7692 (sections 12
and 13) with uvicorn's ``--ws-per-message-deflate`` (its default), on the
CI subset of ``tests.autobahn.support`` (RAWPUSH_AUTOBAHN_FULL=1: all 216).
Every case must be OK or INFORMATIONAL. uvicorn's keepalive is off
(``--ws-ping-interval 0``): a Ping in the middle of a case that runs
longer than the interval is an event the case did not expect. The echo goes through the whole
ASGI round trip (receive, then send), so these also check that the
replies to frames keep their order around the application's answers.
"""

from __future__ import annotations

from pathlib import Path

from tests.autobahn.support import check_report, deflate_ci_cases, run_kosoku_client, select
from tests.uvicorn.support import Uvicorn

_NO_KEEPALIVE = ("--ws-ping-interval", "0")


async def test_rfc6455_autobahn_1_to_10_under_uvicorn(tmp_path: Path) -> None:
    cases = select(exclude=["9.*", "12.*", "13.*"])
    async with Uvicorn("--ws-per-message-deflate", "false", *_NO_KEEPALIVE) as server:
        await run_kosoku_client(server.url + "/echo", tmp_path, cases, parallelism=8, timeout=120)
    print(check_report(tmp_path, cases))


async def test_rfc7692_autobahn_12_13_under_uvicorn_deflate(tmp_path: Path) -> None:
    cases = deflate_ci_cases()
    async with Uvicorn("--ws-per-message-deflate", "true", *_NO_KEEPALIVE) as server:
        await run_kosoku_client(server.url + "/echo", tmp_path, cases, parallelism=4, timeout=900)
    print(check_report(tmp_path, cases))
