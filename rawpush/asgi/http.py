"""The ASGI ``http`` scope: one request, answered the way the route said.

- ``Reply``/``Refusal``: ``http.response.start`` and one body message.
- ``Deferred`` (publish, long poll): awaited here; a long poll is
  cancelled when ``http.disconnect`` arrives (the hub leaves nothing
  registered behind), a publish finishes once accepted.
- ``Takeover`` (an SSE stream): this exchange becomes the session's
  ``Host``. The head is ``http.response.start`` and the body is framed by
  the ASGI server itself (``Framing.RAW``): each write is one
  ``http.response.body`` with ``more_body``, sent in order by a ``Sender``
  whose watermarks pause and resume the session (with
  ``write_coalesce_window``, the writes of one window share a message).
  ``http.disconnect`` is the peer's end of the stream (``eof_received``).

What ASGI cannot say: there is no abort. A stream ended by force (a
stalled reader past its outbox's bound, or past ``write_stall_timeout``)
stops sending at once and returns without finishing the response; the
server then closes the connection (and may log that the response was not
completed), but bytes already in its buffer still wait for the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from rawpush.asgi.exchange import Exchange
from rawpush.asgi.scope import (
    Receive,
    Scope,
    Send,
    build_request,
    client_of,
    response_messages,
    start_message,
)
from rawpush.asgi.sender import Sender
from rawpush.proto.errors import HTTPError, LocalProtocolError
from rawpush.proto.http import Headers
from rawpush.server import routes
from rawpush.server.answers import Deferred, Refusal, Reply, Takeover
from rawpush.server.context import Context
from rawpush.server.host import Framing

logger = logging.getLogger("rawpush.asgi")

_DRAINING = HTTPError("the server is shutting down", 503, (("Retry-After", "1"),))


async def read_body(receive: Receive, limit: int, declared: str | None) -> bytes | None:
    """The request body, or None if the client left first; ``HTTPError``
    413 past ``limit`` (RFC 9110 section 15.5.14), never buffered past it."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPError("request body too large", 413)
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] != "http.request":
            continue
        data = bytes(message.get("body", b""))
        size += len(data)
        if size > limit:
            raise HTTPError("request body too large", 413)
        parts.append(data)
        if not message.get("more_body", False):
            return b"".join(parts)


