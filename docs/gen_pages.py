"""Reference pages rendered from the code, so they cannot drift from it.

- ``reference/state-machine.md``: a Mermaid diagram and a full table drawn
  from ``rawpush.proto.ws.state.TRANSITIONS``;
- ``reference/configuration.md``: every ``ServerConfig`` field, from the
  dataclass (type, default) and the ``#:`` comment above the field, with
  the ``rawpush serve`` flag that sets it, and the nested layer configs;
- ``reference/cli-flags.md``: every flag of every subcommand, from the
  argparse parser ``rawpush`` itself runs;
- ``reference/metrics.md``: every metric in ``rawpush.server.metrics.METRICS``
  with its labels. A metric added to ``METRICS`` without a line in
  ``LABELS`` below fails the build.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


# -- the WebSocket state machine -------------------------------------------------


def render_state_machine() -> str:
    from rawpush.proto.ws import state

    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (source, event), target in state.TRANSITIONS.items():
        edges[(source.name, target.name)].append(event.name)
    out = [
        "# WebSocket state machine",
        "",
        "Drawn at build time from `rawpush.proto.ws.state.TRANSITIONS`, the table",
        "`rawpush.proto.ws.connection.Connection` runs every send and every received",
        "frame through. A pair that is not in the table is forbidden: a send raises",
        "`WebSocketLocalError` and leaves the state alone. Every receive input is",
        "defined in every state, because the peer can send anything at any time",
        "(`tests/proto/ws/test_state_table.py` checks both, exhaustively).",
        "",
        "```mermaid",
        "stateDiagram-v2",
        "    [*] --> OPEN: opening handshake done (101)",
    ]
    for (src, dst), events in edges.items():
        out.append(f"    {src} --> {dst}: {', '.join(events)}")
    out += ["    CLOSED --> [*]", "```", ""]
    inputs = list(state.Input)
    out += ["## The table", "", "| state | " + " | ".join(i.name for i in inputs) + " |"]
    out.append("|---|" + "---|" * len(inputs))
    for st in state.State:
        cells = []
        for i in inputs:
            after = state.TRANSITIONS.get((st, i))
            cells.append("forbidden" if after is None else after.name)
        out.append(f"| **{st.name}** | " + " | ".join(cells) + " |")
    out += ["", "## The rules, as the module states them", "", "```text"]
    out += [inspect.getdoc(state) or "", "```"]
    return "\n".join(out) + "\n"


# -- configuration ----------------------------------------------------------------


def _doc_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment lines right above each field of a dataclass."""
    path = inspect.getsourcefile(cls)
    assert path is not None
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(lines))
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == cls.__name__):
            continue
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                comment: list[str] = []
                n = item.lineno - 2
                while n >= 0 and lines[n].strip().startswith("#:"):
                    comment.insert(0, lines[n].strip()[2:].strip())
                    n -= 1
                found[item.target.id] = " ".join(comment)
    return found


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return "required"
    if dataclasses.is_dataclass(value):
        return f"`{type(value).__name__}()`"
    if callable(value):
        return f"`{getattr(value, '__module__', '')}.{getattr(value, '__name__', value)}`"
    if hasattr(value, "value") and isinstance(value.value, str):
        return f'`"{value.value}"`'
    return f"`{value!r}`"


def _type_name(f: dataclasses.Field[Any]) -> str:
    text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", repr(f.type))
    return f"`{text}`"


def _serve_actions() -> list[argparse.Action]:
    from rawpush.cli import build_parser

    return list(_subcommands(build_parser())["serve"]._actions)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _cell(text: str) -> str:
    # argparse help doubles a literal % (it formats help with %).
    return text.replace("%%", "%").replace("|", "\\|").replace("\n", " ")


def _access_log_format() -> str:
    from rawpush.server import access_log

    doc = inspect.getdoc(access_log) or ""
    return "\n".join(
        ["## The access log (`--access-log`)", "", "```text", doc.split("\n\nHosts do")[0], "```"]
    )


