"""The embedding API: ``Server``, ``serve`` and ``serve_forever``.

::

    server = rawpush.Server(ServerConfig(port=0))
    await server.start()
    print(server.port)                      # the bound port
    await server.hub.publish("news", "hi")  # publish from Python
    await server.close()                    # graceful drain

``close()`` drains gracefully: the listener stops accepting,
WebSocket clients get 1001, SSE streams end after a ``retry:`` hint, long
polls are answered, publishes already in flight complete; connections
still open after ``drain_timeout`` are aborted. Only then is the hub
closed (if this server created it), so nothing it accepted is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import os
import signal
import ssl
import sys
from collections.abc import Callable
from importlib import resources
from types import TracebackType
from typing import Any

from rawpush.auth import TicketStore
from rawpush.hub import Hub
from rawpush.server.config import ServerConfig
from rawpush.server.context import Context
from rawpush.server.metrics import Metrics
from rawpush.server.protocol import HTTPProtocol
from rawpush.server.security import auth_config, is_open
from rawpush.server.tls_accept import TLSAccept
from rawpush.server.transports import QUEUED

__all__ = ["Server", "WorkerRole", "serve", "serve_forever"]


def _index_html() -> bytes:
    return resources.files("rawpush.server").joinpath("static/index.html").read_bytes()


def _ssl_context(config: ServerConfig) -> ssl.SSLContext | None:
    if config.certfile is None:  # a keyfile alone is refused by ServerConfig
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.certfile, config.keyfile)
    # Nothing older than TLS 1.2 (RFC 8996 deprecates 1.0 and 1.1).
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # RFC 9113 section 3.2: "h2" first, so a client that speaks both gets
    # HTTP/2 (the HTTP/1.1 host hands such a connection to the HTTP/2 one).
    context.set_alpn_protocols(["h2", "http/1.1"] if config.http2 else ["http/1.1"])
    return context


class Server:
    """A rawpush server on one listening socket.

    ``hub``: pass one to share it with your application (then ``close()``
    leaves it open: it is yours); by default the server makes an in-memory
    hub from ``config.hub`` and closes it.
    """

    #: bind with SO_REUSEPORT, next to other processes on the same port
    #: (``serve_forever`` sets it for a worker of ``rawpush serve --workers``)
    reuse_port = False

    def __init__(
        self,
        config: ServerConfig | None = None,
        hub: Hub | None = None,
        *,
        echo_only: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        tickets: TicketStore | None = None,
    ) -> None:
        self.config = config if config is not None else ServerConfig()
        #: where single-use tickets live; None keeps them in this process
        #: (pass a ``RedisTicketStore`` so any node redeems any ticket)
        self.tickets = tickets
        #: every request is the WebSocket echo (``rawpush echo``), no hub routes
        self.echo_only = echo_only
        self._ssl = ssl_context
        self._owns_hub = hub is None
        self.hub = hub if hub is not None else Hub(self.config.hub)
        self.metrics = Metrics()
        self._ctx: Context | None = None
        self._server: asyncio.Server | None = None
        self._closed: asyncio.Future[None] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when ``config.port`` is 0)."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` (``https`` with TLS), for clients and logs."""
        scheme = "https" if self.config.certfile or self._ssl else "http"
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving; ``RuntimeError`` if already started."""
        if self._server is not None:
            raise RuntimeError("the server is already started")
        loop = asyncio.get_running_loop()
        ctx = Context(
            self.config,
            self.hub,
            self.metrics,
            _index_html(),
            echo_only=self.echo_only,
            queued=QUEUED,
            tickets=self.tickets,
        )
        self.metrics.add_collector(ctx.collect)
        self._ctx = ctx
        tls = self._ssl if self._ssl is not None else _ssl_context(self.config)
        factory: Callable[[], asyncio.Protocol] = functools.partial(HTTPProtocol, ctx)
        listener_tls: dict[str, Any] = {}
        if tls is not None and isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop):
            # No ssl= here: asyncio would call the protocol only after the
            # handshake, so a client that never finishes one would be under
            # no limit and in no count (rawpush.server.tls_accept).
            factory = functools.partial(TLSAccept, ctx, tls)
        elif tls is not None:
            # uvloop reads a socket from its accept on, paused or not, so the
            # ClientHello would reach TLSAccept before start_tls could take
            # it: its own TLS listener, with the handshake timeout at least.
            listener_tls = {"ssl": tls, "ssl_handshake_timeout": self.config.tls_handshake_timeout}
        self._server = await loop.create_server(
            factory,
            host=self.config.host,
            port=self.config.port,
            **listener_tls,
            # asyncio's default of 100 drops SYNs when thousands of clients
            # reconnect at once (a node restart, a deploy).
            backlog=self.config.backlog,
            # A worker of ``rawpush serve --workers N`` shares the port.
            reuse_port=self.reuse_port or None,
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._closed = loop.create_future()

    async def close(self) -> None:
        """Drain and stop (see the module docstring). Idempotent."""
        server, ctx = self._server, self._ctx
        if server is None or ctx is None or ctx.draining:
            if self._closed is not None:
                await asyncio.shield(self._closed)
            return
        ctx.draining = True
        ctx.drain_event.set()
        await _stop_accepting(server)
        server.close()  # stop listening; existing connections stay
        for conn in list(ctx.connections):
            conn.drain()
        deadline = asyncio.get_running_loop().time() + self.config.drain_timeout
        while ctx.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(ctx.connections):
            conn.abort()
        # Let aborted transports run connection_lost before the hub goes.
        await asyncio.sleep(0)
        await server.wait_closed()
        if self._owns_hub:
            await self.hub.close()
        assert self._closed is not None
        if not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        """Return once ``close()`` has finished."""
        if self._closed is None:
            raise RuntimeError("the server is not started")
        await asyncio.shield(self._closed)

    async def __aenter__(self) -> Server:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def serve(config: ServerConfig | None = None, **overrides: Any) -> Server:
    """Start a server and return it: ``server = await rawpush.serve(port=0)``.

    ``overrides`` replace fields of ``config`` (or of the defaults), so
    ``serve(port=0, overflow=OverflowPolicy.BLOCK)`` needs no ServerConfig;
    nested limits are replaced whole: ``serve(hub=HubConfig(history_size=5))``.
    """
    base = config if config is not None else ServerConfig()
    server = Server(dataclasses.replace(base, **overrides))
    await server.start()
    return server


async def _stop_accepting(server: asyncio.Server) -> None:
    """Stop accepting, then let connections accepted already get a host.

    asyncio accepts a socket in one loop iteration and builds its transport
    in a task that runs in a later one; on Python 3.11 a server closed in
    between drops that socket without closing it (the transport cannot
    attach to a closed server), and its client waits for an answer that
    never comes. Removing the listener's reader first and yielding a few
    iterations lets every accepted socket become a connection, which the
    drain then answers (503, since the server is draining).
    """
    loop = asyncio.get_running_loop()
    for sock in server.sockets:
        with contextlib.suppress(NotImplementedError, ValueError, RuntimeError):
            loop.remove_reader(sock.fileno())
    for _ in range(3):  # accept callback -> transport task -> connection_made
        await asyncio.sleep(0)


@dataclasses.dataclass(frozen=True, slots=True)
class WorkerRole:
    """How one worker of ``rawpush serve --workers N`` runs ``serve_forever``.

    The worker binds with SO_REUSEPORT, calls ``ready`` once it listens
    (instead of printing the address: its parent does, once for all),
    drains on SIGTERM only (SIGINT is its parent's to decide) and says
    ``rawpush: worker N: draining``; its ``/metrics`` carry
    ``rawpush_worker_info{worker="N",pid="P"} 1``.
    """

    index: int
    ready: Callable[[Server], None]


async def serve_forever(
    config: ServerConfig | None = None,
    *,
    redis_url: str | None = None,
    worker: WorkerRole | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then drain (what ``rawpush serve`` runs).

    Prints ``rawpush: listening on URL`` to stderr once bound, so a parent
    process that asked for port 0 can learn the port (a ``worker`` calls
    its ``ready`` instead, see ``WorkerRole``).
    """
    hub: Hub | None = None
    tickets: TicketStore | None = None
    if redis_url is not None:
        # Several processes on one Redis share channels, ids, history and
        # tickets (issued on one node, redeemed on any).
        import redis.asyncio

        from rawpush.auth import RedisTicketStore
        from rawpush.hub.redis import RedisBackplane

        hub_config = (config if config is not None else ServerConfig()).hub
        hub = Hub(hub_config, backplane=RedisBackplane(redis_url, config=hub_config))
        tickets = RedisTicketStore(redis.asyncio.Redis.from_url(redis_url))
    server = Server(config, hub, tickets=tickets)
    if worker is not None:
        server.reuse_port = True
        info = (("pid", str(os.getpid())), ("worker", str(worker.index)))
        server.metrics.add_collector(lambda: [("rawpush_worker_info", info, 1)])
    await server.start()
    # What start-up made (modules, routes, the config) lives as long as the
    # process: out of the collector's sight, a full collection with 10,000
    # connections open walks only what they hold, not all of that too.
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    signals = (signal.SIGTERM,) if worker is not None else (signal.SIGTERM, signal.SIGINT)
    for sig in signals:
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    if worker is not None:
        worker.ready(server)
    else:
        print(f"rawpush: listening on {server.url}", file=sys.stderr, flush=True)
        # After the address line: a parent process reads that one first.
        if is_open(auth_config(server.config)):
            print(
                "rawpush: no credential configured: anyone who can reach this server "
                "may subscribe and publish (see --publish-token, --jwt-secret)",
                file=sys.stderr,
                flush=True,
            )
    try:
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        who = "" if worker is None else f"worker {worker.index}: "
        print(f"rawpush: {who}draining", file=sys.stderr, flush=True)
        await server.close()
        if hub is not None:  # a hub passed in is not closed by the server
            await hub.close()
