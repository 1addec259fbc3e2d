"""``WebSocketProtocol``: one uvicorn WebSocket connection on rawpush's core.

Phases: HANDSHAKE until the replayed upgrade request is read and checked;
CONNECTING while the application decides (reading paused: no frame before
the 101); OPEN once accepted (the core's ``State`` says the rest);
RESPONDING while its ``websocket.http.response`` is written; DONE.

Order of output. Input is pulled from the core one event at a time and
each event's automatic reply (Pong, Close echo, failing Close) is written
when that event is taken. Pulling stops at each data message until the
application has taken it, and resumes on the next turn of the loop: what
the application sends in that turn, its answer, goes out before the
replies to later frames (RFC 6455 section 5.5.3; the echo of a message
precedes the echo of a Close behind it). While stopped, reading pauses
past ``_READ_BACKLOG`` waiting bytes.

Sending waits while the transport is over its write high-water mark;
until then a data message is written during ``send`` itself (``_wire``).
A send on a connection that is gone raises ``ClientDisconnected`` (an
``OSError``, ASGI spec 2.4); a message out of place, ``RuntimeError``.

Closing. The peer's Close is echoed by the core and reported with its code
and reason; the server then ends TCP (section 7.1.1). The application's
``websocket.close`` is reported back at once, and the peer has
``close_timeout`` seconds to answer. Protocol errors close with the core's
code (1002, 1007, 1009 over ``ws_max_size``), a missed keepalive Pong with
1011, ``shutdown()`` with 1012 (section 7.4.1), as uvicorn's protocols do.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from typing import Any, cast

from uvicorn._types import (
    ASGI3Application,
    ASGIReceiveEvent,
    ASGISendEvent,
    WebSocketScope,
)
from uvicorn.config import Config
from uvicorn.protocols.utils import (
    ClientDisconnected,
    get_client_addr,
    get_local_addr,
    get_path_with_query_string,
    get_remote_addr,
    is_ssl,
)
from uvicorn.server import ServerState

from rawpush.proto.errors import WebSocketError, WebSocketLocalError
from rawpush.proto.ws.closecode import CloseCode
from rawpush.proto.ws.config import WSConfig
from rawpush.proto.ws.connection import ServerConnection
from rawpush.proto.ws.events import Binary, Close, Pong, Text
from rawpush.proto.ws.state import State
from rawpush.uvicorn._asgi import Inbox, build_scope
from rawpush.uvicorn._keepalive import Keepalive
from rawpush.uvicorn._opening import Opening
from rawpush.uvicorn._wire import Wire

__all__ = ["WebSocketProtocol"]

_logger = logging.getLogger("uvicorn.error")

#: bytes that may wait unparsed while the application has not taken the
#: last message, before reading from the socket pauses
_READ_BACKLOG = 1 << 16


class _Phase(enum.Enum):
    HANDSHAKE = "handshake"  # reading the replayed upgrade request
    CONNECTING = "connecting"  # the application decides: accept or deny
    OPEN = "open"  # accepted; the core's state says the rest
    RESPONDING = "responding"  # the application's denial is being written
    DONE = "done"  # denied, answered, or the handshake failed


class WebSocketProtocol(Wire):
    """The ASGI WebSocket protocol for ``uvicorn --ws rawpush.uvicorn:WebSocketProtocol``."""

    #: seconds the peer has to answer our Close before TCP is aborted
    close_timeout = 10.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = cast(ASGI3Application, config.loaded_app)
        self.loop = _loop or asyncio.get_event_loop()
        super().__init__(self.loop)
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers = server_state.default_headers
        self.scope: WebSocketScope | None = None
        self._opening = Opening(config.h11_max_incomplete_event_size or 16 * 1024)
        self._phase = _Phase.HANDSHAKE
        self._conn: ServerConnection | None = None
        self._early: list[bytes] = []  # bytes that came while CONNECTING
        self._inbox = Inbox()
        self._stalled = False  # a data message waits for the application
        self._backlog = 0  # bytes fed while stalled
        self._app_closed = False  # the application sent websocket.close
        self._keepalive = Keepalive(
            self.loop,
            config.ws_ping_interval,
            config.ws_ping_timeout,
            self._send_keepalive,
            self._keepalive_expired,
        )
        self._close_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.connections.add(self)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._arm(None)
        self.connections.discard(self)
        self._cancel_timers()
        # asyncio never resumes writing on a lost transport: wake senders.
        self._writable.set()
        if self._phase is not _Phase.HANDSHAKE:
            # Section 7.1.5: gone without a Close frame is 1006.
            self._inbox.disconnect(CloseCode.ABNORMAL_CLOSURE)

    def data_received(self, data: bytes) -> None:
        phase = self._phase
        if phase is _Phase.OPEN:
            conn = self._conn
            assert conn is not None
            conn.feed(data)
            if self._stalled:
                self._backlog += len(data)
                if self._backlog > _READ_BACKLOG:
                    self._pause_reading()
            else:
                self._pump()
        elif phase is _Phase.HANDSHAKE:
            self._read_request(data)
        elif phase is _Phase.CONNECTING:
            self._early.append(data)

    def shutdown(self) -> None:
        """uvicorn is stopping: close with 1012, or answer 500 before accepting."""
        self._cancel_timers()
        conn = self._conn
        if self._phase is _Phase.OPEN and conn is not None and conn.state is State.OPEN:
            self._inbox.disconnect(CloseCode.SERVICE_RESTART)
            conn.send_close(CloseCode.SERVICE_RESTART)
            self._flush()
        elif self._phase is _Phase.CONNECTING:
            self._respond_500()
        self._close_transport()

    # -- the opening handshake ----------------------------------------------------

    def _read_request(self, data: bytes) -> None:
        answer = self._opening.receive(data)
        if answer is None:
            return
        if isinstance(answer, bytes):
            # Not a valid handshake (section 4.2.1): the refusal, then close.
            self._phase = _Phase.DONE
            self._write(answer)
            self._close_transport()
            return
        found = self._opening.found
        assert found is not None
        transport = self._transport()
        self.scope = build_scope(
            answer,
            found,
            scheme="wss" if is_ssl(transport) else "ws",
            client=get_remote_addr(transport),
            server=get_local_addr(transport),
            root_path=self.config.root_path,
            asgi_version=self.config.asgi_version,
            state=self.app_state.copy(),
        )
        self._phase = _Phase.CONNECTING
        # Frames may only be read after the 101 (or never, if denied).
        self._pause_reading()
        self._inbox.put({"type": "websocket.connect"})
        task = self.loop.create_task(self._run_asgi())
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _accept(self, message: Any) -> None:
        max_size = self.config.ws_max_size
        head, trailing, extension = self._opening.accept(
            message,
            deflate=self.config.ws_per_message_deflate,
            max_size=max_size,
            default_headers=self.default_headers,
        )
        conn = self._conn = ServerConnection(
            WSConfig(max_frame_size=max(max_size, 125), max_message_size=max_size),
            extension=extension,
        )
        self._phase = _Phase.OPEN
        self._log("[accepted]")
        self._write(head)
        self._arm(conn)
        self._keepalive.start()
        # The bytes after the request come first, then those that arrived
        # while the application decided.
        for data in (trailing, *self._early):
            if data:
                conn.feed(data)
        self._early.clear()
        self._resume_reading()
        self._pump()

    def _deny(self) -> None:
        self._phase = _Phase.DONE
        self._log("403")
        self._write(self._opening.deny(self.default_headers))
        self._inbox.disconnect(CloseCode.ABNORMAL_CLOSURE)
        self._close_transport()

    def _start_response(self, message: Any) -> None:
        head = self._opening.start_response(message, self.default_headers)
        self._phase = _Phase.RESPONDING
        self._log(str(message["status"]))
        self._write(head)

    def _response_body(self, message: Any) -> None:
        out, done = self._opening.response_body(message)
        self._write(out)
        if done:
            self._phase = _Phase.DONE
            self._inbox.disconnect(CloseCode.ABNORMAL_CLOSURE)
            self._close_transport()

    def _respond_500(self) -> None:
        self._phase = _Phase.DONE
        self._write(self._opening.internal_error())

    # -- receiving frames ---------------------------------------------------------

    def _pump(self) -> None:
        """Pull events from the core until one waits for the application."""
        conn = self._conn
        assert conn is not None
        while not self._stalled:
            try:
                event = conn.next_event()
            except WebSocketError as exc:
                # Section 7.1.7: the core queued the Close with exc.code.
                self._flush()
                self._inbox.disconnect(exc.code, exc.reason)
                break
            if event is None:
                break
            if isinstance(event, Text):
                if not self._app_closed:
                    self._inbox.put({"type": "websocket.receive", "text": event.data})
                    self._stalled = True
            elif isinstance(event, Binary):
                if not self._app_closed:
                    self._inbox.put({"type": "websocket.receive", "bytes": event.data})
                    self._stalled = True
            elif isinstance(event, Close):
                self._inbox.disconnect(event.code, event.reason)
            elif isinstance(event, Pong):
                self._keepalive.pong(event.payload)
            # A Ping's Pong is already queued by the core: flush it now,
            # ahead of anything sent in answer to later frames.
            self._flush()
        if conn.should_close:
            self._close_transport()

    def _resume_pulling(self) -> None:
        if self._stalled and self._phase is _Phase.OPEN and not self._lost:
            self._stalled = False
            self._backlog = 0
            self._resume_reading()
            self._pump()

    # -- keepalive ----------------------------------------------------------------

    def _send_keepalive(self, payload: bytes) -> bool:
        conn = self._conn
        if conn is None or conn.state is not State.OPEN or self._lost:
            return False
        conn.send_ping(payload)
        self._flush()
        return True

    def _keepalive_expired(self) -> None:
        conn = self._conn
        if conn is None or conn.state is not State.OPEN or self._lost:
            return
        # Section 7.4.1: 1011, the server met a condition it cannot go on with.
        reason = "keepalive ping timeout"
        self._inbox.disconnect(CloseCode.INTERNAL_ERROR, reason)
        conn.send_close(CloseCode.INTERNAL_ERROR, reason)
        self._flush()
        self._close_transport()

    # -- the application ----------------------------------------------------------

    async def _run_asgi(self) -> None:
        scope = self.scope
        assert scope is not None
        failed = False
        try:
            result = await self.app(scope, self.receive, self.send)  # type: ignore[func-returns-value]
        except ClientDisconnected:
            pass
        except Exception:
            _logger.exception("Exception in ASGI application\n")
            failed = True
        else:
            if self._phase is _Phase.CONNECTING:
                _logger.error("ASGI callable returned without completing handshake.")
            elif result is not None:
                _logger.error("ASGI callable should return None, but returned '%s'.", result)
        finally:
            self._app_finished(failed)

    def _app_finished(self, failed: bool) -> None:
        if self._lost:
            return
        conn = self._conn
        if self._phase is _Phase.CONNECTING:
            self._respond_500()
        elif self._phase is _Phase.OPEN and conn is not None:
            if conn.state is State.OPEN:
                # The application is gone: end the connection properly
                # (section 7.1.2), 1011 when it failed (section 7.4.1).
                code = CloseCode.INTERNAL_ERROR if failed else CloseCode.NORMAL_CLOSURE
                self._start_closing(code, "")
            if conn.state is State.CLOSING:
                return  # the close timer or the peer's Close ends it
        self._close_transport()

    async def receive(self) -> ASGIReceiveEvent:
        """The next ASGI event; after the disconnect, the disconnect again."""
        message = await self._inbox.get(self.loop)
        if message["type"] == "websocket.receive":
            # Resume pulling once this turn of the loop is over: what the
            # application sends in answer to the message goes first.
            self.loop.call_soon(self._resume_pulling)
        return message

    async def _send(self, message: ASGISendEvent) -> None:
        if not self._writable.is_set():
            await self._writable.wait()
        kind = message["type"]
        phase = self._phase
        if phase is _Phase.OPEN:
            self._send_open(kind, message)
        elif self._lost:
            raise ClientDisconnected
        elif phase is _Phase.CONNECTING:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._deny()
            elif kind == "websocket.http.response.start":
                self._start_response(message)
            else:
                raise RuntimeError(
                    "Expected ASGI message 'websocket.accept', 'websocket.close' or "
                    f"'websocket.http.response.start', but got {kind!r}."
                )
        elif phase is _Phase.RESPONDING:
            if kind != "websocket.http.response.body":
                raise RuntimeError(
                    f"Expected ASGI message 'websocket.http.response.body', but got {kind!r}."
                )
            self._response_body(message)
        else:
            raise RuntimeError(f"Unexpected ASGI message {kind!r}: the response is complete.")

    def _send_open(self, kind: str, message: Any) -> None:
        conn = self._conn
        assert conn is not None
        if self._app_closed:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} after 'websocket.close'.")
        if self._lost or conn.state is not State.OPEN:
            raise ClientDisconnected
        if kind == "websocket.send":
            data = message.get("bytes")
            try:
                if data is not None:
                    conn.send_binary(data)
                elif message.get("text") is not None:
                    conn.send_text(message["text"])
                else:
                    raise RuntimeError("'websocket.send' needs 'bytes' or 'text'.")
            except WebSocketLocalError as exc:
                raise RuntimeError(f"cannot send: {exc}") from None
            self._flush()
        elif kind == "websocket.close":
            code = message.get("code", CloseCode.NORMAL_CLOSURE)
            self._start_closing(code, message.get("reason") or "")
        else:
            raise RuntimeError(
                f"Expected ASGI message 'websocket.send' or 'websocket.close', but got {kind!r}."
            )

    def _start_closing(self, code: int, reason: str) -> None:
        conn = self._conn
        assert conn is not None
        try:
            conn.send_close(code, reason)
        except WebSocketLocalError as exc:
            raise RuntimeError(f"cannot close: {exc}") from None
        self._app_closed = True
        self._arm(None)
        self._inbox.disconnect(code, reason)
        self._flush()
        self._close_timer = self.loop.call_later(self.close_timeout, self._abort)
        # Read on: the peer's Close ends the handshake; data before it is dropped.
        self._stalled = False
        self._resume_reading()
        self._pump()

    # -- the transport ------------------------------------------------------------

    def _flush(self) -> None:
        conn = self._conn
        if conn is not None:
            self._write(conn.data_to_send())

    def _close_transport(self) -> None:
        self._cancel_timers()
        super()._close_transport()

    def _abort(self) -> None:
        self._close_timer = None
        super()._abort()

    def _cancel_timers(self) -> None:
        self._keepalive.stop()
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None

    def _log(self, outcome: str) -> None:
        scope = self.scope
        assert scope is not None
        where = get_client_addr(scope), get_path_with_query_string(scope)
        _logger.info('%s - "WebSocket %s" %s', *where, outcome)
