"""rawpush.asgi.App mounted in a Starlette app, under uvicorn and under
hypercorn (real processes on loopback), with real clients: rawpush's own
(EventSource, LongPoller, connect), the ``websockets`` library and curl.

Every resume starts from a known id, so a client sees the same events
whether it subscribed before or after they were published: the tests
never wait for a subscription to settle, except the stalled-reader test
(200 healthy readers beside the stalled one), which publishes far more
than the history holds and so waits, on /metrics, for every stream to be
open first. The first event after the resume point comes from the
replay, which proves the client subscribed; later ones are live.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from rawpush.client import EventSource, LongPoller, connect
from rawpush.client.http import parse_url
from rawpush.client.sse import open_stream
from tests.asgi import site
from tests.asgi.site import HISTORY
from tests.asgi.support import SERVERS, STOPPED, WAIT, Running, fetch, launch, metric, publish, stop


@pytest.fixture(scope="module", params=SERVERS)
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    server = launch(request.param)
    try:
        yield server
    finally:
        code, output = stop(server)
    assert code in STOPPED and "Traceback" not in output, output


async def _sse(url: str, last: str, count: int) -> list[tuple[str, str, str]]:
    got: list[tuple[str, str, str]] = []
    async with asyncio.timeout(WAIT), EventSource(url, last_event_id=last) as source:
        async for event in source:
            got.append((event.id or "", event.event or "", event.data))
            if len(got) == count:
                break
    return got


async def test_whatwg_9_2_live_delivery_on_sse_poll_ws_and_publish(running: Running) -> None:
    push, ws_push = running.push, running.push.replace("http", "ws", 1)
    first = await publish(running, "live", "zero")
    await publish(running, "live", "one")
    async with asyncio.timeout(WAIT):
        source = EventSource(f"{push}/sse/live", last_event_id=first)
        replayed = await anext(source)
        poller = LongPoller(f"{push}/poll/live", cursor=first, timeout=10)
        polled = await anext(poller)
        async with connect(f"{ws_push}/ws/live?lastEventId={first}") as ws:
            assert json.loads(await ws.recv())["data"] == "one"  # the replay
            assert (replayed.data, [e.data for e in polled.events]) == ("one", ["one"])
            waiting = asyncio.ensure_future(anext(poller))
            # Live: over POST /publish, from a route of the host app (its
            # own hub.publish), and from the WebSocket itself.
            await publish(running, "live", "two")
            status, _, _ = await fetch("POST", f"{running.base}/hello/live", b"three")
            assert status == 200
            await ws.send("four")
            seen = [json.loads(await ws.recv())["data"] for _ in range(3)]
            assert seen == ["two", "three", "four"]
        assert [(await anext(source)).data for _ in range(3)] == ["two", "three", "four"]
        got = [e.data for e in (await waiting).events]
        while len(got) < 3:
            got += [e.data for e in (await anext(poller)).events]
        assert got == ["two", "three", "four"]
        source.close()
        poller.close()


async def test_whatwg_9_2_4_resume_by_last_event_id_cursor_and_last_event_id(
    running: Running,
) -> None:
    ids = [await publish(running, "resume", f"e{n}") for n in range(3)]
    after = [(ids[1], "message", "e1"), (ids[2], "message", "e2")]
    assert await _sse(f"{running.push}/sse/resume", ids[0], 2) == after
    async with asyncio.timeout(WAIT):
        answer = await anext(LongPoller(f"{running.push}/poll/resume", cursor=ids[0], timeout=0))
        assert [(e.id, e.data) for e in answer.events] == [(ids[1], "e1"), (ids[2], "e2")]
        assert answer.cursor == ids[2]
        url = f"{running.push.replace('http', 'ws', 1)}/ws/resume?lastEventId={ids[0]}"
        async with websockets.connect(url) as ws:
            got = [json.loads(await ws.recv()) for _ in range(2)]
        assert got == [{"id": i, "event": "message", "data": d} for i, _, d in after]


async def test_gap_notice_when_the_history_no_longer_reaches_back(running: Running) -> None:
    ids = [await publish(running, "gap", f"g{n}") for n in range(HISTORY + 3)]
    kept = ids[-HISTORY:]
    sse = await _sse(f"{running.push}/sse/gap", ids[0], HISTORY + 1)
    assert sse[0][1] == "gap" and [i for i, _, _ in sse[1:]] == kept
    async with asyncio.timeout(WAIT):
        answer = await anext(LongPoller(f"{running.push}/poll/gap", cursor=ids[0], timeout=0))
        assert answer.gap and [e.id for e in answer.events] == kept
        url = f"{running.push.replace('http', 'ws', 1)}/ws/gap?lastEventId={ids[0]}"
        async with connect(url) as ws:
            assert json.loads(await ws.recv()) == {"gap": True}
            assert [json.loads(await ws.recv())["id"] for _ in kept] == kept


def _curl(*args: str) -> str:
    done = subprocess.run(
        ["curl", "-s", "-i", "--max-time", str(WAIT), *args],
        capture_output=True, check=True, timeout=WAIT + 5,
    )
    return done.stdout.decode().replace("\r\n", "\n")


def test_9110_answers_and_raw_path_routing_seen_by_curl(running: Running) -> None:
    # 404 in the JSON shape every rawpush host gives (RFC 9110 15.5.5).
    head, _, body = _curl(f"{running.push}/nope").partition("\n\n")
    assert head.startswith("HTTP/1.1 404") and json.loads(body) == {"error": "no route for '/nope'"}
    # An encoded "/" is data, not a separator (RFC 3986 section 2.2).
    assert _curl(f"{running.push}/publish%2Fa", "-X", "POST").startswith("HTTP/1.1 404")
    # 405 names what is allowed (RFC 9110 section 15.5.6).
    head = _curl(f"{running.push}/publish/a").lower()
    assert head.startswith("http/1.1 405") and "allow: post, options" in head
    # HEAD of a stream: its head, no body, no subscription (9.3.2).
    head = _curl("-I", f"{running.push}/sse/a").lower()
    assert head.startswith("http/1.1 200") and "content-type: text/event-stream" in head
    assert head.rstrip("\n").count("\n\n") == 0
    # The host application's own routes stay its own.
    assert _curl(f"{running.base}/").endswith("the host app\n")
    assert "rawpush_connections_total" in _curl(f"{running.push}/metrics")


async def test_multichannel_sse_and_poll_resume_per_channel_and_the_client_file(
    running: Running,
) -> None:
    first = {ch: await publish(running, ch, f"{ch}0") for ch in ("ma", "mb")}
    for ch in ("ma", "mb"):
        await publish(running, ch, f"{ch}1")
    # One position for both channels (a slot each, in the URL's order).
    position = f"{first['ma']},{first['mb']}"
    async with asyncio.timeout(WAIT):
        url = f"{running.push}/sse?channel=ma&channel=mb"
        async with EventSource(url, last_event_id=position) as source:
            got = [json.loads((await anext(source)).data) for _ in range(2)]
        assert [(e["channel"], e["data"]) for e in got] == [("ma", "ma1"), ("mb", "mb1")]
        query = f"channel=ma&channel=mb&cursor={position}&timeout=0"
        status, _, body = await fetch("GET", f"{running.push}/poll?{query}")
        answer = json.loads(body)
        assert status == 200 and answer["gaps"] == []
        assert [(e["channel"], e["data"]) for e in answer["events"]] == [
            ("ma", "ma1"),
            ("mb", "mb1"),
        ]
        # The browser client and the readiness probe, under the mount too.
        status, headers, body = await fetch("GET", f"{running.push}/rawpush.js")
        assert status == 200 and headers["content-type"].startswith("text/javascript")
        assert b"rawpush" in body
        status, _, body = await fetch("GET", f"{running.push}/readyz")
        assert (status, body) == (200, b"ready\n")


async def test_6455_5_6_binary_events_are_binary_messages_both_ways(running: Running) -> None:
    """A binary publish (POST application/octet-stream, or a binary
    message on /ws/{ch}) reaches a WebSocket subscriber as a binary
    message of its bytes, as over rawpush's own HTTP/1.1 host."""
    first = await publish(running, "bin", "text first")
    octets = bytes(range(256))  # not UTF-8
    url = f"{running.push.replace('http', 'ws', 1)}/ws/bin?lastEventId={first}"
    async with asyncio.timeout(WAIT), websockets.connect(url) as ws:
        status, _, body = await fetch(
            "POST",
            f"{running.push}/publish/bin",
            octets,
            (("Content-Type", "application/octet-stream"),),
        )
        assert status == 200, body
        assert await ws.recv() == octets
        await ws.send(b"\xff\x00 from the socket")
        assert await ws.recv() == b"\xff\x00 from the socket"
        await publish(running, "bin", "text after")
        assert json.loads(await ws.recv())["data"] == "text after"


