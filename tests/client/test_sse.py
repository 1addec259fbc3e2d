"""EventSource against a scripted server that sends exactly the bytes each
test wants (WHATWG HTML 9.2.3 connection rules, 9.2.4 Last-Event-ID).

The server parses requests with h11 and answers with raw bytes; each
connection runs the next script in a list, so a test describes "first
connection does this, the reconnection does that".
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import h11
import pytest

from rawpush.client.http import backoff
from rawpush.client.sse import EventSource, EventSourceClosed, ReadyState
from rawpush.sse import Event

Script = Callable[[asyncio.StreamWriter, asyncio.Event], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"


class ScriptedServer:
    """Serves ``scripts[i]`` to the i-th connection; records each request."""

    def __init__(self, scripts: list[Script]) -> None:
        self.scripts = scripts
        self.requests: list[h11.Request] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stop = asyncio.Event()  # ends the scripts that hold the stream open

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str = "/sse/x") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def header(self, index: int, name: bytes) -> bytes | None:
        return dict(self.requests[index].headers).get(name)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(4096))
                    continue
                assert isinstance(event, h11.Request)
                break
            index = len(self.requests)
            self.requests.append(event)
            script = self.scripts[min(index, len(self.scripts) - 1)]
            await script(writer, self.stop)
        except ConnectionError:
            pass  # the client went away first
        finally:
            writer.close()


def sends(*chunks: bytes, hold: bool = False) -> Script:
    """A script that writes ``chunks`` and then closes (or stays open)."""

    async def script(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        if hold:
            await stop.wait()

    return script


def aborts(*chunks: bytes) -> Script:
    """Write ``chunks`` then reset the connection (a network failure)."""

    async def script(writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        writer.transport.abort()

    return script


async def take(source: EventSource, count: int) -> list[Event]:
    events = []
    async with asyncio.timeout(20):
        async for event in source:
            events.append(event)
            if len(events) == count:
                break
    return events


@contextlib.asynccontextmanager
async def serving(*scripts: Script) -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer(list(scripts)) as server:
        yield server


async def test_request_headers_and_events() -> None:
    script = sends(OK, b"id: 1\ndata: a\n\n", b"data: b\nda", b"ta: c\n\n", hold=True)
    async with serving(script) as s:
        source = EventSource(s.url(), retry=0.01)
        states = [source.ready_state]
        events = await take(source, 2)
        states.append(source.ready_state)
        source.close()
        states.append(source.ready_state)
    assert states == [ReadyState.CONNECTING, ReadyState.OPEN, ReadyState.CLOSED]
    assert events == [Event("a", "message", "1"), Event("b\nc", "message", "1")]
    # 9.2.3: Accept and Cache-Control always; no Last-Event-ID before there is one.
    assert s.header(0, b"accept") == b"text/event-stream"
    assert s.header(0, b"cache-control") == b"no-cache"
    assert s.header(0, b"last-event-id") is None


async def test_reconnects_after_end_and_resends_last_event_id() -> None:
    first = sends(OK, b"retry: 10\nid: 1\ndata: a\n\nid: 2\ndata: b\n\n")
    second = sends(OK, b"id: 3\ndata: c\n\n", hold=True)
    async with serving(first, second) as s:
        source = EventSource(s.url(), retry=5.0)  # the stream's retry: 10 ms wins
        events = await take(source, 3)
        source.close()
    assert [e.data for e in events] == ["a", "b", "c"]
    assert source.retry == 0.01
    assert s.header(1, b"last-event-id") == b"2"
    assert source.last_event_id == "3"


async def test_initial_last_event_id_and_utf8() -> None:
    async with serving(sends(OK, b"data: x\n\n", hold=True)) as s:
        source = EventSource(s.url(), last_event_id="\u00e9t\u00e9-7")
        await take(source, 1)
        source.close()
    # 9.2.4: the header value is the UTF-8 encoding of the id.
    assert s.header(0, b"last-event-id") == "\u00e9t\u00e9-7".encode()


async def test_network_drop_discards_partial_event_and_resumes() -> None:
    first = aborts(OK, b"id: 1\ndata: a\n\nid: 2\ndata: half")
    second = sends(OK, b"id: 2\ndata: b\n\n", hold=True)
    async with serving(first, second) as s:
        source = EventSource(s.url(), retry=0.01)
        events = await take(source, 2)
        source.close()
    assert [e.data for e in events] == ["a", "b"]
    # The unfinished event's id never took effect (9.2.6: set at dispatch).
    assert s.header(1, b"last-event-id") == b"1"


async def test_chunked_stream_and_lone_cr_line_ends() -> None:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    body = b"id: 9\rdata: x\r\r"
    async with serving(sends(head, b"%x\r\n%s\r\n" % (len(body), body), hold=True)) as s:
        source = EventSource(s.url())
        events = await take(source, 1)
        source.close()
    assert events == [Event("x", "message", "9")]


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (b"HTTP/1.1 204 No Content\r\n\r\n", 204),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n", 500),
        (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404),
        (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n", 0),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0),
    ],
)
async def test_fail_the_connection_stops_for_good(answer: bytes, status: int) -> None:
    async with serving(sends(answer)) as s:
        source = EventSource(s.url(), retry=0.01)
        with pytest.raises(EventSourceClosed) as info:
            await take(source, 1)
        # Failing is final: the next call raises again, no new request is made.
        with pytest.raises(EventSourceClosed):
            await anext(source)
    assert info.value.status == status
    assert source.ready_state is ReadyState.CLOSED
    assert len(s.requests) == 1


async def test_follows_redirects_and_reconnects_to_original_url() -> None:
    redirect = sends(b"HTTP/1.1 307 Moved\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n")
    first, second = sends(OK, b"id: 1\ndata: a\n\n"), sends(OK, b"data: b\n\n")
    async with serving(redirect, first, redirect, second) as s:
        source = EventSource(s.url("/sse/x"), retry=0.01)
        events = await take(source, 2)
        source.close()
    assert [e.data for e in events] == ["a", "b"]
    assert [r.target for r in s.requests] == [b"/sse/x", b"/moved", b"/sse/x", b"/moved"]
    assert s.header(3, b"last-event-id") == b"1"


async def test_too_many_redirects() -> None:
    loop = sends(b"HTTP/1.1 302 Found\r\nLocation: /sse/x\r\nContent-Length: 0\r\n\r\n")
    async with serving(loop) as s:
        source = EventSource(s.url(), max_redirects=2)
        with pytest.raises(EventSourceClosed, match="redirects"):
            await take(source, 1)
    assert len(s.requests) == 3


async def test_read_timeout_counts_as_network_failure() -> None:
    async with serving(sends(OK, hold=True), sends(OK, b"data: after\n\n", hold=True)) as s:
        source = EventSource(s.url(), retry=0.01, read_timeout=0.2)
        events = await take(source, 1)
        source.close()
    assert events[0].data == "after"
    assert len(s.requests) == 2


async def test_connection_refused_is_retried() -> None:
    # Find a free port, then release it: the first attempts are refused.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    source = EventSource(f"http://127.0.0.1:{port}/sse/x", retry=0.01, max_retry=0.05)
    task = asyncio.ensure_future(anext(source))
    await asyncio.sleep(0.1)  # a few refused attempts happen meanwhile
    assert source.ready_state is ReadyState.CONNECTING
    assert not task.done()
    source.close()
    with pytest.raises(StopAsyncIteration):
        await task


async def test_close_while_reading_ends_iteration() -> None:
    async with serving(sends(OK, hold=True)) as s, EventSource(s.url()) as source:
        task = asyncio.ensure_future(anext(source))
        while source.ready_state is not ReadyState.OPEN:
            await asyncio.sleep(0.01)
        source.close()
        with pytest.raises(StopAsyncIteration):
            await task


async def test_oversized_event_closes_for_good() -> None:
    async with serving(sends(OK, b"data: " + b"x" * 100, hold=True)) as s:
        source = EventSource(s.url(), max_event_size=10)
        with pytest.raises(EventSourceClosed):
            await take(source, 1)


def test_backoff_doubles_caps_and_only_lengthens() -> None:
    assert 1.0 <= backoff(1.0, 0, 30.0) <= 1.25
    assert 1.0 <= backoff(1.0, 1, 30.0) <= 1.25
    assert 4.0 <= backoff(1.0, 3, 30.0) <= 5.0
    assert 30.0 <= backoff(1.0, 50, 30.0) <= 37.5


def test_rejects_non_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        EventSource("ws://127.0.0.1/sse/x")
    with pytest.raises(ValueError):
        EventSource("http://127.0.0.1/sse/x", retry=5, max_retry=1)
