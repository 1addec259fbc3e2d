"""``--log-level`` on every command: stdlib logging to stderr, one line per
record (an exception's type and message on the same line, never a
traceback), ``info`` by default (``rawpush.cli.logs``)."""

from __future__ import annotations

import re

import pytest

from tests.cli.support import USAGE, finish, one_line, read_until, run, spawn

COMMANDS = ("serve", "echo", "tail", "publish")

#: a command line's logging set up as ``rawpush`` does, then one record of each level
LOGGING = """
import logging, sys
from rawpush.cli import logs
logs.setup(sys.argv[1] if len(sys.argv) > 1 else None)
log = logging.getLogger("rawpush.test")
log.debug("a debug record")
log.info("an info record")
log.warning("a warning record")
def crash():
    raise ConnectionError("line one\\nline two")
try:
    crash()
except ConnectionError:
    log.exception("failed")
"""


@pytest.mark.parametrize("command", COMMANDS)
async def test_every_command_takes_log_level(command: str) -> None:
    code, out, _ = await run(command, "--help")
    assert code == 0
    assert "--log-level {debug,info,warning,error}" in out
    assert "(default info)" in " ".join(out.split())


async def test_a_level_that_does_not_exist_is_a_usage_error() -> None:
    code, _, err = await run("serve", "--log-level", "verbose")
    assert code == USAGE
    line = one_line(err)
    assert line.startswith("rawpush: serve: argument --log-level: invalid choice: 'verbose'"), line


async def records(level: str | None) -> list[str]:
    args = () if level is None else (level,)
    code, _, err = await finish(await spawn(*args, python=LOGGING))
    assert code == 0, err
    assert "Traceback" not in err, err
    return err.splitlines()


async def test_default_is_info_one_line_per_record() -> None:
    lines = await records(None)
    assert lines == [
        "rawpush: info: rawpush.test: an info record",
        "rawpush: warning: rawpush.test: a warning record",
        "rawpush: error: rawpush.test: failed: ConnectionError: line one\\nline two",
    ]


async def test_debug_adds_where_an_exception_was_raised() -> None:
    lines = await records("debug")
    assert lines[0] == "rawpush: debug: rawpush.test: a debug record"
    assert re.fullmatch(
        r"rawpush: error: rawpush\.test: failed: ConnectionError: line one\\nline two "
        r"\(at <string>:\d+ in crash\)",
        lines[-1],
    ), lines[-1]


async def test_error_hides_the_rest() -> None:
    lines = await records("error")
    assert [line.split(":")[1].strip() for line in lines] == ["error"]


async def test_serve_at_warning_prints_only_what_it_always_prints() -> None:
    proc = await spawn("serve", "--port", "0", "--log-level", "warning")
    assert proc.stderr is not None
    first = (await proc.stderr.readline()).decode()
    assert first.startswith("rawpush: listening on http://127.0.0.1:"), first
    proc.send_signal(2)
    code, _, err = await finish(proc)
    assert code == 0
    assert "info:" not in err and "debug:" not in err, err


async def test_serve_at_debug_shows_its_settings_without_secrets() -> None:
    proc = await spawn(
        "serve", "--port", "0", "--log-level", "debug", "--publish-token", "s3cret-token",
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    await read_until(proc.stderr, "listening on", seen)  # SIGINT once it serves
    seen = [line + "\n" for line in seen]
    proc.send_signal(2)
    code, _, err = await finish(proc)
    assert code == 0
    text = "".join(seen) + err
    assert "rawpush: debug: rawpush.cli: configuration: host='127.0.0.1' port=0" in text, text
    assert "publish_token='***'" in text
    assert "s3cret-token" not in text