class HTTPExchange(Exchange):
    """One ASGI http call; the ``Host`` of the SSE session it may carry."""

    def __init__(self, ctx: Context, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(ctx, "http", client_of(scope))
        self.scope = scope
        self._receive = receive
        self._send = send
        cfg = ctx.config
        self.sender = Sender(
            send, cfg.write_high_water, cfg.write_low_water, cfg.write_coalesce_window
        )
        self._counted_sent = 0
        self._task: asyncio.Task[Reply | Refusal] | None = None
        self._method = str(scope.get("method", "GET"))
        self._started = False  # a response head went out (or is queued)

    # -- the exchange -----------------------------------------------------------

    async def run(self) -> None:
        """Serve the call: refuse it when over a connection limit, else route
        the request and answer it."""
        refused = self.begin()
        if refused is not None:
            await self._respond(Refusal(refused))
            return
        try:
            await self._serve()
        finally:
            self.end()

    async def _serve(self) -> None:
        ctx = self.ctx
        limits = ctx.config.http
        headers = dict(self.scope.get("headers", ()))
        declared = headers.get(b"content-length")
        try:
            body = await read_body(
                self._receive,
                limits.max_body_bytes,
                None if declared is None else bytes(declared).decode("latin-1"),
            )
            if body is None:
                return  # gone before it finished asking
            self.bytes_in += len(body)
            request = build_request(self.scope, limits, body)
        except HTTPError as exc:
            self.disconnect("bad_request")
            await self._respond(Refusal(exc))
            return
        answer = routes.dispatch(ctx, request, self.peer)
        if isinstance(answer, Reply | Refusal):
            await self._respond(answer)
        elif isinstance(answer, Deferred):
            await self._defer(answer)
        elif ctx.draining:
            # A stream opened now would be drained at once: say so instead.
            await self._respond(Refusal(_DRAINING))
        else:
            await self._take_over(answer)

    async def _respond(self, answer: Reply | Refusal) -> None:
        start, body = response_messages(answer, self._method)
        self.count_status(start["status"])
        self.bytes_out += len(body["body"])
        await self._send(start)
        await self._send(body)

    async def _defer(self, deferred: Deferred) -> None:
        self.set_kind(deferred.kind)
        task = self._task = asyncio.ensure_future(deferred.answer)
        watch = asyncio.ensure_future(self._wait_disconnect())
        try:
            await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                if deferred.cancel_on_eof:
                    # The long-poll client is gone: stop waiting.
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                    return
                await asyncio.wait({task})  # a publish finishes once accepted
        finally:
            watch.cancel()
            self._task = None
            if deferred.cancel_on_eof and not task.done():
                task.cancel()  # this call itself was cancelled: nobody waits
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("request handler failed", exc_info=exc)
            await self._respond(Refusal(HTTPError("internal server error", 500)))
            return
        await self._respond(task.result())

    async def _wait_disconnect(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass

    async def _take_over(self, takeover: Takeover) -> None:
        session = takeover.open(self)
        self.session = session
        self.set_kind(takeover.kind)
        self.sender.on_pause = session.pause_writing
        self.sender.on_resume = session.resume_writing
        sending = self.sender.start()
        watch = asyncio.ensure_future(self._watch_peer())
        session.start()
        try:
            # A server may raise once its client is gone (OSError subclasses):
            # the stream is over either way.
            with contextlib.suppress(OSError):
                await sending
        finally:
            watch.cancel()
            self.sender.drop()
            session.connection_lost()

    async def _watch_peer(self) -> None:
        await self._wait_disconnect()
        if self.session is not None:
            self.session.eof_received()
        # Nobody reads any more: whatever is still queued is for no one.
        self.sender.drop()

    # -- counters ----------------------------------------------------------------

    def _sent(self) -> int:
        sent, self._counted_sent = self.sender.sent - self._counted_sent, self.sender.sent
        return sent

    # -- the Host operations (rawpush.server.host) ---------------------------------

    def write(self, data: bytes) -> None:
        """Queue ``data`` as one ``http.response.body`` message (more to come),
        or part of one under ``write_coalesce_window``."""
        if data:
            self.sender.put_body(data)

    def open_stream(self, status: int, headers: Headers) -> Framing:
        """Send ``http.response.start``; the ASGI server frames the body, so
        the session's bytes go out as they are (``Framing.RAW``)."""
        self.count_status(status)
        self._started = True
        self.sender.put(start_message(status, headers))
        # The ASGI server frames each body message itself (chunks on
        # HTTP/1.1, DATA frames on HTTP/2): the session sends plain bytes.
        return Framing.RAW

    def end_stream(self) -> None:
        """Send the last, empty body message (``more_body`` false)."""
        self.sender.finish({"type": "http.response.body", "body": b"", "more_body": False})

    def close(self) -> None:
        """End the response; an empty 503 if no head went out yet."""
        if not self._started:
            # Nothing went out (a session ended before its head): ASGI still
            # owes the client an answer; an empty 503 is the honest one.
            self._started = True
            self.count_status(503)
            start, body = response_messages(Reply(503), self._method)
            self.sender.put(start)
            self.sender.finish(body)
            return
        self.end_stream()

    def abort(self) -> None:
        """Cancel the call and drop whatever is still queued."""
        task = self._task
        if task is not None:
            task.cancel()
        self.sender.drop()

    def pause_reading(self) -> None:
        """Nothing to pause: the request was read whole before the stream began."""
        pass  # an event stream's request is complete: nothing more to read

    def resume_reading(self) -> None:
        """Nothing to resume (see ``pause_reading``)."""
        pass

    def switch_protocols(self, headers: Headers) -> bytes:
        """Always ``LocalProtocolError``: an ASGI ``http`` scope cannot upgrade."""
        raise LocalProtocolError("an ASGI http scope cannot switch protocols")

    def refuse(self, error: HTTPError) -> None:
        """Answer ``error`` (its status, headers and JSON body) and end the call;
        drop the response instead when its head already went out."""
        if self._started:
            self.sender.drop()
            return
        self._started = True
        start, body = response_messages(Refusal(error), self._method)
        self.count_status(error.status)
        self.sender.put(start)
        self.sender.finish(body)

    # -- Carrier ---------------------------------------------------------------------

    def drain(self) -> None:
        """On shutdown, let the SSE session say goodbye; a poll or a publish
        answers by itself."""
        if self.session is not None:
            self.session.drain()
        # else: a poll answers when it sees the drain event, a publish when
        # the hub returns.
