"""``WebSocketClient``: the sans-IO client core driven by ``asyncio.Protocol``.

One object is both the protocol asyncio calls back and the connection the
application uses. It runs the opening handshake (``ClientHandshake``), then
hands the bytes that followed the 101 to a ``ClientConnection`` and pumps
it: every ``data_received`` is fed to the core, the core's events go to a
bounded message queue, and whatever the core wants to write (our frames,
its auto-pongs and close echoes) is written at once.

Flow control both ways, as RFC 6455 leaves it to TCP:

- write: the transport's high-water mark pauses us (``pause_writing``);
  ``send`` then waits for ``resume_writing`` before returning.
- read: when the application lets more than ``max_queue`` messages pile up,
  we stop reading the socket; TCP pushes back on the server.

Who closes TCP (section 7.1.1): the server. Once the closing handshake is
done we wait ``close_timeout`` for its FIN and only then drop the socket
ourselves.
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import AsyncIterator
from typing import cast

from rawpush.client.ws_errors import ConnectionClosed, InvalidHandshake, closed_error, retry_hint
from rawpush.proto.errors import HandshakeError, WebSocketError, WebSocketLocalError
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.connection import ClientConnection
from rawpush.proto.ws.deflate import DeflateParams, PerMessageDeflate, deflate_from_response
from rawpush.proto.ws.events import Binary, Close, Pong, Text
from rawpush.proto.ws.handshake_client import ClientHandshake
from rawpush.proto.ws.state import State

__all__ = ["WebSocketClient"]

Message = str | bytes


class WebSocketClient(asyncio.Protocol):
    """An open (or opening) client connection; made by ``rawpush.client.connect``."""

    def __init__(
        self,
        handshake: ClientHandshake,
        config: WSConfig,
        *,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 5.0,
        max_queue: int = 16,
        write_limit: int = 64 * 1024,
        deflate: DeflateParams | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        # What we offered for permessage-deflate (RFC 7692), None if nothing.
        self._deflate = deflate
        self._extension: PerMessageDeflate | None = None
        self._handshake = handshake
        self._config = config
        self._conn: ClientConnection | None = None
        self._transport: asyncio.Transport | None = None
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._close_timeout = close_timeout
        self._max_queue = max(1, max_queue)
        self._write_limit = write_limit
        self.opened: asyncio.Future[None] = self._loop.create_future()
        self._messages: collections.deque[Message] = collections.deque()
        self._reading_paused = False
        self._recv_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        # Pings in flight, oldest first: payload -> (future, time sent).
        self._pings: dict[bytes, tuple[asyncio.Future[float], float]] = {}
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._close_code: int | None = None
        self._close_reason = ""
        self._close_timer: asyncio.TimerHandle | None = None
        self._keepalive: asyncio.Task[None] | None = None
        # A pull of the core's events postponed to let a reader run first.
        self._pump_handle: asyncio.Handle | None = None

    # -- the application's side ---------------------------------------------

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose (section 4.1), or None."""
        return self._handshake.subprotocol

    @property
    def compression(self) -> str | None:
        """The string "deflate" when permessage-deflate was negotiated, else None."""
        return "deflate" if self._extension is not None else None

    @property
    def close_code(self) -> int | None:
        """How the connection ended (see ``ConnectionClosed``); None while open."""
        return self._close_code if self._closed.done() else None

    @property
    def close_reason(self) -> str | None:
        """The reason that came with ``close_code``; None while open."""
        return self._close_reason if self._closed.done() else None

    @property
    def retry_after(self) -> float | None:
        """Once closed: the seconds the server asked us to wait before
        reconnecting (its 1001 drain hint, see ``rawpush.client.ws_errors``),
        or None."""
        reason = self.close_reason
        return None if reason is None else retry_hint(reason)

    @property
    def state(self) -> State:
        """OPEN, CLOSING (our Close sent) or CLOSED."""
        if self._conn is None or self._closed.done():
            return State.CLOSED
        return self._conn.state

    async def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send a text (``str``) or binary message; waits while the socket is full."""
        conn = self._open_conn()
        try:
            if isinstance(message, str):
                conn.send_text(message)
            elif isinstance(message, bytes | bytearray | memoryview):
                conn.send_binary(message)
            else:
                raise TypeError(f"send() takes str or bytes, not {type(message).__name__}")
        except WebSocketLocalError:
            # Our Close already went out (section 5.5.1: no data after it).
            raise self._closed_exc() from None
        self._flush()
        await self._drain()

    async def recv(self) -> Message:
        """The next message: ``str`` for text, ``bytes`` for binary.

        Messages that arrived before the close are still delivered; after
        them, raises ``ConnectionClosed``.
        """
        if self._recv_waiter is not None:
            # Two readers would race for each message; make the misuse loud.
            raise RuntimeError("recv() is already being awaited by another task")
        while not self._messages:
            if self._closed.done():
                raise self._closed_exc()
            self._recv_waiter = self._loop.create_future()
            try:
                await self._recv_waiter
            finally:
                self._recv_waiter = None
        message = self._messages.popleft()
        if self._reading_paused and len(self._messages) <= self._max_queue // 2:
            self._reading_paused = False
            if self._transport is not None and not self._transport.is_closing():
                self._transport.resume_reading()
            if self._pump_handle is None and self._conn is not None:
                # Frames the core still holds, not parsed while the queue was full.
                self._pump_handle = self._loop.call_soon(self._pump)
        return message

    async def __aiter__(self) -> AsyncIterator[Message]:
        """Messages until the connection closes; a normal close ends the loop,
        an abnormal one raises ``ConnectionClosedError``."""
        while True:
            try:
                yield await self.recv()
            except ConnectionClosed as exc:
                if exc.code in (1000, 1001, 1005):
                    return
                raise

    def ping(self, data: bytes | str = b"") -> asyncio.Future[float]:
        """Send a Ping; the returned future resolves to the round trip in
        seconds when the matching Pong arrives (section 5.5.3).

        Without ``data`` a random payload is used so that each Pong can be
        matched to its Ping.
        """
        conn = self._open_conn()
        payload = data.encode() if isinstance(data, str) else bytes(data)
        if not payload:
            payload = os.urandom(4)
            while payload in self._pings:
                payload = os.urandom(4)
        elif payload in self._pings:
            raise ValueError("a ping with this payload is already waiting for its pong")
        try:
            conn.send_ping(payload)
        except WebSocketLocalError:
            raise self._closed_exc() from None
        waiter: asyncio.Future[float] = self._loop.create_future()
        self._pings[payload] = (waiter, self._loop.time())
        self._flush()
        return waiter

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Run the closing handshake (section 7.1.2) and wait for the server
        to close TCP, at most ``close_timeout`` seconds. Idempotent."""
        conn = self._conn
        if conn is not None and conn.state is State.OPEN and not self._closed.done():
            conn.send_close(code, reason)
            self._flush()
        await self._wait_closed()

    async def wait_closed(self) -> None:
        """Wait until the TCP connection is gone."""
        await asyncio.shield(self._closed)

    async def _wait_closed(self) -> None:
        if self._transport is None:
            return
        try:
            async with asyncio.timeout(self._close_timeout):
                await asyncio.shield(self._closed)
        except TimeoutError:
            # The server never closed TCP (section 7.1.1 lets us do it).
            self._transport.abort()
            await asyncio.shield(self._closed)

    def abort(self) -> None:
        """Drop the TCP connection at once, without a closing handshake."""
        if self._transport is not None:
            self._transport.abort()

    async def __aenter__(self) -> WebSocketClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- helpers ---------------------------------------------------------------

    def _open_conn(self) -> ClientConnection:
        if self._conn is None or self._closed.done():
            raise self._closed_exc()
        return self._conn

    def _closed_exc(self) -> ConnectionClosed:
        code = self._close_code if self._close_code is not None else 1006
        return closed_error(code, self._close_reason)

    def _flush(self) -> None:
        conn = self._conn
        transport = self._transport
        if conn is None or transport is None:
            return
        data = conn.data_to_send()
        if data and not transport.is_closing():
            transport.write(data)
        if conn.should_close:
            transport.close()
        elif conn.state is State.CLOSED and self._close_timer is None:
            # Closing handshake done, waiting for the server's FIN (7.1.1).
            self._close_timer = self._loop.call_later(self._close_timeout, transport.abort)

    async def _drain(self) -> None:
        if not self._writing_paused:
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def _record_close(self, code: int, reason: str) -> None:
        # The first reason wins: a failure's code is not overwritten by the
        # 1006 the core reports when TCP then ends.
        if self._close_code is None:
            self._close_code = code
            self._close_reason = reason

    def _wake_reader(self) -> None:
        waiter = self._recv_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- keepalive -------------------------------------------------------------

    async def _keepalive_loop(self, interval: float, timeout: float | None) -> None:
        # Section 5.5.2: a Ping "may serve ... as a keepalive"; a peer that
        # does not answer within ping_timeout is considered dead.
        while True:
            await asyncio.sleep(interval)
            try:
                pong = self.ping()
            except ConnectionClosed:
                return
            if timeout is None:
                continue
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(pong)
            except TimeoutError:
                self._fail(1011, "keepalive ping timeout")
                return
            except ConnectionClosed:
                return

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection ourselves (section 7.1.7): Close, then drop TCP."""
        conn = self._conn
        self._record_close(code, reason)
        if conn is not None and conn.state is State.OPEN:
            conn.send_close(code, reason)
        if self._transport is not None:
            if conn is not None:
                data = conn.data_to_send()
                if data and not self._transport.is_closing():
                    self._transport.write(data)
            self._transport.close()

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport, set its write watermark and send the opening
        handshake (RFC 6455 section 4.1)."""
        # uvloop's transports are not asyncio.Transport subclasses but
        # offer the same interface.
        transport = cast("asyncio.Transport", transport)
        self._transport = transport
        transport.set_write_buffer_limits(high=self._write_limit)
        transport.write(self._handshake.data_to_send())

    def data_received(self, data: bytes) -> None:
        """Feed the bytes to the handshake until the 101, then to the connection."""
        if self._conn is None:
            self._handshake_received(data)
            return
        self._frames_received(data)

    def _handshake_received(self, data: bytes) -> None:
        try:
            response = self._handshake.receive_data(data)
            if response is not None and self._deflate is not None:
                # RFC 7692 section 7.1: an answer we did not allow fails.
                self._extension = deflate_from_response(response.extensions, self._deflate)
        except HandshakeError as exc:
            if not self.opened.done():
                self.opened.set_exception(InvalidHandshake(exc, self._handshake.response))
            self._record_close(1006, "handshake failed")
            assert self._transport is not None
            self._transport.close()
            return
        if response is None:
            return
        self._conn = ClientConnection(self._config, extension=self._extension)
        if not self.opened.done():
            self.opened.set_result(None)
        if self._ping_interval is not None:
            self._keepalive = self._loop.create_task(
                self._keepalive_loop(self._ping_interval, self._ping_timeout)
            )
        trailing = self._handshake.trailing_data
        if trailing:
            self._frames_received(trailing)

    def _frames_received(self, data: bytes) -> None:
        assert self._conn is not None
        self._conn.feed(data)
        if self._pump_handle is None:  # else the pending pull parses it in turn
            self._pump()

    def _pump(self, *, drain: bool = False) -> None:
        """Pull events from the core and act on them, then write its output.

        One event at a time, so the core writes each reply (a Pong, the echo
        of a Close, the Close that fails the connection) as its frame is
        reached. After each message the pull waits for the next turn of
        the loop, so that a reader that is waiting (or a task about to
        read) runs first: what the application sends in answer goes out
        before whatever the frames after the message make us write, in the
        order the peer sent them (Autobahn 3.2, 5.15: an echo, then the
        Close that fails the connection). Stops while ``max_queue``
        messages wait (read backpressure); ``drain`` ignores both pauses
        (the peer's EOF is next).
        """
        self._pump_handle = None
        conn = self._conn
        assert conn is not None
        messages = self._messages
        try:
            while drain or len(messages) < self._max_queue:
                event = conn.next_event()
                if event is None:
                    break
                if isinstance(event, Text | Binary):
                    messages.append(event.data)
                    if not drain:
                        # After the reader's wake-up (or the task that is
                        # about to read, such as connect() returning).
                        self._wake_reader()
                        self._pump_handle = self._loop.call_soon(self._pump)
                        break
                elif isinstance(event, Pong):
                    self._pong_received(event.payload)
                elif isinstance(event, Close):
                    self._record_close(event.code, event.reason)
        except WebSocketError as exc:
            # The core queued our Close with exc.code (section 7.1.7).
            self._record_close(exc.code, exc.reason)
        self._wake_reader()
        if (
            not drain
            and len(messages) >= self._max_queue
            and not self._reading_paused
            and self._transport is not None
        ):
            self._reading_paused = True
            self._transport.pause_reading()
        self._flush()

    def _pong_received(self, payload: bytes) -> None:
        if payload not in self._pings:
            return  # unsolicited (section 5.5.3): a heartbeat, nothing to do
        # Section 5.5.3 lets a peer answer only the latest of several pings,
        # so a Pong also acknowledges every Ping sent before its own.
        now = self._loop.time()
        for key in list(self._pings):
            waiter, sent = self._pings.pop(key)
            if not waiter.done():
                waiter.set_result(now - sent)
            if key == payload:
                break

    def eof_received(self) -> bool | None:
        """The server closed its side: deliver what it sent first, then let
        asyncio close the transport."""
        if self._conn is None:
            try:
                self._handshake.receive_eof()
            except HandshakeError as exc:
                if not self.opened.done():
                    self.opened.set_exception(InvalidHandshake(exc, self._handshake.response))
            return None
        if self._pump_handle is not None:
            self._pump_handle.cancel()
        # Every frame before the EOF first: receive_eof drops what is left.
        self._pump(drain=True)
        self._conn.receive_eof()
        self._pump(drain=True)
        return None  # let asyncio close the transport

    def pause_writing(self) -> None:
        """The transport's buffer is over its high-water mark: ``send`` waits."""
        self._writing_paused = True

    def resume_writing(self) -> None:
        """The transport's buffer drained: release the waiting senders."""
        self._writing_paused = False
        self._release_drain_waiters(None)

    def _release_drain_waiters(self, exc: BaseException | None) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if waiter.done():
                continue
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection ended: deliver what arrived before it, record 1006 if
        no Close frame came (RFC 6455 section 7.1.5) and wake every waiter."""
        if self._pump_handle is not None:
            self._pump_handle.cancel()
            self._pump_handle = None
        if self._conn is not None:
            # What the peer sent before a reset is still delivered.
            self._pump(drain=True)
        # Section 7.1.5: no Close frame before the end of TCP is 1006.
        self._record_close(1006, "" if exc is None else str(exc))
        if not self.opened.done():
            self.opened.set_exception(
                ConnectionError("connection closed during the opening handshake")
            )
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._keepalive is not None:
            self._keepalive.cancel()
        if not self._closed.done():
            self._closed.set_result(None)
        closed = self._closed_exc()
        for waiter, _ in self._pings.values():
            if not waiter.done():
                waiter.set_exception(closed)
                # Nobody may be awaiting a keepalive ping: mark it retrieved.
                waiter.exception()
        self._pings.clear()
        self._release_drain_waiters(closed)
        self._wake_reader()