HEALTHY = 200


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


async def test_stalled_sse_reader_is_cut_while_200_healthy_ones_get_everything(
    running: Running,
) -> None:
    start = await publish(running, "fan", "start")
    overflowed = 'rawpush_disconnects_total{reason="overflow"}'
    queued = 'rawpush_queue_bytes{transport="sse"}'
    streams = 'rawpush_connections{transport="sse"}'
    before = await metric(running, overflowed)
    open_before = await metric(running, streams)
    # The stalled reader: a tiny receive buffer, and it never reads.
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", running.port))
    stalled.sendall(
        f"GET /push/sse/fan HTTP/1.1\r\nHost: x\r\nLast-Event-ID: {start}\r\n\r\n".encode()
    )
    payload = "x" * 8192
    sent: list[str] = []

    async def healthy() -> list[str]:
        got: list[str] = []
        async with EventSource(f"{running.push}/sse/fan", last_event_id=start) as source:
            async for event in source:
                if event.data == "end":
                    return got
                got.append(event.id or "")
        return got

    async with asyncio.timeout(6 * WAIT):
        readers = [asyncio.ensure_future(healthy()) for _ in range(HEALTHY)]
        # Every stream is open before the burst: one that came later than
        # HISTORY events would resume into a gap instead of a replay.
        for _ in range(10_000):  # bounded: each try is a request
            if await metric(running, streams) >= open_before + HEALTHY + 1:
                break
        assert await metric(running, streams) >= open_before + HEALTHY + 1
        rss_before = _rss_kib(running.proc.pid)
        most_queued = 0.0
        for _ in range(1000):  # bounded: the overflow comes within ~100 events
            sent.append(await publish(running, "fan", payload))
            if len(sent) % 10 == 0:
                most_queued = max(most_queued, await metric(running, queued))
                if await metric(running, overflowed) > before:
                    break
        rss_grown = _rss_kib(running.proc.pid) - rss_before
        assert await metric(running, overflowed) == before + 1
        await publish(running, "fan", "end")
        results = await asyncio.gather(*readers)
    assert all(got == sent for got in results)
    # Memory: every outbox stays under its queue limit, the stalled one
    # included, so the server's growth is at most that per stream, plus the
    # watermark's worth before ASGI send and the server's own buffer. (Here
    # the kernel takes ~3 MB of the stalled stream before the queue fills:
    # the overflow above is what shows the queue is bounded; this is the
    # ceiling the process must stay under while it happens.)
    limit = site.config.queue_max_bytes
    per_stream = limit + site.config.write_high_water + 64 * 1024
    assert most_queued <= (HEALTHY + 1) * limit
    assert rss_grown * 1024 <= (HEALTHY + 1) * per_stream, (rss_grown, len(sent))
    # The stalled one, read at last: a part of the stream, then its end.
    stalled.settimeout(WAIT)
    seen = bytearray()
    with stalled:
        while data := stalled.recv(65536):
            seen += data
    assert b"HTTP/1.1 200" in seen and sent[-1].encode() not in seen


