"""One load process of bench/capacity.py: N idle subscribers that stay alive.

``python bench/_capacity_client.py PORT KIND N CHANNEL`` (KIND ``sse`` or
``ws``) opens N connections at a bounded pace, answers every WebSocket
Ping with a masked Pong (RFC 6455 section 5.5.3), counts the events each
connection receives and the heartbeats that reach it, then prints
``READY <open>`` and obeys one-line commands on stdin:

- ``WAIT <events>``: until every connection has that many events (30 s at
  most), then ``DONE <complete> <open> <pings> <comments>``;
- ``QUIT``: close everything and exit.
"""

from __future__ import annotations

import asyncio
import os
import sys

LOOPBACK = "127.0.0.1"
_WS_HEAD = (
    "GET /ws/{channel} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)
_SSE_HEAD = "GET /sse/{channel} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class Totals:
    pings = 0
    comments = 0


class Subscriber(asyncio.Protocol):
    """Counts events; a WebSocket one parses frames and answers Pings."""

    def __init__(self, kind: str, totals: Totals) -> None:
        self.kind = kind
        self.totals = totals
        self.events = 0
        self.open = False
        self.head_done = False
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.open = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.head_done:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            del self.buf[: end + 4]
            self.head_done = True
        if self.kind == "ws":
            self._frames()
        else:
            self._sse()

    def _sse(self) -> None:
        # Events end with a blank line; a comment (the heartbeat) starts ":".
        # The bytes may be HTTP/1.1 chunks: their size lines are counted as
        # neither, since they start with a hex digit.
        buf = self.buf
        cut = buf.rfind(b"\n\n")
        if cut < 0:
            return
        block = bytes(buf[: cut + 2])
        del buf[: cut + 2]
        self.events += block.count(b"data: ")
        self.totals.comments += block.count(b"\n:") + block.startswith(b":")

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
            start = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, start = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + length:
                return
            payload = bytes(buf[start : start + length])
            del buf[: start + length]
            if opcode in (1, 2):
                self.events += 1
            elif opcode == 9 and self.transport is not None:  # Ping: a masked Pong back
                self.totals.pings += 1
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)


async def main() -> None:
    port, kind, count, channel = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    loop = asyncio.get_running_loop()
    totals = Totals()
    subs: list[Subscriber] = []
    head = (_WS_HEAD if kind == "ws" else _SSE_HEAD).format(channel=channel).encode()

    async def one() -> None:
        for _ in range(5):  # a full accept queue is retried, not counted lost
            try:
                transport, sub = await loop.create_connection(
                    lambda: Subscriber(kind, totals), LOOPBACK, port
                )
            except OSError:
                await asyncio.sleep(0.2)
                continue
            transport.write(head)
            subs.append(sub)
            return

    for start in range(0, count, 250):  # a bounded pace: 250 handshakes at a time
        await asyncio.gather(*(one() for _ in range(min(250, count - start))))
    deadline = loop.time() + 30
    while loop.time() < deadline and not all(s.head_done for s in subs):
        await asyncio.sleep(0.1)
    print(f"READY {sum(1 for s in subs if s.open and s.head_done)}", flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().split():
        if line[0] == "WAIT":
            want = int(line[1])
            deadline = loop.time() + 30
            while loop.time() < deadline and not all(s.events >= want for s in subs):
                await asyncio.sleep(0.1)
            complete = sum(1 for s in subs if s.events >= want)
            alive = sum(1 for s in subs if s.open)
            print(f"DONE {complete} {alive} {totals.pings} {totals.comments}", flush=True)
        elif line[0] == "QUIT":
            break
    for sub in subs:
        if sub.transport is not None:
            sub.transport.close()
    await asyncio.sleep(0.2)
    os._exit(0)


if __name__ == "__main__":
    asyncio.run(main())
