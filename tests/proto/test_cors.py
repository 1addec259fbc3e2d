"""The one CORS rule (Fetch standard, section 3.2): who may read a push
response, and what a cache must key on."""

from __future__ import annotations

import pytest

from rawpush.proto.cors import cors_headers
from rawpush.proto.errors import LocalProtocolError

ALLOWED = ("https://a.example", "HTTPS://B.example")


@pytest.mark.parametrize("origin", [None, "https://a.example", "null", "https://evil.example"])
def test_fetch_3_2_no_allow_list_any_origin_star_and_no_vary(origin: str | None) -> None:
    assert cors_headers(origin, None) == [("Access-Control-Allow-Origin", "*")]


@pytest.mark.parametrize(
    ("origin", "echoed"),
    [("https://a.example", "https://a.example"), ("https://b.EXAMPLE", "https://b.EXAMPLE")],
)
def test_fetch_3_2_listed_origin_echoed_with_vary(origin: str, echoed: str) -> None:
    assert cors_headers(origin, ALLOWED) == [
        ("Access-Control-Allow-Origin", echoed),
        ("Vary", "Origin"),
    ]


def test_fetch_3_2_5_same_origin_request_gets_vary_but_no_grant() -> None:
    # The URL answers listed origins differently: a cache must not reuse
    # this answer for them.
    assert cors_headers(None, ALLOWED) == [("Vary", "Origin")]


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://a.example.evil", ""])
def test_fetch_3_2_unlisted_origin_refused(origin: str) -> None:
    assert cors_headers(origin, ALLOWED) is None
    assert cors_headers(origin, ()) is None


def test_fetch_3_2_lists_are_fresh_and_misuse_is_local() -> None:
    first = cors_headers(None, None)
    assert first is not None
    first.append(("X", "y"))
    assert cors_headers(None, None) == [("Access-Control-Allow-Origin", "*")]
    assert cors_headers("null", ["null"]) == [
        ("Access-Control-Allow-Origin", "null"),
        ("Vary", "Origin"),
    ]
    with pytest.raises(LocalProtocolError):
        cors_headers("https://a.example", "https://a.example")
