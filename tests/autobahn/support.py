"""Running kosoku and the peers it tests as child processes, and reading its reports.

kosoku (a runner of the Autobahn|Testsuite case files) writes an Autobahn
report to its ``-o`` directory: ``index.json`` maps each agent to its cases
(``behavior``, ``behaviorClose``, ``duration`` in ms, ``reportfile``), and
each case has a JSON file with its description, the expected and received
events and the prose of the verdict. A case passes here only when both
verdicts are OK or INFORMATIONAL: kosoku's own exit status also lets
NON-STRICT through, which the suite's goal does not.

Every child runs on 127.0.0.1, port 0, announces its URL on stderr, and is
killed when the test ends; every wait has a bound.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fnmatch
import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = [
    "ACCEPTED",
    "FULL",
    "KOSOKU",
    "RAWPUSH",
    "STARTUP_TIMEOUT",
    "Child",
    "Verdict",
    "all_case_ids",
    "check_report",
    "deflate_ci_cases",
    "include_args",
    "read_report",
    "run_kosoku_client",
    "select",
]

_BIN = Path(sys.executable).parent
KOSOKU = str(_BIN / "kosoku")
RAWPUSH = str(_BIN / "rawpush")

#: The only verdicts that count as a pass (for ``behavior`` and ``behaviorClose``).
ACCEPTED = frozenset({"OK", "INFORMATIONAL"})

#: Bound on a child's start, up to the line that gives its URL.
STARTUP_TIMEOUT = 30.0

#: Set RAWPUSH_AUTOBAHN_FULL=1 to run every 12.*/13.* case instead of the CI subset.
FULL = os.environ.get("RAWPUSH_AUTOBAHN_FULL", "") not in ("", "0")

# The 12.*/13.* sizes run in CI (the third number of the case id): 16 B to
# 8 KiB unfragmented, and 8 KiB fragmented into 256-byte frames. Every
# data set (12.1-12.5) and every offer/accept pair (13.1-13.7) is covered;
# the larger sizes repeat the same code paths with more bytes and take
# about 8 minutes for the 216 cases on a 2-core machine.
_DEFLATE_CI_SIZES = frozenset({1, 2, 3, 4, 5, 6, 11})


@functools.cache
def all_case_ids() -> tuple[str, ...]:
    """Every case id kosoku knows, in run order.

    Read in a child: importing ``kosoku.cases`` puts its py2-era shims
    (an ``autobahn`` and a ``pkg_resources`` package) on ``sys.path``.
    """
    code = "import json, kosoku.cases; print(json.dumps(list(kosoku.cases.CASES)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    ids = json.loads(out)
    assert isinstance(ids, list)
    return tuple(str(case_id) for case_id in ids)


def select(include: Iterable[str] = ("*",), exclude: Iterable[str] = ()) -> list[str]:
    """The case ids matching one of ``include`` and none of ``exclude`` (globs)."""
    inc, exc = tuple(include), tuple(exclude)
    return [
        case_id
        for case_id in all_case_ids()
        if any(fnmatch.fnmatchcase(case_id, p) for p in inc)
        and not any(fnmatch.fnmatchcase(case_id, p) for p in exc)
    ]


def deflate_ci_cases() -> list[str]:
    """The 12.*/13.* cases to run: all of them with ``FULL``, else the CI subset."""
    cases = select(["12.*", "13.*"])
    if FULL:
        return cases
    return [c for c in cases if int(c.rsplit(".", 1)[1]) in _DEFLATE_CI_SIZES]


def include_args(case_ids: Iterable[str]) -> list[str]:
    """kosoku's ``-i`` arguments for exactly ``case_ids``."""
    args: list[str] = []
    for case_id in case_ids:
        args += ["-i", case_id]
    return args


@dataclass(frozen=True, slots=True)
class Verdict:
    """One case of a report."""

    case_id: str
    behavior: str
    behavior_close: str
    duration_ms: int
    reportfile: Path

    @property
    def passed(self) -> bool:
        return self.behavior in ACCEPTED and self.behavior_close in ACCEPTED

    def details(self) -> str:
        """The case's description and kosoku's explanation of its verdict."""
        try:
            case = json.loads(self.reportfile.read_text())
        except (OSError, ValueError) as exc:
            return f"{self.case_id}: (no case report: {exc})"
        return (
            f"{self.case_id}: behavior={self.behavior} behaviorClose={self.behavior_close}\n"
            f"    description: {' '.join(str(case.get('description', '')).split())}\n"
            f"    result: {case.get('result', '')}\n"
            f"    resultClose: {case.get('resultClose', '')}"
        )


def _sort_key(case_id: str) -> list[int]:
    return [int(part) for part in case_id.split(".")]


def read_report(outdir: Path) -> dict[str, list[Verdict]]:
    """``index.json`` of a kosoku report: agent -> its cases in id order."""
    index = json.loads((outdir / "index.json").read_text())
    report: dict[str, list[Verdict]] = {}
    for agent, cases in index.items():
        verdicts = [
            Verdict(
                case_id,
                entry["behavior"],
                entry["behaviorClose"],
                int(entry.get("duration") or 0),
                outdir / entry["reportfile"],
            )
            for case_id, entry in cases.items()
        ]
        report[agent] = sorted(verdicts, key=lambda v: _sort_key(v.case_id))
    return report


