"""``ServerConfig``: one composed configuration (``ws``, ``http``, ``hub``
nested, never copied), checked when it is made, one knob for the largest
message, the ``rawpush serve`` flags that map onto it, and the names the
``rawpush`` package exports lazily."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import inspect
import json
import math
import subprocess
import sys
from collections.abc import Sized
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

import rawpush
from rawpush.cli import build_parser
from rawpush.cli.echo import config_from_args as echo_config
from rawpush.cli.serve import config_from_args
from rawpush.cli.serve import run as run_serve
from rawpush.hub import HubConfig, HubEvent
from rawpush.proto.http import HTTPConfig
from rawpush.proto.ws.config import WSConfig
from rawpush.server.app import Server
from rawpush.server.config import (
    ConfigError,
    OverflowPolicy,
    ServerConfig,
    max_encoded_size,
)
from rawpush.server.encoding import sse_event, ws_frame
from rawpush.server.outbox import Outbox
from rawpush.sse import Decoder
from tests.server.conftest import FAST
from tests.server.support import WAIT, open_sse, request

TEN_MB = 10_000_000
TWO_MB = 2_000_000


def serve_args(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *flags])


# -- one knob for the largest message -------------------------------------------


async def test_max_message_size_knob_carries_2_mb_over_post_and_websocket() -> None:
    """With the limit at 10 MB, a 2 MB publish over POST and a 2 MB
    WebSocket text message both reach an SSE and a WebSocket subscriber,
    and stay in the history for a resume (before the knob, the POST got
    413 and the WebSocket message 1009)."""
    async with Server(FAST.with_max_message_size(TEN_MB)) as server:
        port = server.port
        big = 4 * TWO_MB  # the test's own SSE decoder limits, past the event
        sse = await open_sse(port, "/sse/big")
        sse.decoder = Decoder(max_line_size=big, max_event_size=big)
        url = f"ws://127.0.0.1:{port}/ws/big"
        async with connect(url, max_size=None) as ws, asyncio.timeout(WAIT):
            posted_data = "p" * TWO_MB
            posted = await request(port, "POST", "/publish/big", body=posted_data.encode())
            assert posted.status == 200
            first_id = json.loads(posted.body)["id"]
            sent_data = "w" * TWO_MB
            await ws.send(sent_data)
            received = [json.loads(await ws.recv()) for _ in range(2)]
            assert [m["data"] for m in received] == [posted_data, sent_data]
            assert received[0]["id"] == first_id
            events = await sse.events(2)
            assert [e.data for e in events] == [posted_data, sent_data]
            # Both are in the history (hub.history_bytes grew to hold one).
            resumed = await open_sse(port, "/sse/big", [("Last-Event-ID", first_id)])
            resumed.decoder = Decoder(max_line_size=big, max_event_size=big)
            assert [e.data for e in await resumed.events(1)] == [sent_data]
            resumed.close()
        sse.close()


@pytest.mark.parametrize("n", [1, 124, 125, 1000, 1 << 20, TEN_MB])
def test_with_max_message_size_moves_every_limit_a_message_meets(n: int) -> None:
    base = ServerConfig()
    config = base.with_max_message_size(n)
    assert config.http.max_body_bytes == n
    assert config.ws.max_message_size == n
    # A control frame (125 bytes, RFC 6455 section 5.5) is never refused.
    assert config.ws.max_frame_size == max(n, 125)
    assert config.hub.history_bytes == max(base.hub.history_bytes, n)
    assert config.queue_max_bytes == max(base.queue_max_bytes, max_encoded_size(n))
    # Nothing else moves.
    unchanged = ("ws", "http", "hub", "queue_max_bytes")
    for f in dataclasses.fields(ServerConfig):
        if f.name not in unchanged:
            assert getattr(config, f.name) == getattr(base, f.name), f.name
    assert config.http.max_header_bytes == base.http.max_header_bytes
    assert config.hub.history_size == base.hub.history_size


@pytest.mark.parametrize("n", [0, -1, True, 1.5, "10"])
def test_with_max_message_size_refuses_a_non_size(n: Any) -> None:
    with pytest.raises(ConfigError, match="max message size"):
        ServerConfig().with_max_message_size(n)


@pytest.mark.parametrize(
    "data",
    ["x" * 4096, "\n" * 4096, "\r\n" * 2048, "\x01" * 4096, '"' * 4096, "é" * 2048],
    ids=["plain", "lf", "crlf", "control", "quote", "two-byte"],
)
def test_a_paused_subscriber_queues_one_largest_event_of_any_shape(data: str) -> None:
    """``max_encoded_size`` bounds every transport's form of an event, so a
    paused subscriber's queue under the knob takes one without overflow."""
    n = len(data.encode())
    config = ServerConfig().with_max_message_size(n)
    for name in ("event", None):
        event = HubEvent(id=f"{2**64 - 1}-{2**64 - 1}", channel="c", event=name, data=data)
        forms: list[Sized] = [sse_event(event, True), sse_event(event, False), ws_frame(event)]
        for form in forms:
            assert len(form) <= max_encoded_size(n)
            box: Outbox[Any] = Outbox(
                lambda _: None,
                max_bytes=config.queue_max_bytes,
                max_messages=config.queue_max_messages,
            )
            box.pause()
            assert box.put(form) is None
            assert not box.closed and len(box) == 1