async def test_drain_on_sigterm_sse_gets_its_retry_hint_ws_1001_poll_answered() -> None:
    for server in SERVERS:
        running = launch(server)
        try:
            await _drain(running)
        finally:
            code, output = stop(running)
        assert code in STOPPED and "Traceback" not in output, output


async def _drain(running: Running) -> None:
    last = await publish(running, "bye", "hello")
    async with asyncio.timeout(WAIT):
        stream = await open_stream(parse_url(f"{running.push}/sse/bye"), timeout=WAIT)
        url = f"{running.push.replace('http', 'ws', 1)}/ws/bye?lastEventId={last}"
        ws = await websockets.connect(url)
        poll = asyncio.ensure_future(
            fetch("GET", f"{running.push}/poll/bye?cursor={last}&timeout=30")
        )
        for _ in range(1000):  # bounded: the poll is in within a few round trips
            if await metric(running, 'rawpush_connections{transport="poll"}') == 1:
                break
        running.terminate()  # SIGTERM
        body = bytearray()
        while chunk := await stream.read_chunk(WAIT):
            body += chunk
        # The drain hint, spread per connection over 1234 .. 2468 ms.
        assert 1234 <= int(body.split(b"retry: ")[1].split(b"\n")[0]) <= 2468
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        status, _, answer = await poll
        assert status == 200 and json.loads(answer)["events"] == []


