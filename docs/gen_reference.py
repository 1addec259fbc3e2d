"""The protocol reference, rendered from ``docs/requirements.csv``.

The CSV is the one place a conformance claim is written: one row per
normative statement (or per choice rawpush makes where the spec is
silent), the code that carries it out (``module:qualname``) and the tests
that check it (pytest node ids). This module turns it into three pages,
so nothing in them is kept by hand:

- ``reference/requirements.md``: the table, one section per spec;
- ``reference/code.md``: every ``code`` entry with its docstring and
  source, and the rows it implements;
- ``reference/tests.md``: every test named in the CSV with its source,
  and the rows it checks.

``tests/test_requirements.py`` checks the CSV itself (every row has a test
that exists, every code entry imports). ``docs/hooks.py`` calls
``pages()`` at build time; ``python docs/gen_reference.py OUT`` writes the
pages into ``OUT`` to read them without mkdocs.
"""

from __future__ import annotations

import ast
import csv
import importlib
import inspect
import re
import sys
import textwrap
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CSV_PATH = ROOT / "docs" / "requirements.csv"
COLUMNS = ("spec", "section", "level", "requirement", "code", "tests")

#: the specs a row may name, with the title and where to read each
SPECS: dict[str, tuple[str, str]] = {
    "RFC6455": ("RFC 6455: The WebSocket Protocol", "https://www.rfc-editor.org/rfc/rfc6455"),
    "RFC7692": (
        "RFC 7692: Compression Extensions for WebSocket",
        "https://www.rfc-editor.org/rfc/rfc7692",
    ),
    "WHATWG-SSE": (
        "WHATWG HTML: Server-sent events",
        "https://html.spec.whatwg.org/multipage/server-sent-events.html",
    ),
    "RFC9112": ("RFC 9112: HTTP/1.1", "https://www.rfc-editor.org/rfc/rfc9112"),
    "RFC9113": ("RFC 9113: HTTP/2", "https://www.rfc-editor.org/rfc/rfc9113"),
    "RFC8441": ("RFC 8441: WebSockets over HTTP/2", "https://www.rfc-editor.org/rfc/rfc8441"),
}
#: requirement levels; CHOICE marks what rawpush decides where the spec is
#: silent, EXAMPLE a row that checks the spec's own examples
LEVELS = ("MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY", "CHOICE", "EXAMPLE")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of ``requirements.csv``."""

    spec: str
    section: str
    level: str
    requirement: str
    code: str
    tests: tuple[str, ...]

    @property
    def anchor(self) -> str:
        return slug(f"req {self.spec} {self.section} {self.requirement[:64]}")


def slug(text: str) -> str:
    """An HTML id made of lower-case letters, digits and dashes."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def read_rows(path: Path = CSV_PATH) -> list[Row]:
    """The rows of the CSV; a missing or extra column raises ``ValueError``."""
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: the columns must be {','.join(COLUMNS)}")
        return [
            Row(
                spec=r["spec"],
                section=r["section"],
                level=r["level"],
                requirement=r["requirement"],
                code=r["code"],
                tests=tuple(r["tests"].split()),
            )
            for r in reader
        ]


def resolve(ref: str) -> object:
    """The object ``module:qualname`` names (``ImportError`` or
    ``AttributeError`` when it does not exist)."""
    module_name, _, qualname = ref.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in qualname.split(".") if qualname else ():
        obj = getattr(obj, part)
    return obj


