"""RFC 6455 section 5.3: the C masking accelerator and the pure-Python path.

Both implementations are checked against a byte-at-a-time reference on
every size from 0 to 20 bytes, around the pure path's small/large
crossover, on random sizes up to 1 MiB, and at every start offset of the
source buffer (the C loop works 8 and 32 bytes at a time; the tail and
unaligned starts are where it could go wrong). The C module is imported
directly, so it is tested even when ``RAWPUSH_NO_SPEEDUPS`` makes the
connection use pure Python; the connection-level tests at the end run the
frame path once with each implementation patched in.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace

import pytest

import rawpush.proto.ws as ws_package
from rawpush.proto.ws import frames, mask, send, utf8
from rawpush.ws import Binary, ClientConnection, ServerConnection, Text, WSConfig
from tests.conftest import require

Mask = Callable[[bytes | bytearray | memoryview, bytes], bytes]
Unmask = Callable[[bytes | bytearray | memoryview, int, int], bytes]

SIZES = [*range(21), 31, 32, 33, 63, 64, 65, 125, 126, 127, 383, 384, 385, 1024, 65535, 65536]
RNG = random.Random(6455)
RANDOM_SIZES = [*sorted(RNG.randrange(0, 70_000) for _ in range(40)), 1 << 20, (1 << 20) + 3]


def reference(data: bytes, key: bytes) -> bytes:
    """Section 5.3 literally: octet i XOR masking-key octet i MOD 4."""
    return bytes(b ^ key[i % 4] for i, b in enumerate(data))


def speedups_module() -> ModuleType:
    try:
        return importlib.import_module("rawpush.proto.ws._speedups")
    except ImportError:
        require("the C accelerator (pip install -e . with a C compiler)", False)
        raise  # not reached: require() skips or fails


@pytest.fixture(params=["c", "python"])
def impl(request: pytest.FixtureRequest) -> tuple[Mask, Unmask]:
    """(apply_mask, unmask) of one implementation."""
    if request.param == "c":
        module = speedups_module()
        return module.apply_mask, module.unmask
    return mask.py_apply_mask, mask.py_unmask


@pytest.mark.parametrize("size", SIZES)
def test_5_3_apply_mask_matches_reference_at_every_offset(
    impl: tuple[Mask, Unmask], size: int
) -> None:
    apply_mask, _ = impl
    key = os.urandom(4)
    data = os.urandom(size + 7)
    for offset in range(8):
        payload = data[offset : offset + size]
        expected = reference(payload, key)
        assert apply_mask(payload, key) == expected
        assert apply_mask(memoryview(data)[offset : offset + size], key) == expected
        assert apply_mask(bytearray(payload), key) == expected


@pytest.mark.parametrize("size", RANDOM_SIZES)
def test_5_3_c_and_python_agree_on_random_sizes(size: int) -> None:
    c = speedups_module()
    key = os.urandom(4)
    data = os.urandom(size)
    masked = c.apply_mask(data, key)
    assert masked == mask.py_apply_mask(data, key)
    # Masking and unmasking are the same operation (section 5.3).
    assert c.apply_mask(masked, key) == data
    buffer = bytearray(os.urandom(size % 11)) + key + masked + b"trailing"
    start = size % 11
    end = start + 4 + size
    assert c.unmask(memoryview(buffer), start, end) == data
    assert mask.py_unmask(memoryview(buffer), start, end) == data


@pytest.mark.parametrize("size", SIZES)
def test_5_3_unmask_reads_key_and_payload_in_place(impl: tuple[Mask, Unmask], size: int) -> None:
    _, unmask = impl
    key = os.urandom(4)
    payload = os.urandom(size)
    for prefix in range(5):
        wire = os.urandom(prefix) + key + reference(payload, key) + os.urandom(3)
        end = prefix + 4 + size
        for buffer in (wire, bytearray(wire), memoryview(wire)):
            assert unmask(buffer, prefix, end) == payload


def test_c_rejects_bad_arguments() -> None:
    c = speedups_module()
    with pytest.raises(ValueError, match="4 bytes"):
        c.apply_mask(b"abc", b"\x00\x01\x02")
    with pytest.raises(TypeError):
        c.apply_mask(b"abc")
    with pytest.raises(TypeError):
        c.apply_mask("text", b"1234")
    with pytest.raises(TypeError):
        c.apply_mask(b"abc", "1234")
    with pytest.raises(ValueError, match="bounds"):
        c.unmask(b"123", 0, 3)  # no room for the key
    with pytest.raises(ValueError, match="bounds"):
        c.unmask(b"12345678", 0, 9)
    with pytest.raises(ValueError, match="bounds"):
        c.unmask(b"12345678", -1, 8)
    with pytest.raises(TypeError):
        c.unmask(b"12345678", 0)
    with pytest.raises(TypeError):
        c.unmask(b"12345678", "0", 8)
    with pytest.raises(TypeError):
        c.unmask(b"12345678", 0, None)
    with pytest.raises(TypeError):
        c.unmask(12345678, 0, 8)


def test_c_result_outlives_a_resized_buffer() -> None:
    # The connection deletes parsed bytes from its bytearray right after
    # parsing: the result must be a copy, not a view of the buffer.
    c = speedups_module()
    key = b"\x01\x02\x03\x04"
    buffer = bytearray(key + reference(b"hello world", key))
    with memoryview(buffer) as view:
        out = c.unmask(view, 0, len(buffer))
    del buffer[:]
    assert out == b"hello world"


# -- a server's unmasked frame, built in one copy (section 5.2) ---------------

FRAME_SIZES = [0, 1, 125, 126, 127, 65535, 65536, 70_000]


def server_frame_impls() -> list[Callable[[int, str | bytes | bytearray | memoryview], bytes]]:
    return [speedups_module().server_frame, frames.py_server_frame]


@pytest.mark.parametrize("size", FRAME_SIZES)
def test_5_2_server_frame_matches_serialize_frame(size: int) -> None:
    data = os.urandom(size)
    ascii_text = data.hex()[:size]
    wide_text = ("é€😀" * size)[:size]
    for build in server_frame_impls():
        for payload in (data, bytearray(data), memoryview(data)):
            assert build(0x82, payload) == frames.serialize_frame(0x2, data)
        assert build(0x81, ascii_text) == frames.serialize_frame(0x1, ascii_text.encode())
        assert build(0x81, wide_text) == frames.serialize_frame(0x1, wide_text.encode())
        fragment = frames.serialize_frame(0x1, ascii_text.encode(), fin=False)
        assert build(0x01, ascii_text) == fragment


def test_server_frame_refuses_a_lone_surrogate() -> None:
    for build in server_frame_impls():
        with pytest.raises(UnicodeEncodeError):
            build(0x81, "a\ud800b")


def test_c_server_frame_rejects_bad_arguments() -> None:
    c = speedups_module()
    for first in (-1, 256):
        with pytest.raises(ValueError, match="range"):
            c.server_frame(first, b"")
    with pytest.raises(TypeError):
        c.server_frame(0x81)
    with pytest.raises(TypeError):
        c.server_frame("x", b"")
    with pytest.raises(OverflowError):
        c.server_frame(1 << 80, b"")
    with pytest.raises(TypeError):
        c.server_frame(0x81, 12)


# -- choosing the implementation ----------------------------------------------


def test_no_speedups_variable_selects_pure_python() -> None:
    assert mask.load_speedups({"RAWPUSH_NO_SPEEDUPS": "1"}) is None
    assert mask.load_speedups({"RAWPUSH_NO_SPEEDUPS": "yes"}) is None


def test_missing_extension_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(ws_package, "_speedups", raising=False)
    monkeypatch.setitem(sys.modules, "rawpush.proto.ws._speedups", None)  # import fails
    assert mask.load_speedups({}) is None


@pytest.mark.parametrize("value", [None, "", "0"])
def test_extension_is_used_when_importable(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    fake = SimpleNamespace(apply_mask=None, unmask=None)
    monkeypatch.setattr(ws_package, "_speedups", fake, raising=False)
    environ = {} if value is None else {"RAWPUSH_NO_SPEEDUPS": value}
    loaded: object = mask.load_speedups(environ)
    assert loaded is fake


@pytest.mark.parametrize("value", ["1", "0"])
def test_variable_is_read_at_import(value: str) -> None:
    code = "from rawpush.proto.ws import frames, mask; print(mask.SPEEDUPS, frames.unmask)"
    env = {**os.environ, "RAWPUSH_NO_SPEEDUPS": value}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    if value == "1":
        assert out.startswith("False <function py_unmask")
    else:
        built = importlib.util.find_spec("rawpush.proto.ws._speedups") is not None
        assert out.startswith("True <built-in" if built else "False <function")


# -- the frame path with each implementation -------------------------------------


@pytest.fixture(params=["c", "python"])
def masking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Bind every masking call site of the frame path to one implementation."""
    if request.param == "c":
        module = speedups_module()
        apply_mask, unmask, build = module.apply_mask, module.unmask, module.server_frame
    else:
        apply_mask, unmask, build = mask.py_apply_mask, mask.py_unmask, frames.py_server_frame
    monkeypatch.setattr(frames, "unmask", unmask)
    monkeypatch.setattr(frames, "apply_mask", apply_mask)
    monkeypatch.setattr(send, "apply_mask", apply_mask)
    monkeypatch.setattr(utf8, "apply_mask", apply_mask)
    monkeypatch.setattr(send, "server_frame", build)
    yield request.param


