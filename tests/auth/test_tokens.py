"""JWT verification (RFC 7519 section 4.1, RFC 8725 sections 2.1 and 3.1)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from rawpush.auth.errors import AuthConfigError, InvalidToken, TokenExpired
from rawpush.auth.model import Action
from rawpush.auth.patterns import PatternSet
from rawpush.auth.tokens import JWTConfig, JWTVerifier
from tests.auth.conftest import SECRET, Keys, claims, hs256


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def hs_verifier(**kwargs: Any) -> JWTVerifier:
    return JWTVerifier(JWTConfig(secret=SECRET, **kwargs))


def test_hs256_grant_carries_subject_rights_and_exp() -> None:
    payload = claims(rawpush={"subscribe": ["news", "user.42.*"], "publish": ["chat.*"]})
    grant = hs_verifier().verify(hs256(payload))
    assert grant.subject == "alice"
    assert grant.subscribe == PatternSet.parse(["news", "user.42.*"])
    assert grant.publish == PatternSet.parse(["chat.*"])
    assert grant.expires_at == payload["exp"]
    assert grant.source == "jwt"
    assert grant.allows(Action.PUBLISH, "chat.x")
    assert not grant.allows(Action.PUBLISH, "news")


def test_a_token_without_the_claim_authenticates_but_grants_nothing() -> None:
    grant = hs_verifier().verify(hs256(claims()))
    assert not grant.subscribe
    assert not grant.publish


def test_the_claim_name_is_configurable() -> None:
    grant = hs_verifier(claim="push").verify(hs256(claims(push={"publish": ["a"]})))
    assert grant.publish == PatternSet.parse(["a"])


@pytest.mark.parametrize(
    "claim",
    [["news"], {"subscribe": "news"}, {"subscribe": ["a*"]}, {"subcribe": ["a"]},
     {"publish": [1]}],
)
def test_a_malformed_claim_is_an_invalid_token(claim: object) -> None:
    with pytest.raises(InvalidToken):
        hs_verifier().verify(hs256(claims(rawpush=claim)))


def test_7519_4_1_2_sub_must_be_a_string() -> None:
    with pytest.raises(InvalidToken):
        hs_verifier().verify(hs256(claims(sub=42)))


def test_7519_4_1_4_expired_token() -> None:
    with pytest.raises(TokenExpired) as info:
        hs_verifier().verify(hs256(claims(lifetime=-3600)))
    assert info.value.close_code == 4001
    assert info.value.status == 401


def test_7519_4_1_4_leeway_accepts_a_just_expired_token() -> None:
    token = hs256(claims(lifetime=-5))
    assert hs_verifier(leeway=60).verify(token).subject == "alice"
    with pytest.raises(TokenExpired):
        hs_verifier(leeway=0).verify(token)


def test_7519_4_1_4_exp_is_required_by_default() -> None:
    token = hs256(claims(exp=None))
    with pytest.raises(InvalidToken, match="exp"):
        hs_verifier().verify(token)
    assert hs_verifier(require_exp=False).verify(token).expires_at is None


@pytest.mark.parametrize("exp", ["soon", "4000000000", 10**400])
def test_7519_2_exp_must_be_a_numeric_date(exp: object) -> None:
    with pytest.raises(InvalidToken):
        hs_verifier().verify(hs256(claims(exp=exp)))


def test_7519_4_1_5_nbf_in_the_future() -> None:
    now = claims()["iat"]
    with pytest.raises(InvalidToken, match="not yet valid"):
        hs_verifier().verify(hs256(claims(nbf=now + 3600)))
    assert hs_verifier().verify(hs256(claims(nbf=now + 5)))


def test_7519_4_1_6_iat_in_the_future() -> None:
    now = claims()["iat"]
    with pytest.raises(InvalidToken):
        hs_verifier().verify(hs256(claims(iat=now + 3600)))


def test_7519_4_1_3_audience() -> None:
    verifier = hs_verifier(audience="push.example")
    assert verifier.verify(hs256(claims(aud="push.example")))
    assert verifier.verify(hs256(claims(aud=["other", "push.example"])))
    for bad in ("other", None):
        with pytest.raises(InvalidToken):
            verifier.verify(hs256(claims(aud=bad)))


def test_7519_4_1_3_a_token_for_an_audience_is_refused_without_one() -> None:
    with pytest.raises(InvalidToken):
        hs_verifier().verify(hs256(claims(aud="someone-else")))


def test_7519_4_1_1_issuer() -> None:
    verifier = hs_verifier(issuer="https://issuer.example")
    assert verifier.verify(hs256(claims(iss="https://issuer.example")))
    with pytest.raises(InvalidToken):
        verifier.verify(hs256(claims(iss="https://evil.example")))


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(InvalidToken, match="invalid token"):
        hs_verifier().verify(hs256(claims(), key=b"x" * 32))


@pytest.mark.parametrize("token", ["", "a.b.c", "not a token", "e30.e30.", "...."])
def test_garbage_is_an_invalid_token(token: str) -> None:
    with pytest.raises(InvalidToken):
        hs_verifier().verify(token)


def test_8725_3_1_alg_none_is_refused() -> None:
    token = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims()) + "."
    with pytest.raises(InvalidToken):
        hs_verifier().verify(token)


def test_hs512_is_refused_when_hs256_is_pinned() -> None:
    secret = b"k" * 64
    token = jwt.encode(claims(), secret, algorithm="HS512")
    with pytest.raises(InvalidToken):
        JWTVerifier(JWTConfig(secret=secret)).verify(token)
    assert JWTVerifier(JWTConfig(secret=secret, algorithm="HS512")).verify(token)


def test_7518_3_2_secret_at_least_the_hash_size() -> None:
    with pytest.raises(AuthConfigError, match="64 bytes"):
        JWTVerifier(JWTConfig(secret=SECRET, algorithm="HS512"))


def test_rs256_with_a_public_key(keys: Keys) -> None:
    verifier = JWTVerifier(JWTConfig(public_key=keys.rsa_public_pem))
    assert verifier.algorithm == "RS256"
    token = jwt.encode(claims(rawpush={"publish": ["*"]}), keys.rsa_private, algorithm="RS256")
    assert verifier.verify(token).publish == PatternSet.ALL


def test_8725_2_1_algorithm_confusion_hs256_signed_with_the_public_key(keys: Keys) -> None:
    # The attacker signs HS256 with the public key's PEM bytes as the
    # secret; a verifier that let the token pick the algorithm would
    # accept it. PyJWT's encode refuses a PEM secret, so sign by hand.
    import hashlib
    import hmac

    signing_input = _b64({"alg": "HS256", "typ": "JWT"}) + "." + _b64(claims())
    mac = hmac.new(keys.rsa_public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    verifier = JWTVerifier(JWTConfig(public_key=keys.rsa_public_pem))
    with pytest.raises(InvalidToken):
        verifier.verify(token)


def test_es256_with_a_public_key(keys: Keys) -> None:
    verifier = JWTVerifier(JWTConfig(public_key=keys.ec_public_pem.decode()))
    assert verifier.algorithm == "ES256"
    token = jwt.encode(claims(), keys.ec_private, algorithm="ES256")
    assert verifier.verify(token).subject == "alice"
    rs_token = jwt.encode(claims(), keys.rsa_private, algorithm="RS256")
    with pytest.raises(InvalidToken):
        verifier.verify(rs_token)


def test_eddsa_with_an_ed25519_key() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    verifier = JWTVerifier(JWTConfig(public_key=pem))
    assert verifier.algorithm == "EdDSA"
    assert verifier.verify(jwt.encode(claims(), private, algorithm="EdDSA"))


def test_public_key_file(tmp_path: Path, keys: Keys) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(keys.rsa_public_pem)
    config = JWTConfig.from_public_key_file(path, audience="a")
    assert config.public_key == keys.rsa_public_pem
    assert config.audience == "a"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"secret": SECRET, "public_key": b"x"},
        {"secret": b"short"},
        {"secret": SECRET, "algorithm": "RS256"},
        {"secret": SECRET, "algorithm": "none"},
        {"public_key": b"not a pem"},
        {"secret": SECRET, "leeway": -1},
        {"secret": SECRET, "leeway": "30"},
    ],
)
def test_bad_configurations_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(AuthConfigError):
        JWTVerifier(JWTConfig(**kwargs))


def test_key_kind_fixes_the_algorithm_family(keys: Keys) -> None:
    with pytest.raises(AuthConfigError, match="RSA"):
        JWTVerifier(JWTConfig(public_key=keys.rsa_public_pem, algorithm="HS256"))
    with pytest.raises(AuthConfigError):
        JWTVerifier(JWTConfig(public_key=keys.ec_public_pem, algorithm="ES384"))
    assert JWTVerifier(JWTConfig(public_key=keys.rsa_public_pem, algorithm="PS256"))


def test_weak_or_unsupported_keys_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    secp256k1 = ec.generate_private_key(ec.SECP256K1()).public_key()
    for key in (small, secp256k1):
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(AuthConfigError):
            JWTVerifier(JWTConfig(public_key=pem))


def test_str_secret_is_its_utf8_bytes() -> None:
    verifier = JWTVerifier(JWTConfig(secret=SECRET.decode()))
    assert verifier.verify(hs256(claims())).subject == "alice"


def test_without_pyjwt_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "jwt", None)
    with pytest.raises(AuthConfigError, match=r"rawpush\[jwt\]"):
        JWTVerifier(JWTConfig(secret=SECRET))
