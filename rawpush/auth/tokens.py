"""JSON Web Tokens (RFC 7519), verified by PyJWT (the ``jwt`` extra).

One ``JWTConfig`` names one key, and the key fixes the algorithm: an HMAC
secret allows HS256 (or the HS384/HS512 it names), an RSA public key
RS256 (or RS384/RS512/PS256/PS384/PS512), an EC public key the ES
algorithm of its curve, an Ed25519 key EdDSA. Exactly that one algorithm
is passed to PyJWT, so a token that says ``"alg": "none"``, or an HS256
token whose "secret" is the RSA public key's PEM (the classic algorithm
confusion, RFC 8725 section 2.1), is refused before its signature counts.

Claims checked (RFC 7519 section 4.1), with ``leeway`` seconds (default
30) for clocks that disagree a little:

- ``exp`` required (``require_exp``, default True: a token without one
  would be valid forever); expired -> ``TokenExpired``.
- ``nbf`` and ``iat``, when present: not after now + leeway.
- ``aud``: with ``audience`` configured the token must name it; without,
  a token that names any audience is refused (it was meant for someone
  else, RFC 7519 section 4.1.3).
- ``iss``: must equal ``issuer`` when configured.
- ``sub``: the grant's subject, a string when present.
- the ``rawpush`` claim (``claim`` to rename it): an object with
  ``subscribe`` and/or ``publish``, each a list of channel patterns
  (``rawpush.auth.patterns``); no other member. A token without the claim
  authenticates but grants nothing.

The leeway applies at verification only: ``Grant.expires_at`` is ``exp``
itself, the moment the server ends a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import AuthConfigError, InvalidToken, PatternError, TokenExpired
from .model import Grant
from .patterns import PatternSet

__all__ = ["DEFAULT_LEEWAY", "JWTConfig", "JWTVerifier"]

#: Seconds of clock skew tolerated on exp/nbf/iat.
DEFAULT_LEEWAY = 30.0

_HMAC = ("HS256", "HS384", "HS512")
_RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
_EC_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


@dataclass(frozen=True, slots=True)
class JWTConfig:
    """How tokens are verified: one key (``secret`` or ``public_key``)."""

    #: The HMAC secret (HS*): at least 32 bytes for HS256, 48, 64 for HS384, HS512.
    secret: str | bytes | None = None
    #: A PEM ``SubjectPublicKeyInfo`` (RS*/PS*, ES*, EdDSA).
    public_key: str | bytes | None = None
    #: None: the key's default (HS256, RS256, the curve's ES*, EdDSA).
    algorithm: str | None = None
    audience: str | tuple[str, ...] | None = None
    issuer: str | None = None
    leeway: float = DEFAULT_LEEWAY
    require_exp: bool = True
    claim: str = "rawpush"

    @classmethod
    def from_public_key_file(cls, path: str | Path, **kwargs: Any) -> JWTConfig:
        """Read a PEM public key from ``path`` (the one file read here)."""
        return cls(public_key=Path(path).read_bytes(), **kwargs)


def _import_jwt() -> Any:
    try:
        import jwt
    except ImportError:
        raise AuthConfigError(
            "JWT verification needs PyJWT: pip install 'rawpush[jwt]'"
        ) from None
    return jwt


def _key_and_algorithm(config: JWTConfig) -> tuple[Any, str]:
    if (config.secret is None) == (config.public_key is None):
        raise AuthConfigError("JWTConfig needs exactly one of secret and public_key")
    if config.secret is not None:
        secret = config.secret.encode() if isinstance(config.secret, str) else config.secret
        algorithm = _pick(config.algorithm, _HMAC, "an HMAC secret")
        # RFC 7518 section 3.2: a key at least as long as the hash output.
        least = int(algorithm[2:]) // 8
        if len(secret) < least:
            raise AuthConfigError(f"a secret for {algorithm} must be at least {least} bytes")
        return secret, algorithm
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    pem = config.public_key
    assert pem is not None
    try:
        key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError) as exc:
        raise AuthConfigError(f"public_key is not a PEM public key: {exc}") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise AuthConfigError("an RSA key for JWTs must have at least 2048 bits")
        return key, _pick(config.algorithm, _RSA, "an RSA key")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC_CURVES:
        return key, _pick(config.algorithm, (_EC_CURVES[key.curve.name],), "this curve")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key, _pick(config.algorithm, ("EdDSA",), "an Ed25519 key")
    raise AuthConfigError(f"unsupported public key type {type(key).__name__}")


def _pick(algorithm: str | None, allowed: tuple[str, ...], what: str) -> str:
    if algorithm is None:
        return allowed[0]
    if algorithm not in allowed:
        raise AuthConfigError(f"{what} verifies {', '.join(allowed)}, not {algorithm!r}")
    return algorithm


class JWTVerifier:
    """Verifies tokens against one ``JWTConfig``; ``verify`` is the one verb."""

    def __init__(self, config: JWTConfig) -> None:
        if not isinstance(config.leeway, int | float) or not 0 <= config.leeway <= 3600:
            raise AuthConfigError("leeway must be a number of seconds in [0, 3600]")
        self.config = config
        self.algorithm: str
        self._jwt = _import_jwt()
        self._key, self.algorithm = _key_and_algorithm(config)
        self._options = {"require": ["exp"] if config.require_exp else []}

    def verify(self, token: str) -> Grant:
        """The ``Grant`` of a valid token; ``TokenExpired`` or ``InvalidToken``."""
        jwt = self._jwt
        config = self.config
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                options=self._options,
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway,
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired("the token expired") from None
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"invalid token: {exc}") from None
        return self._grant(payload)

    def _grant(self, payload: dict[str, Any]) -> Grant:
        subject = payload.get("sub")
        # PyJWT >= 2.10 checks this itself; older ones do not.
        if subject is not None and not isinstance(subject, str):
            raise InvalidToken("sub must be a string")
        exp = payload.get("exp")
        if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
            raise InvalidToken("exp must be a NumericDate (RFC 7519 section 2)")
        try:
            expires_at = None if exp is None else float(exp)
        except OverflowError:
            raise InvalidToken("exp is out of range") from None
        rights = payload.get(self.config.claim, {})
        if not isinstance(rights, dict):
            raise InvalidToken(f"the {self.config.claim} claim must be an object")
        unknown = set(rights) - {"subscribe", "publish"}
        if unknown:
            raise InvalidToken(f"unknown member {sorted(unknown)[0]!r} in {self.config.claim}")
        sets = []
        for name in ("subscribe", "publish"):
            patterns = rights.get(name, [])
            if not isinstance(patterns, list):
                raise InvalidToken(f"{self.config.claim}.{name} must be a list of patterns")
            try:
                sets.append(PatternSet.parse(patterns))
            except PatternError as exc:
                raise InvalidToken(f"{self.config.claim}.{name}: {exc}") from None
        return Grant(subject, sets[0], sets[1], expires_at, "jwt")
