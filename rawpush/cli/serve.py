"""``rawpush serve``: run the push hub.

Every ``serve`` flag maps onto one ``ServerConfig`` field (``--max-body-bytes``
onto ``http.max_body_bytes``, ``--history`` onto ``hub.history_size``), so
what the command line can do, Python can do, and the defaults live in one
place: a flag that is not given leaves the ``ServerConfig`` default alone.

``--max-message-size N`` is ``ServerConfig.with_max_message_size(N)``: it
moves every limit a message of N bytes meets. A limit flag given with it
(``--max-frame-size``, ``--queue-max-bytes``, ...) still wins.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
from typing import Any

from rawpush.auth import AuthConfig, Grant, JWTConfig, PatternSet
from rawpush.cli import config_file, limits, logs, workers
from rawpush.cli.checks import check_redis, check_tls
from rawpush.cli.errors import CLIError, Exit, bind_error, describe, say
from rawpush.proto.errors import LocalProtocolError
from rawpush.server import access_log
from rawpush.server.config import OverflowPolicy, ServerConfig

logger = logging.getLogger("rawpush.cli")
_DEFAULTS = ServerConfig()
#: the layer configurations a dotted ``dest`` ("ws.max_frame_size") points into
_NESTED = ("ws", "http", "hub")
#: ``--anonymous``: what a request without a credential may do
_ANONYMOUS = {
    "open": Grant(subscribe=PatternSet.ALL, publish=PatternSet.ALL, source="anonymous"),
    "read": Grant(subscribe=PatternSet.ALL, source="anonymous"),
    "none": Grant(source="anonymous"),
}


#: ``(flag, field, unit, help)`` of every flag that sets one limit or
#: timeout, by help group; the type and the default come from the field
_FLAGS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "message size": (
        (
            "--max-body-bytes",
            "http.max_body_bytes",
            "bytes",
            "largest POST /publish body, else 413",
        ),
        ("--max-frame-size", "ws.max_frame_size", "bytes", "largest WebSocket frame, else 1009"),
        ("--max-header-bytes", "http.max_header_bytes", "bytes", "largest request head, else 431"),
    ),
    "history": (
        ("--history", "hub.history_size", "events", "events kept per channel for resume"),
        ("--history-bytes", "hub.history_bytes", "bytes", "data kept per channel for resume"),
        (
            "--history-memory",
            "hub.history_memory",
            "bytes",
            "data kept for resume by all channels together (least recently published first out)",
        ),
        ("--max-channels", "hub.max_channels", "", "channels with a history the hub may hold"),
        (
            "--channel-idle-ttl",
            "hub.channel_idle_ttl",
            "s",
            "a channel with no subscriber and no publish for this long expires",
        ),
        (
            "--idempotency-window",
            "hub.idempotency_window",
            "s",
            "a repeated Idempotency-Key returns the first id within this time",
        ),
    ),
    "slow subscribers": (
        ("--queue-max-bytes", "queue_max_bytes", "bytes", "encoded events queued per subscriber"),
        ("--queue-max-messages", "queue_max_messages", "events", "events queued per subscriber"),
        ("--write-high-water", "write_high_water", "bytes", "write buffer that starts queueing"),
        ("--write-low-water", "write_low_water", "bytes", "write buffer that resumes writing"),
    ),
    "connections and timeouts": (
        ("--max-connections", "max_connections", "", "open connections at most, then 503"),
        ("--backlog", "backlog", "", "listen(2) backlog of connections not yet accepted"),
        ("--ws-ping-interval", "ws_ping_interval", "s", "between WebSocket pings"),
        ("--ws-ping-timeout", "ws_ping_timeout", "s", "to wait for a pong, then 1011"),
        ("--sse-heartbeat", "sse_heartbeat_interval", "s", "between SSE heartbeat comments"),
        ("--header-timeout", "header_timeout", "s", "for a request head to arrive, then 408"),
        ("--tls-handshake-timeout", "tls_handshake_timeout", "s", "a TLS handshake may take"),
        ("--keepalive-timeout", "keepalive_timeout", "s", "an idle keep-alive connection lives"),
        ("--close-timeout", "close_timeout", "s", "for the WebSocket closing handshake"),
        ("--write-stall-timeout", "write_stall_timeout", "s", "an SSE socket may take no bytes"),
        ("--max-poll-timeout", "max_poll_timeout", "s", "longest wait a long poll may ask for"),
    ),
    "drain": (
        ("--drain-retry-ms", "drain_retry_ms", "ms", "retry hint sent to SSE clients on shutdown"),
        ("--drain-timeout", "drain_timeout", "s", "to wait for connections, then abort them"),
    ),
}


#: defaults the serve command chooses itself, as --help shows them
_SERVE_DEFAULTS = {"max_connections": "the descriptor limit less a 5 percent reserve"}


def _default(dest: str) -> Any:
    value: Any = _DEFAULTS
    for part in dest.split("."):
        value = getattr(value, part)
    return value


def _add_flags(p: argparse._ActionsContainer, flags: tuple[tuple[str, str, str, str], ...]) -> None:
    optional = {spec.key for spec in config_file.fields() if spec.optional}
    for flag, dest, unit, text in flags:
        value = _default(dest)
        kind = type(value)
        shown = _SERVE_DEFAULTS.get(dest) or f"{value} {unit}".rstrip()
        # "--max-channels none" lifts the limit.
        lift = "; none for no limit" if dest in optional else ""
        p.add_argument(
            flag,
            type=config_file.converter(kind, dest in optional),
            dest=dest,
            metavar="N" if kind is int else "SECONDS",
            # The parsed default stays None ("not given"): see config_from_args.
            help=f"{text}{lift} (default {shown})",
        )


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the push hub (WebSocket, SSE, long poll)")
    # The parser itself: --config reads the file's keys against its flags.
    p.set_defaults(run=run, parser=p)
    d = _DEFAULTS
    config_file.add_config_flag(p)
    logs.add_access_log_flag(p)
    p.add_argument("--host", help=f"address to bind (default {d.host})")
    # type=int: ServerConfig says what is wrong with a port out of range.
    p.add_argument("--port", type=int, help=f"TCP port, 0 for any free one (default {d.port})")
    p.add_argument(
        "--redis",
        metavar="URL",
        help="share channels through Redis Streams (redis://host:port/db); checked at start: "
        "an unreachable Redis is an error (default: in memory, one process)",
    )
    p.add_argument(
        "--redis-wait",
        action="store_true",
        help="when Redis is unreachable at start, wait for it (saying so) instead of failing "
        "(default: fail at once)",
    )
    groups = {name: p.add_argument_group(name) for name in _FLAGS}
    groups["message size"].add_argument(
        "--max-message-size",
        type=int,
        metavar="N",
        help="largest message a client may publish (POST or WebSocket); also raises the "
        "frame, body, queue and history bounds to carry one "
        f"(default {d.ws.max_message_size} bytes)",
    )
    for name, flags in _FLAGS.items():
        _add_flags(groups[name], flags)

    g = p.add_argument_group("security")
    g.add_argument(
        "--publish-token",
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on POST /publish (default: none, "
        "anyone may publish)",
    )
    g.add_argument(
        "--allowed-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="allow this Origin, e.g. https://app.example (repeatable; default: any)",
    )
    g.add_argument(
        "--jwt-secret",
        metavar="SECRET",
        help="verify HS256 JWTs with this secret (at least 32 bytes); the 'rawpush' claim lists "
        'the channels a bearer may use: {"subscribe": ["news", "user.42.*"], "publish": [...]} '
        "(default: no JWTs)",
    )
    g.add_argument(
        "--jwt-public-key",
        metavar="PATH",
        help="verify RS256/ES256 JWTs with this PEM public key (default: no JWTs)",
    )
    g.add_argument(
        "--jwt-audience", metavar="AUD", help="the 'aud' a JWT must carry (default: not checked)"
    )
    g.add_argument(
        "--jwt-issuer", metavar="ISS", help="the 'iss' a JWT must carry (default: not checked)"
    )
    g.add_argument(
        "--anonymous",
        choices=["open", "read", "none"],
        help="what a request without a credential may do: subscribe and publish, subscribe "
        "only, or nothing (default: open with no credential configured, else read)",
    )
    g.add_argument(
        "--ticket-ttl",
        type=float,
        metavar="SECONDS",
        help="lifetime of a single-use ticket from POST /tickets (default 30 s)",
    )
    g.add_argument(
        "--ws-publish",
        choices=["on", "off"],
        help="off refuses publishing over WebSocket (close 1008) for everyone (default on)",
    )
    g.add_argument(
        "--ws-publish-rate",
        type=config_file.converter(float, True),
        metavar="N",
        help=f"messages/s one WebSocket may publish, then 1008; none for no limit"
        f" (default {d.ws_publish_rate})",
    )
    g.add_argument(
        "--publish-rate",
        type=float,
        metavar="N",
        help="POST publishes/s per client address and per token, then 429 (default unlimited)",
    )
    g.add_argument(
        "--new-channels-per-minute",
        type=int,
        metavar="N",
        help="channels one address (or token) may create by POST per minute, then 429 "
        "(default unlimited)",
    )
    g.add_argument(
        "--max-connections-per-address",
        type=int,
        metavar="N",
        help="open connections one client address may hold, then 429 (default unlimited)",
    )
    g.add_argument(
        "--metrics-token",
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on GET /metrics (default: open)",
    )
    g.add_argument(
        "--certfile",
        metavar="PATH",
        help="TLS certificate chain, PEM: serves wss:// and https:// (default: none, plain TCP)",
    )
    g.add_argument(
        "--keyfile", metavar="PATH", help="TLS private key, PEM (default: inside --certfile)"
    )
    groups["slow subscribers"].add_argument(
        "--overflow",
        choices=[x.value for x in OverflowPolicy],
        help=f"what a full subscriber queue does (default {d.overflow.value})",
    )
    g = p.add_argument_group("WebSocket")
    g.add_argument(
        "--compression",
        choices=["none", "deflate"],
        help="accept permessage-deflate (RFC 7692) on WebSocket routes (default none)",
    )
    g.add_argument(
        "--ws-echo",
        action="store_true",
        default=None,
        help="also serve a WebSocket echo at /echo, for conformance runs (default off)",
    )
    g = p.add_argument_group("HTTP/2")
    g.add_argument(
        "--no-http2",
        dest="http2",
        action="store_false",
        default=None,
        help="speak HTTP/1.1 only: no ALPN h2 over TLS, no prior knowledge (default: both)",
    )
    g.add_argument(
        "--h2-max-streams",
        dest="h2_max_concurrent_streams",
        type=int,
        metavar="N",
        help="streams one HTTP/2 connection may have open at once (default 100)",
    )
    workers.add_flags(p)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The ``ServerConfig`` the parsed flags describe (see the module docstring)."""
    top = {f.name for f in dataclasses.fields(ServerConfig)}
    flat: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {name: {} for name in _NESTED}
    for dest, given in vars(args).items():
        if given is None:
            continue
        value = given
        if given is config_file.NONE:  # "--flag none": the field's None
            value = None
        elif isinstance(given, list):  # a repeatable flag: tuple fields
            value = tuple(given)
        layer, dot, name = dest.partition(".")
        if dot and layer in nested:
            nested[layer][name] = value
        elif dest in top:
            flat[dest] = value
    if flat.get("compression") == "none":
        flat["compression"] = None
    if "ws_publish" in flat:
        flat["ws_publish"] = flat["ws_publish"] == "on"
    auth = _auth_from_args(args)
    if auth is not None:
        flat["auth"] = auth
    config = _DEFAULTS
    size = getattr(args, "max_message_size", None)
    if size is not None:
        config = config.with_max_message_size(size)
    layers = {
        name: dataclasses.replace(getattr(config, name), **fields)
        for name, fields in nested.items()
        if fields
    }
    return dataclasses.replace(config, **flat, **layers)


