"""The channel pattern grammar (rawpush.auth.patterns' docstring)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawpush.auth.errors import PatternError
from rawpush.auth.patterns import MAX_PATTERNS, PatternSet, is_channel, parse_pattern

channel_chars = st.sampled_from("abcAZ09._:-")
channels = st.text(channel_chars, min_size=1, max_size=12)


def test_exact_name_matches_itself_only() -> None:
    rights = PatternSet.parse(["news"])
    assert rights.matches("news")
    assert not rights.matches("news.eu")
    assert not rights.matches("new")


def test_prefix_matches_below_the_dot_at_any_depth() -> None:
    rights = PatternSet.parse(["user.42.*"])
    assert rights.matches("user.42.inbox")
    assert rights.matches("user.42.a.b")
    assert rights.matches("user.42..")


def test_prefix_does_not_match_the_prefix_itself_nor_a_longer_segment() -> None:
    rights = PatternSet.parse(["user.42.*"])
    assert not rights.matches("user.42")
    assert not rights.matches("user.42.")
    assert not rights.matches("user.420")
    assert not rights.matches("user.4")


def test_star_alone_matches_every_channel() -> None:
    assert PatternSet.parse(["*"]).matches("anything.at:all")
    assert PatternSet.parse(["*"]) == PatternSet.ALL


@pytest.mark.parametrize(
    "text",
    ["", "a*", "*.a", "a.*.b", ".*", "a.**", "**", "a b", "é", "a/b", "a.*x", "x" * 129,
     "x" * 127 + ".*", "a\n", " a"],
)
def test_anything_else_is_a_pattern_error(text: str) -> None:
    with pytest.raises(PatternError) as info:
        parse_pattern(text)
    assert info.value.status == 400
    assert info.value.error == "invalid_request"


@pytest.mark.parametrize("value", [None, 1, ["a"], b"a"])
def test_a_pattern_is_a_string(value: object) -> None:
    with pytest.raises(PatternError, match="string"):
        parse_pattern(value)


def test_lengths_at_the_limits() -> None:
    assert parse_pattern("x" * 128) == ("x" * 128, False)
    assert parse_pattern("x" * 126 + ".*") == ("x" * 126 + ".", True)
    assert PatternSet.parse(["x" * 126 + ".*"]).matches("x" * 126 + ".y")


def test_too_many_patterns() -> None:
    PatternSet.parse([f"c{i}" for i in range(MAX_PATTERNS)])
    with pytest.raises(PatternError, match="more than"):
        PatternSet.parse([f"c{i}" for i in range(MAX_PATTERNS + 1)])


def test_empty_set_matches_nothing_and_is_false() -> None:
    assert not PatternSet.NONE
    assert not PatternSet.NONE.matches("a")
    assert PatternSet.parse(["a"])
    assert PatternSet.parse(["a.*"])


def test_star_with_other_patterns_is_all() -> None:
    # Found by fuzz_auth: ["news", "*"] read back from its patterns (["*"])
    # compared unequal to itself.
    rights = PatternSet.parse(["news", "user.42.*", "*"])
    assert rights == PatternSet.ALL
    assert PatternSet.parse(rights.patterns) == rights


def test_patterns_round_trip_sorted() -> None:
    rights = PatternSet.parse(["z", "a.*", "m"])
    assert rights.patterns == ["a.*", "m", "z"]
    assert PatternSet.parse(rights.patterns) == rights
    assert PatternSet.parse(["a", "*"]).patterns == ["*"]
    assert repr(rights) == "PatternSet.parse(['a.*', 'm', 'z'])"


@pytest.mark.parametrize(
    ("mine", "other", "covered"),
    [
        (["*"], ["*"], True),
        (["*"], ["a.*", "b"], True),
        (["a.*"], ["*"], False),
        (["a.*"], ["a.b"], True),
        (["a.*"], ["a"], False),
        (["a.*"], ["a.b.*"], True),
        (["a.b.*"], ["a.*"], False),
        (["a"], ["a.*"], False),
        (["a", "a.*"], ["a", "a.x.*"], True),
        (["ab.*"], ["a.*"], False),
        (["a.*"], [], True),
    ],
)
def test_covers(mine: list[str], other: list[str], covered: bool) -> None:
    assert PatternSet.parse(mine).covers(PatternSet.parse(other)) is covered


@given(st.lists(channels, max_size=4), st.lists(channels, max_size=4), channels)
def test_prefix_match_agrees_with_the_definition(
    exact: list[str], prefixes: list[str], channel: str
) -> None:
    patterns = exact + [p + ".*" for p in prefixes if len(p) <= 126]
    rights = PatternSet.parse(patterns)
    expected = channel in exact or any(
        channel.startswith(p + ".") and len(channel) > len(p) + 1 for p in prefixes
    )
    assert rights.matches(channel) is expected


@given(st.lists(channels, max_size=3), st.lists(channels, max_size=3), channels)
def test_covers_implies_matches(mine: list[str], theirs: list[str], channel: str) -> None:
    a = PatternSet.parse([*mine, *(p + ".*" for p in mine)])
    b = PatternSet.parse([*theirs, *(p + ".*" for p in theirs)])
    if a.covers(b) and b.matches(channel):
        assert a.matches(channel)


def test_is_channel() -> None:
    assert is_channel("a:b-c_d.e")
    assert not is_channel("a*")
    assert not is_channel(3)
    assert not is_channel("")