LIMIT = 1 << 21


def pair() -> tuple[ClientConnection, ServerConnection]:
    config = WSConfig(max_frame_size=LIMIT, max_message_size=LIMIT)
    return ClientConnection(config), ServerConnection(config)


@pytest.mark.parametrize("size", [0, 1, 5, 125, 126, 383, 384, 4096, 65535, 65536, 1 << 20])
def test_5_3_client_frames_round_trip(masking: str, size: int) -> None:
    client, server = pair()
    text = os.urandom(size // 2 + 1).hex()[:size]
    data = os.urandom(size)
    client.send_text(text)
    client.send_binary(data)
    wire = client.data_to_send()
    server.receive_data(wire)
    assert server.events() == [Text(text), Binary(data)]
    server.send_text(text)
    client.receive_data(server.data_to_send())
    assert client.events() == [Text(text)]
    # The server's own frames are not masked (section 5.1): the client
    # reads them back unchanged.
    server.send_binary(data)
    client.receive_data(server.data_to_send())
    assert client.events() == [Binary(data)]


@pytest.mark.parametrize("size", [3, 130, 400])
def test_5_3_client_frame_split_at_every_offset(masking: str, size: int) -> None:
    client, _ = pair()
    text = "é" * (size // 2) + "x" * (size % 2)
    client.send_text(text)
    wire = client.data_to_send()
    for cut in range(len(wire) + 1):
        _, server = pair()
        server.receive_data(wire[:cut])
        server.receive_data(wire[cut:])
        assert server.events() == [Text(text)]


def test_5_3_client_frame_byte_by_byte(masking: str) -> None:
    client, server = pair()
    text = "ünïcode " * 60  # over the pure path's crossover, and fail-fast checked
    client.send_text(text)
    events = []
    for byte in client.data_to_send():
        server.receive_data(bytes((byte,)))
        events += server.events()
    assert events == [Text(text)]
