"""``rawpush serve --config FILE`` and a flag for every ``ServerConfig``
field (``rawpush.cli.config_file``): the help lists each field with its
default and unit, the file sets each one, a flag wins over the file, and
every mistake in the file is one line naming the file and the key."""

from __future__ import annotations

import argparse
import dataclasses
import enum
from pathlib import Path
from typing import Any

import pytest

from rawpush.cli import build_parser
from rawpush.cli.config_file import apply_file
from rawpush.cli.serve import config_from_args
from rawpush.server.config import ServerConfig
from tests.cli.support import USAGE, interrupt, one_line, read_until, run, spawn

#: the two fields no flag or key can set, and why (see rawpush.cli.config_file)
NOT_SETTABLE = {
    "auth": "built by the security flags",
    "hub.clock": "a function",
    "write_coalesce_window": "read by rawpush.asgi only, never by rawpush serve",
}
#: the unit a field's help must name, by the suffix of its name
UNITS = {
    "_timeout": ("s)", "seconds"),
    "_interval": ("s)", "seconds"),
    "_ttl": ("s)",),
    "_window": ("s)",),
    "_ms": ("ms",),
    "_bytes": ("bytes",),
    "_size": ("bytes", "events"),
    "_water": ("bytes",),
    "_sndbuf": ("bytes",),
}
NESTED = ("ws", "http", "hub")
HUB = "did you mean 'history_size' in [hub]?"
POLICIES = "'disconnect', 'drop-oldest', 'block'"


def every_field() -> list[tuple[str, Any]]:
    """``(dotted key, default)`` of every field, walked from the dataclasses."""
    defaults = ServerConfig()
    found: list[tuple[str, Any]] = []
    for f in dataclasses.fields(ServerConfig):
        value = getattr(defaults, f.name)
        if f.name in NESTED:
            inner = dataclasses.fields(value)
            found += [(f"{f.name}.{g.name}", getattr(value, g.name)) for g in inner]
        else:
            found.append((f.name, value))
    return [(key, value) for key, value in found if key not in NOT_SETTABLE]


def serve_parser() -> argparse.ArgumentParser:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            serve: argparse.ArgumentParser = action.choices["serve"]
            return serve
    raise AssertionError("no serve subcommand")


async def test_help_lists_every_field_with_its_default_and_unit() -> None:
    code, out, _ = await run("serve", "--help")
    assert code == 0
    flat = " ".join(out.split())
    actions = {a.dest: a for a in serve_parser()._actions}
    for key, _ in every_field():
        assert key in actions, f"ServerConfig field {key} has no flag"
        action = actions[key]
        assert action.option_strings[0] in out, key
        text = " ".join((action.help or "").split())
        assert text.replace("%%", "%") in flat, key
        assert "default" in text.lower(), f"{key}: no default in {text!r}"
        for suffix, units in UNITS.items():
            if key.endswith(suffix):
                assert any(u in text for u in units), f"{key}: no unit in {text!r}"


def other_value(key: str, default: Any) -> Any:
    """A value for ``key`` that ServerConfig accepts and is not the default."""
    special: dict[str, Any] = {
        "host": "::1",
        "compression": "deflate",
        "publish_token": "tok",
        "metrics_token": "tok",
        "certfile": "c.pem",
        "keyfile": None,  # needs certfile: set together below
        "allowed_origins": ["https://a.example"],
        "transports": ["sse", "poll"],
    }
    if key in special:
        return special[key]
    if isinstance(default, bool):
        return not default
    if isinstance(default, enum.Enum):
        return next(m.value for m in type(default) if m != default)
    if isinstance(default, int):
        return default + 7
    if isinstance(default, float):
        return default * 2
    return 5  # an optional number that is None by default


