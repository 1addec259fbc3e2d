"""A raw WebSocket test client that can break every rule on purpose.

Written from RFC 6455 section 5.2 directly and sharing no code with
rawpush's own frame serializer, so a bug there cannot hide a bug here.
``frame()`` builds any frame: reserved opcodes, RSV bits, missing masks,
lengths that lie or use a longer encoding than needed. ``RawClient`` is a
blocking socket with a hand-written opening handshake and a frame reader
for what the server sends back.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
from dataclasses import dataclass

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # section 1.3
TIMEOUT = 5.0

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def xor_mask(payload: bytes, key: bytes) -> bytes:
    """Section 5.3: octet i is XORed with key[i % 4]; one big-int XOR."""
    if not payload:
        return b""
    n = len(payload)
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = b"\x37\xfa\x21\x3d",
    length: int | None = None,
    length_bytes: int | None = None,
) -> bytes:
    """One frame. ``rsv`` is 0-7 (RSV1 is 4); ``mask=None`` sends it unmasked;
    ``length`` announces a length other than the real one; ``length_bytes``
    forces the 7-bit (0), 16-bit (2) or 64-bit (8) length encoding."""
    announced = len(payload) if length is None else length
    if length_bytes is None:
        length_bytes = 0 if announced < 126 else 2 if announced < 65536 else 8
    first = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0x0F)
    mask_bit = 0x80 if mask is not None else 0
    if length_bytes == 0:
        head = bytes([first, mask_bit | announced])
    elif length_bytes == 2:
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", announced)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", announced)
    if mask is None:
        return head + payload
    return head + mask + xor_mask(payload, mask)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


@dataclass(frozen=True)
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes
    masked: bool

    @property
    def close_code(self) -> int | None:
        """The status code of a Close frame; None when it has none."""
        assert self.opcode == CLOSE, self
        if len(self.payload) < 2:
            return None
        code: int = struct.unpack("!H", self.payload[:2])[0]
        return code


def handshake_request(
    key: str, path: str = "/", headers: list[tuple[str, str]] | None = None
) -> bytes:
    lines = [f"GET {path} HTTP/1.1"]
    if headers is None:
        headers = [
            ("Host", "127.0.0.1"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
        ]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def accept_for(key: str) -> str:
    """Section 4.2.2 item 5.4: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class RawClient:
    """A blocking client on one TCP connection to ``port``."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buf = b""
        self.status = 0
        self.head: dict[str, str] = {}

    # -- opening handshake ---------------------------------------------------

    def send_request(self, raw: bytes) -> int:
        """Send a raw request head; read the response head; return the status."""
        self.sock.sendall(raw)
        return self.read_head()

    def read_head(self) -> int:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(f"closed before a response head: {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.head = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.head[name.strip().lower()] = value.strip()
        return self.status

    def open(self, path: str = "/", extra: bytes = b"") -> RawClient:
        """Run a valid handshake (``extra`` goes in the same write) and check the 101."""
        key = base64.b64encode(os.urandom(16)).decode()
        status = self.send_request(handshake_request(key, path) + extra)
        assert status == 101, (status, self.head, self.buf)
        assert self.head["sec-websocket-accept"] == accept_for(key)
        assert self.head["upgrade"].lower() == "websocket"
        return self

    # -- frames ----------------------------------------------------------------

    def send(self, *frames: bytes) -> None:
        self.sock.sendall(b"".join(frames))

    def _read(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return None
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_frame(self) -> Frame | None:
        """The next frame from the server, or None at end of stream."""
        head = self._read(2)
        if head is None:
            return None
        first, second = head
        length = second & 0x7F
        if length == 126:
            ext = self._read(2)
            assert ext is not None, "truncated frame header"
            length = struct.unpack("!H", ext)[0]
        elif length == 127:
            ext = self._read(8)
            assert ext is not None, "truncated frame header"
            length = struct.unpack("!Q", ext)[0]
        key = self._read(4) if second & 0x80 else None
        payload = self._read(length) if length else b""
        assert payload is not None, "truncated frame payload"
        if key is not None:
            payload = xor_mask(payload, key)
        return Frame(bool(first & 0x80), first >> 4 & 7, first & 0x0F, payload, key is not None)

    def expect_eof(self) -> None:
        """Section 7.1.1: after the closing handshake the server closes TCP."""
        extra = self.recv_frame()
        assert extra is None, f"expected the server to close TCP, got {extra}"

    def expect_close(self, code: int | None) -> None:
        """The next frame is a Close with ``code`` (None: no code), then EOF."""
        got = self.recv_frame()
        assert got is not None, "connection closed without a Close frame"
        assert got.opcode == CLOSE, f"expected Close {code}, got {got}"
        assert not got.masked, "section 5.1: server frames are never masked"
        assert got.close_code == code, f"expected close code {code}, got {got.close_code}"
        self.expect_eof()

    def expect_message(self, opcode: int, payload: bytes) -> None:
        got = self.recv_frame()
        assert got is not None, "connection closed instead of an echo"
        assert (got.opcode, got.fin, got.rsv, got.masked) == (opcode, True, 0, False), got
        assert got.payload == payload, (len(got.payload), len(payload))

    def close_cleanly(self) -> None:
        """Our Close 1000, its echo, then the server's end of TCP (7.1.2)."""
        self.send(frame(CLOSE, close_payload(1000)))
        self.expect_close(1000)
        self.sock.close()

    def close(self) -> None:
        self.sock.close()
