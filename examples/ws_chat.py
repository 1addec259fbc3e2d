"""A WebSocket chat: ``python examples/ws_chat.py serve`` runs the room,
``python examples/ws_chat.py join NAME [URL]`` joins it from a terminal.

Every line you type is a text frame; the server publishes it to channel
``room`` and every member (you too) gets it back as
``{"id": ..., "event": null, "data": ...}``. The client is written on the
sans-IO core (``rawpush.ws``) and asyncio streams, to show how little the
I/O part is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from urllib.parse import urlsplit

import rawpush
from rawpush.proto.ws.handshake_client import ClientHandshake
from rawpush.ws import ClientConnection, Close, Text


async def serve(port: int) -> None:
    server = await rawpush.serve(port=port)
    print(f"chat room at ws://127.0.0.1:{server.port}/ws/room (demo page: {server.url}/)")
    try:
        await asyncio.Event().wait()  # until Ctrl-C
    finally:
        await server.close()


async def join(name: str, url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    handshake = ClientHandshake(f"{host}:{port}", parts.path or "/ws/room")
    writer.write(handshake.data_to_send())
    while handshake.receive_data(await reader.read(4096)) is None:
        pass
    ws = ClientConnection()
    ws.receive_data(handshake.trailing_data)

    async def show() -> None:
        while True:
            for event in ws.events():
                if isinstance(event, Text):
                    message = json.loads(event.data)
                    print(message.get("data", message))
                elif isinstance(event, Close):
                    print(f"closed: {event.code} {event.reason}")
                    return
            writer.write(ws.data_to_send())  # pongs, close echo
            data = await reader.read(65536)
            if not data:
                ws.receive_eof()
            else:
                ws.receive_data(data)

    printer = asyncio.ensure_future(show())
    loop = asyncio.get_running_loop()
    try:
        while not printer.done():
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            ws.send_text(f"{name}: {line.rstrip()}")
            writer.write(ws.data_to_send())
    finally:
        printer.cancel()
        writer.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    with contextlib.suppress(KeyboardInterrupt):
        if args[:1] == ["join"] and len(args) >= 2:
            asyncio.run(join(args[1], args[2] if len(args) > 2 else "ws://127.0.0.1:8000/ws/room"))
        else:
            asyncio.run(serve(int(args[1]) if len(args) > 1 else 8000))
