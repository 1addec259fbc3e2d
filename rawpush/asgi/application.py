"""``App``: rawpush's endpoints as an ASGI 3 application, on a ``Hub``.

One more host for the server's sessions, beside the HTTP/1.1 one: the
routes (``rawpush.server.routes``) answer every request the same way, and
this package only carries the answers out in ASGI messages (``http`` for
pages, publish, long poll and SSE; ``websocket`` for ``/ws/{channel}``
and the multi-channel ``/ws``).

Shutting down drains as ``Server.close`` does: long polls are answered,
SSE streams end after a ``retry:`` hint, WebSockets close with 1001,
publishes in flight finish; what is still open after ``drain_timeout`` is
ended. ASGI servers send the lifespan shutdown only once every connection
has ended, which a stream never does by itself, so the drain starts on
the server's own SIGTERM/SIGINT: ``App`` chains a handler in front of the
one the server installed (``drain_on_signal``), and the lifespan shutdown
(or ``await app.shutdown()``) finishes it. That needs the app to run in
the process that receives the signal: ``uvicorn`` (one process, or each
``--workers`` child, which gets its own signals) and ``hypercorn
--workers 0``. Hypercorn's worker processes hear of shutdown through a
multiprocessing event, not a signal; there, or with any other trigger,
call ``app.begin_drain()`` when shutdown starts (``hypercorn.asyncio.serve
(..., shutdown_trigger=...)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from importlib import resources
from types import FrameType
from typing import Any

from rawpush.asgi.http import HTTPExchange
from rawpush.asgi.scope import Receive, Scope, Send
from rawpush.asgi.ws import WSExchange
from rawpush.hub import Hub
from rawpush.server.config import ServerConfig
from rawpush.server.context import Context
from rawpush.server.metrics import Metrics
from rawpush.server.transports import QUEUED

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class App:
    """An ASGI 3 application serving a ``Hub``.

    ``hub``: pass yours to publish from your application
    (``await hub.publish(channel, data)``); it stays open at shutdown. By
    default the app makes an in-memory hub from ``config.hub`` and closes
    it. Mount it anywhere: ``Starlette(routes=[Mount("/push", app)])``.
    """

    def __init__(
        self,
        hub: Hub | None = None,
        config: ServerConfig | None = None,
        *,
        drain_on_signal: bool = True,
    ) -> None:
        self.config = config if config is not None else ServerConfig()
        self._owns_hub = hub is None
        self.hub = hub if hub is not None else Hub(self.config.hub)
        self.metrics = Metrics()
        self.drain_on_signal = drain_on_signal
        self._ctx: Context | None = None
        self._shut = False
        self._ender: asyncio.Task[None] | None = None

    @property
    def context(self) -> Context:
        """What every exchange of this app shares (made on first use)."""
        ctx = self._ctx
        if ctx is None:
            index = resources.files("rawpush.server").joinpath("static/index.html").read_bytes()
            ctx = self._ctx = Context(self.config, self.hub, self.metrics, index, queued=QUEUED)
            self.metrics.add_collector(ctx.collect)
            if self.drain_on_signal:
                self._chain_signals()
        return ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI call: ``lifespan``, ``http`` or ``websocket``."""
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "http":
            await HTTPExchange(self.context, scope, receive, send).run()
        elif kind == "websocket":
            await WSExchange(self.context, scope, receive, send).run()
        else:
            # ASGI: an application raises on a scope type it does not know.
            raise ValueError(f"unsupported ASGI scope type {kind!r}")

    # -- lifespan ---------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Build the shared state now rather than on the first request
        (mounted apps get no lifespan of their own: call it from yours)."""
        _ = self.context

    def begin_drain(self) -> None:
        """Start the drain (idempotent): new streams are refused, open ones
        told to end; ``shutdown`` waits for them."""
        ctx = self.context
        if ctx.draining:
            return
        ctx.draining = True
        ctx.drain_event.set()
        for conn in list(ctx.connections):
            conn.drain()
        self._ender = asyncio.ensure_future(self._end_stragglers())

    async def _end_stragglers(self) -> None:
        ctx = self.context
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.drain_timeout
        while ctx.connections and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(ctx.connections):
            conn.abort()

    async def shutdown(self) -> None:
        """Drain (see the module docstring), then close the hub if this app
        made it. Idempotent."""
        self.begin_drain()
        ender = self._ender
        if ender is not None:
            await asyncio.shield(ender)
        if self._shut:
            return
        self._shut = True
        await asyncio.sleep(0)  # let aborted exchanges finish before the hub goes
        if self._owns_hub:
            await self.hub.close()

    # -- the server's signals -------------------------------------------------------

    def _chain_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers belong to the main thread
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            previous = signal.getsignal(sig)
            if not callable(previous):
                # The default or ignored: the server did not take this
                # signal, so it does not shut down on it either.
                continue
            signal.signal(sig, _chained(loop, self.begin_drain, previous))


def _chained(
    loop: asyncio.AbstractEventLoop,
    drain: Callable[[], None],
    previous: Callable[[int, FrameType | None], Any],
) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        # Before the server's own handler: the drain is scheduled first, so
        # the goodbyes are queued before the server starts closing. A signal
        # can also land while the server closes its loop (hypercorn checks
        # its signals then): nothing is left to drain.
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed in between
                loop.call_soon_threadsafe(drain)
        previous(signum, frame)

    return handler
