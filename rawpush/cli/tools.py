"""``rawpush tail URL`` (``rawpush.cli.tail``) and ``rawpush publish URL DATA``.

``publish`` POSTs the data to ``http(s)://host/publish/channel`` and
prints the id the hub gave the event. ``DATA`` is the data itself, ``-``
for stdin, or ``@FILE`` for a file's contents (as curl reads ``-d``; a
large payload then never meets the shell's argument limit). Data that
starts with ``@`` is sent from stdin or a file. To a ``ws://host/ws/channel``
URL it sends a text frame instead and prints the id of that event as it
comes back (the publishing socket is a subscriber too); a WebSocket frame
has no event name, so ``--event`` is HTTP only. A refusal prints the
server's own message in one line (exit 4; see ``rawpush.cli.errors``).
``--http2`` POSTs over HTTP/2 (http(s):// only); a server that does not
speak it is refused in one line too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from urllib.parse import urlencode

from rawpush.cli.errors import CLIError, Exit, describe
from rawpush.cli.runner import _quiet_connect_race, run_main
from rawpush.cli.tail import H2_FIX, add_http2_flag, add_tail_parser, add_tls_flags, ssl_from_args
from rawpush.client import h2
from rawpush.client.http import error_message, parse_url, request
from rawpush.client.ws import ConnectionClosed, InvalidHandshake, connect

__all__ = ["_quiet_connect_race", "add_parsers"]

#: how long ``publish`` over a WebSocket waits for its own event to come back
ECHO_TIMEOUT = 10.0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add_tail_parser(sub)
    p = sub.add_parser("publish", help="publish one event and print its id")
    p.set_defaults(run=run_publish)
    p.add_argument("url", help="http://host:port/publish/CHAN or ws://host:port/ws/CHAN")
    p.add_argument("data", help="the event's data; - reads it from stdin, @FILE from a file")
    p.add_argument("--event", default=None, metavar="NAME", help="event name (HTTP only)")
    p.add_argument("--token", default=None, help="send 'Authorization: Bearer TOKEN'")
    add_http2_flag(p)
    add_tls_flags(p)


def _data(arg: str) -> str:
    if arg == "-":
        return sys.stdin.read()
    if arg.startswith("@"):
        path = arg[1:]
        try:
            with open(path, encoding="utf-8") as file:
                return file.read()
        except UnicodeDecodeError:
            raise CLIError(f"publish {arg}", "the file is not UTF-8 text", Exit.USAGE) from None
        except OSError as exc:
            raise CLIError(f"publish {arg}", describe(exc)[0], Exit.USAGE) from None
    return arg


async def _publish_http(args: argparse.Namespace, data: str) -> str:
    url = parse_url(args.url)
    if args.event:
        sep = "&" if "?" in url.target else "?"
        url = parse_url(f"{args.url}{sep}{urlencode({'event': args.event})}")
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    if args.token:
        headers.append(("Authorization", f"Bearer {args.token}"))
    send = h2.request if args.http2 else request
    try:
        response = await send(
            "POST", url, headers=headers, body=data.encode(), ssl=ssl_from_args(args), timeout=30
        )
    except h2.HTTP2Unavailable as exc:
        raise CLIError(f"publish to {url}", str(exc), Exit.REFUSED, H2_FIX) from None
    try:
        body = await response.read(1 << 20, timeout=30)
    finally:
        await response.aclose()
    where = f"publish to {url}"
    if response.status // 100 != 2:
        said = error_message(body) or response.reason
        raise CLIError(where, f"{response.status} {said}".rstrip(), Exit.REFUSED)
    try:
        ident = json.loads(body)["id"]
    except (ValueError, TypeError, KeyError):
        ident = None
    if not isinstance(ident, str):
        raise CLIError(where, "the answer has no event id", Exit.REFUSED,
                       "is this a rawpush server's /publish/CHANNEL URL?")
    return ident


async def _publish_ws(args: argparse.Namespace, data: str) -> str:
    where = f"publish to {args.url}"
    if args.event:
        raise CLIError(where, "--event needs an http(s):// URL: a WebSocket frame has no name",
                       Exit.USAGE)
    if args.http2:
        raise CLIError(where, "--http2 needs an http(s):// URL", Exit.USAGE)
    headers = [("Authorization", f"Bearer {args.token}")] if args.token else []
    context = ssl_from_args(args) if args.url.startswith("wss:") else None
    try:
        async with connect(args.url, extra_headers=headers, ssl=context) as ws:
            await ws.send(data)
            async with asyncio.timeout(ECHO_TIMEOUT):
                async for frame in ws:
                    item = json.loads(frame)
                    if item.get("data") == data and isinstance(item.get("id"), str):
                        ident: str = item["id"]
                        return ident
            reason = f"{ws.close_code} {ws.close_reason or ''}".rstrip()
    except InvalidHandshake as exc:
        said = error_message(exc.response.body) if exc.response is not None else ""
        raise CLIError(where, f"upgrade refused: {exc.status} {said}".rstrip(),
                       Exit.REFUSED) from None
    except ConnectionClosed as exc:
        reason = f"{exc.code} {exc.reason}".rstrip()
    raise CLIError(where, f"closed before the event came back: {reason}", Exit.REFUSED)


async def _publish(args: argparse.Namespace) -> None:
    data = _data(args.data)
    try:
        if parse_url(args.url).scheme in ("ws", "wss"):
            ident = await _publish_ws(args, data)
        else:
            ident = await _publish_http(args, data)
    except OSError as exc:
        why, fix = describe(exc)
        raise CLIError(f"publish to {args.url}", why, Exit.NETWORK, fix) from None
    print(ident, flush=True)


def run_publish(args: argparse.Namespace) -> int:
    return run_main(_publish(args))
