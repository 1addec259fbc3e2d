"""SSE codec throughput: rawpush against the encoders and decoder people use.

Run: ``python bench/sse_codec.py`` (about 15 s; the best of 9 runs is kept,
because shared CI machines are noisy). Prints events/s per
implementation and rawpush's ratio to the best peer, for a small event
(one ~100 B line of data and an id, the shape the hub publishes) and a
multi-line one (an event name, an id and five lines of data).

Peers, each called the way the library itself calls it:

- encode, sse-starlette: ``ServerSentEvent(data, id=..., event=...).encode()``;
- encode, aiohttp-sse: it has no standalone encoder; its formatting lives
  inside ``EventSourceResponse.send()``, which then awaits a socket write
  under ``asyncio.timeout``. ``aiohttp_sse_format`` below replicates that
  formatting step for step (``io.StringIO``, the same checks, its
  ``LINE_SEP_EXPR`` split, its default ``\\r\\n`` separator, UTF-8 encode)
  and leaves out the write and the timeout, which are I/O, not encoding;
- decode, httpx-sse: what ``EventSource.iter_sse()`` does per response
  chunk: httpx's ``TextDecoder`` (incremental UTF-8), ``SSELineDecoder``,
  ``line.rstrip("\\n")`` and ``SSEDecoder.decode(line)`` per line.

All decoders get the same bytes in 4 KiB chunks, a typical socket read.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from aiohttp_sse import EventSourceResponse
from httpx._decoders import TextDecoder
from httpx_sse._decoders import SSEDecoder, SSELineDecoder
from sse_starlette.event import ServerSentEvent  # what sse_starlette.sse re-exports

from rawpush.sse import Decoder, Event, encode

SMALL = Event("x" * 90 + "é" * 5, id="1700000000000-0")
MULTI = Event(
    "\n".join(f'{{"line": {i}, "text": "{"abc" * 20}"}}' for i in range(5)),
    event="update",
    id="1700000000000-0",
)
ENCODE_COUNT = 20_000
DECODE_COUNT = 10_000
CHUNK = 4096

_SEP = EventSourceResponse.DEFAULT_SEPARATOR
_LINE_SEP_EXPR = EventSourceResponse.LINE_SEP_EXPR


def aiohttp_sse_format(
    data: str, id: str | None = None, event: str | None = None, retry: int | None = None
) -> bytes:
    """aiohttp-sse 3.0 ``EventSourceResponse.send()`` minus the socket write."""
    buffer = io.StringIO()
    if id is not None:
        if _LINE_SEP_EXPR.search(id) or "\0" in id:
            raise ValueError("id must not contain line separators or null characters")
        buffer.write(f"id: {id}")
        buffer.write(_SEP)
    if event is not None:
        if _LINE_SEP_EXPR.search(event):
            raise ValueError("event must not contain line separators")
        buffer.write(f"event: {event}")
        buffer.write(_SEP)
    for chunk in _LINE_SEP_EXPR.split(data):
        buffer.write(f"data: {chunk}")
        buffer.write(_SEP)
    if retry is not None:
        if retry < 0:
            raise ValueError("retry must not be negative")
        buffer.write(f"retry: {retry}")
        buffer.write(_SEP)
    buffer.write(_SEP)
    return buffer.getvalue().encode("utf-8")


def best_rate(count: int, run: Callable[[], object], repeat: int = 9) -> float:
    """Events per second of the fastest of ``repeat`` runs of ``count`` events."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return count / best


def encode_rates(event: Event) -> dict[str, float]:
    data, id_, name = event.data, event.id, event.event
    n = range(ENCODE_COUNT)

    def rawpush() -> None:
        for _ in n:
            encode(Event(data, name, id_))

    def rawpush_once() -> None:
        for _ in n:
            encode(event)

    def starlette() -> None:
        for _ in n:
            ServerSentEvent(data, id=id_, event=name).encode()

    def aiohttp() -> None:
        for _ in n:
            aiohttp_sse_format(data, id=id_, event=name)

    return {
        "rawpush (build Event + encode)": best_rate(ENCODE_COUNT, rawpush),
        "rawpush (encode prebuilt Event)": best_rate(ENCODE_COUNT, rawpush_once),
        "sse-starlette": best_rate(ENCODE_COUNT, starlette),
        "aiohttp-sse (replicated)": best_rate(ENCODE_COUNT, aiohttp),
    }


def rawpush_decode(chunks: list[bytes]) -> int:
    decoder = Decoder()
    count = 0
    for chunk in chunks:
        count += len(decoder.feed(chunk))
    return count + len(decoder.end())


def httpx_sse_decode(chunks: list[bytes]) -> int:
    text_decoder = TextDecoder()
    line_decoder = SSELineDecoder()
    decoder = SSEDecoder()
    count = 0
    for chunk in chunks:
        for line in line_decoder.decode(text_decoder.decode(chunk)):
            if decoder.decode(line.rstrip("\n")) is not None:
                count += 1
    for line in line_decoder.decode(text_decoder.flush()) + line_decoder.flush():
        if decoder.decode(line.rstrip("\n")) is not None:
            count += 1
    return count


def decode_rates(event: Event) -> dict[str, float]:
    stream = encode(event) * DECODE_COUNT
    chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]
    assert rawpush_decode(chunks) == DECODE_COUNT
    assert httpx_sse_decode(chunks) == DECODE_COUNT
    return {
        "rawpush": best_rate(DECODE_COUNT, lambda: rawpush_decode(chunks)),
        "httpx-sse": best_rate(DECODE_COUNT, lambda: httpx_sse_decode(chunks)),
    }


def report(title: str, rates: dict[str, float], ours: str) -> None:
    print(f"\n{title}")
    best_peer = max(rate for name, rate in rates.items() if not name.startswith("rawpush"))
    for name, rate in rates.items():
        print(f"  {name:34} {rate:12,.0f} events/s")
    print(f"  {ours} / best peer: {rates[ours] / best_peer:.2f}x")


def main() -> None:
    for label, event in (("small", SMALL), ("multi-line", MULTI)):
        size = len(encode(event))
        report(
            f"encode, {label} event ({size} B)",
            encode_rates(event),
            "rawpush (build Event + encode)",
        )
        report(f"decode, {label} event ({size} B)", decode_rates(event), "rawpush")


if __name__ == "__main__":
    main()
