"""Finding the one credential: RFC 6750 section 2, RFC 6265 sections 4.2 and 5.4."""

from __future__ import annotations

import pytest

from rawpush.auth.credentials import (
    MAX_CREDENTIAL_SIZE,
    Carrier,
    Credential,
    cookie_value,
    find_credential,
    parse_authorization,
)
from rawpush.auth.errors import InvalidRequest, InvalidToken

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln-_"


@pytest.mark.parametrize(
    "value", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER   {TOKEN}", f" Bearer {TOKEN} "]
)
def test_6750_2_1_bearer_field(value: str) -> None:
    assert parse_authorization(value) == TOKEN


def test_6750_2_1_b64token_may_end_in_padding() -> None:
    assert parse_authorization("Bearer abc+/~==") == "abc+/~=="


@pytest.mark.parametrize(
    "value",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Bearer a=b", "Bearer =",
     "Bearer\ta", "Bearer a,b", "Bearer é", "Token abc", ""],
)
def test_6750_3_1_malformed_authorization_is_invalid_request(value: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_authorization(value)


def test_oversized_bearer_token_is_invalid() -> None:
    parse_authorization("Bearer " + "a" * MAX_CREDENTIAL_SIZE)
    with pytest.raises(InvalidToken):
        parse_authorization("Bearer " + "a" * (MAX_CREDENTIAL_SIZE + 1))


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (f"rawpush_token={TOKEN}", TOKEN),
        (f"a=1; rawpush_token={TOKEN}; b=2", TOKEN),
        (f"a=1;rawpush_token={TOKEN}", TOKEN),  # section 5.4: be lenient on spaces
        (f'rawpush_token="{TOKEN}"', TOKEN),  # cookie-value may be quoted (4.1.1)
        (f"rawpush_token={TOKEN}; rawpush_token=other", TOKEN),  # longest path first
        ("junk; =x; a=\"b\\c; rawpush_token=ok", "ok"),  # others' bad cookies skipped
        ("rawpush_token=", None),
        ('rawpush_token=""', None),
        ("other=1", None),
        ("", None),
        ("rawpush_tokenx=1; xrawpush_token=2", None),
    ],
)
def test_6265_4_2_1_cookie_header(header: str, value: str | None) -> None:
    assert cookie_value(header) == value


@pytest.mark.parametrize(
    "raw", ['"abc', 'abc"', '"', "a b", "a,b", "a\\b", 'a"b', "é", "a\x7f"]
)
def test_6265_4_1_1_our_cookie_must_be_a_cookie_value(raw: str) -> None:
    with pytest.raises(InvalidToken):
        cookie_value(f"rawpush_token={raw}")


def test_oversized_cookie_is_invalid() -> None:
    with pytest.raises(InvalidToken):
        cookie_value("rawpush_token=" + "a" * (MAX_CREDENTIAL_SIZE + 1))


def test_cookie_name_is_configurable() -> None:
    assert cookie_value("sid=abc; t=1", "sid") == "abc"


def test_6750_2_bearer_field_is_found() -> None:
    found = find_credential([("authorization", f"Bearer {TOKEN}")])
    assert found == Credential(Carrier.BEARER, TOKEN)


def test_no_credential_is_none() -> None:
    assert find_credential([("host", "x"), ("cookie", "a=b")]) is None


def test_authorization_wins_over_the_ambient_cookie() -> None:
    found = find_credential([("cookie", "rawpush_token=c"), ("authorization", "Bearer h")])
    assert found == Credential(Carrier.BEARER, "h")


def test_ticket_wins_over_the_cookie() -> None:
    found = find_credential([("cookie", "rawpush_token=c")], ticket="t")
    assert found == Credential(Carrier.TICKET, "t")


def test_cookie_alone() -> None:
    found = find_credential([("cookie", "a=1"), ("cookie", "rawpush_token=c")])
    assert found == Credential(Carrier.COOKIE, "c")


def test_cookies_ignored_when_disabled() -> None:
    assert find_credential([("cookie", "rawpush_token=c")], cookie_name=None) is None


def test_6750_2_two_methods_are_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="one credential"):
        find_credential([("authorization", "Bearer h")], ticket="t")


def test_two_authorization_fields_are_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="more than one"):
        find_credential([("authorization", "Bearer a"), ("authorization", "Bearer b")])


def test_repr_hides_the_secret() -> None:
    assert TOKEN not in repr(Credential(Carrier.BEARER, TOKEN))
