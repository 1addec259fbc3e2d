"""Flood defences (RFC 9113 section 10.5, "Denial-of-Service
Considerations"), each attack from a raw client:

- rapid reset (CVE-2023-44487): streams opened and reset at once;
- CONTINUATION flood (CVE-2024-27316): a header block that never ends,
  in large frames or in empty ones;
- SETTINGS and PING floods: frames that each owe an answer;
- empty DATA frames: work for the server, nothing for the peer;
- an HPACK bomb (RFC 7541 section 7.3): one large dynamic table entry
  referenced thousands of times, kilobytes that decode to megabytes.

Each attacker sends a bounded number of frames and must get a GOAWAY
(ENHANCE_YOUR_CALM, or the RFC 9113 code for what it broke) before the
server stops reading; meanwhile a second, well-behaved connection's SSE
stream receives events published before, during and after the attack.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import hpack
import pytest

from rawpush.server.app import Server
from tests.h2.support_hpack import hpack_int, hpack_str, literal_block
from tests.h2.support_raw import (
    Code,
    Flag,
    RawH2,
    SSEStream,
    Type,
    raw_frame,
    request_headers,
    settings_payload,
)

#: frames each attacker may send, at most: ten times the defences' window
#: of the server's defaults, so a defence that never fires fails the test
BOUND = 1_000
#: frames per write, so the victim's stream is served between writes
BATCH = 50
CHANNEL = "flood-victim"


@dataclass
class Victim:
    server: Server
    sse: SSEStream
    sent: int = 0

    async def still_served(self) -> None:
        """An event published now reaches the victim's stream."""
        self.sent += 1
        data = f"event {self.sent}"
        await self.server.hub.publish(CHANNEL, data)
        assert (await self.sse.next_event()).data == data


@pytest.fixture
async def victim(server: Server) -> AsyncIterator[Victim]:
    conn = await RawH2.open(server.port)
    try:
        guest = Victim(server, await SSEStream.open(conn, 1, CHANNEL))
        await guest.still_served()
        yield guest
    finally:
        await conn.close()


async def _attack(victim: Victim, frames: Iterable[bytes], *codes: int) -> int:
    """Send ``frames`` (at most ``BOUND``) from a new connection, stopping
    once the server closes it; the GOAWAY with one of ``codes`` must come.
    The victim is served half-way and after. Returns frames sent."""
    attacker = await RawH2.open(victim.server.port)
    sent = 0
    try:
        batch: list[bytes] = []
        for frame in frames:
            assert sent < BOUND, "the attack script is longer than the bound"
            batch.append(frame)
            sent += 1
            if len(batch) == BATCH:
                if not await _write(attacker, batch):
                    break
                if sent == BATCH * 2:
                    await victim.still_served()
        else:
            await _write(attacker, batch)
        await attacker.expect_goaway(*codes)
    finally:
        await attacker.close()
    await victim.still_served()
    return sent


async def _write(conn: RawH2, batch: list[bytes]) -> bool:
    """Write ``batch``; False once the server has closed the connection."""
    try:
        conn.send(b"".join(batch))
        batch.clear()
        await conn.drain()
    except (ConnectionError, RuntimeError):
        return False
    return not conn.writer.is_closing()


# -- the attacks ---------------------------------------------------------------------