def _section_key(section: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", section)) or (10**6,)


def _section_link(spec: str, section: str) -> str:
    if not section[:1].isdigit():
        return "—"
    base = SPECS[spec][1]
    if spec == "WHATWG-SSE":
        return f"[{section}]({base})"
    return f"[§{section}]({base}#section-{section})"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# -- reference/requirements.md -----------------------------------------------


def render_requirements(rows: list[Row]) -> str:
    by_spec: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_spec[row.spec].append(row)
    tests = {t for row in rows for t in row.tests}
    anchors = Counter(row.anchor for row in rows)
    twice = [a for a, n in anchors.items() if n > 1]
    if twice:
        raise ValueError(f"requirements.csv: rows too alike to link to apart: {twice}")
    out = [
        "# Protocol requirements",
        "",
        "Every normative statement rawpush implements, with the code that carries it",
        "out and the tests that check it. **CHOICE** rows are decisions rawpush makes",
        "where the spec leaves room (which status code, what to tell a client that",
        "missed events). The table is generated from",
        "[`docs/requirements.csv`](../requirements.csv)",
        "(columns `spec,section,level,requirement,code,tests`), which tools can read;",
        "`tests/test_requirements.py` fails when a row has no test, names a test",
        "that does not exist, or names code that does not import.",
        "",
        f"**{len(rows)} rows, {len(tests)} distinct tests.** Click a code entry for its",
        "source, a test for the test's source.",
        "",
        "| spec | rows | " + " | ".join(LEVELS) + " |",
        "|---|---:|" + "---:|" * len(LEVELS),
    ]
    for spec, spec_rows in by_spec.items():
        levels = Counter(r.level for r in spec_rows)
        out.append(
            f"| {spec} | {len(spec_rows)} | "
            + " | ".join(str(levels.get(level, "")) for level in LEVELS)
            + " |"
        )
    for spec, spec_rows in by_spec.items():
        title, url = SPECS[spec]
        out += ["", f"## {title}", "", f"Source: <{url}>", ""]
        out += ["| § | level | requirement | code | tests |", "|---|---|---|---|---|"]
        for row in sorted(spec_rows, key=lambda r: _section_key(r.section)):
            code = f"[`{row.code.split(':')[1] or row.code}`](code.md#{slug(row.code)})"
            links = " ".join(f"[{t.rsplit('::', 1)[-1]}](tests.md#{slug(t)})" for t in row.tests)
            out.append(
                f'| <span id="{row.anchor}"></span>{_section_link(spec, row.section)} '
                f"| {row.level} | {_cell(row.requirement)} | {code} | {links} |"
            )
    return "\n".join(out) + "\n"


# -- reference/code.md ---------------------------------------------------------


def _source_of(obj: object, ref: str) -> tuple[str, str]:
    """(where, source) of a function, class, property or module-level name."""
    if isinstance(obj, property) and obj.fget is not None:
        obj = obj.fget
    try:
        lines, start = inspect.getsourcelines(obj)  # type: ignore[arg-type]
        where = inspect.getsourcefile(obj)  # type: ignore[arg-type]
        return f"{_rel(where)}, line {start}", "".join(lines)
    except TypeError:
        # A module-level table (say, TRANSITIONS): its assignment statement.
        module = importlib.import_module(ref.partition(":")[0])
        path = inspect.getsourcefile(module)
        assert path is not None
        text = Path(path).read_text(encoding="utf-8")
        name = ref.partition(":")[2]
        for node in ast.parse(text).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            if isinstance(node, ast.AnnAssign):
                targets = [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                segment = ast.get_source_segment(text, node) or ""
                return f"{_rel(path)}, line {node.lineno}", segment + "\n"
        raise


def _rel(path: str | None) -> str:
    if path is None:
        return "?"
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def _backlinks(rows: list[Row]) -> str:
    return ", ".join(f"[{r.spec} {r.section} {r.level}](requirements.md#{r.anchor})" for r in rows)


def render_code(rows: list[Row]) -> str:
    users: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        users[row.code].append(row)
    out = [
        "# Code behind the requirements",
        "",
        "Each entry named in the `code` column of the",
        "[protocol requirements](requirements.md), with its docstring and its",
        "source as it is in this build.",
    ]
    for ref in sorted(users):
        obj = resolve(ref)
        where, source = _source_of(obj, ref)
        doc = inspect.getdoc(obj) if callable(obj) or inspect.isclass(obj) else None
        out += ["", f"## `{ref}` {{#{slug(ref)}}}", "", f"`{where}`. Implements: "]
        out[-1] += _backlinks(users[ref]) + "."
        if doc:
            out += ["", "```text", doc, "```"]
        out += ["", '??? note "Source"', ""]
        out += [textwrap.indent("```python\n" + textwrap.dedent(source) + "```", "    ")]
    return "\n".join(out) + "\n"


# -- reference/tests.md --------------------------------------------------------


def source_of_test(node_id: str) -> str:
    """The source of the test function a node id names (parameters dropped)."""
    path, _, name = node_id.partition("::")
    name = name.split("[", 1)[0].rsplit("::", 1)[-1]
    text = (ROOT / path).read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            lines = text.splitlines()[first - 1 : node.end_lineno]
            return textwrap.dedent("\n".join(lines)) + "\n"
    raise LookupError(f"{node_id}: no such test function")


def render_tests(rows: list[Row]) -> str:
    checks: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        for test in row.tests:
            checks[test].append(row)
    by_file: dict[str, list[str]] = defaultdict(list)
    for test in sorted(checks):
        by_file[test.partition("::")[0]].append(test)
    out = [
        "# Tests behind the requirements",
        "",
        "Each test named in the `tests` column of the",
        "[protocol requirements](requirements.md), by file, with its source.",
        "Run one with `.venv/bin/python -m pytest 'NODE_ID'`.",
    ]
    for path, tests in by_file.items():
        out += ["", f"## `{path}`"]
        for test in tests:
            out += ["", f"### `{test.rsplit('::', 1)[-1]}` {{#{slug(test)}}}", ""]
            out += [f"`{test}` checks: {_backlinks(checks[test])}.", ""]
            out += ['??? example "Source"', ""]
            out += [textwrap.indent("```python\n" + source_of_test(test) + "```", "    ")]
    return "\n".join(out) + "\n"


def pages() -> dict[str, str]:
    """The generated pages, by path under ``docs/``."""
    rows = read_rows()
    return {
        "reference/requirements.md": render_requirements(rows),
        "reference/code.md": render_code(rows),
        "reference/tests.md": render_tests(rows),
    }


if __name__ == "__main__":
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "build/reference-pages")
    for rel, text in pages().items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(target)
