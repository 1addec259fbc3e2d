"""A connection the listener accepted in the loop iteration before
``close()`` still gets an answer: the drain must not drop a socket that
asyncio accepted but had not yet given a transport."""

from __future__ import annotations

import asyncio
import socket

from rawpush.server.app import Server
from tests.server.support import WAIT


async def test_a_connection_accepted_just_before_close_is_answered(server: Server) -> None:
    loop = asyncio.get_running_loop()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setblocking(False)
    try:
        await loop.sock_sendall(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        # Iteration 1: the listener's accept callback runs and schedules the
        # task that builds the transport; iteration 2: the test resumes
        # before that task (it was scheduled first). Closing here is the
        # window where Python 3.11 would leak the accepted socket.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        await server.close()
        async with asyncio.timeout(WAIT):
            answer = await loop.sock_recv(sock, 4096)
    finally:
        sock.close()
    # It became a connection while the server drained: refused with 503.
    assert answer.startswith(b"HTTP/1.1 503 "), answer
