"""``rawpush echo``: a WebSocket echo server (conformance and interop peer)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from rawpush.cli import logs
from rawpush.cli.errors import CLIError, Exit, bind_error, describe, port_number
from rawpush.server import access_log
from rawpush.server.echo import EchoConfig, EchoServer

_DEFAULTS = EchoConfig()


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("echo", help="run a WebSocket echo server")
    p.set_defaults(run=run)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    p.add_argument("--port", type=port_number, default=9001,
                   help="port, 0 for any (default %(default)s)")
    p.add_argument("--max-message-size", type=int, metavar="N", default=_DEFAULTS.max_message_size,
                   help="bigger messages, in bytes, are refused with 1009 (default %(default)s)")
    p.add_argument("--max-frame-size", type=int, default=None, metavar="N",
                   help="bigger frames are refused with 1009 "
                        "(default: --max-message-size, at least 125)")
    p.add_argument("--header-timeout", type=float, default=_DEFAULTS.header_timeout,
                   metavar="SECONDS",
                   help="seconds for the request head, then 408 (default %(default)s)")
    p.add_argument("--compression", choices=["none", "deflate"], default="none",
                   help="accept permessage-deflate, RFC 7692 (default %(default)s)")
    logs.add_access_log_flag(p)


def config_from_args(args: argparse.Namespace) -> EchoConfig:
    """The ``EchoConfig`` the parsed ``echo`` flags describe."""
    return EchoConfig(
        # One knob: a message of --max-message-size bytes fits in one frame
        # (a control frame of 125 bytes always does, RFC 6455 section 5.5).
        max_frame_size=(
            args.max_frame_size
            if args.max_frame_size is not None
            else max(args.max_message_size, 125)
        ),
        max_message_size=args.max_message_size,
        header_timeout=args.header_timeout,
        compression=None if args.compression == "none" else args.compression,
    )


async def _serve(args: argparse.Namespace) -> None:
    config = config_from_args(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        server = EchoServer(args.host, args.port, config)
        await server.start()
    except OSError as exc:
        raise bind_error(exc, args.host, args.port) from None
    async with server:
        print(f"rawpush echo: listening on ws://{args.host}:{server.port}", file=sys.stderr,
              flush=True)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    if args.access_log is not None:
        try:
            access_log.enable(args.access_log)
        except OSError as exc:
            why = describe(exc)[0]
            raise CLIError(f"--access-log {args.access_log}", why, Exit.USAGE) from None
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args))
    finally:
        access_log.disable()
    return 0
