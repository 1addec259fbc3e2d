"""Hub under storms and faults: dot-segment names, idempotent publishes, channel lifecycle."""

from __future__ import annotations

import pytest

from rawpush.hub import Hub, InvalidChannel, validate_channel

from .conftest import Recorder


@pytest.mark.parametrize("name", [".", "..", "...", "." * 128])
async def test_rfc3986_5_2_4_dot_segment_channel_names_are_refused(hub: Hub, name: str) -> None:
    # A browser removes "." and ".." path segments before sending
    # (RFC 3986 section 5.2.4): such a channel could never be subscribed to.
    listener = Recorder().deliver
    for call in (
        hub.publish(name, "x"),
        hub.since(name, None),
        hub.latest_id(name),
        hub.subscribe(name, listener),
        hub.wait_since(name, None, 0),
    ):
        with pytest.raises(InvalidChannel) as info:
            await call
        assert info.value.status == 400
        assert "dot segment" in str(info.value)


@pytest.mark.parametrize("name", [".a", "a.", "..a", "a..b", "._", ".-.", "..:"])
def test_rfc3986_5_2_4_names_with_dots_and_more_are_channels(name: str) -> None:
    assert validate_channel(name) == name