def _auth_from_args(args: argparse.Namespace) -> AuthConfig | None:
    """The ``AuthConfig`` of the security flags; None when none was given
    (then ``ServerConfig`` builds it from ``--publish-token`` alone)."""
    secret = getattr(args, "jwt_secret", None)
    key_path = getattr(args, "jwt_public_key", None)
    anonymous = getattr(args, "anonymous", None)
    ttl = getattr(args, "ticket_ttl", None)
    if secret is None and key_path is None and anonymous is None and ttl is None:
        return None
    if secret is not None and key_path is not None:
        raise ValueError("--jwt-secret and --jwt-public-key exclude each other")
    claims = {"audience": args.jwt_audience, "issuer": args.jwt_issuer}
    jwt: JWTConfig | None = None
    if secret is not None:
        jwt = JWTConfig(secret=secret, **claims)
    elif key_path is not None:
        jwt = JWTConfig.from_public_key_file(key_path, **claims)
    if anonymous is None:
        anonymous = "read" if jwt is not None or args.publish_token else "open"
    extra: dict[str, Any] = {} if ttl is None else {"ticket_ttl": ttl}
    return AuthConfig(jwt=jwt, anonymous=_ANONYMOUS[anonymous], **extra)


async def _serve(config: ServerConfig, args: argparse.Namespace) -> None:
    from rawpush.server.app import serve_forever

    if args.redis is not None:
        await check_redis(args.redis, wait=args.redis_wait)
    try:
        await serve_forever(config, redis_url=args.redis)
    except OSError as exc:
        # Only the bind can fail this way: once listening, a connection's
        # errors stay with that connection.
        raise bind_error(exc, config.host, config.port) from None
    finally:
        access_log.disable()  # a worker's own lines too (serve --workers)


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; a failure to start is one line on stderr
    and its exit status (``rawpush.cli.errors``)."""
    try:
        return _run(args)
    except CLIError as exc:
        say(exc.line.removeprefix("rawpush: "))
        return exc.code


def _run(args: argparse.Namespace) -> int:
    if args.config is not None:
        config_file.apply_file(args.config, args.parser, args)
        logs.setup(args.log_level)  # the file may have set it
    try:
        config = config_from_args(args)
    except (ValueError, LocalProtocolError) as exc:
        # ConfigError, or a layer configuration refusing a limit.
        fix = f"check the flags and --config {args.config}" if args.config else None
        why = _flag_named(str(exc), args.parser)
        raise CLIError("serve", f"bad configuration: {why}", Exit.USAGE, fix) from None
    except OSError as exc:  # the one file read here: --jwt-public-key
        path = args.jwt_public_key
        raise CLIError(f"--jwt-public-key {path}", describe(exc)[0], Exit.USAGE) from None
    check_tls(config.certfile, config.keyfile)
    descriptors = limits.raise_descriptor_limit()
    if getattr(args, "max_connections", None) is None:
        allowed, reserve = limits.connections_allowed(descriptors)
        config = dataclasses.replace(config, max_connections=allowed)
        logger.debug(
            "max connections %d: the descriptor limit %d less %d for everything else",
            allowed, descriptors, reserve,
        )
    _start_access_log(args.access_log)
    logger.debug("configuration: %s", _shown(config))
    # serve_forever drains on SIGINT itself; this only hides a second Ctrl-C.
    status: int = Exit.OK
    try:
        with contextlib.suppress(KeyboardInterrupt):
            # One process, or --workers N of them (rawpush.cli.workers).
            status = workers.run(config, args, _serve)
    finally:
        access_log.disable()  # writes what is queued
    return status


def _flag_named(why: str, parser: argparse.ArgumentParser) -> str:
    """``why`` with the field it names ("ServerConfig.port") given as the
    flag the user typed, and the field beside it (the file's key)."""
    for action in parser._actions:
        field = f"ServerConfig.{action.dest} "
        if action.option_strings and field in why:
            return why.replace(field, f"{action.option_strings[0]} ({field.strip()}) ", 1)
    return why


def _start_access_log(target: str | None) -> None:
    if target is None:
        return
    try:
        access_log.enable(target)
    except OSError as exc:
        raise CLIError(f"--access-log {target}", describe(exc)[0], Exit.USAGE) from None
    logger.debug("access log: %s", "stdout" if target == "-" else target)


def _shown(config: ServerConfig) -> str:
    """The settings, for a debug line: every settable field, secrets hidden."""
    parts = []
    for spec in config_file.fields():
        value: Any = config
        for name in spec.key.split("."):
            value = getattr(value, name)
        if value is not None and spec.key in ("publish_token", "metrics_token"):
            value = "***"
        parts.append(f"{spec.key}={value!r}")
    return " ".join(parts)