def toml(settings: dict[str, Any]) -> str:
    def literal(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return f'"{value}"'
        if isinstance(value, list):
            return "[" + ", ".join(literal(v) for v in value) + "]"
        return repr(value)

    top = [f"{k} = {literal(v)}" for k, v in settings.items() if "." not in k]
    tables: dict[str, list[str]] = {}
    for key, value in settings.items():
        if "." in key:
            part, name = key.split(".", 1)
            tables.setdefault(part, []).append(f"{name} = {literal(value)}")
    for part, lines in tables.items():
        top += [f"[{part}]", *lines]
    return "\n".join(top) + "\n"


def from_file(tmp_path: Path, text: str, *flags: str) -> ServerConfig:
    path = tmp_path / "rawpush.toml"
    path.write_text(text)
    parser = serve_parser()
    args = parser.parse_args([*flags])
    apply_file(str(path), parser, args)
    return config_from_args(args)


def current(config: ServerConfig, key: str) -> Any:
    value: Any = config
    for name in key.split("."):
        value = getattr(value, name)
    return value


@pytest.mark.parametrize(("key", "default"), every_field(), ids=[k for k, _ in every_field()])
def test_every_field_is_a_file_key(tmp_path: Path, key: str, default: Any) -> None:
    value = other_value(key, default)
    settings = {key: value}
    if key == "keyfile":
        settings = {"certfile": "c.pem", "keyfile": "k.pem"}
        value = "k.pem"
    config = from_file(tmp_path, toml(settings))
    got = current(config, key)
    want = tuple(value) if isinstance(value, list) else value
    assert got == want, (key, got, want)
    # Nothing else moved.
    for other, _ in every_field():
        if other not in settings:
            assert current(config, other) == current(ServerConfig(), other), other


def test_none_is_spelled_none_in_a_file_and_on_the_command_line(tmp_path: Path) -> None:
    text = 'subscriber_sndbuf = "none"\n[hub]\nmax_channels = "none"\nchannel_idle_ttl = "none"\n'
    config = from_file(tmp_path, text)
    assert config.subscriber_sndbuf is None
    assert config.hub.max_channels is None and config.hub.channel_idle_ttl is None
    flags = from_file(tmp_path, "", "--max-channels", "none", "--subscriber-sndbuf", "none")
    assert flags.hub.max_channels is None and flags.subscriber_sndbuf is None


def test_a_flag_wins_over_the_file(tmp_path: Path) -> None:
    text = "port = 1\nws_echo = true\n[hub]\nhistory_size = 2\nhistory_bytes = 3\n"
    config = from_file(tmp_path, text, "--port", "0", "--history", "9")
    assert (config.port, config.hub.history_size, config.hub.history_bytes) == (0, 9, 3)
    assert config.ws_echo is True


def test_a_flag_name_is_a_key_too(tmp_path: Path) -> None:
    text = 'history = 7\nsse_heartbeat = 2.5\nallowed_origin = ["https://a.example"]\n'
    config = from_file(tmp_path, text)
    assert (config.hub.history_size, config.sse_heartbeat_interval) == (7, 2.5)
    assert config.allowed_origins == ("https://a.example",)


def test_flags_that_are_not_fields_are_keys_too(tmp_path: Path) -> None:
    text = 'max_message_size = 5000000\nanonymous = "read"\njwt_secret = "' + "k" * 32 + '"\n'
    config = from_file(tmp_path, text)
    assert config.http.max_body_bytes == 5_000_000
    assert config.auth is not None and config.auth.jwt is not None


async def test_serve_runs_from_a_file_and_the_flag_overrides_it(tmp_path: Path) -> None:
    path = tmp_path / "rawpush.toml"
    # Port 1 needs privileges: the server only starts because --port wins.
    path.write_text('port = 1\nlog_level = "debug"\n[http]\nmax_body_bytes = 3\n')
    proc = await spawn("serve", "--config", str(path), "--port", "0")
    assert proc.stderr is not None
    seen: list[str] = []
    line = await read_until(proc.stderr, "listening on", seen)
    assert line.startswith("rawpush: listening on http://127.0.0.1:"), line
    assert any("http.max_body_bytes=3" in s for s in seen), seen  # the debug record
    assert await interrupt(proc) == 0


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("histroy_size = 5\n", f"unknown key 'histroy_size' ({HUB})"),
        ("[hub]\nhistroy_size = 5\n", f"unknown key 'hub.histroy_size' ({HUB})"),
        ("port = \"80\"\n", "port must be a number, not the string '80'"),
        ("port = 1.5\n", "port is not a valid int: '1.5'"),
        ("ws_echo = 1\n", "ws_echo must be true or false, not 1"),
        ("overflow = \"sometimes\"\n", f"overflow must be one of {POLICIES}, not 'sometimes'"),
        ("[queue]\nmax = 1\n", "queue: is a table, but no setting is"),
        ("port = \n", "not valid TOML: Invalid value (at line 1, column 8)"),
    ],
    ids=["unknown", "unknown-nested", "string", "float", "switch", "choice", "table", "toml"],
)  # fmt: skip
async def test_a_mistake_in_the_file_is_one_line(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "rawpush.toml"
    path.write_text(text)
    code, _, err = await run("serve", "--config", str(path))
    assert code == USAGE
    assert one_line(err) == f"rawpush: --config {path}: {why}"


async def test_a_value_out_of_range_names_the_field_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rawpush.toml"
    path.write_text("[hub]\nhistory_size = -1\n")
    code, _, err = await run("serve", "--config", str(path))
    assert code == USAGE
    assert one_line(err) == (
        "rawpush: serve: bad configuration: history_size must be >= 0, not -1 "
        f"(check the flags and --config {path})"
    )


async def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    code, _, err = await run("serve", "--config", str(path))
    assert code == USAGE
    assert one_line(err) == f"rawpush: --config {path}: no such file or directory"
