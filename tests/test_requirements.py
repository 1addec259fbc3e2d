"""docs/requirements.csv is a claim: each row names a rule, the code that
carries it out and the tests that check it. These tests keep the claim
true: a row without a test, a test id pytest cannot find, or code that does
not import fails CI, and so does a required section with no row.

The other way round, tests declare what they check by their names: a test
of the protocol core or of a conformance suite (``CLAIMING``) named after
a section (``test_5_5_1_...``, or after an RFC and a section,
``test_7692_7_1_...``) claims that section, so it must be listed in a row,
under that section or one inside it (or around it).
The HTTP/2 suites name RFC 7541 (HPACK) too: the table has no HPACK spec of
its own, so a ``test_7541_...`` claims RFC 9113 section 4.3 (header
compression and decompression), whose rows list the HPACK cases.

The node ids are those pytest itself collects, in a subprocess bounded in
time, from the files the CSV names.
"""

from __future__ import annotations

import csv
import importlib
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CSV_PATH = ROOT / "docs" / "requirements.csv"
COLUMNS = ["spec", "section", "level", "requirement", "code", "tests"]
SPECS = {"RFC6455", "RFC7692", "WHATWG-SSE", "RFC9112", "RFC9113", "RFC8441"}
LEVELS = {"MUST", "MUST NOT", "SHOULD", "SHOULD NOT", "MAY", "CHOICE", "EXAMPLE"}

#: the sections whose rules must all be listed (each needs at least one row)
REQUIRED = {
    "RFC6455": [
        *("4.1", "4.2.1", "4.2.2"),
        *("5.1", "5.2", "5.3", "5.4", "5.5", "5.5.1", "5.5.2", "5.5.3", "5.6", "5.7", "5.8"),
        *("7.1.1", "7.1.2", "7.1.5", "7.1.7", "7.2", "7.3", "7.4"),
    ],
    "WHATWG-SSE": ["9.2.5", "9.2.6"],
    "RFC7692": ["5", "6", "7"],
    "RFC9113": [
        *("3.4", "4.1", "4.2", "4.3", "5.1", "5.1.1", "5.1.2", "5.4.1", "5.4.2"),
        *("6.1", "6.2", "6.3", "6.4", "6.5", "6.5.2", "6.7", "6.8", "6.9", "6.10"),
        *("8.1", "8.2", "8.3"),
    ],
    "RFC8441": ["3", "4", "5"],
}


def _rows() -> list[dict[str, str]]:
    with CSV_PATH.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS, f"columns must be {','.join(COLUMNS)}"
        return list(reader)


ROWS = _rows()
#: collect only: no coverage, no addopts of the outer run, no cache files
COLLECT = ("-m", "pytest", "--collect-only", "-q", "-o", "addopts=", "-p", "no:cacheprovider")


def _row_id(row: dict[str, str]) -> str:
    text = f"{row['spec']} {row['section']} {row['requirement'][:30]}"
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


