"""``rawpush serve --config FILE``, and a flag for every ``ServerConfig`` field.

Both are derived from the dataclasses, so a field added to ``ServerConfig``
(or to its ``ws``, ``http`` and ``hub`` parts) is a flag and a file key at
once, with the help, default and unit its ``#:`` comment gives:

- a field no hand-written flag sets gets ``--<name>`` (``--subscriber-sndbuf``),
  or ``--<part>-<name>`` for a nested one (``--http-max-query-fields``); a
  field that may be None takes ``none`` for it (``--subscriber-sndbuf none``);
  a boolean one is ``--name`` / ``--no-name``;
- the file is TOML whose keys are the serve flags' destinations: the field
  names (``port``, ``allowed_origins``) and, in ``[ws]``, ``[http]`` and
  ``[hub]`` tables, the nested fields' names (``history_size``); the flags
  that are not fields are keys too (``redis``, ``jwt_secret``,
  ``max_message_size``, ``log_level``, ``access_log``). A flag's own name
  with ``_`` is a key too, at the top (``history = 5000`` for
  ``--history``; switches excepted). ``"none"`` is None.

A flag given on the command line wins over the file. An unknown key or a
bad value is the command line's one-line usage error, naming the file and
the key. Two fields are not settable this way: ``auth`` (the security
flags and keys build it) and ``hub.clock`` (a function, Python only).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import enum
import inspect
import re
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

from rawpush.cli.errors import CLIError, Exit, describe

__all__ = ["NONE", "FieldSpec", "add_config_flag", "add_generated_flags", "apply_file", "fields"]

#: what a flag or a key spelled ``none`` parses to, so that a field that
#: may be None can be set to it (None itself means "not given")
NONE: Any = type("_NoneGiven", (), {"__repr__": lambda self: "none"})()
#: the nested configurations, by the ``ServerConfig`` field that holds each
NESTED = ("ws", "http", "hub")
#: fields no flag or key sets (see the module docstring); only
#: ``rawpush.asgi`` reads ``write_coalesce_window``, so ``rawpush serve``
#: offers no flag that it would ignore
_NOT_SETTABLE = frozenset({"auth", "hub.clock", "write_coalesce_window"})
#: destinations that are the parser's own business, never a file key
_NOT_KEYS = frozenset({"help", "config", "run", "version"})
#: the unit a field's name implies, by suffix (first match wins)
_UNITS = (
    (("_ms",), "ms"),
    (("_bytes", "_size", "_sndbuf", "_water"), "bytes"),
    (("_timeout", "_interval", "_ttl", "_window"), "s"),
    (("_per_minute",), "per minute"),
    (("_rate",), "per second"),
)
_SCALARS: dict[str, type] = {"int": int, "float": float, "str": str, "bool": bool}


@dataclasses.dataclass(frozen=True, slots=True)
class FieldSpec:
    """One settable field: ``key`` is its dotted path (``hub.history_size``)."""

    key: str
    kind: type  # int, float, str, bool, tuple (of str) or an Enum
    optional: bool
    default: Any
    unit: str
    text: str

    @property
    def flag(self) -> str:
        return "--" + self.key.replace(".", "-").replace("_", "-")


def _unit(name: str) -> str:
    for suffixes, unit in _UNITS:
        if name.endswith(suffixes):
            return unit
    return ""


def _comments(cls: type) -> dict[str, str]:
    """The ``#:`` lines above each field of ``cls``, or the field's words in
    the class docstring (the nested configurations document them there)."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # pragma: no cover - no source shipped
        lines = []
    found: dict[str, str] = {}
    for at, line in enumerate(lines):
        match = re.match(r"    (\w+): ", line)
        if match is None:
            continue
        doc: list[str] = []
        i = at - 1
        while i >= 0 and lines[i].strip().startswith("#:"):
            doc.insert(0, lines[i].strip()[2:].strip())
            i -= 1
        if doc:
            found[match.group(1)] = " ".join(doc)
    words = " ".join((inspect.getdoc(cls) or "").split())
    for f in dataclasses.fields(cls):
        if f.name not in found:
            said = re.search(rf"``{f.name}``:? (.+?)(?:[;.](?: |$)|$)", words)
            if said is not None:
                found[f.name] = said.group(1).replace("``", "")
    return found


