"""The transport side of ``WebSocketProtocol``: writes, flow control both
ways, and the send path that costs nothing to wait on.

A fan-out writes one message per subscriber per event, so the cost of
``send`` is paid once per delivery. While a data message can go out at
once (the connection is open for it and the transport is under its
high-water mark), ``send`` frames it with the core (one C call for a
whole frame, ``rawpush.proto.ws.frames.server_frame``), writes it during
the call and returns a future that is already done: no coroutine is made,
and awaiting it suspends nothing. Every other message, and every message
that would fail, is left to the protocol's ``_send`` coroutine, which
waits for ``resume_writing`` and raises what the ASGI spec asks for when
awaited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, cast

from uvicorn._types import ASGISendEvent

from rawpush.proto.errors import WebSocketLocalError
from rawpush.proto.ws.connection import ServerConnection

__all__ = ["Wire"]


class Wire(asyncio.Protocol):
    """An ``asyncio.Protocol`` with the write helpers and the fast ``send``;
    the protocol class supplies ``_send`` and calls ``_arm``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.transport: asyncio.Transport | None = None
        self._reading_paused = False
        self._lost = False
        self._writable = asyncio.Event()
        self._writable.set()
        # _open: the connection while the application may send data on it;
        # _ready: the same while the transport takes writes as well.
        self._open: ServerConnection | None = None
        self._ready: ServerConnection | None = None
        # One finished future serves every fast send of the connection.
        self._done: asyncio.Future[None] = loop.create_future()
        self._done.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost reports it

    def pause_writing(self) -> None:
        self._ready = None
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()
        self._ready = self._open

    def _arm(self, conn: ServerConnection | None) -> None:
        """Data messages may go out on ``conn`` from now on (None: no more)."""
        self._open = conn
        self._ready = conn if self._writable.is_set() else None

    # -- sending ------------------------------------------------------------------

    def send(self, message: ASGISendEvent) -> Awaitable[None]:
        """Carry out one ASGI message from the application (see the module doc)."""
        conn = self._ready
        # No state check of our own: the core's table refuses data once the
        # connection is not OPEN (a WebSocketLocalError), and _send says why.
        if conn is not None and message["type"] == "websocket.send":
            fields: Any = message
            data = fields.get("bytes")
            try:
                if data is not None:
                    conn.send_binary(data)
                else:
                    text = fields.get("text")
                    if text is None:
                        return self._send(message)
                    conn.send_text(text)
            except WebSocketLocalError:
                return self._send(message)  # a refused send changed nothing
            out = conn.data_to_send()
            transport = self.transport
            # Never None here (_ready is set after connection_made); closing
            # when the transport failed and connection_lost is yet to come.
            if transport is not None and not transport.is_closing():
                transport.write(out)
            return self._done
        return self._send(message)

    async def _send(self, message: ASGISendEvent) -> None:
        raise NotImplementedError

    # -- the transport ------------------------------------------------------------

    def _transport(self) -> asyncio.Transport:
        transport = self.transport
        assert transport is not None, "connection_made() comes first"
        return transport

    def _write(self, data: bytes) -> None:
        transport = self._transport()
        if data and not transport.is_closing():
            transport.write(data)

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self._lost:
            self._reading_paused = True
            self._transport().pause_reading()

    def _resume_reading(self) -> None:
        if self._reading_paused and not self._lost:
            self._reading_paused = False
            self._transport().resume_reading()

    def _close_transport(self) -> None:
        self._arm(None)
        transport = self._transport()
        if not transport.is_closing():
            transport.close()

    def _abort(self) -> None:
        self._arm(None)
        self._transport().abort()
