"""rawpush's WebSocket core under uvicorn: ``--ws rawpush.uvicorn:WebSocketProtocol``.

``WebSocketProtocol`` is an ``asyncio.Protocol`` that uvicorn installs on a
connection once its HTTP protocol has seen an upgrade request. It speaks
the ASGI WebSocket interface (spec version 2.4, with the
``websocket.http.response`` extension) to the application and drives
rawpush's sans-IO core (``rawpush.proto``) on the wire:

- the request uvicorn hands over is read by ``HTTPConnection`` and checked
  by ``check_request`` (RFC 6455 section 4.2.1); every response byte, the
  101, a 403 or the application's own denial, is h11's through the core;
- frames are pulled one event at a time (``ServerConnection.next_event``)
  so replies go out in the order the frames came in (see ``protocol``);
- uvicorn's ``ws_max_size``, ``ws_ping_interval``, ``ws_ping_timeout``
  and ``ws_per_message_deflate`` settings are honoured.

This package imports uvicorn; nothing else in rawpush imports it.
"""

from __future__ import annotations

from rawpush.uvicorn.protocol import WebSocketProtocol

__all__ = ["WebSocketProtocol"]
