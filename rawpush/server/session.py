"""What an SSE stream and a WebSocket subscriber have in common: the hub
subscription, the outbox between it and the socket, and how both end.

The order of things, the same for both transports, and why:

1. the outbox starts paused and the hub subscription is made *before* the
   response head (200 or 101) goes out: a client that has seen the head is
   subscribed, so nothing published after that moment can miss it. A hub
   that refuses still gets a proper error response then.
2. the head, then the gap notice if the history no longer reaches back to
   the client's last id (never a silent gap), then the
   replay, then live events, in id order. Live events that arrived while we
   subscribed waited in the outbox and follow the replay.
3. the socket's write watermarks pause and resume the outbox; on overflow
   the configured policy decides (``Outbox``), then the transport.

A subclass says only what differs (the hooks below): how the head is
written, how an event is framed, what a heartbeat is, what overflow and
drain look like on its wire, and what it does with bytes from the client.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from rawpush.auth import Action, Grant
from rawpush.hub import HubError, HubEvent, Subscription
from rawpush.proto.errors import HTTPError
from rawpush.proto.http import Headers
from rawpush.server.config import ServerConfig
from rawpush.server.host import Host
from rawpush.server.metrics import Labels
from rawpush.server.outbox import Outbox
from rawpush.server.security import Caller, admit


def retry_delay_ms(config: ServerConfig) -> int:
    """When a client should come back after a drain or a refusal: a delay
    drawn per connection from ``drain_retry_ms`` to twice that, so that the
    clients of a node do not all return in the same instant."""
    base = config.drain_retry_ms
    return base + random.randint(0, base)


class StreamSession:
    #: the transport as labelled in /metrics
    transport_name: str
    _labels: Labels

    # Slots: one session lives as long as each subscriber connection.
    __slots__ = (
        "_direct",
        "_encoded_key",
        "_ended",
        "_expiry",
        "_live",
        "_opened",
        "_paused",
        "_task",
        "channel",
        "host",
        "last_id",
        "outbox",
        "sub",
    )

    def __init__(
        self,
        host: Host,
        channel: str,
        last_id: str | None,
        head: Headers,
        *,
        gap_notice: Any,
        encoded_key: str,
        who: Caller | None = None,
    ) -> None:
        cfg = host.ctx.config
        self.host = host
        self._expiry: asyncio.TimerHandle | None = None
        self.channel = channel
        self.last_id = last_id

        self.outbox: Outbox[Any] = Outbox(
            self._writer(),
            max_bytes=cfg.queue_max_bytes,
            max_messages=cfg.queue_max_messages,
            policy=cfg.overflow,
            on_overflow=self._overflow,
            gap_notice=gap_notice,
        )
        self.sub: Subscription | None = None
        #: before ``start``: the opening, not yet scheduled (its frame holds
        #: the head and who asked, which need no slot of their own and are
        #: garbage once used); then its task while it runs; then None
        self._task: asyncio.Task[None] | Coroutine[Any, Any, None] | None = self._open(
            head, who
        )
        self._opened = False  # the head is out
        self._paused = False  # the transport is over its high watermark
        self._ended = False
        #: False once no more events may be written (a WebSocket closing);
        #: a plain flag because _deliver reads it per event
        self._live = True
        #: where ``_encode`` caches this session's form in ``HubEvent.encoded``
        self._encoded_key = encoded_key
        #: the outbox's ``direct`` as last seen: ``_deliver`` writes past the
        #: outbox while it is True. Kept here, not read from the outbox, so
        #: a delivery touches one object less; set False wherever the outbox
        #: may stop being direct (pause, teardown) and read back from it
        #: wherever it may become so again (resume, flush, a queued put).
        self._direct = False

    # -- hooks ------------------------------------------------------------------

    def _send_head(self, head: Headers) -> None:
        """Write the response head that opens the stream."""
        raise NotImplementedError

    def _writer(self) -> Callable[[Any], None]:
        """Where the outbox writes an event's shared form: the host itself
        for bytes (no call in between), or the transport's own step for a
        form that needs one (then ``_write`` too)."""
        return self.host.write

    def _write(self, data: Any) -> None:
        """What ``_deliver`` calls with an event's shared form while the
        outbox is idle: the same as the ``_writer()``."""
        self.host.write(data)

    def _encode(self, event: HubEvent) -> Any:
        """The shared wire bytes of ``event``, cached in ``event.encoded``
        under ``encoded_key`` (see ``encoding``)."""
        raise NotImplementedError

    def _started(self) -> None:
        """The head, gap notice and replay are out: arm the heartbeat."""
        raise NotImplementedError

    def _overflow(self) -> None:
        """The outbox overflowed under the disconnect policy."""
        raise NotImplementedError

    def _drained(self) -> None:
        """Server shutdown, after the queue was flushed: say goodbye."""
        raise NotImplementedError

    def _cancel_timers(self) -> None:
        """Cancel this transport's timers (the session is over)."""
        raise NotImplementedError

    def _expired(self) -> None:
        """The credential this session runs under expired: end it the way
        the transport tells a client to come back with a new one."""
        raise NotImplementedError

    def _unavailable(self, exc: HubError, head: Headers) -> None:
        """The hub could not subscribe now (a busy or lost backplane): tell
        the client to come back, after a delay spread over the drain window
        so that a crowd does not return at once."""
        seconds = max(1, round(retry_delay_ms(self.host.ctx.config) / 1000))
        self.host.refuse(HTTPError(str(exc), 503, (("Retry-After", str(seconds)),)))

    def _admitted(self, grant: Grant, who: Caller | None) -> None:
        """The session runs under ``grant``: keep what later decisions need
        (a WebSocket decides each publish; an event stream needs nothing)."""

    def data_received(self, data: bytes) -> None:
        raise NotImplementedError

    def eof_received(self) -> None:
        raise NotImplementedError

    # -- opening ------------------------------------------------------------

    def start(self) -> None:
        # Live events that arrive while we subscribe wait until the head is out.
        self.outbox.pause()
        self._direct = False
        opening = self._task
        assert asyncio.iscoroutine(opening), "started twice"
        self._task = asyncio.ensure_future(opening)

    async def _open(self, head: Headers, who: Caller | None) -> None:
        # The head lives in this coroutine's frame, not on the session: it
        # is garbage once written.
        try:
            await self._subscribe_and_start(head, who)
        finally:
            # A finished task is ~730 B nobody needs; while it runs the
            # reference lets _teardown cancel it.
            self._task = None

    async def _subscribe_and_start(self, head: Headers, who: Caller | None) -> None:
        host = self.host
        if not await self._admit(who):
            return
        try:
            sub = await host.ctx.hub.subscribe(self.channel, self._deliver, self.last_id)
        except HubError as exc:
            self._ended = True
            self._teardown()
            if exc.status == 503:
                self._unavailable(exc, head)
            else:
                host.refuse(HTTPError(str(exc), exc.status))
            return
        self.sub = sub
        if self._ended:
            sub.close()
            return
        self._send_head(head)
        self._opened = True
        outbox = self.outbox
        if not self._paused:
            outbox.resume()
            self._direct = outbox.direct
        if sub.replay.gap:
            outbox.put(outbox.gap_notice)
        for event in sub.replay.events:
            self._deliver(event)
        self._started()

    async def _admit(self, who: Caller | None) -> bool:
        """Authorize the subscription before anything is subscribed or sent;
        a refusal is answered like any HTTP error (401/403, RFC 6750)."""
        host = self.host
        ctx = host.ctx
        if who is None:
            self._admitted(ctx.auth.config.anonymous, None)
            return True
        try:
            grant = await admit(ctx.config, ctx.auth, who, Action.SUBSCRIBE, self.channel)
        except HTTPError as exc:
            ctx.metrics.inc("rawpush_auth_refused_total", (("status", str(exc.status)),))
            self._ended = True
            self._teardown()
            host.refuse(exc)
            return False
        self._admitted(grant, who)
        if grant.expires_at is not None:
            left = max(0.0, grant.expires_at - time.time())
            self._expiry = host.call_later(left, self._expire)
        return True

    def _expire(self) -> None:
        self._expiry = None
        if not self._ended:
            self.host.disconnect("token_expired")
            self._expired()

    # -- delivery -------------------------------------------------------------

    def _deliver(self, event: HubEvent) -> asyncio.Future[None] | None:
        # Runs once per subscriber per event: counters are plain ints here
        # (folded into /metrics by the connection), not dict updates.
        if not self._live:
            return None
        data = event.encoded.get(self._encoded_key)
        if data is None:
            # A gap marker from the backplane goes out as this transport's
            # gap notice, in its place in the stream.
            data = self.outbox.gap_notice if event.gap else self._encode(event)
        host = self.host
        host.messages_out += 1
        if self._direct:
            # Nothing waits and the socket takes more: what ``Outbox.put``
            # would do, without touching the outbox (one of N deliveries of
            # each event: at 10,000 subscribers its cache misses count).
            self._write(data)
            return None
        outbox = self.outbox
        dropped = outbox.dropped
        waiter = outbox.put(data)
        self._direct = outbox.direct
        if outbox.dropped != dropped:
            host.ctx.metrics.inc("rawpush_dropped_total", self._labels, outbox.dropped - dropped)
        return waiter

    # -- backpressure -----------------------------------------------------------

    def pause_writing(self) -> None:
        self._paused = True
        self._direct = False
        self.outbox.pause()

    def resume_writing(self) -> None:
        self._paused = False
        # Before the head is out, the outbox stays paused: _open resumes it.
        if self._opened:
            self.outbox.resume()
            self._direct = self.outbox.direct

    # -- ending -------------------------------------------------------------------

    def drain(self) -> None:
        """Server shutdown: flush what is queued, then end the way the
        transport asks (nothing accepted is lost)."""
        if self._ended:
            return
        self.host.disconnect("drain")
        if not self._opened:
            self._end(abort=False)
            return
        outbox = self.outbox
        if not outbox.closed:
            # Written past the watermark on purpose: it is bounded by the
            # queue limits, and the close that follows waits for it.
            self._paused = False
            outbox.paused = False
            outbox.flush()
            self._direct = outbox.direct
        self._drained()

    def _end(self, *, abort: bool) -> None:
        if self._ended:
            return
        self._ended = True
        self._teardown()
        if abort:
            self.host.abort()
        else:
            self.host.close()

    def _teardown(self) -> None:
        self._direct = False
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.sub is not None:
            self.sub.close()
        self.outbox.close()
        self._cancel_timers()
        task = self._task
        if asyncio.iscoroutine(task):
            task.close()  # never started: nothing to cancel
            self._task = None
        elif task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    def connection_lost(self) -> None:
        self._ended = True
        self._teardown()