def render_configuration() -> str:
    from rawpush.hub.config import HubConfig
    from rawpush.proto.http import HTTPConfig
    from rawpush.proto.ws.config import WSConfig
    from rawpush.server.config import ServerConfig

    flags: dict[str, str] = {}
    for action in _serve_actions():
        if action.option_strings and action.dest != "help":
            flags[action.dest] = ", ".join(f"`{o}`" for o in action.option_strings)
    comments = _doc_comments(ServerConfig)
    out = [
        "# Configuration",
        "",
        "Generated from `rawpush.server.config.ServerConfig` (the dataclass and the",
        "`#:` comment above each field) and from the `rawpush serve` parser. Every",
        "field is checked when the object is made: a bad value raises `ConfigError`",
        "naming the field. Make a changed copy with `dataclasses.replace(config, ...)`;",
        "`config.with_max_message_size(n)` (`--max-message-size N`) moves every limit a",
        "message of `n` bytes meets.",
        "",
        "## A configuration file",
        "",
        "`rawpush serve --config rawpush.toml` reads a TOML file whose keys are the",
        "names of the flags' settings: the field names below, with the `ws.`, `http.`",
        "and `hub.` fields in `[ws]`, `[http]` and `[hub]` tables, and the flags that",
        "are not fields (`redis`, `jwt_secret`, `max_message_size`, `log_level`,",
        "`access_log`, ...) under their own names; a flag's name with `_` is a key",
        "too (`history = 5000` for `--history`). `\"none\"` is None. A flag given on",
        "the command line wins over the file; an unknown key or a bad value stops the",
        "command with one line naming the file and the key. `auth` is built by the",
        "security flags and keys, and `hub.clock` is Python only.",
        "",
        "```toml",
        'host = "0.0.0.0"',
        "port = 8080",
        'allowed_origins = ["https://app.example"]',
        'overflow = "drop-oldest"',
        'log_level = "info"',
        'access_log = "/var/log/rawpush/access.log"',
        "",
        "[hub]",
        "history_size = 5000",
        'channel_idle_ttl = "none"',
        "",
        "[http]",
        "max_body_bytes = 4194304",
        "```",
        "",
        "## `ServerConfig`",
        "",
        "| field | type | default | `rawpush serve` | meaning |",
        "|---|---|---|---|---|",
    ]
    for f in dataclasses.fields(ServerConfig):
        out.append(
            f"| `{f.name}` | {_cell(_type_name(f))} | {_cell(_default(f))} "
            f"| {flags.get(f.name, '—')} | {_cell(comments.get(f.name, ''))} |"
        )
    out += ["", _access_log_format()]
    for prefix, cls in (("ws", WSConfig), ("http", HTTPConfig), ("hub", HubConfig)):
        out += ["", f"## `{prefix}`: `{cls.__module__}.{cls.__name__}`", ""]
        out += ["```text", inspect.getdoc(cls) or "", "```", ""]
        out += ["| field | type | default | `rawpush serve` |", "|---|---|---|---|"]
        for f in dataclasses.fields(cls):
            flag = flags.get(f"{prefix}.{f.name}", "—")
            out.append(f"| `{prefix}.{f.name}` | {_cell(_type_name(f))} | {_default(f)} | {flag} |")
    return "\n".join(out) + "\n"


# -- command line -----------------------------------------------------------------


