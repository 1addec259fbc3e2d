"""RFC 6455 section 4.2 (the server's side of the opening handshake) and
4.4 (versions): valid upgrades get a 101 with the right accept key; the
others get the status the section implies and no WebSocket."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import pytest

from tests.conformance.conftest import MAX_HEADER_BYTES
from tests.conformance.rawclient import TEXT, RawClient, frame, handshake_request

KEY = base64.b64encode(b"0123456789abcdef").decode()

GOOD = [
    ("Host", "127.0.0.1"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
]


def without(name: str) -> list[tuple[str, str]]:
    return [h for h in GOOD if h[0] != name]


def replaced(name: str, value: str) -> list[tuple[str, str]]:
    return [(n, value if n == name else v) for n, v in GOOD]


@pytest.mark.parametrize(
    "path", ["/", "/echo", "/a/b/c?x=1&y=2", "/%20space", "/?"], ids=str
)
def test_4_2_any_path_accepted(raw: Callable[[], RawClient], path: str) -> None:
    client = raw().open(path)
    client.send(frame(TEXT, path.encode()))
    client.expect_message(TEXT, path.encode())
    client.close_cleanly()


@pytest.mark.parametrize(
    "headers",
    [
        [*replaced("Upgrade", "WebSocket")],
        [*replaced("Connection", "keep-alive, Upgrade")],
        [*replaced("Connection", "upgrade")],
        [*GOOD, ("Origin", "http://example.com")],
        [*GOOD, ("Sec-WebSocket-Protocol", "chat, superchat")],
    ],
    ids=["upgrade-case", "connection-list", "connection-case", "origin", "subprotocol-offer"],
)
def test_4_2_1_variants_accepted(
    raw: Callable[[], RawClient], headers: list[tuple[str, str]]
) -> None:
    client = raw()
    assert client.send_request(handshake_request(KEY, "/", headers)) == 101
    # The echo server speaks no subprotocol: none is chosen (4.2.2 item 5.4).
    assert "sec-websocket-protocol" not in client.head
    client.close_cleanly()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (without("Host"), 400),
        (without("Upgrade"), 426),
        (replaced("Upgrade", "h2c"), 426),
        (without("Connection"), 400),
        (replaced("Connection", "keep-alive"), 400),
        (without("Sec-WebSocket-Key"), 400),
        (replaced("Sec-WebSocket-Key", "c2hvcnQ="), 400),
        (replaced("Sec-WebSocket-Key", "not base64 at all!!!!!!!"), 400),
        (without("Sec-WebSocket-Version"), 426),
        (replaced("Sec-WebSocket-Version", "8"), 426),
        (replaced("Sec-WebSocket-Version", "14"), 426),
        ([*GOOD, ("Sec-WebSocket-Protocol", "not a token")], 400),
    ],
    ids=[
        "no-host", "no-upgrade", "upgrade-h2c", "no-connection", "connection-no-upgrade",
        "no-key", "short-key", "bad-key", "no-version", "version-8", "version-14",
        "bad-subprotocol",
    ],
)
def test_4_2_1_bad_request_refused(
    raw: Callable[[], RawClient], headers: list[tuple[str, str]], status: int
) -> None:
    client = raw()
    assert client.send_request(handshake_request(KEY, "/", headers)) == status
    assert "sec-websocket-accept" not in client.head


@pytest.mark.parametrize("version", [None, "8", "14"], ids=["none", "8", "14"])
def test_4_4_unsupported_version_names_13(
    raw: Callable[[], RawClient], version: str | None
) -> None:
    # Section 4.4: answer with the version(s) the server speaks.
    headers = without("Sec-WebSocket-Version")
    if version is not None:
        headers.append(("Sec-WebSocket-Version", version))
    client = raw()
    assert client.send_request(handshake_request(KEY, "/", headers)) == 426
    assert client.head["sec-websocket-version"] == "13"


def test_4_2_1_post_is_405(raw: Callable[[], RawClient]) -> None:
    client = raw()
    request = handshake_request(KEY).replace(b"GET ", b"POST ", 1)
    assert client.send_request(request) == 405


def test_4_2_1_http_1_0_is_400(raw: Callable[[], RawClient]) -> None:
    client = raw()
    request = handshake_request(KEY).replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    assert client.send_request(request) == 400


def test_4_2_1_not_http_is_400(raw: Callable[[], RawClient]) -> None:
    client = raw()
    assert client.send_request(b"\x16\x03\x01 this is not HTTP\r\n\r\n") == 400


def test_4_2_1_head_too_large_is_431(raw: Callable[[], RawClient]) -> None:
    client = raw()
    headers = [*GOOD, ("X-Padding", "p" * MAX_HEADER_BYTES)]
    assert client.send_request(handshake_request(KEY, "/", headers)) == 431


def test_4_2_1_slow_head_times_out_with_408(raw: Callable[[], RawClient]) -> None:
    # A client that never finishes its head (slowloris) is answered 408.
    client = raw()
    client.sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    assert client.read_head() == 408
    assert time.monotonic() - started < 5  # bounded, not a timing assertion of the value


def test_4_2_2_frames_in_the_same_packet_as_the_request(raw: Callable[[], RawClient]) -> None:
    # Bytes after the request head belong to the WebSocket (h11's trailing data).
    client = raw().open("/", extra=frame(TEXT, b"early bird"))
    client.expect_message(TEXT, b"early bird")
    client.close_cleanly()