def _kind(annotation: str, module: Any) -> tuple[type, bool] | None:
    """``(type, optional)`` of a field's annotation, None when no flag can
    carry it (a function, a nested object)."""
    text = annotation.strip()
    optional = text.endswith("| None")
    text = text.removesuffix("| None").strip()
    if text in _SCALARS:
        return _SCALARS[text], optional
    if text == "tuple[str, ...]":
        return tuple, optional
    named = getattr(module, text, None)
    if isinstance(named, type) and issubclass(named, enum.Enum):
        return named, optional
    return None


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None  # pragma: no cover - every field has a default


def fields() -> Iterator[FieldSpec]:
    """Every settable field of ``ServerConfig`` and its nested parts."""
    from rawpush.server.config import ServerConfig

    defaults = ServerConfig()
    comments = _comments(ServerConfig)
    for f in dataclasses.fields(ServerConfig):
        if f.name in NESTED:
            part = getattr(defaults, f.name)
            cls = type(part)
            words = _comments(cls)
            module = inspect.getmodule(cls)
            for inner in dataclasses.fields(part):
                key = f"{f.name}.{inner.name}"
                kind = _kind(str(inner.type), module)
                if kind is None or key in _NOT_SETTABLE:
                    continue
                text = words.get(inner.name) or f"{cls.__name__}.{inner.name}"
                yield FieldSpec(
                    key, *kind, getattr(part, inner.name), _unit(inner.name), text
                )
            continue
        kind = _kind(str(f.type), inspect.getmodule(ServerConfig))
        if kind is None or f.name in _NOT_SETTABLE:
            continue
        yield FieldSpec(
            f.name, *kind, _default_of(f), _unit(f.name), comments.get(f.name, f.name)
        )


def _shown(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value is None else str(value)


def converter(kind: type, optional: bool) -> Callable[[str], Any]:
    """An argparse ``type`` for a field: its scalar, or ``none``."""

    def convert(text: str) -> Any:
        if optional and text.lower() == "none":
            return NONE
        if kind is int or kind is float:
            return kind(text)
        if issubclass(kind, enum.Enum):
            return kind(text)
        return text

    convert.__name__ = getattr(kind, "__name__", "value")  # argparse's "invalid int value"
    return convert


def add_generated_flags(parser: argparse.ArgumentParser) -> None:
    """A flag for each settable field that no flag of ``parser`` sets yet."""
    taken = {action.dest for action in parser._actions}
    group = None
    for spec in fields():
        # A hand-written flag may set the field under another name (--history).
        if spec.key in taken or spec.flag in parser._option_string_actions:
            continue
        if group is None:
            group = parser.add_argument_group(
                "more settings", "one flag per ServerConfig field the flags above leave out"
            )
        text = spec.text.rstrip(".").replace("``", "")
        if spec.optional:
            text = text.replace("None", "none")
        if "(default" not in text:
            text += f" (default {_shown(spec.default)} {spec.unit})".replace(" )", ")")
        if spec.unit and spec.unit not in text:
            text += f" [{spec.unit}]"
        text = text.replace("%", "%%")  # argparse formats help with %
        if spec.kind is bool:
            group.add_argument(
                spec.flag, dest=spec.key, action=argparse.BooleanOptionalAction, help=text
            )
        elif spec.kind is tuple:
            group.add_argument(spec.flag, dest=spec.key, action="append", metavar="VALUE",
                               help=text + " (repeatable)")  # fmt: skip
        else:
            metavar = "SECONDS" if spec.unit == "s" else "N" if spec.kind in (int, float) else None
            if issubclass(spec.kind, enum.Enum):
                metavar = "{" + ",".join(str(m.value) for m in spec.kind) + "}"
            group.add_argument(
                spec.flag, dest=spec.key, type=converter(spec.kind, spec.optional),
                metavar=metavar or "VALUE", help=text,
            )  # fmt: skip


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="read settings from this TOML file; a key is a flag's name with _ "
        "(history = 5000) or the ServerConfig field it sets (port = 8080, history_size = 5000 "
        "under [hub]); a flag given here wins over the file (default: none)",
    )


