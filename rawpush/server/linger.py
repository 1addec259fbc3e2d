"""How a host ends a connection it gives up on, shared by the HTTP/1.1
and the HTTP/2 hosts: a lingering close after an error answer, and a
reset for a peer that is not reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable

__all__ = ["LINGER", "linger", "reset"]

#: seconds a failed connection keeps reading (and dropping) after its error
#: answer: closing with the peer's bytes still unread makes the kernel send
#: a reset that can destroy the answer before it is read (RFC 9112 section
#: 9.6, "lingering close"; RFC 9113 section 6.8 for a GOAWAY)
LINGER = 2.0
#: SO_LINGER on, with a zero timeout: close() sends a reset and frees the buffers
_RESET = struct.pack("ii", 1, 0)


def linger(transport: asyncio.Transport, close: Callable[[], None]) -> asyncio.TimerHandle | None:
    """Half-close ``transport`` and call ``close`` after ``LINGER`` seconds
    (the returned timer, for the host to cancel when the peer goes first).

    A transport that cannot half-close (TLS: a close_notify ends both
    directions, RFC 8446 section 6.1) is closed at once, and None returned.
    """
    if transport.can_write_eof():
        transport.write_eof()
        return asyncio.get_running_loop().call_later(LINGER, close)
    transport.close()
    return None


def reset(transport: asyncio.Transport) -> None:
    """Abort with a reset, not a FIN: the kernel frees the socket's buffers
    now instead of keeping an orphan in FIN-WAIT-1 with what a dead reader
    never took."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
    transport.abort()
