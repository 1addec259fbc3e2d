"""``rawpush tail URL`` and ``rawpush publish URL DATA``: the hub from a shell.

``tail`` is ``curl -N`` / ``wscat`` for this hub. The URL picks the
transport: ``ws://``/``wss://`` a WebSocket, ``http(s)://.../poll/...``
long polling, any other ``http(s)://`` URL an event stream. Each event is
one line on stdout: its data (a newline inside the data is written as
``\\n`` so that one line stays one event), or with ``--json`` a JSON
object ``{"id", "event", "data"}``. A gap is ``{"gap": true}`` in JSON
mode and a note on stderr otherwise. Ctrl-C ends it quietly with status
130 (128 + SIGINT, the shell convention).

``publish`` POSTs ``DATA`` to ``http(s)://host/publish/channel`` and
prints the id the hub gave the event. To a ``ws://host/ws/channel`` URL it
sends a text frame instead and prints the id of that event as it comes
back (the publishing socket is a subscriber too); a WebSocket frame has
no event name, so ``--event`` is HTTP only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncGenerator, Coroutine
from typing import Any
from urllib.parse import urlencode

from rawpush.client.http import parse_url, request
from rawpush.client.poll import LongPoller
from rawpush.client.sse import EventSource
from rawpush.client.ws import connect

__all__ = ["add_parsers"]

#: how long ``publish`` over a WebSocket waits for its own event to come back
ECHO_TIMEOUT = 10.0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tail", help="print the events of a channel as they arrive")
    p.set_defaults(run=run_tail)
    p.add_argument("url", help="ws://host:port/ws/CHAN, http://host:port/sse/CHAN or /poll/CHAN")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--last-event-id", default=None, metavar="ID",
                   help="resume after this id (SSE Last-Event-ID, poll cursor, ws lastEventId)")
    p = sub.add_parser("publish", help="publish one event and print its id")
    p.set_defaults(run=run_publish)
    p.add_argument("url", help="http://host:port/publish/CHAN or ws://host:port/ws/CHAN")
    p.add_argument("data", help="the event's data")
    p.add_argument("--event", default=None, metavar="NAME", help="event name (HTTP only)")
    p.add_argument("--token", default=None, help="send 'Authorization: Bearer TOKEN'")


# ---- tail ------------------------------------------------------------------

#: (id, event, data) per event; None for a gap notice
Items = AsyncGenerator[tuple[str, str, str] | None, None]


def _line(ident: str, event: str, data: str, as_json: bool) -> str:
    if as_json:
        return json.dumps({"id": ident, "event": event, "data": data}, ensure_ascii=False)
    return data.replace("\n", "\\n")


async def _tail_ws(url: str, last_id: str | None) -> Items:
    if last_id:
        url = f"{url}{'&' if '?' in url else '?'}{urlencode({'lastEventId': last_id})}"
    async with connect(url) as ws:
        async for frame in ws:
            item = json.loads(frame)
            if item.get("gap") is True:
                yield None
            else:
                yield item["id"], item.get("event") or "message", item["data"]


async def _tail_sse(url: str, last_id: str | None) -> Items:
    async with EventSource(url, last_event_id=last_id) as source:
        async for event in source:
            if event.event == "gap":
                yield None
            else:
                yield event.id or "", event.event or "message", event.data


async def _tail_poll(url: str, last_id: str | None) -> Items:
    async for result in LongPoller(url, cursor=last_id):
        if result.gap:
            yield None
        for event in result.events:
            yield event.id or "", event.event or "message", event.data


async def _tail(args: argparse.Namespace) -> None:
    target = parse_url(args.url)
    if target.scheme in ("ws", "wss"):
        source = _tail_ws(args.url, args.last_event_id)
    elif "/poll/" in target.target:
        source = _tail_poll(args.url, args.last_event_id)
    else:
        source = _tail_sse(args.url, args.last_event_id)
    async with contextlib.aclosing(source):
        async for item in source:
            if item is None:
                if args.json:
                    print('{"gap": true}', flush=True)
                else:
                    print("-- gap: the server no longer had some events --", file=sys.stderr)
                continue
            print(_line(*item, args.json), flush=True)


def run_tail(args: argparse.Namespace) -> int:
    return _run(_tail(args))


# ---- publish -----------------------------------------------------------------


async def _publish_http(args: argparse.Namespace) -> str:
    url = parse_url(args.url)
    if args.event:
        sep = "&" if "?" in url.target else "?"
        url = parse_url(f"{args.url}{sep}{urlencode({'event': args.event})}")
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    if args.token:
        headers.append(("Authorization", f"Bearer {args.token}"))
    response = await request("POST", url, headers=headers, body=args.data.encode(), timeout=30)
    try:
        body = await response.read(1 << 20, timeout=30)
    finally:
        await response.aclose()
    if response.status // 100 != 2:
        text = body.decode("utf-8", "replace").strip()
        raise RuntimeError(f"{response.status} {response.reason}: {text}".rstrip(": "))
    ident = json.loads(body)["id"]
    if not isinstance(ident, str):
        raise RuntimeError("the server's answer has no id")
    return ident


async def _publish_ws(args: argparse.Namespace) -> str:
    if args.event:
        raise RuntimeError("--event needs an http(s):// publish URL: a WebSocket frame has no name")
    headers = [("Authorization", f"Bearer {args.token}")] if args.token else []
    async with connect(args.url, extra_headers=headers) as ws:
        await ws.send(args.data)
        async with asyncio.timeout(ECHO_TIMEOUT):
            async for frame in ws:
                item = json.loads(frame)
                if item.get("data") == args.data and isinstance(item.get("id"), str):
                    ident: str = item["id"]
                    return ident
    raise RuntimeError("the connection closed before the event came back")


async def _publish(args: argparse.Namespace) -> None:
    if parse_url(args.url).scheme in ("ws", "wss"):
        ident = await _publish_ws(args)
    else:
        ident = await _publish_http(args)
    print(ident, flush=True)


def run_publish(args: argparse.Namespace) -> int:
    return _run(_publish(args))


def _quiet_connect_race(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # CPython 3.11: a connect cancelled (Ctrl-C) in the loop step where it
    # completes makes asyncio's own callback raise InvalidStateError (fixed
    # in 3.12). The cancellation was ours and was honoured; nothing to say.
    if isinstance(context.get("exception"), asyncio.InvalidStateError):
        return
    loop.default_exception_handler(context)


def _run(main: Coroutine[Any, Any, None]) -> int:
    try:
        with asyncio.Runner() as runner:
            runner.get_loop().set_exception_handler(_quiet_connect_race)
            runner.run(main)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``rawpush tail ... | head``): not an error.
        # Point stdout at devnull so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # one clean line instead of a traceback
        print(f"rawpush: {str(exc) or type(exc).__name__}", file=sys.stderr)
        return 1
    return 0
