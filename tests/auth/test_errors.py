"""Each refusal carries its answer (RFC 6750 section 3, RFC 6455 section 7.4)."""

from __future__ import annotations

import pytest

from rawpush.auth.errors import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_TOKEN_EXPIRED,
    AuthConfigError,
    AuthError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    PatternError,
    TokenExpired,
    Unauthenticated,
)
from rawpush.proto.errors import LocalProtocolError, RawpushError


def test_6750_3_1_no_credential_is_a_bare_challenge() -> None:
    exc = Unauthenticated("subscribe needs a token")
    assert exc.status == 401
    assert exc.www_authenticate == 'Bearer realm="rawpush"'
    assert exc.headers == (("WWW-Authenticate", 'Bearer realm="rawpush"'),)


def test_6750_3_1_invalid_token_names_the_error() -> None:
    exc = InvalidToken("bad signature")
    assert exc.status == 401
    assert exc.www_authenticate == (
        'Bearer realm="rawpush", error="invalid_token", error_description="bad signature"'
    )


def test_6750_3_1_insufficient_scope_is_403() -> None:
    exc = InsufficientScope("no right to publish on 'a'")
    assert exc.status == 403
    assert exc.www_authenticate == (
        'Bearer realm="rawpush", error="insufficient_scope",'
        " error_description=\"no right to publish on 'a'\""
    )


def test_6750_3_1_invalid_request_is_400() -> None:
    assert InvalidRequest("two credentials").status == 400
    assert InvalidRequest("x").error == "invalid_request"
    assert issubclass(PatternError, InvalidRequest)


def test_6750_3_error_description_stays_inside_its_character_set() -> None:
    # %x20-21 / %x23-5B / %x5D-7E: no quote, backslash, control or non-ASCII.
    value = InvalidToken('a "quoted" \\ é\r\nX').www_authenticate
    description = value.split('error_description="', 1)[1][:-1]
    assert description == "a ?quoted? ? ???X"


def test_6455_7_4_close_codes() -> None:
    assert InvalidToken("x").close_code == CLOSE_POLICY_VIOLATION == 1008
    assert InsufficientScope("x").close_code == 1008
    assert TokenExpired("x").close_code == CLOSE_TOKEN_EXPIRED == 4001
    assert TokenExpired("x").status == 401
    assert isinstance(TokenExpired("x"), InvalidToken)


@pytest.mark.parametrize(
    "cls", [Unauthenticated, InvalidToken, TokenExpired, InvalidRequest, PatternError,
            InsufficientScope],
)
def test_every_refusal_is_an_auth_error(cls: type[AuthError]) -> None:
    assert issubclass(cls, AuthError)
    assert issubclass(cls, RawpushError)


def test_config_errors_are_local_misuse_not_refusals() -> None:
    assert issubclass(AuthConfigError, LocalProtocolError)
    assert not issubclass(AuthConfigError, AuthError)