@pytest.mark.parametrize("server", SERVERS)
async def test_runnable_alone_as_rawpush_asgi_app(server: str) -> None:
    alone = launch(server, "rawpush.asgi:app")
    try:
        status, _, body = await fetch("GET", f"{alone.base}/healthz")
        assert (status, body) == (200, b"ok\n")
        status, _, body = await fetch("POST", f"{alone.base}/publish/solo", b"one")
        first = json.loads(body)["id"]
        await fetch("POST", f"{alone.base}/publish/solo", b"two")
        got = await _sse(f"{alone.base}/sse/solo", first, 1)
        assert [data for _, _, data in got] == ["two"]
    finally:
        code, output = stop(alone)
    assert code in STOPPED and "Traceback" not in output, output


async def test_9113_poll_and_sse_over_http2_with_its_drain() -> None:
    """HTTP/2 (prior knowledge, RFC 9113 section 3.3) through hypercorn:
    the server frames each body message as DATA (``Framing.RAW``)."""
    h2 = launch("hypercorn")
    try:
        first = await publish(h2, "h2", "one")
        await publish(h2, "h2", "two")
        poll = _curl("--http2-prior-knowledge", f"{h2.push}/poll/h2?cursor={first}&timeout=0")
        assert poll.startswith("HTTP/2 200") and '"data":"two"' in poll
        curl = await asyncio.create_subprocess_exec(
            "curl", "-s", "-N", "--http2-prior-knowledge", "--max-time", str(WAIT),
            "-H", f"Last-Event-ID: {first}", f"{h2.push}/sse/h2",
            stdout=asyncio.subprocess.PIPE,
        )
        # Bounded in time, not in tries: a loaded machine may need many.
        async with asyncio.timeout(WAIT):
            while await metric(h2, 'rawpush_connections{transport="sse"}') != 1:
                await asyncio.sleep(0.02)
        h2.terminate()  # SIGTERM: the drain ends the stream
        async with asyncio.timeout(WAIT):
            out, _ = await curl.communicate()
        assert curl.returncode == 0
        text = out.decode()
        assert "data: two\n\n" in text and text.endswith("\n\n")
        assert 1234 <= int(text.rsplit("retry: ", 1)[1].strip()) <= 2468
    finally:
        code, output = stop(h2)
    assert code in STOPPED and "Traceback" not in output, output