# -- the file ---------------------------------------------------------------------


def _flatten(table: dict[str, Any], path: str, where: str) -> Iterator[tuple[str, Any]]:
    for name, value in table.items():
        key = f"{path}{name}"
        if isinstance(value, dict):
            if path or name not in NESTED:
                raise CLIError(where, f"{key}: is a table, but no setting is", Exit.USAGE)
            yield from _flatten(value, f"{name}.", where)
        else:
            yield key, value


def _file_value(action: argparse.Action, value: Any) -> Any:
    """``value`` from the file as ``action`` would have parsed it; raises
    ``ValueError`` saying why it is not acceptable."""
    if action.nargs == 0:  # a switch
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, not {value!r}")
        return value  # the key is the field: its value, whatever the flag's spelling
    if isinstance(action, argparse._AppendAction):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"must be a list of strings, not {value!r}")
        return [_one(action, v) for v in value]
    if isinstance(value, bool):
        if action.choices is not None and list(action.choices) == ["on", "off"]:
            return "on" if value else "off"
        raise ValueError(f"must not be true or false, but a value like --{action.dest}'s")
    if isinstance(value, int | float):
        if action.type is None or action.type is str:
            raise ValueError(f"must be a string, not {value!r}")
        return _one(action, str(value))
    if not isinstance(value, str):
        raise ValueError(f"must be a number or a string, not {value!r}")
    numeric = getattr(action.type, "__name__", "") in ("int", "float")
    if numeric and value.lower() != "none":
        raise ValueError(f"must be a number, not the string {value!r}")
    return _one(action, value)


def _one(action: argparse.Action, text: str) -> Any:
    kind = action.type
    try:
        got = kind(text) if callable(kind) else text
    except (ValueError, TypeError, argparse.ArgumentTypeError):
        raise ValueError(f"is not a valid {getattr(kind, '__name__', 'value')}: {text!r}") from None
    if action.choices is not None and got not in action.choices:
        choices = ", ".join(repr(c) for c in action.choices)
        raise ValueError(f"must be one of {choices}, not {text!r}")
    return got


def apply_file(path: str, parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Set in ``args`` every setting of the TOML file at ``path`` that the
    command line left at its default."""
    where = f"--config {path}"
    try:
        with open(path, "rb") as f:
            table = tomllib.load(f)
    except OSError as exc:
        raise CLIError(where, describe(exc)[0], Exit.USAGE) from None
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(where, f"not valid TOML: {exc}", Exit.USAGE) from None
    actions = {
        a.dest: a for a in parser._actions if a.option_strings and a.dest not in _NOT_KEYS
    }
    aliases = _aliases(actions)
    for key, value in _flatten(table, "", where):
        action = actions.get(aliases.get(key, key))
        if action is None:
            near = difflib.get_close_matches(key, [*actions, *aliases], n=1)
            part, _, name = near[0].rpartition(".") if near else ("", "", "")
            fix = f"did you mean {name!r}{f' in [{part}]' if part else ''}?" if near else None
            fix = fix or "the keys are the flags' names with _: see rawpush serve --help"
            raise CLIError(where, f"unknown key {key!r}", Exit.USAGE, fix)
        try:
            parsed = _file_value(action, value)
        except ValueError as exc:
            raise CLIError(where, f"{key} {exc}", Exit.USAGE) from None
        if getattr(args, action.dest, None) == action.default:  # not given: the file decides
            setattr(args, action.dest, parsed)


def _aliases(actions: dict[str, argparse.Action]) -> dict[str, str]:
    """A flag's name spelled with _ (``history`` for ``--history``), to the
    destination it sets (``hub.history_size``). Not for switches: in a file
    ``no_http2 = false`` would read as the opposite of what it says."""
    found: dict[str, str] = {}
    for dest, action in actions.items():
        if action.nargs == 0:
            continue
        for option in action.option_strings:
            name = option.lstrip("-").replace("-", "_")
            if name != dest and name not in actions:
                found[name] = dest
    return found
