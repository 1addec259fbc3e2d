"""What a newcomer meets first: the README's set-up block, whether a
type checker in the user's own project sees rawpush's types after the
README's install, and every snippet of the README and of the docs site,
run as pasted."""

from __future__ import annotations

import asyncio
import itertools
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import rawpush
from rawpush.client import EventSource, connect
from rawpush.client.http import parse_url, request

ROOT = Path(__file__).resolve().parent.parent

_USER_SCRIPT = """\
import rawpush
from rawpush.client import subscribe


async def main() -> int:
    server = rawpush.Server(rawpush.ServerConfig(port=0))
    await server.start()
    port: int = server.port
    await server.close()
    _ = subscribe
    return port
"""


def test_readme_opens_with_the_two_set_up_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = text.split("```")[1]
    lines = [line for line in first.splitlines()[1:] if line.strip()]
    assert len(lines) == 2, first
    assert "pip install -e ." in lines[0] and "rawpush serve" in lines[0]
    assert "pip install -e '.[test]'" in lines[1] and "pytest" in lines[1]


def test_the_package_ships_py_typed() -> None:
    assert (Path(rawpush.__file__).parent / "py.typed").is_file()


def test_mypy_strict_on_a_user_script_finds_rawpush(tmp_path: Path) -> None:
    script = tmp_path / "user.py"
    script.write_text(_USER_SCRIPT)
    # Run from the user's directory, not the checkout: a checkout on the
    # path would hide exactly the install problem this test looks for.
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(script)],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# -- every snippet runs as pasted ---------------------------------------------
#
# Each ```python block runs as its own program and each `rawpush ...` line of
# a ```sh block as its own command, against a live `rawpush serve`: the
# README's port 8000 becomes that server's. Blocks that are servers
# themselves (the sans-IO server, the ASGI app, `rawpush echo`) get a free
# port in place of theirs and a client from this test.

WAIT = 30.0  # bound on any one wait; nothing here should take a second
_FENCE = re.compile(r"^```(\S*)\n(.*?)^```", re.M | re.S)
#: fences a reader may meet: the runnable two, and two that are not programs
_LANGUAGES = {"python", "sh", "nginx", "text"}


def _blocks(language: str, path: Path = ROOT / "README.md") -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [body for lang, body in _FENCE.findall(text) if lang == language]


def _doc_samples() -> list[tuple[str, str]]:
    """``(where, code)`` for every python block of the docs site's pages."""
    return [
        (f"{page.relative_to(ROOT / 'docs')}-{n}", code)
        for page in sorted((ROOT / "docs").rglob("*.md"))
        for n, code in enumerate(_blocks("python", page))
    ]


def _commands() -> list[str]:
    """The README's `rawpush ...` command lines, but the set-up block's and
    the `serve` lines (long-running, on other hosts: the live server is one)."""
    lines = [line.strip() for block in _blocks("sh")[1:] for line in block.splitlines()]
    return [line for line in lines if line.startswith("rawpush ") and " serve " not in line]


