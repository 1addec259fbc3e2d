"""``rawpush serve``: run the push hub.

Every ``serve`` flag maps one-to-one onto a ``ServerConfig`` field, so what
the command line can do, Python can do, and the defaults live in one place.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses

from rawpush.server.config import OverflowPolicy, ServerConfig

_DEFAULTS = ServerConfig()


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the push hub (WebSocket, SSE, long poll)")
    p.set_defaults(run=run)
    d = _DEFAULTS
    p.add_argument("--host", default=d.host, help="address to bind (default %(default)s)")
    p.add_argument("--port", type=int, default=d.port, help="port (default %(default)s)")
    p.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="share channels through Redis Streams (redis://host:port/db)",
    )
    p.add_argument(
        "--history",
        type=int,
        default=d.history_size,
        dest="history_size",
        help="events kept per channel for resume (default %(default)s)",
    )
    p.add_argument("--history-bytes", type=int, default=d.history_bytes)
    p.add_argument(
        "--publish-token",
        default=None,
        help="require 'Authorization: Bearer TOKEN' on POST /publish",
    )
    p.add_argument(
        "--allowed-origin",
        action="append",
        dest="allowed_origins",
        metavar="ORIGIN",
        help="allow this Origin (repeatable); default: any",
    )
    p.add_argument("--certfile", default=None, help="TLS certificate (serves wss:// and https://)")
    p.add_argument("--keyfile", default=None, help="TLS private key")
    p.add_argument(
        "--overflow",
        choices=[x.value for x in OverflowPolicy],
        default=d.overflow.value,
        help="slow subscriber policy (default %(default)s)",
    )
    p.add_argument("--queue-max-bytes", type=int, default=d.queue_max_bytes)
    p.add_argument("--queue-max-messages", type=int, default=d.queue_max_messages)
    p.add_argument("--max-connections", type=int, default=d.max_connections)
    p.add_argument("--ws-ping-interval", type=float, default=d.ws_ping_interval)
    p.add_argument("--ws-ping-timeout", type=float, default=d.ws_ping_timeout)
    p.add_argument(
        "--sse-heartbeat",
        type=float,
        default=d.sse_heartbeat_interval,
        dest="sse_heartbeat_interval",
    )
    p.add_argument("--header-timeout", type=float, default=d.header_timeout)
    p.add_argument("--keepalive-timeout", type=float, default=d.keepalive_timeout)
    p.add_argument("--write-stall-timeout", type=float, default=d.write_stall_timeout)
    p.add_argument("--max-message-size", type=int, default=d.max_message_size)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    fields = {f.name for f in dataclasses.fields(ServerConfig)}
    values = {k: v for k, v in vars(args).items() if k in fields and v is not None}
    if "overflow" in values:
        values["overflow"] = OverflowPolicy(values["overflow"])
    if "allowed_origins" in values:
        values["allowed_origins"] = tuple(values["allowed_origins"])
    return ServerConfig(**values)


def run(args: argparse.Namespace) -> int:
    from rawpush.server.app import serve_forever

    config = config_from_args(args)
    # serve_forever drains on SIGINT itself; this only hides a second Ctrl-C.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(config, redis_url=args.redis))
    return 0
