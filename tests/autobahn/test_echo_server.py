"""Autobahn|Testsuite against ``rawpush echo`` (kosoku in fuzzingclient mode).

RFC 6455 sections 1-7 and 10 against the plain server, RFC 7692
(sections 12 and 13) against ``--compression deflate``, and the
performance section 9 against a server whose limits take its 16 MiB
messages. Each run is a child process with a bound on its time.
"""

from __future__ import annotations

from pathlib import Path

from tests.autobahn.support import (
    RAWPUSH,
    Child,
    check_report,
    deflate_ci_cases,
    run_kosoku_client,
    select,
)

# Section 9 sends messages of up to 16 MiB, in one frame (9.1.6, 9.2.6).
NINE_LIMIT = str(16 * 1024 * 1024)


async def test_rfc6455_autobahn_1_to_10_rawpush_echo(tmp_path: Path) -> None:
    cases = select(exclude=["9.*", "12.*", "13.*"])
    async with Child([RAWPUSH, "echo", "--port", "0"]) as server:
        # Parallel cases: most of the time is the cases' own timers (1-2 s
        # waits for a close or a drop), not CPU.
        await run_kosoku_client(server.url, tmp_path, cases, parallelism=16, timeout=120)
    print(check_report(tmp_path, cases))


async def test_rfc7692_autobahn_12_13_rawpush_echo_deflate(tmp_path: Path) -> None:
    cases = deflate_ci_cases()
    argv = [RAWPUSH, "echo", "--port", "0", "--compression", "deflate"]
    async with Child(argv) as server:
        await run_kosoku_client(server.url, tmp_path, cases, parallelism=4, timeout=900)
    print(check_report(tmp_path, cases))


async def test_rfc6455_autobahn_9_performance_rawpush_echo(tmp_path: Path) -> None:
    # All 54 cases, one at a time (they measure time), each bounded by its
    # own case timeout and the whole run by the one below (about 6 s here).
    cases = select(["9.*"])
    argv = [RAWPUSH, "echo", "--port", "0", "--max-message-size", NINE_LIMIT,
            "--max-frame-size", NINE_LIMIT]
    async with Child(argv) as server:
        await run_kosoku_client(server.url, tmp_path, cases, parallelism=1, timeout=300)
    print(check_report(tmp_path, cases))
