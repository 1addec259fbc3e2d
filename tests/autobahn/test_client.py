"""Autobahn|Testsuite against ``rawpush.client.connect`` (kosoku in fuzzingserver mode).

kosoku listens (a child process on port 0) and runs each case on the
connection the client opens for it; ``client_driver`` echoes every
message the way Autobahn's client runners do, with permessage-deflate
offered for sections 12 and 13. kosoku exits after ``/updateReports`` and
writes the report, which must hold every selected case, each OK or
INFORMATIONAL.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.autobahn.client_driver import NO_CONTEXT_TAKEOVER, Compression, run_all
from tests.autobahn.support import (
    KOSOKU,
    Child,
    check_report,
    deflate_ci_cases,
    include_args,
    select,
)

AGENT = "rawpush"


async def _run(
    outdir: Path, cases: list[str], *, compression: Compression, concurrency: int, timeout: float
) -> str:
    argv = [KOSOKU, "-m", "fuzzingserver", "127.0.0.1:0", "-o", str(outdir)]
    async with Child([*argv, *include_args(cases)], ready=r"ws://[\d.]+:\d+") as server:
        async with asyncio.timeout(timeout):
            count = await run_all(
                server.url, agent=AGENT, compression=compression, concurrency=concurrency
            )
        assert count == len(cases)
        await server.wait(60.0)
    return check_report(outdir, cases, agent=AGENT)


async def test_rfc6455_autobahn_1_to_10_rawpush_client(tmp_path: Path) -> None:
    cases = select(exclude=["9.*", "12.*", "13.*"])
    print(await _run(tmp_path, cases, compression=None, concurrency=16, timeout=120))


async def test_rfc7692_autobahn_12_13_rawpush_client_deflate(tmp_path: Path) -> None:
    cases = deflate_ci_cases()
    # 12.*: the default offer (context takeover both ways). 13.*: the
    # servers' parameter matrix, which needs client_no_context_takeover
    # offered for three of its seven accept policies.
    twelve = [c for c in cases if c.startswith("12.")]
    thirteen = [c for c in cases if c.startswith("13.")]
    print(await _run(tmp_path / "12", twelve, compression="deflate", concurrency=4, timeout=900))
    print(await _run(tmp_path / "13", thirteen, compression=NO_CONTEXT_TAKEOVER, concurrency=4,
                     timeout=900))


async def test_rfc6455_autobahn_9_performance_rawpush_client(tmp_path: Path) -> None:
    # All 54 cases one after the other; the driver's limits take 16 MiB.
    cases = select(["9.*"])
    print(await _run(tmp_path, cases, compression=None, concurrency=1, timeout=300))
