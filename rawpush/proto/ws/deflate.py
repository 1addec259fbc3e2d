"""permessage-deflate (RFC 7692), sans IO, on the ``Extension`` hook.

Off unless asked for. A server turns it on by answering an offer::

    found = deflate_response(request.extensions, DeflateParams())
    if found is not None:
        header, extension = found
        hs.accept(extra_headers=[("Sec-WebSocket-Extensions", header)])
        conn = ServerConnection(config, extension=extension)

A client offers it and checks the server's answer::

    hs = ClientHandshake(host, extra_headers=[
        ("Sec-WebSocket-Extensions", deflate_offer(params))])
    ...
    extension = deflate_from_response(response.extensions, params)
    conn = ClientConnection(config, extension=extension)

Choices the RFC leaves open, and where rawpush stands:

- zlib cannot compress raw DEFLATE with a 256-byte window: a negotiated
  ``*_max_window_bits=8`` compresses with 9, and decompresses with 9 as
  the peer's zlib does the same (what every zlib-based peer does).
- A stream that does not inflate fails the connection with 1007: RFC 7692
  names no code, and the frame itself was well formed, its data was not
  (RFC 6455 section 7.4.1). So does a peer reaching back further than
  the window it agreed to. RSV1 where section 6 forbids it is 1002.
- A server declines (no compression, handshake goes on) any offer it
  cannot parse or accept; a client fails the handshake (HandshakeError)
  on any answer it did not allow.
- A message that inflates past ``max_message_size`` fails with 1009 and
  never inflates more than the limit (plus one byte) into memory.
- Every data message we send is compressed.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from rawpush.proto.errors import (
    HandshakeError,
    InvalidPayload,
    MessageTooBig,
    ProtocolViolation,
    WebSocketLocalError,
)

__all__ = [
    "DeflateParams",
    "PerMessageDeflate",
    "deflate_from_response",
    "deflate_offer",
    "deflate_response",
    "offered_params",
    "parse_extensions",
]

NAME = "permessage-deflate"
# Section 7.2.1: a sync flush ends with this empty stored block; it is
# stripped from the last frame of a message and added back on receipt.
_TAIL = b"\x00\x00\xff\xff"
_RSV1 = 0x40
_BITS = re.compile(r"[1-9][0-9]?")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 6455 section 9.1: extension = token *( ";" param ), param = token
# [ "=" (token | quoted-string) ]; the list is comma separated (RFC 9110).
_ITEM = re.compile(
    r'[ \t]*([^\s;,="]+)[ \t]*(?:=[ \t]*(?:([^\s;,="]+)|"((?:[^"\\]|\\.)*)"))?[ \t]*([;,]|\Z)'
)

Params = tuple[tuple[str, str | None], ...]


def parse_extensions(values: Sequence[str]) -> list[tuple[str, Params]]:
    """Parse ``Sec-WebSocket-Extensions`` values into (name, params) offers.

    Quoted values are unquoted (RFC 6455 section 9.1 wants them to be
    tokens once unquoted). The values come from the peer, so bad syntax is
    a remote error: ``HandshakeError`` (400). A server's ``deflate_response``
    declines such an offer instead; a client fails the handshake with it.
    """
    offers: list[tuple[str, Params]] = []
    for value in values:
        name: str | None = None
        params: list[tuple[str, str | None]] = []
        pos = 0
        while True:
            if name is None:
                # Empty list elements are allowed (RFC 9110 section 5.6.1).
                while pos < len(value) and value[pos] in " \t,":
                    pos += 1
                if pos == len(value):
                    break
            match = _ITEM.match(value, pos)
            if match is None:
                raise _bad_syntax(f"bad extension syntax at {value[pos:]!r}")
            key, plain, quoted, sep = match.groups()
            arg = plain if quoted is None else re.sub(r"\\(.)", r"\1", quoted)
            if not _TOKEN.fullmatch(key) or (arg is not None and not _TOKEN.fullmatch(arg)):
                raise _bad_syntax(f"extension item {match[0]!r} is not made of tokens")
            if name is None:
                if arg is not None:
                    raise _bad_syntax(f"extension name {key!r} has a value")
                name = key
            else:
                params.append((key, arg))
            pos = match.end()
            if sep != ";":
                offers.append((name, tuple(params)))
                name, params = None, []
            elif pos == len(value):
                raise _bad_syntax(f"extension value {value!r} ends with ';'")
    return offers


def _bad_syntax(message: str) -> HandshakeError:
    return HandshakeError(f"Sec-WebSocket-Extensions: {message}", 400)


def _check_bits(name: str, bits: int | None) -> None:
    if bits is not None and not 8 <= bits <= 15:
        raise WebSocketLocalError(f"{name} must be 8..15, not {bits}")


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """The four parameters of section 7.1, as this endpoint wants them.

    On a server they are demands: each ``True`` is put in the response, each
    window size caps what the peer offered (and an offer that does not
    allow ``client_max_window_bits`` is declined when one is set here). On a
    client they are the offer: ``server_*`` are requests the response must
    honour, ``client_*`` our own promises. ``max_message_size`` bounds an
    inflated message (use the connection's ``WSConfig.max_message_size``);
    ``level`` is zlib's compression level.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | None = None
    max_message_size: int = 1 << 20
    level: int = 6

    def __post_init__(self) -> None:
        _check_bits("server_max_window_bits", self.server_max_window_bits)
        _check_bits("client_max_window_bits", self.client_max_window_bits)
        if self.max_message_size < 1 or not -1 <= self.level <= 9:
            raise WebSocketLocalError("max_message_size must be >= 1 and level -1..9")


class PerMessageDeflate:
    """The negotiated extension for one connection (section 7).

    ``send_*`` describe how we compress, ``receive_*`` what the peer
    promised about its own compression (server: send = server_*, receive =
    client_*; a client the other way round).
    """

    __slots__ = (
        "_compressed",
        "_compressor",
        "_decompressor",
        "_history",
        "_level",
        "_max_size",
        "_receive_bits",
        "_receive_reset",
        "_received",
        "_receiving",
        "_send_bits",
        "_send_reset",
        "_sending",
    )

    rsv_bits = _RSV1

    def __init__(
        self,
        *,
        send_max_window_bits: int = 15,
        send_no_context_takeover: bool = False,
        receive_max_window_bits: int = 15,
        receive_no_context_takeover: bool = False,
        max_message_size: int = 1 << 20,
        level: int = 6,
    ) -> None:
        _check_bits("send_max_window_bits", send_max_window_bits)
        _check_bits("receive_max_window_bits", receive_max_window_bits)
        if max_message_size < 1:
            raise WebSocketLocalError("max_message_size must be >= 1")
        # zlib refuses a 256-byte window for raw DEFLATE: 8 becomes 9.
        self._send_bits = max(send_max_window_bits, 9)
        self._receive_bits = max(receive_max_window_bits, 9)
        self._send_reset = send_no_context_takeover
        self._receive_reset = receive_no_context_takeover
        self._max_size = max_message_size
        self._level = level
        self._compressor = self._new_compressor()
        self._decompressor = zlib.decompressobj(-self._receive_bits)
        # With context takeover, the peer's last 2**bits inflated bytes: a
        # message that ended its stream with BFINAL leaves zlib nothing to
        # go on, and the next message may still refer back into them.
        self._history = bytearray()
        self._sending = False
        self._receiving = False
        self._compressed = False
        self._received = 0

    def _new_compressor(self) -> zlib._Compress:
        return zlib.compressobj(self._level, zlib.DEFLATED, -self._send_bits)

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(send_max_window_bits={self._send_bits}, "
            f"send_no_context_takeover={self._send_reset}, "
            f"receive_max_window_bits={self._receive_bits}, "
            f"receive_no_context_takeover={self._receive_reset})"
        )

    # -- receiving (section 7.2.2) ------------------------------------------

    def decode(self, opcode: int, fin: bool, rsv: int, payload: bytes) -> bytes:
        """Inflate one received data frame; see ``Extension.decode``."""
        if self._receiving:
            if rsv & _RSV1:
                # Section 6.1: RSV1 marks the first frame of a message only.
                raise ProtocolViolation("RSV1 set on a continuation frame")
        else:
            self._compressed = bool(rsv & _RSV1)
            self._received = 0
        self._receiving = not fin
        if not self._compressed:
            return payload
        if fin:
            payload += _TAIL
        room = self._max_size - self._received
        decompressor = self._decompressor
        try:
            # max_length bounds what a bomb can make us inflate: at most
            # one byte over the limit, then the connection fails.
            data = decompressor.decompress(payload, room + 1)
        except zlib.error as exc:
            raise InvalidPayload(f"compressed data does not inflate: {exc}") from None
        if len(data) > room:
            raise MessageTooBig(f"message inflates past the {self._max_size}-byte limit")
        self._received += len(data)
        reset = self._receive_reset
        if not reset:
            self._remember(data)
        if fin and (decompressor.eof or reset):
            # Section 7.2.3.4: a peer may end a message with a BFINAL block,
            # followed by at most the header octet of an empty stored block
            # (completed by our tail). That DEFLATE stream is over, but not
            # the LZ77 window: section 7.2.2 has the next message use the
            # window of the last one unless the peer agreed to reset it, so
            # the fresh stream starts from the remembered bytes.
            if decompressor.unused_data not in (b"", _TAIL, b"\x00" + _TAIL):
                raise InvalidPayload("data after the end of the compressed stream")
            if reset:
                self._decompressor = zlib.decompressobj(-self._receive_bits)
            else:
                self._decompressor = zlib.decompressobj(
                    -self._receive_bits, zdict=bytes(self._history)
                )
        return data

    def _remember(self, data: bytes) -> None:
        history = self._history
        history += data
        excess = len(history) - (1 << self._receive_bits)
        if excess > 0:
            del history[:excess]

    # -- sending (section 7.2.1) --------------------------------------------

    def encode(self, opcode: int, fin: bool, payload: bytes) -> tuple[int, bytes]:
        """Deflate one outgoing data frame; see ``Extension.encode``."""
        # Section 6: RSV1 on the first frame of a compressed message only.
        rsv = 0 if self._sending else _RSV1
        self._sending = not fin
        compressor = self._compressor
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if fin:
            # A sync flush always ends with the empty stored block that
            # section 7.2.1 says to drop from the message's last frame.
            assert data.endswith(_TAIL)
            data = data[:-4]
            if self._send_reset:
                # Section 7.1.1: no context takeover, each message alone.
                self._compressor = self._new_compressor()
        return rsv, data


# -- negotiation (section 7.1) ---------------------------------------------


def _read_params(params: Params) -> dict[str, int | bool] | None:
    """The offer's parameters, or None when they break section 7.1."""
    seen: dict[str, int | bool] = {}
    for key, value in params:
        if key in seen:
            return None
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if value is not None:
                return None
            seen[key] = True
        elif key in ("server_max_window_bits", "client_max_window_bits"):
            if value is None:
                # Sections 7.1.2.1/7.1.2.2: only client_max_window_bits may
                # come without a value (in an offer: "I can honour a limit").
                if key == "server_max_window_bits":
                    return None
                seen[key] = True
                continue
            if not _BITS.fullmatch(value) or not 8 <= int(value) <= 15:
                return None
            seen[key] = int(value)
        else:
            return None
    return seen


def offered_params(params: Params) -> DeflateParams | None:
    """The ``DeflateParams`` a permessage-deflate offer's parameters say,
    or None when they break section 7.1; to check an answer against an
    offer written by hand (``deflate_from_response``)."""
    got = _read_params(params)
    if got is None:
        return None
    server_bits = got.get("server_max_window_bits")
    client_bits = got.get("client_max_window_bits")
    return DeflateParams(
        server_no_context_takeover="server_no_context_takeover" in got,
        client_no_context_takeover="client_no_context_takeover" in got,
        server_max_window_bits=None if server_bits is None else int(server_bits),
        client_max_window_bits=(
            None if client_bits is None or client_bits is True else int(client_bits)
        ),
    )


def deflate_offer(params: DeflateParams = DeflateParams()) -> str:
    """The client's ``Sec-WebSocket-Extensions`` offer (section 7.1).

    ``client_max_window_bits`` is always offered, without a value when
    ``params`` sets none: we can honour whatever limit the server picks.
    """
    parts = [NAME]
    if params.server_no_context_takeover:
        parts.append("server_no_context_takeover")
    if params.client_no_context_takeover:
        parts.append("client_no_context_takeover")
    if params.server_max_window_bits is not None:
        parts.append(f"server_max_window_bits={params.server_max_window_bits}")
    if params.client_max_window_bits is not None:
        parts.append(f"client_max_window_bits={params.client_max_window_bits}")
    else:
        parts.append("client_max_window_bits")
    return "; ".join(parts)


def deflate_response(
    offers: Sequence[str], params: DeflateParams = DeflateParams()
) -> tuple[str, PerMessageDeflate] | None:
    """The server's choice among ``offers`` (raw header values, in order).

    Returns the response header value and the extension, or None when no
    offer is acceptable: declining means no compression, never a failed
    handshake (section 7.1), and so does a header we cannot parse.
    """
    try:
        parsed = parse_extensions(offers)
    except HandshakeError:
        return None
    for name, raw in parsed:
        if name.lower() != NAME:
            continue
        offer = _read_params(raw)
        if offer is None:
            continue
        found = _answer(offer, params)
        if found is not None:
            return found
    return None


def _answer(
    offer: dict[str, int | bool], params: DeflateParams
) -> tuple[str, PerMessageDeflate] | None:
    parts = [NAME]
    # Section 7.1.1.1: a server that accepts server_no_context_takeover
    # must echo it; section 7.1.1.2: client_no_context_takeover may always
    # be sent.
    server_reset = params.server_no_context_takeover or "server_no_context_takeover" in offer
    client_reset = params.client_no_context_takeover or "client_no_context_takeover" in offer
    if server_reset:
        parts.append("server_no_context_takeover")
    if client_reset:
        parts.append("client_no_context_takeover")
    # Section 7.1.2.1: answer with a window no larger than the one asked for.
    asked = offer.get("server_max_window_bits")
    server_bits = min(int(asked) if asked is not None else 15, params.server_max_window_bits or 15)
    if asked is not None or params.server_max_window_bits is not None:
        parts.append(f"server_max_window_bits={server_bits}")
    # Section 7.1.2.2: client_max_window_bits may only be answered when
    # offered, and no larger than an offered value.
    allowed = offer.get("client_max_window_bits")
    client_bits = 15
    if params.client_max_window_bits is not None:
        if allowed is None:
            return None
        client_bits = params.client_max_window_bits
    if isinstance(allowed, int) and not isinstance(allowed, bool):
        client_bits = min(client_bits, allowed)
    if client_bits != 15 or params.client_max_window_bits is not None:
        parts.append(f"client_max_window_bits={client_bits}")
    extension = PerMessageDeflate(
        send_max_window_bits=server_bits,
        send_no_context_takeover=server_reset,
        receive_max_window_bits=client_bits,
        receive_no_context_takeover=client_reset,
        max_message_size=params.max_message_size,
        level=params.level,
    )
    return "; ".join(parts), extension


def deflate_from_response(
    values: Sequence[str], params: DeflateParams = DeflateParams()
) -> PerMessageDeflate | None:
    """Check the server's answer to ``deflate_offer(params)`` (section 7.1).

    None when the server declined (no extension in its response). A response
    we could not have asked for raises ``HandshakeError``: the client must
    fail the connection (section 7.1, RFC 6455 section 4.1 item 5).
    """

    def fail(message: str) -> HandshakeError:
        return HandshakeError(f"permessage-deflate response {values!r}: {message}", 101)

    try:
        parsed = parse_extensions(values)
    except HandshakeError as exc:
        raise fail(str(exc)) from None
    if not parsed:
        return None
    if len(parsed) > 1 or parsed[0][0].lower() != NAME:
        raise fail("only permessage-deflate was offered, once")
    got = _read_params(parsed[0][1])
    if got is None:
        raise fail("unknown, repeated or invalid parameter")
    # Section 7.1.1.1: a requested server_no_context_takeover must be echoed.
    server_reset = "server_no_context_takeover" in got
    if params.server_no_context_takeover and not server_reset:
        raise fail("server_no_context_takeover was requested")
    # Section 7.1.2.1: the server window must honour our request.
    server_bits = got.get("server_max_window_bits", 15)
    asked = params.server_max_window_bits
    if asked is not None and ("server_max_window_bits" not in got or int(server_bits) > asked):
        raise fail(f"server_max_window_bits must be at most {asked}")
    # Section 7.1.2.2: the response's client_max_window_bits has a value,
    # no larger than the one we offered.
    client_bits = got.get("client_max_window_bits", 15)
    if client_bits is True:
        raise fail("client_max_window_bits needs a value in a response")
    limit = params.client_max_window_bits or 15
    if int(client_bits) > limit:
        raise fail(f"client_max_window_bits over the offered {limit}")
    return PerMessageDeflate(
        send_max_window_bits=min(int(client_bits), limit),
        send_no_context_takeover=(
            params.client_no_context_takeover or "client_no_context_takeover" in got
        ),
        receive_max_window_bits=int(server_bits),
        receive_no_context_takeover=server_reset,
        max_message_size=params.max_message_size,
        level=params.level,
    )