# -- validation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("host", ""),
        ("port", -1),
        ("port", 65536),
        ("port", True),
        ("port", "80"),
        ("ws_ping_interval", 0),
        ("ws_ping_timeout", -1.0),
        ("sse_heartbeat_interval", math.nan),
        ("header_timeout", "10"),
        ("keepalive_timeout", 0.0),
        ("close_timeout", -5),
        ("write_stall_timeout", None),
        ("max_poll_timeout", 0),
        ("drain_timeout", False),
        ("drain_retry_ms", -1),
        ("drain_retry_ms", 1.5),
        ("max_connections", 0),
        ("backlog", 0),
        ("queue_max_bytes", 0),
        ("queue_max_messages", 0),
        ("write_high_water", 0),
        ("write_low_water", -1),
        ("write_low_water", 64 * 1024 + 1),
        ("overflow", "nope"),
        ("overflow", 3),
        ("compression", "gzip"),
        ("compression", "none"),
        ("ws_echo", "yes"),
        ("publish_token", ""),
        ("publish_token", "has space"),
        ("publish_token", 42),
        ("allowed_origins", "https://a.example"),
        ("allowed_origins", ("https://a.example/",)),
        ("allowed_origins", ("a.example",)),
        ("allowed_origins", (42,)),
        ("certfile", ""),
        ("keyfile", "key.pem"),
        ("ws", HTTPConfig()),
        ("http", WSConfig()),
        ("hub", None),
    ],
)
def test_a_bad_field_is_one_clear_config_error(field: str, value: Any) -> None:
    with pytest.raises(ConfigError) as info:
        ServerConfig(**{field: value})
    message = str(info.value)
    assert f"ServerConfig.{field}" in message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


def test_lenient_spellings_are_normalized() -> None:
    config = ServerConfig(
        overflow="drop-oldest",  # type: ignore[arg-type]
        allowed_origins=["https://a.example", "http://b.example:8080", "null"],  # type: ignore[arg-type]
        certfile=Path("cert.pem"),  # type: ignore[arg-type]
        keyfile=Path("key.pem"),  # type: ignore[arg-type]
    )
    assert config.overflow is OverflowPolicy.DROP_OLDEST
    assert config.allowed_origins == ("https://a.example", "http://b.example:8080", "null")
    assert (config.certfile, config.keyfile) == ("cert.pem", "key.pem")
    hash(config)  # every field is hashable once normalized


def test_edges_that_are_allowed() -> None:
    for port in (0, 65535):
        assert ServerConfig(port=port).port == port
    assert ServerConfig(write_low_water=0, write_high_water=1).write_low_water == 0
    assert ServerConfig(write_low_water=5, write_high_water=5).write_high_water == 5
    assert ServerConfig(ws_ping_interval=math.inf).ws_ping_interval == math.inf
    assert ServerConfig(certfile="cert.pem").keyfile is None
    assert ServerConfig(publish_token="abc-._~+/9==").publish_token == "abc-._~+/9=="
    assert ServerConfig(drain_retry_ms=0).drain_retry_ms == 0


def test_moved_fields_are_not_spelled_flat_any_more() -> None:
    with pytest.raises(TypeError):
        ServerConfig(max_message_size=10)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ServerConfig(history_size=10)  # type: ignore[call-arg]


def test_every_field_says_what_it_is_and_its_default() -> None:
    lines = inspect.getsource(ServerConfig).splitlines()
    for f in dataclasses.fields(ServerConfig):
        (at,) = [i for i, line in enumerate(lines) if line.startswith(f"    {f.name}: ")]
        doc: list[str] = []
        i = at - 1
        while lines[i].strip().startswith("#:"):
            doc.insert(0, lines[i].strip()[2:])
            i -= 1
        assert doc, f"{f.name} has no #: comment"
        assert "default" in " ".join(doc).lower(), f"{f.name}: no default stated"


# -- the command line -------------------------------------------------------------


def test_no_flag_is_the_default_config() -> None:
    assert config_from_args(serve_args()) == ServerConfig()


def test_cli_max_message_size_is_the_python_knob() -> None:
    got = config_from_args(serve_args("--max-message-size", str(TEN_MB)))
    assert got == ServerConfig().with_max_message_size(TEN_MB)