@cache
def collected() -> frozenset[str]:
    """Node ids pytest collects from every test file the CSV names, with
    and without their parameters."""
    files = sorted({t.partition("::")[0] for row in ROWS for t in row["tests"].split()})
    missing = [f for f in files if not (ROOT / f).is_file()]
    assert not missing, f"test files named in the CSV do not exist: {missing}"
    # The subprocess must not start coverage of its own (pytest-cov passes
    # its settings to children through the environment).
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE")}
    done = subprocess.run(
        [sys.executable, *COLLECT, *files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ids = {line.strip() for line in done.stdout.splitlines() if "::" in line}
    return frozenset(ids | {i.split("[", 1)[0] for i in ids})


#: the suites whose test names are claims (the protocol core, with its
#: HTTP/2 part in tests/proto/h2, the conformance battery and the HTTP/2
#: conformance and flood cases)
CLAIMING = ("tests/proto", "tests/conformance", "tests/h2")
_CLAIM = re.compile(r"::test_(\d+(?:_\d+)*)_")
#: an RFC number in front of the section (test_7692_7_1_...) names the spec
_RFC_NUMBERS = {spec[3:] for spec in SPECS if spec.startswith("RFC")}
#: RFC numbers the table files under a section of another spec: HPACK
#: (RFC 7541) is listed under RFC 9113 section 4.3
_FILED_UNDER = {"7541": ("RFC9113", "4.3")}


def _claim(node_id: str) -> tuple[str | None, str] | None:
    """``(spec or None, section)`` a test's name claims, or None."""
    match = _CLAIM.search(node_id)
    if match is None:
        return None
    parts = match.group(1).split("_")
    if len(parts[0]) == 4:  # an RFC number: test_9110_..., test_7692_...
        if parts[0] in _FILED_UNDER:
            return _FILED_UNDER[parts[0]]
        if parts[0] not in _RFC_NUMBERS:
            return None  # a spec this table does not cover
        return f"RFC{parts[0]}", ".".join(parts[1:])
    return None, ".".join(parts)


def _related(a: str, b: str) -> bool:
    """One section is the other or contains it (5.5 and 5.5.1)."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".") or not a or not b


@cache
def claiming_tests() -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE")}
    done = subprocess.run(
        [sys.executable, *COLLECT, *CLAIMING],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    ids = {line.strip().split("[", 1)[0] for line in done.stdout.splitlines() if "::" in line}
    return sorted(i for i in ids if _claim(i) is not None)


def test_every_test_named_after_a_section_is_listed_under_it() -> None:
    where: dict[str, list[tuple[str, str]]] = {}
    for row in ROWS:
        for test in row["tests"].split():
            where.setdefault(test.split("[", 1)[0], []).append((row["spec"], row["section"]))
    wrong = []
    for test in claiming_tests():
        claim = _claim(test)
        assert claim is not None
        spec, section = claim
        rows = where.get(test, [])
        if not any((spec is None or spec == s) and _related(section, sec) for s, sec in rows):
            wrong.append(f"{test} (claims {spec or ''} {section}; listed under {rows})")
    assert not wrong, "tests named after a section no row lists them under:\n" + "\n".join(wrong)


def test_rows_are_well_formed() -> None:
    seen: set[tuple[str, str, str]] = set()
    for row in ROWS:
        assert row["spec"] in SPECS, row
        assert row["level"] in LEVELS, row
        assert row["section"] and row["requirement"].strip(), row
        assert ":" in row["code"], f"code must be module:qualname: {row}"
        key = (row["spec"], row["section"], row["requirement"])
        assert key not in seen, f"listed twice: {key}"
        seen.add(key)


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_every_requirement_has_a_test_that_exists(row: dict[str, str]) -> None:
    tests = row["tests"].split()
    assert tests, f"{row['spec']} {row['section']} has no test: {row['requirement']}"
    unknown = [t for t in tests if t not in collected()]
    assert not unknown, f"{row['spec']} {row['section']}: no such test {unknown}"


@pytest.mark.parametrize("ref", sorted({row["code"] for row in ROWS}))
def test_every_code_reference_resolves(ref: str) -> None:
    module_name, _, qualname = ref.partition(":")
    obj: object = importlib.import_module(module_name)
    for part in qualname.split("."):
        assert hasattr(obj, part), f"{ref}: {part!r} not found"
        obj = getattr(obj, part)


@pytest.mark.parametrize(
    ("spec", "section"), [(spec, s) for spec, sections in REQUIRED.items() for s in sections]
)
def test_every_required_section_is_listed(spec: str, section: str) -> None:
    rows = [
        r
        for r in ROWS
        if r["spec"] == spec and (r["section"] == section or r["section"].startswith(section + "."))
    ]
    assert rows, f"{spec} section {section} has no row in docs/requirements.csv"
