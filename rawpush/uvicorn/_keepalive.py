"""The keepalive of one connection: a Ping every ``interval`` seconds, and
a deadline of ``timeout`` seconds for its Pong (uvicorn's
``ws_ping_interval`` / ``ws_ping_timeout``).

Each Ping carries a fresh 4-byte payload, so only the Pong that answers it
(section 5.5.3: the same application data) meets the deadline; a stale or
unsolicited Pong is ignored. The next Ping is armed once the Pong is in,
or at once when there is no deadline.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

__all__ = ["Keepalive"]


class Keepalive:
    """Timers only: ``send_ping(payload)`` and ``expired()`` do the work."""

    __slots__ = (
        "_expired",
        "_interval",
        "_loop",
        "_payload",
        "_ping",
        "_pong",
        "_send_ping",
        "_timeout",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        interval: float | None,
        timeout: float | None,
        send_ping: Callable[[bytes], bool],
        expired: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._interval = interval if interval is not None and interval > 0 else None
        self._timeout = timeout if timeout is not None and timeout > 0 else None
        self._send_ping = send_ping
        self._expired = expired
        self._payload: bytes | None = None
        self._ping: asyncio.TimerHandle | None = None
        self._pong: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Arm the next Ping (nothing when the interval is off)."""
        if self._interval is not None:
            self._ping = self._loop.call_later(self._interval, self._fire)

    def stop(self) -> None:
        for timer in (self._ping, self._pong):
            if timer is not None:
                timer.cancel()
        self._ping = self._pong = None
        self._payload = None

    def pong(self, payload: bytes) -> None:
        """A Pong arrived; the answer to our Ping clears the deadline."""
        if self._payload is None or payload != self._payload:
            return
        self._payload = None
        if self._pong is not None:
            self._pong.cancel()
            self._pong = None
            self.start()

    def _fire(self) -> None:
        self._ping = None
        payload = os.urandom(4)
        if not self._send_ping(payload):
            return  # the connection is no longer open
        self._payload = payload
        if self._timeout is not None:
            self._pong = self._loop.call_later(self._timeout, self._expire)
        else:
            self.start()

    def _expire(self) -> None:
        self._pong = None
        self._payload = None
        self._expired()