def test_cli_a_limit_flag_given_with_the_knob_wins() -> None:
    got = config_from_args(
        serve_args(
            "--max-message-size", str(TEN_MB), "--queue-max-bytes", "5000",
            "--max-frame-size", "4096", "--history-bytes", "77",
        )
    )  # fmt: skip
    assert got.queue_max_bytes == 5000
    assert got.ws == WSConfig(max_frame_size=4096, max_message_size=TEN_MB)
    assert got.hub.history_bytes == 77
    assert got.http.max_body_bytes == TEN_MB


def test_cli_every_flag_maps_onto_its_field() -> None:
    got = config_from_args(
        serve_args(
            "--host", "::1", "--port", "0", "--history", "3", "--history-bytes", "4",
            "--max-channels", "5", "--max-body-bytes", "6", "--max-frame-size", "200",
            "--max-header-bytes", "2000", "--queue-max-bytes", "9", "--queue-max-messages", "10",
            "--write-high-water", "12", "--write-low-water", "11", "--max-connections", "13",
            "--backlog", "14", "--ws-ping-interval", "1.5", "--ws-ping-timeout", "2.5",
            "--sse-heartbeat", "3.5", "--header-timeout", "4.5", "--keepalive-timeout", "5.5",
            "--close-timeout", "6.5", "--write-stall-timeout", "7.5", "--max-poll-timeout", "8.5",
            "--drain-retry-ms", "15", "--drain-timeout", "9.5", "--overflow", "block",
            "--publish-token", "tok", "--allowed-origin", "https://a.example",
            "--allowed-origin", "https://b.example", "--certfile", "c.pem", "--keyfile", "k.pem",
            "--compression", "deflate", "--ws-echo",
        )
    )  # fmt: skip
    assert got == ServerConfig(
        host="::1",
        port=0,
        hub=HubConfig(history_size=3, history_bytes=4, max_channels=5),
        http=HTTPConfig(max_body_bytes=6, max_header_bytes=2000),
        ws=WSConfig(max_frame_size=200),
        queue_max_bytes=9,
        queue_max_messages=10,
        write_high_water=12,
        write_low_water=11,
        max_connections=13,
        backlog=14,
        ws_ping_interval=1.5,
        ws_ping_timeout=2.5,
        sse_heartbeat_interval=3.5,
        header_timeout=4.5,
        keepalive_timeout=5.5,
        close_timeout=6.5,
        write_stall_timeout=7.5,
        max_poll_timeout=8.5,
        drain_retry_ms=15,
        drain_timeout=9.5,
        overflow=OverflowPolicy.BLOCK,
        publish_token="tok",
        allowed_origins=("https://a.example", "https://b.example"),
        certfile="c.pem",
        keyfile="k.pem",
        compression="deflate",
        ws_echo=True,
    )
    assert config_from_args(serve_args("--compression", "none")).compression is None


def test_cli_every_flag_has_help_with_its_default() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve = sub.choices["serve"]
    for action in serve._actions:
        if action.dest in ("help", "redis", "publish_token", "allowed_origins", "certfile"):
            continue
        assert action.help and "default" in action.help, action.option_strings


def test_cli_echo_max_message_size_also_sizes_frames() -> None:
    def echo(*flags: str) -> Any:
        return echo_config(build_parser().parse_args(["echo", *flags]))

    assert echo("--max-message-size", str(TEN_MB)).max_frame_size == TEN_MB
    assert echo("--max-message-size", "10").max_frame_size == 125
    chosen = echo("--max-message-size", str(TEN_MB), "--max-frame-size", "4096")
    assert chosen.max_frame_size == 4096
    assert echo().max_frame_size == echo().max_message_size == 1 << 20


def test_cli_a_bad_value_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for flags in (("--port", "70000"), ("--max-frame-size", "3"), ("--history", "-1")):
        assert run_serve(serve_args(*flags)) == 2
        err = capsys.readouterr().err
        assert err.startswith("rawpush: serve: ") and err.count("\n") == 1, err


# -- the package's names ------------------------------------------------------------


def test_rawpush_exports_the_config_and_the_hub() -> None:
    from rawpush.hub import Hub

    assert rawpush.ServerConfig is ServerConfig
    assert rawpush.ConfigError is ConfigError
    assert rawpush.OverflowPolicy is OverflowPolicy
    assert rawpush.Hub is Hub
    assert rawpush.HubConfig is HubConfig
    assert rawpush.HTTPConfig is HTTPConfig
    assert rawpush.WSConfig is WSConfig
    assert rawpush.Server is Server
    assert set(rawpush.__all__) <= set(dir(rawpush))
    with pytest.raises(AttributeError):
        _ = rawpush.NoSuchName


def test_importing_the_core_still_loads_no_asyncio() -> None:
    code = (
        "import sys, rawpush, rawpush.ws, rawpush.sse, rawpush.longpoll;"
        "assert 'asyncio' not in sys.modules, 'asyncio loaded';"
        "assert 'rawpush.server' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