def render_cli() -> str:
    from rawpush.cli import build_parser

    parser = build_parser()
    out = [
        "# Command-line flags",
        "",
        "Generated from the argparse parser `rawpush` runs (`rawpush.cli.build_parser`).",
        "`python -m rawpush` is the same program. Defaults shown as *not given* leave",
        "the `ServerConfig` default in place (see [Configuration](configuration.md)).",
    ]
    for name, sub in _subcommands(parser).items():
        out += ["", f"## `rawpush {name}`", "", _cell(sub.description or "") or "", ""]
        out += ["| flag | value | meaning |", "|---|---|---|"]
        for action in sub._actions:
            if action.dest == "help":
                continue
            names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest}`"
            if action.choices:
                value = " \\| ".join(f"`{c}`" for c in action.choices)
            elif action.nargs == 0:
                value = "—"
            else:
                value = f"`{action.metavar or action.dest.upper()}`"
            out.append(f"| {names} | {value} | {_cell(action.help or '')} |")
    return "\n".join(out) + "\n"


# -- metrics ----------------------------------------------------------------------

#: the labels each metric carries, and what to read from it
LABELS: dict[str, tuple[str, str]] = {
    "rawpush_connections": ("transport", "connections open now; the number to size nodes on"),
    "rawpush_connections_total": ("transport", "connections accepted since start"),
    "rawpush_messages_in_total": ("transport", "messages clients sent (WebSocket frames, POSTs)"),
    "rawpush_messages_out_total": ("transport", "events written to clients"),
    "rawpush_bytes_in_total": ("transport", "bytes read from clients"),
    "rawpush_bytes_out_total": ("transport", "bytes written to clients, framing included"),
    "rawpush_published_total": ("", "events accepted into the hub on this node"),
    "rawpush_queue_bytes": ("transport", "encoded bytes waiting for slow sockets; watch it grow"),
    "rawpush_queue_messages": ("transport", "events waiting for slow sockets"),
    "rawpush_dropped_total": ("transport", "events dropped by `overflow=drop-oldest`"),
    "rawpush_disconnects_total": ("reason", "connections the server ended, by why"),
    "rawpush_http_responses_total": ("status", "HTTP answers by status code"),
    "rawpush_channels": ("", "channels the hub knows"),
    "rawpush_worker_info": ("pid, worker", "1 for this worker of `serve --workers N`"),
    "rawpush_rate_limited_total": ("what", "refusals by `--publish-rate` or `--ws-publish-rate`"),
    "rawpush_auth_refused_total": ("status", "401 and 403 answers"),
    "rawpush_backplane_lost_live_total": (
        "",
        "this node's Redis reader fell behind the stream's trim: its clients got a gap",
    ),
    "rawpush_backplane_reconnects_total": ("", "this node's Redis reader reconnected"),
    "rawpush_protocol_connections": ("protocol", "connections open now by HTTP version"),
    "rawpush_protocol_connections_total": ("protocol", "connections accepted by HTTP version"),
    "rawpush_h2_streams": ("", "HTTP/2 streams open now (each a request or a session)"),
    "rawpush_h2_streams_total": ("", "HTTP/2 streams clients opened"),
    "rawpush_h2_goaways_sent_total": ("code", "GOAWAY frames sent; NO_ERROR is a drain"),
    "rawpush_h2_resets_received_total": ("", "streams clients cancelled (RST_STREAM)"),
}


def _label_values(label: str) -> list[str]:
    """Values a label takes: the transports' registry for ``transport``,
    the calls in the source for ``reason`` and ``what``."""
    if label == "transport":
        from rawpush.server import transports

        # and the TLS listener's, for connections still in their handshake
        return [*transports.LABELS, "tls_handshake"]
    patterns = {
        "reason": r"\.disconnect\(\s*\"([a-z_]+)\"|\(\"reason\", \"([a-z_]+)\"\)"
        r"|reason = \"([a-z_]+)\"",
        "what": r"\(\(\"what\", \"([a-z_]+)\"\),\)",
    }
    if label not in patterns:
        return []
    found: set[str] = set()
    for path in (ROOT / "rawpush").rglob("*.py"):
        for match in re.findall(patterns[label], path.read_text(encoding="utf-8")):
            # One group per alternative: the one that matched is not empty.
            found.update(m for m in (match if isinstance(match, tuple) else (match,)) if m)
    return sorted(found)


def render_metrics() -> str:
    from rawpush.server.metrics import METRICS

    missing = sorted(set(METRICS) - set(LABELS))
    if missing:
        raise KeyError(f"docs/gen_pages.py LABELS has no line for {missing}")
    out = [
        "# Metrics",
        "",
        "`GET /metrics` answers in the Prometheus text format (protect it with",
        "`--metrics-token`). Generated from `rawpush.server.metrics.METRICS`.",
        "Label values are those the code can emit: `transport` from the transports'",
        "registry (`http` covers a connection between requests, publishes and tickets),",
        "`reason` and `what` from the calls that count them.",
        "",
        "| metric | type | labels | what it counts | read it as |",
        "|---|---|---|---|---|",
    ]
    for name, (kind, help_text) in METRICS.items():
        label, meaning = LABELS[name]
        values = _label_values(label)
        shown = f"`{label}`" if label else "—"
        if values:
            shown += ": " + ", ".join(f"`{v}`" for v in values)
        out.append(f"| `{name}` | {kind} | {shown} | {_cell(help_text)} | {_cell(meaning)} |")
    return "\n".join(out) + "\n"


def pages() -> dict[str, str]:
    """The generated pages, by path under ``docs/``."""
    return {
        "reference/state-machine.md": render_state_machine(),
        "reference/configuration.md": render_configuration(),
        "reference/cli-flags.md": render_cli(),
        "reference/metrics.md": render_metrics(),
    }
