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