def summarize(verdicts: Sequence[Verdict]) -> str:
    """Counts per behaviour and per close behaviour, and the total run time."""
    behavior = collections.Counter(v.behavior for v in verdicts)
    close = collections.Counter(v.behavior_close for v in verdicts)
    seconds = sum(v.duration_ms for v in verdicts) / 1000
    lines = [f"{len(verdicts)} cases, {seconds:.1f} s of case time"]
    lines.append(f"  {'verdict':<16}{'behavior':>10}{'behaviorClose':>15}")
    for name in sorted(behavior.keys() | close.keys()):
        lines.append(f"  {name:<16}{behavior[name]:>10}{close[name]:>15}")
    return "\n".join(lines)


def check_report(outdir: Path, expected: Sequence[str], *, agent: str | None = None) -> str:
    """Assert that the report holds exactly ``expected``, every one passed.

    ``agent`` picks one agent of the report; by default it must hold one.
    Returns the summary (printed by the caller; pytest shows it with -s).
    """
    report = read_report(outdir)
    if agent is None:
        assert len(report) == 1, f"one agent expected in the report, got {sorted(report)}"
        [verdicts] = report.values()
    else:
        assert agent in report, f"agent {agent!r} not in the report ({sorted(report)})"
        verdicts = report[agent]
    text = summarize(verdicts)
    seen = [v.case_id for v in verdicts]
    missing = sorted(set(expected) - set(seen), key=_sort_key)
    extra = sorted(set(seen) - set(expected), key=_sort_key)
    failed = [v for v in verdicts if not v.passed]
    problems = []
    if missing or extra:
        problems.append(f"cases missing: {missing[:20]} extra: {extra[:20]}")
    if failed:
        problems.append(
            f"{len(failed)} cases not OK/INFORMATIONAL: {[v.case_id for v in failed]}\n"
            + "\n".join(v.details() for v in failed[:30])
        )
    assert not problems, text + "\n" + "\n".join(problems) + f"\n(report in {outdir})"
    return text


class Child:
    """A child process that prints a URL on stderr once it is ready.

    ``async with Child(argv, ready) as child``: ``child.url`` is the first
    match of ``ready`` (a regex) on stderr. Output is kept (the last lines)
    for failure messages; the process is terminated, then killed, on exit.
    """

    def __init__(self, argv: Sequence[str], ready: str = r"(?:ws|http)://[\w.\[\]:-]+") -> None:
        self.argv = list(argv)
        self._ready = re.compile(ready)
        self.url = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=200)
        self._readers: list[asyncio.Task[None]] = []

    @property
    def output(self) -> str:
        return "".join(self._lines)

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    async def __aenter__(self) -> Child:
        self._proc = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                self.url = await self._find_url(self._proc.stderr)
        except BaseException:
            await self._stop()
            raise
        # Keep both pipes drained so that a chatty child never blocks on them.
        self._readers = [
            asyncio.create_task(self._pump(self._proc.stdout)),
            asyncio.create_task(self._pump(self._proc.stderr)),
        ]
        return self

    async def _find_url(self, stream: asyncio.StreamReader) -> str:
        while True:
            raw = await stream.readline()
            if not raw:
                await self._wait_exit(5.0)
                raise AssertionError(
                    f"{self.argv} exited ({self.returncode}) before printing its URL:\n"
                    + self.output
                )
            line = raw.decode(errors="replace")
            self._lines.append(line)
            match = self._ready.search(line)
            if match:
                return match.group(0)

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        while raw := await stream.readline():
            self._lines.append(raw.decode(errors="replace"))

    async def _wait_exit(self, timeout: float) -> bool:
        assert self._proc is not None
        try:
            async with asyncio.timeout(timeout):
                await self._proc.wait()
        except TimeoutError:
            return False
        return True

    async def wait(self, timeout: float) -> int:
        """Wait for the child to exit on its own, at most ``timeout`` seconds."""
        assert self._proc is not None
        if not await self._wait_exit(timeout):
            await self._stop()
            raise AssertionError(f"{self.argv[:3]} still running after {timeout} s:\n{self.output}")
        await self._drain()
        return self._proc.returncode or 0

    async def _drain(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await asyncio.gather(*self._readers, return_exceptions=True)
        for task in self._readers:
            task.cancel()

    async def _stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            proc.terminate()
            if not await self._wait_exit(10.0):
                proc.kill()
                await proc.wait()
        await self._drain()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop()


async def run_kosoku_client(
    url: str, outdir: Path, cases: Sequence[str], *, parallelism: int, timeout: float
) -> str:
    """Run ``kosoku -m fuzzingclient`` on ``cases`` against ``url``; its output.

    The exit status is not asserted: the report is, more strictly.
    """
    argv = [KOSOKU, "-m", "fuzzingclient", url, "-p", str(parallelism), "-o", str(outdir)]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        *include_args(cases),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with asyncio.timeout(timeout):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"kosoku did not finish {len(cases)} cases in {timeout} s") from None
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode(errors="replace")
    assert (outdir / "index.json").exists(), f"kosoku wrote no report:\n{text}"
    return text
