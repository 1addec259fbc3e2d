"""Helpers for the auth tests: a hand-moved clock, keys, a token minter."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = b"s" * 32


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Keys:
    rsa_private: rsa.RSAPrivateKey
    rsa_public_pem: bytes
    ec_private: ec.EllipticCurvePrivateKey
    ec_public_pem: bytes


def _pem(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="session")
def keys() -> Keys:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return Keys(rsa_key, _pem(rsa_key.public_key()), ec_key, _pem(ec_key.public_key()))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def claims(lifetime: float = 3600, **extra: Any) -> dict[str, Any]:
    """Claims valid for ``lifetime`` seconds from the real clock (PyJWT
    checks exp against it), plus ``extra``."""
    now = int(time.time())
    base: dict[str, Any] = {"sub": "alice", "iat": now, "exp": now + int(lifetime)}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], key: bytes = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm="HS256", headers=headers or None)