PYTHON = _blocks("python")
DOCS = _doc_samples()
COMMANDS = _commands()
# The console script the install made, as a user runs it (next to the
# interpreter in a venv); else the same entry point through -m.
_SCRIPT = Path(sys.executable).with_name("rawpush")
RAWPUSH = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "rawpush"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live() -> Iterator[int]:
    """A `rawpush serve` on a free port; yields the port."""
    proc = subprocess.Popen(
        [*RAWPUSH, "serve", "--port", "0"], stderr=subprocess.PIPE, text=True
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        # Keep reading stderr so that the server never blocks on a full pipe.
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        yield int(match.group(1))
    finally:
        proc.terminate()
        proc.wait(WAIT)


async def _publish(port: int, data: str, path: str = "/publish/news") -> None:
    url = parse_url(f"http://127.0.0.1:{port}{path}")
    response = await request("POST", url, body=data.encode(), timeout=WAIT)
    await response.read(1 << 16, timeout=WAIT)
    await response.aclose()
    assert response.status // 100 == 2, response.status


async def _start(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def _line(stream: asyncio.StreamReader | None, pattern: str) -> str:
    """The first line of ``stream`` that matches ``pattern``."""
    assert stream is not None
    async with asyncio.timeout(WAIT):
        while line := (await stream.readline()).decode():
            if re.search(pattern, line):
                return line
    raise AssertionError(f"no line matching {pattern!r}")


async def _publish_until_exit(proc: asyncio.subprocess.Process, port: int) -> None:
    """Publish to "news" until ``proc`` ends: a snippet that waits for an
    event gets one whenever it has connected, with no clock to guess."""
    exited = asyncio.ensure_future(proc.wait())
    async with asyncio.timeout(WAIT):
        for n in itertools.count():
            await asyncio.wait([exited], timeout=0.05)
            if exited.done():
                return
            await _publish(port, f"event {n}")


async def _finish(proc: asyncio.subprocess.Process, sig: int | None = None) -> tuple[str, str]:
    if sig is not None and proc.returncode is None:
        proc.send_signal(sig)
    try:
        async with asyncio.timeout(WAIT):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert "Traceback" not in err.decode(), err.decode()
    return out.decode(), err.decode()


async def _run_sans_io_server(code: str) -> None:
    for refused in (False, True):
        port = _free_port()
        proc = await _start(sys.executable, "-u", "-c", code.replace("9000", str(port)))
        try:
            await _line(proc.stdout, rf"ws://127\.0\.0\.1:{port}/")
            if refused:
                # Plain HTTP, no upgrade: the handshake's refusal goes out (RFC 6455
                # section 4.2.2: 426 names the protocol this endpoint speaks).
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                async with asyncio.timeout(WAIT):
                    head = await reader.readline()
                writer.close()
                await writer.wait_closed()
                assert head.startswith(b"HTTP/1.1 426 "), head
            else:
                async with asyncio.timeout(WAIT), connect(f"ws://127.0.0.1:{port}/") as ws:
                    await ws.send("hello")
                    assert await ws.recv() == "HELLO"
        finally:
            await _finish(proc)
        assert proc.returncode == (1 if refused else 0)


async def _run_asgi_app(code: str) -> None:
    port = _free_port()
    proc = await _start(sys.executable, "-u", "-c", code.replace("8002", str(port)))
    try:
        await _line(proc.stderr, rf"running on http://127\.0\.0\.1:{port}")
        async with (
            asyncio.timeout(WAIT),
            EventSource(f"http://127.0.0.1:{port}/push/sse/orders") as source,
        ):
            # The stream is open once its first event can arrive; POST until one does.
            next_event = asyncio.ensure_future(anext(source))
            while not next_event.done():
                await _publish(port, "", "/orders")
                await asyncio.wait([next_event], timeout=0.05)
            assert next_event.result().data == "new order"
    finally:
        # uvicorn raises SIGINT again once it has stopped; SIGTERM ends it cleanly.
        await _finish(proc, signal.SIGTERM)


async def _run_client(code: str, port: int) -> None:
    proc = await _start(sys.executable, "-u", "-c", code.replace("8000", str(port)))
    try:
        await _publish_until_exit(proc, port)
    finally:
        out, _ = await _finish(proc)
    assert proc.returncode == 0
    assert out.strip(), "the snippet printed nothing"


async def _run_program(code: str) -> None:
    """A sample that needs nothing from outside: it runs and ends cleanly."""
    proc = await _start(sys.executable, "-u", "-c", code)
    await _finish(proc)
    assert proc.returncode == 0


async def _run_sample(code: str, live: int) -> None:
    if "ServerHandshake" in code:
        await _run_sans_io_server(code)
    elif "uvicorn.run" in code:
        await _run_asgi_app(code)
    elif "127.0.0.1:8000" in code:
        await _run_client(code, live)
    else:
        await _run_program(code)


@pytest.mark.parametrize("code", PYTHON, ids=[f"python-{n}" for n in range(len(PYTHON))])
async def test_every_python_block_runs_as_pasted(code: str, live: int) -> None:
    await _run_sample(code, live)


@pytest.mark.parametrize("code", [code for _, code in DOCS], ids=[where for where, _ in DOCS])
async def test_every_docs_sample_runs_as_pasted(code: str, live: int) -> None:
    # The docs site's samples are programs too: none may rot.
    await _run_sample(code, live)


async def _run_tail(argv: list[str], port: int) -> None:
    proc = await _start(*argv)
    try:
        assert proc.stdout is not None
        line = asyncio.ensure_future(proc.stdout.readline())
        async with asyncio.timeout(WAIT):
            while not line.done():
                await _publish(port, "tick")
                await asyncio.wait([line], timeout=0.05)
        assert line.result().strip()
    finally:
        # Ctrl-C: tail ends quietly (130), no traceback.
        await _finish(proc, signal.SIGINT)
    assert proc.returncode == 130


async def _run_echo(argv: list[str]) -> None:
    port = _free_port()
    argv = [str(port) if arg == "9001" else arg for arg in argv]
    proc = await _start(*argv)
    try:
        await _line(proc.stderr, rf"listening on ws://127\.0\.0\.1:{port}")
        async with (
            asyncio.timeout(WAIT),
            connect(f"ws://127.0.0.1:{port}/", compression="deflate") as ws,
        ):
            await ws.send("hello")
            assert await ws.recv() == "hello"
    finally:
        await _finish(proc, signal.SIGINT)


@pytest.mark.parametrize("line", COMMANDS, ids=[f"sh-{n}" for n in range(len(COMMANDS))])
async def test_every_shell_command_runs_as_pasted(line: str, live: int) -> None:
    argv = shlex.split(line.replace("8000", str(live)), comments=True)
    argv[:1] = RAWPUSH
    command = argv[len(RAWPUSH)]
    if command == "tail":
        await _run_tail(argv, live)
    elif command == "echo":
        await _run_echo(argv)
    else:
        assert command == "publish", f"no driver for {line!r}: add one to this test"
        proc = await _start(*argv)
        out, _ = await _finish(proc)
        assert proc.returncode == 0
        assert re.fullmatch(r"\S+\n", out), out


def test_mypy_strict_on_every_python_block(tmp_path: Path) -> None:
    # A snippet a user copies into a typed project stays typed, and a renamed
    # API fails here before a reader finds it.
    for n, code in enumerate([*PYTHON, *(code for _, code in DOCS)]):
        (tmp_path / f"snippet_{n}.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "."],
        check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_readme_has_snippets_and_labels_every_fence() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    languages = [lang for lang, _ in _FENCE.findall(text)]
    # An unlabelled or oddly labelled block would escape the two tests above.
    assert set(languages) <= _LANGUAGES, languages
    assert len(PYTHON) >= 5 and len(COMMANDS) >= 4 and len(DOCS) >= 7
