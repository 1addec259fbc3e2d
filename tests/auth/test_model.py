"""Grant: rights, expiry and the JSON form ticket stores keep."""

from __future__ import annotations

import pytest

from rawpush.auth.errors import InsufficientScope
from rawpush.auth.model import Action, Grant
from rawpush.auth.patterns import PatternSet

GRANT = Grant("alice", PatternSet.parse(["a", "b.*"]), PatternSet.parse(["c"]), 100.0, "jwt")


def test_rights_by_action() -> None:
    assert GRANT.allows(Action.SUBSCRIBE, "b.x")
    assert not GRANT.allows(Action.PUBLISH, "b.x")
    GRANT.require(Action.PUBLISH, "c")
    with pytest.raises(InsufficientScope, match="publish on 'a'"):
        GRANT.require(Action.PUBLISH, "a")


def test_expiry() -> None:
    assert not GRANT.expired(99.9)
    assert GRANT.expired(100.0)
    assert not Grant().expired(1e12)


def test_json_round_trip() -> None:
    assert Grant.from_json(GRANT.to_json()) == GRANT
    assert Grant.from_json(Grant().to_json().encode()) == Grant()


@pytest.mark.parametrize(
    "text",
    ["[]", '{"sub": 1, "subscribe": [], "publish": [], "exp": null, "source": "x"}',
     '{"sub": null, "subscribe": [], "publish": [], "exp": "1", "source": "x"}',
     '{"sub": null, "subscribe": [], "publish": [], "exp": null, "source": 1}',
     '{"sub": null, "subscribe": {}, "publish": [], "exp": null, "source": "x"}',
     '{"sub": null, "subscribe": ["a*"], "publish": [], "exp": null, "source": "x"}',
     "not json"],
)
def test_from_json_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        Grant.from_json(text)
