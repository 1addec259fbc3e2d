"""Start-up checks of ``rawpush serve``: each file and service it needs,
checked before anything listens, so that a mistake is one line naming it.

- TLS: each of ``--certfile`` / ``--keyfile`` exists and is readable, holds
  a PEM certificate or key, the key is not encrypted (OpenSSL would prompt
  on the terminal) and matches the certificate.
- Redis: redis-py is installed, the URL is one it takes, the server answers
  ``PING`` and is at least 7.0 (the backplane's append script uses
  ``XSETID ... MAXDELETEDID``, new in 7.0). Unreachable is a failure at
  once, or with ``--redis-wait`` a wait that says so and says when Redis
  is up.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, NoReturn

from rawpush.cli.errors import CLIError, Exit, describe, redact, say

__all__ = ["check_redis", "check_tls"]

#: the oldest Redis the backplane runs on (XSETID ... MAXDELETEDID)
REDIS_MIN_VERSION = (7, 0)
#: between two ``PING``s while ``--redis-wait`` waits, in seconds
REDIS_WAIT_INTERVAL = 1.0


def _read(flag: str, path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        raise CLIError(f"{flag} {path}", "no such file", Exit.USAGE) from None
    except IsADirectoryError:
        raise CLIError(f"{flag} {path}", "is a directory, not a PEM file", Exit.USAGE) from None
    except OSError as exc:
        raise CLIError(f"{flag} {path}", describe(exc)[0], Exit.USAGE) from None


def _no_password() -> NoReturn:
    raise ValueError("encrypted")


def check_tls(certfile: str | None, keyfile: str | None) -> None:
    """Raise ``CLIError`` naming the file when the pair cannot serve TLS."""
    if certfile is None:
        return  # ServerConfig refuses a keyfile alone
    cert = _read("--certfile", certfile)
    key_flag, key_path = ("--keyfile", keyfile) if keyfile else ("--certfile", certfile)
    key = _read(key_flag, key_path) if keyfile else cert
    if b"-----BEGIN CERTIFICATE-----" not in cert:
        raise CLIError(
            f"--certfile {certfile}", "no PEM certificate in it", Exit.USAGE,
            "expected a '-----BEGIN CERTIFICATE-----' block",
        )
    if b"PRIVATE KEY-----" not in key:
        fix = None if keyfile else "give the key file with --keyfile"
        raise CLIError(f"{key_flag} {key_path}", "no PEM private key in it", Exit.USAGE, fix)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile, password=_no_password)
    except ValueError:
        raise CLIError(
            f"{key_flag} {key_path}", "the private key is encrypted", Exit.USAGE,
            "rawpush needs an unencrypted key: openssl pkey -in KEY -out PLAIN",
        ) from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            why = "the private key does not match the certificate"
        else:
            why = f"cannot load it: {(exc.reason or str(exc)).lower()}"
        both = f"--certfile {certfile}" + (f" --keyfile {keyfile}" if keyfile else "")
        raise CLIError(both, why, Exit.USAGE) from None


def _import_redis(url: str) -> Any:
    try:
        import redis.asyncio as aioredis
    except ImportError:
        raise CLIError(
            f"--redis {redact(url)}", "redis-py is not installed", Exit.USAGE,
            "pip install 'rawpush[redis]'",
        ) from None
    return aioredis


async def _probe(client: Any, url: str) -> str | None:
    """Why Redis cannot serve the backplane now, or None when it can."""
    from redis.exceptions import AuthenticationError, RedisError, ResponseError

    try:
        await client.ping()
        info = await client.info("server")
    except (AuthenticationError, ResponseError) as exc:
        # A wrong password or a refused command: waiting will not fix it.
        raise CLIError(
            f"Redis at {redact(url)}", f"refused: {exc}", Exit.REFUSED
        ) from None
    except (RedisError, OSError) as exc:
        # redis-py wraps the socket's error in its own, with a longer text.
        cause: BaseException = exc
        while not isinstance(cause, OSError) and cause.__context__ is not None:
            cause = cause.__context__
        return describe(cause if isinstance(cause, OSError) else exc)[0]
    version = str(info.get("redis_version", "0"))
    parts = tuple(int(p) if p.isdigit() else 0 for p in version.split(".")[:2])
    if parts < REDIS_MIN_VERSION:
        need = ".".join(map(str, REDIS_MIN_VERSION))
        raise CLIError(
            f"Redis at {redact(url)}", f"version {version} is too old", Exit.REFUSED,
            f"the backplane needs Redis {need} or newer",
        )
    return None


async def check_redis(url: str, *, wait: bool) -> None:
    """Fail with one line unless Redis at ``url`` can carry the backplane
    (or, with ``wait``, wait until it can, saying so)."""
    aioredis = _import_redis(url)
    try:
        client = aioredis.Redis.from_url(
            url, socket_connect_timeout=1.0, socket_timeout=2.0, protocol=2
        )
    except ValueError as exc:
        raise CLIError(
            f"--redis {redact(url)}", str(exc).rstrip("."), Exit.USAGE,
            "expected redis://[:password@]host:port/db, rediss://... or unix://path",
        ) from None
    said: str | None = None
    try:
        while (why := await _probe(client, url)) is not None:
            if not wait:
                raise CLIError(
                    f"cannot reach Redis at {redact(url)}", why, Exit.NETWORK,
                    "start it, or pass --redis-wait to wait for it",
                )
            if why != said:
                say(f"waiting for Redis at {redact(url)}: {why}; "
                    f"trying again every {REDIS_WAIT_INTERVAL:g} s")
                said = why
            await asyncio.sleep(REDIS_WAIT_INTERVAL)
        if said is not None:
            say(f"Redis at {redact(url)} is up")
    finally:
        await client.aclose()
