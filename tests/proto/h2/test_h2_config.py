"""``H2Config``: every limit checked when the object is made (a bad one is
``LocalProtocolError``), windows within RFC 9113 section 6.9.1's bound."""

from __future__ import annotations

from typing import Any

import pytest

from rawpush.proto.errors import LocalProtocolError
from rawpush.proto.h2 import H2Config


@pytest.mark.parametrize(
    "fields",
    [
        {"http": "not a config"},
        {"max_concurrent_streams": 0},
        {"max_concurrent_streams": True},
        {"max_concurrent_streams": 1.5},
        {"initial_window_size": 65_534},
        {"initial_window_size": 1 << 31},
        {"connection_window_size": 1},
        {"flood_window": 0},
        {"max_resets": 0},
        {"max_pings": 0},
        {"max_settings": 0},
        {"max_empty_frames": 0},
        # a body at the limit would stall on its window before the 413
        {"initial_window_size": 1 << 20},
        {"initial_window_size": 8 << 20},  # above the connection's
    ],
)
def test_bad_limits_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(LocalProtocolError):
        H2Config(**fields)


def test_defaults() -> None:
    config = H2Config()
    assert config.max_concurrent_streams == 100
    assert config.initial_window_size == 2 << 20  # above the 1 MiB body limit
    # What the bodies in progress on one connection may buffer together.
    assert config.connection_window_size == 4 << 20