async def test_9113_10_5_rapid_reset_is_calmed(victim: Victim) -> None:
    # CVE-2023-44487: each HEADERS starts work (a subscription), the
    # RST_STREAM right after costs the attacker nothing.
    def frames() -> Iterable[bytes]:
        # the attacker's own encoder: the server's decoder follows it
        encoder = hpack.Encoder()
        for index in range(BOUND // 2):
            sid = 1 + 2 * index
            block = encoder.encode(request_headers("/sse/flood-rr", accept="text/event-stream"))
            yield raw_frame(Type.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, sid, block)
            yield raw_frame(Type.RST_STREAM, 0, sid, Code.CANCEL.to_bytes(4, "big"))

    await _attack(victim, frames(), Code.ENHANCE_YOUR_CALM)


async def test_9113_10_5_continuation_flood_of_large_frames_is_stopped(victim: Victim) -> None:
    # CVE-2024-27316: a header block growing without END_HEADERS; each
    # CONTINUATION carries 4 KiB of literal fields.
    def frames() -> Iterable[bytes]:
        yield raw_frame(Type.HEADERS, Flag.END_STREAM, 1, literal_block(request_headers()))
        junk = literal_block([(f"x-pad-{i}", "p" * 100) for i in range(36)])
        for _ in range(BOUND - 1):
            yield raw_frame(Type.CONTINUATION, 0, 1, junk)

    await _attack(victim, frames(), Code.ENHANCE_YOUR_CALM, Code.FRAME_SIZE_ERROR)


async def test_9113_10_5_continuation_flood_of_empty_frames_is_stopped(victim: Victim) -> None:
    # h2 itself refuses a block of more than 64 frames (PROTOCOL_ERROR);
    # rawpush's own count of empty frames says ENHANCE_YOUR_CALM.
    def frames() -> Iterable[bytes]:
        yield raw_frame(Type.HEADERS, Flag.END_STREAM, 1, literal_block(request_headers()))
        for _ in range(BOUND - 1):
            yield raw_frame(Type.CONTINUATION, 0, 1)

    await _attack(victim, frames(), Code.ENHANCE_YOUR_CALM, Code.PROTOCOL_ERROR)


async def test_9113_10_5_settings_flood_is_calmed(victim: Victim) -> None:
    frames = (
        raw_frame(Type.SETTINGS, 0, 0, settings_payload((0x3, 100 + i % 7)))
        for i in range(BOUND)
    )
    await _attack(victim, frames, Code.ENHANCE_YOUR_CALM)


async def test_9113_10_5_ping_flood_is_calmed(victim: Victim) -> None:
    # the attacker reads none of the ACKs until the end
    frames = (raw_frame(Type.PING, 0, 0, i.to_bytes(8, "big")) for i in range(BOUND))
    await _attack(victim, frames, Code.ENHANCE_YOUR_CALM)


async def test_9113_10_5_empty_data_flood_is_calmed(victim: Victim) -> None:
    def frames() -> Iterable[bytes]:
        block = literal_block(request_headers("/publish/flood", "POST", content_type="text/plain"))
        yield raw_frame(Type.HEADERS, Flag.END_HEADERS, 1, block)
        for _ in range(BOUND - 1):
            yield raw_frame(Type.DATA, 0, 1)

    await _attack(victim, frames(), Code.ENHANCE_YOUR_CALM)


async def test_7541_7_3_hpack_bomb_is_calmed(victim: Victim) -> None:
    # 4 KB into the dynamic table once (section 6.2.1), then index 62
    # 8,000 times: a 12 KB block that decodes to 32 MB of fields.
    entry = hpack_int(0, 6, 0x40) + hpack_str(b"x-bomb") + hpack_str(b"b" * 4000)
    block = literal_block(request_headers()) + entry + hpack_int(62, 7, 0x80) * 8000
    frame = raw_frame(Type.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, block)
    sent = await _attack(victim, [frame], Code.ENHANCE_YOUR_CALM, Code.COMPRESSION_ERROR)
    assert sent == 1


async def test_9113_10_5_attacker_gets_no_answer_after_its_goaway(server: Server) -> None:
    # once calmed, the connection is closed: no frame after the GOAWAY
    attacker = await RawH2.open(server.port)
    try:
        for i in range(BOUND // BATCH):
            pings = b"".join(
                raw_frame(Type.PING, 0, 0, (i * BATCH + j).to_bytes(8, "big")) for j in range(BATCH)
            )
            if not await _write(attacker, [pings]):
                break
        await attacker.expect_goaway(Code.ENHANCE_YOUR_CALM)
        with contextlib.suppress(ConnectionError):
            assert await attacker.read_frame() is None
    finally:
        await attacker.close()
