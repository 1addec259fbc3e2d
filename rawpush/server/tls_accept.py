"""A TLS connection from its TCP accept until its handshake is done.

With ``ssl=`` on the listener, asyncio calls a protocol only once the
handshake has completed: a client that opens TCP and never finishes the
handshake would be in no count, under no limit, and held for asyncio's
default of 60 seconds. So the listener is plain TCP and every connection
starts here:

- at accept it takes its place under ``max_connections`` (and the
  per-address limit); over a limit it is closed at once, before any TLS,
  and counted in ``rawpush_disconnects_total`` as a plain one would be;
- while it shakes hands it shows in ``rawpush_connections`` under the
  ``transport`` label ``tls_handshake``;
- it has ``tls_handshake_timeout`` seconds to finish (``loop.start_tls``),
  else it is closed (reason ``tls_handshake_timeout``); a handshake that
  fails is closed too (``tls_handshake_failed``), with a debug line only;
- once done, its place goes to the HTTP/1.1 host, which counts it as any
  connection and hands it to HTTP/2 when ALPN chose "h2" (RFC 9113
  section 3.2; RFC 7301 section 3.2: the server picks).

``start_tls`` never calls the new protocol's ``connection_made``, and the
records that follow the handshake reach the protocol passed to it at once,
possibly before the coroutine resumes. That protocol is this one: it keeps
what arrives until the host is installed, then gives it over in order.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import cast

from rawpush.server import access_log
from rawpush.server.context import Context
from rawpush.server.host import Session
from rawpush.server.linger import reset
from rawpush.server.metrics import labels
from rawpush.server.protocol import HTTPProtocol

__all__ = ["TLSAccept"]

logger = logging.getLogger("rawpush.server")

#: the ``transport`` label of a connection still in its handshake
_LABELS = labels("tls_handshake")


class TLSAccept(asyncio.Protocol):
    """One accepted TCP connection of a TLS listener, until its handshake
    ends; a ``Carrier`` meanwhile, so a drain closes it."""

    __slots__ = ("_counted", "_ctx", "_eof", "_lost", "_pending", "_sslcontext", "_task", "_tcp")

    #: a handshake carries no session
    session: Session | None = None

    def __init__(self, ctx: Context, sslcontext: ssl.SSLContext) -> None:
        self._ctx = ctx
        self._sslcontext = sslcontext
        self._tcp: asyncio.Transport | None = None
        self._task: asyncio.Task[None] | None = None
        self._counted = False
        # What the TLS layer delivered before the host was installed.
        self._pending: list[bytes] = []
        self._eof = False
        self._lost = False

    # -- the TCP connection, then the TLS one until the hand-off ---------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but
        # offer the same interface.
        tcp = cast("asyncio.Transport", transport)
        self._tcp = tcp
        ctx = self._ctx
        reason = self._over_limit()
        if reason is not None:
            ctx.metrics.inc("rawpush_disconnects_total", (("reason", reason),))
            access_log.refused(self._peer(), 0, 0, reason)  # no answer: TLS not begun
            tcp.close()
            return
        ctx.accepted += 1
        self._counted = True
        ctx.connections.add(self)
        ctx.metrics.inc("rawpush_connections", _LABELS)
        # Nothing is read until start_tls has put the TLS layer in place: the
        # ClientHello must reach it, not this protocol.
        tcp.pause_reading()
        self._task = asyncio.ensure_future(self._handshake(tcp))

    def data_received(self, data: bytes) -> None:
        self._pending.append(data)

    def eof_received(self) -> bool | None:
        self._eof = True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        # The handshake task sees it and ends the connection's accounting.
        self._lost = True

    # -- the handshake -----------------------------------------------------------

    async def _handshake(self, tcp: asyncio.Transport) -> None:
        ctx = self._ctx
        try:
            if self._lost or tcp.is_closing():  # pragma: no cover - a close between
                return  # the accept and this task's first step: no handshake to await
            try:
                tls = await asyncio.get_running_loop().start_tls(
                    tcp,
                    self,
                    self._sslcontext,
                    server_side=True,
                    ssl_handshake_timeout=ctx.config.tls_handshake_timeout,
                )
            except OSError as exc:  # ssl.SSLError is one too
                self._failed(exc)
                return
            if tls is None or self._lost:
                return  # the peer (or a drain) closed it meanwhile
            self._release()
            self._hand_off(tls)
        finally:
            self._release()

    def _failed(self, exc: OSError) -> None:
        if isinstance(exc, ssl.SSLError):
            reason = "tls_handshake_failed"
        elif isinstance(exc, ConnectionAbortedError):
            # What start_tls raises when ssl_handshake_timeout ran out.
            reason = "tls_handshake_timeout"
        else:
            return  # the peer reset the connection: not the server's doing
        self._ctx.metrics.inc("rawpush_disconnects_total", (("reason", reason),))
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("TLS handshake with %s: %s (%s)", self._peer(), reason, exc)

    def _hand_off(self, tls: asyncio.Transport) -> None:
        host = HTTPProtocol(self._ctx)
        tls.set_protocol(host)
        host.connection_made(tls)
        # connection_made may have handed the transport to the HTTP/2 host.
        protocol = cast("asyncio.Protocol", tls.get_protocol())
        for data in self._pending:
            protocol.data_received(data)
        self._pending.clear()
        if self._eof:
            protocol.eof_received()  # TLS closes after it whatever it returns

    def _release(self) -> None:
        if not self._counted:
            return
        self._counted = False
        ctx = self._ctx
        ctx.connections.discard(self)
        ctx.accepted -= 1
        ctx.metrics.inc("rawpush_connections", _LABELS, -1)
        if ctx.per_address is not None:
            ctx.per_address.release(self._address())

    # -- limits ------------------------------------------------------------------

    def _over_limit(self) -> str | None:
        """The reason this connection may not be served, or None; a place
        under the per-address limit is taken when it may."""
        ctx = self._ctx
        if ctx.accepted >= ctx.config.max_connections or ctx.draining:
            return "max_connections"
        limiter = ctx.per_address
        if limiter is not None and not limiter.acquire(self._address()):
            return "max_connections_per_address"
        return None

    def _peer(self) -> tuple[str, int] | None:
        name = self._tcp.get_extra_info("peername") if self._tcp is not None else None
        return (str(name[0]), int(name[1])) if isinstance(name, tuple) else None

    def _address(self) -> str:
        peer = self._peer()
        return peer[0] if peer is not None else ""

    # -- the Carrier operations --------------------------------------------------

    def fold_counters(self) -> None:
        """Nothing to fold: no byte of the handshake is an application's."""

    def drain(self) -> None:
        """No request was read, so none is owed an answer: close."""
        assert self._tcp is not None  # only a connection counted is drained
        self._tcp.close()

    def abort(self) -> None:
        assert self._tcp is not None
        reset(self._tcp)
