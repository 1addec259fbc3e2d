"""The WebSocket echo: ``rawpush echo`` on every path, and ``GET /echo`` on
``rawpush serve --ws-echo``. It runs the same driver as ``/ws/{channel}``
(``WSSession``) with no hub behind it, so the conformance suites and the
interop tests exercise the code ``rawpush serve`` users run.

Every text or binary message comes back unchanged, with the same type.
The core does the rest: it answers Pings (RFC 6455 section 5.5.2), echoes
the Close (5.5.1) and fails the connection with the right close code on
any protocol error (7.1.7, 7.4.1). An echo can never outrun its reader: while
the transport is over its high watermark, reading stops.
"""

from __future__ import annotations

import asyncio

from rawpush.proto.http import Headers, Request
from rawpush.proto.ws.deflate import PerMessageDeflate
from rawpush.server.answers import Answer, Refusal, Takeover
from rawpush.server.context import Context
from rawpush.server.host import Host
from rawpush.server.security import Caller
from rawpush.server.ws_session import WSSession, handshake


def start(ctx: Context, request: Request, channel: str, who: Caller) -> Answer:
    shaken = handshake(ctx, request)
    if isinstance(shaken, Refusal):
        return shaken
    _, head, extension = shaken
    return Takeover("ws", lambda host: EchoSession(host, "", None, head, extension=extension))


class EchoSession(WSSession):
    __slots__ = ("_echo_head", "_writes_paused")

    def __init__(
        self,
        host: Host,
        channel: str,
        last_id: str | None,
        head: Headers,
        *,
        extension: PerMessageDeflate | None = None,
    ) -> None:
        super().__init__(host, channel, last_id, head, extension=extension)
        self._echo_head: Headers | None = head
        self._writes_paused = False  # the peer reads its echoes too slowly

    def start(self) -> None:
        # No subscription to wait for: the 101 goes out at once, and the
        # hub's opening coroutine is never run.
        opening, self._task = self._task, None
        if asyncio.iscoroutine(opening):
            opening.close()
        head, self._echo_head = self._echo_head, None
        assert head is not None, "started twice"
        self._send_head(head)
        self._opened = True
        self._started()

    def _on_text(self, text: str) -> None:
        self.conn.send_text(text)

    def _on_binary(self, data: bytes) -> None:
        self.conn.send_binary(data)

    def _expired(self) -> None:  # pragma: no cover - an echo has no credential
        pass

    # An echo answers each message at once: a peer that does not read its
    # echoes is not read from either (the transport's write buffer is the
    # only queue).
    def _inbound_full(self) -> bool:
        return self._writes_paused

    def pause_writing(self) -> None:
        self._writes_paused = True
        self._set_reading()

    def resume_writing(self) -> None:
        self._writes_paused = False
        self._set_reading()
