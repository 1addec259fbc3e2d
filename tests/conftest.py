"""Shared test configuration.

Hypothesis runs without per-example deadlines: CI machines have two cores
shared with fuzzers and servers, and timing belongs in bench/, not tests.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def require(what: str, available: bool) -> None:
    """Stop a test that needs a real peer (curl, node, redis-server, chromium).

    In CI (``CI`` set) a missing peer is a failure: .ci/run installs them, so
    its absence means the install step is broken. Elsewhere the test is
    skipped with a loud reason, so a newcomer sees what to install.
    """
    import pytest

    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (.ci/run installs it) but is missing")
    pytest.skip(f"NEEDS {what}: install it to run this test (CI fails without it)")
