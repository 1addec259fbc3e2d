"""``rawpush serve`` allows as many connections as its descriptors allow:
the soft limit raised to the hard one, less a reserve, unless
``--max-connections`` says otherwise (``rawpush.cli.limits``)."""

from __future__ import annotations

import resource
import subprocess
import sys

from rawpush.cli.limits import connections_allowed, raise_descriptor_limit
from tests.cli.support import interrupt, read_until, spawn

#: a child with a low soft limit and the hard one unchanged: serve raises it
_LOW_SOFT = """
import resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
from rawpush.cli.limits import raise_descriptor_limit
print(raise_descriptor_limit(), hard)
"""


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    done = subprocess.run([sys.executable, "-c", _LOW_SOFT], capture_output=True, text=True,
                          check=True, timeout=60)
    raised, hard = (int(x) for x in done.stdout.split())
    assert raised == (1 << 20 if hard == resource.RLIM_INFINITY else hard)


def test_a_reserve_is_kept_for_what_is_not_a_connection() -> None:
    assert connections_allowed(20_000) == (19_000, 1_000)
    assert connections_allowed(256) == (192, 64)  # never fewer than 64 kept
    assert connections_allowed(10) == (1, 64)


async def test_serve_says_what_it_chose_and_a_flag_wins() -> None:
    proc = await spawn("serve", "--port", "0", "--log-level", "debug")
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        line = await read_until(proc.stderr, "max connections", seen)
    finally:
        await interrupt(proc)
    # The child inherits this process's limits: raised the same way here.
    allowed, _ = connections_allowed(raise_descriptor_limit())
    assert f"max connections {allowed}: the descriptor limit" in line, line
    proc = await spawn("serve", "--port", "0", "--log-level", "debug", "--max-connections", "7")
    assert proc.stderr is not None
    seen = []
    try:
        await read_until(proc.stderr, "listening on", seen)
    finally:
        await interrupt(proc)
    assert not any("max connections" in s for s in seen), seen
