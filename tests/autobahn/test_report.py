"""The report check is stricter than kosoku's exit status: NON-STRICT,
UNIMPLEMENTED, a wrong close and a missing case all fail it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.autobahn.support import check_report, select


def write_report(outdir: Path, verdicts: dict[str, tuple[str, str]]) -> None:
    index = {}
    for case_id, (behavior, close) in verdicts.items():
        name = f"a_case_{case_id.replace('.', '_')}.json"
        index[case_id] = {"behavior": behavior, "behaviorClose": close, "duration": 3,
                          "remoteCloseCode": 1000, "reportfile": name}
        case = {"description": f"case {case_id}", "result": "r", "resultClose": "rc"}
        (outdir / name).write_text(json.dumps(case))
    (outdir / "index.json").write_text(json.dumps({"a": index}))


def test_ok_and_informational_pass(tmp_path: Path) -> None:
    write_report(tmp_path, {"1.1.1": ("OK", "OK"), "10.1.1": ("INFORMATIONAL", "INFORMATIONAL")})
    summary = check_report(tmp_path, ["1.1.1", "10.1.1"])
    assert "2 cases" in summary and "INFORMATIONAL" in summary


@pytest.mark.parametrize(
    "verdict",
    [("NON-STRICT", "OK"), ("UNIMPLEMENTED", "OK"), ("FAILED", "OK"), ("OK", "WRONG CODE"),
     ("OK", "UNCLEAN"), ("ERROR", "FAILED")],
)
def test_anything_else_fails_with_the_case_and_its_description(
    tmp_path: Path, verdict: tuple[str, str]
) -> None:
    write_report(tmp_path, {"1.1.1": ("OK", "OK"), "5.6": verdict})
    with pytest.raises(AssertionError) as info:
        check_report(tmp_path, ["1.1.1", "5.6"])
    assert "['5.6']" in str(info.value) and "case 5.6" in str(info.value)


def test_a_missing_case_fails(tmp_path: Path) -> None:
    write_report(tmp_path, {"1.1.1": ("OK", "OK")})
    with pytest.raises(AssertionError, match="missing"):
        check_report(tmp_path, ["1.1.1", "1.1.2"])


def test_selection_knows_the_whole_case_list() -> None:
    assert len(select()) == 517
    assert len(select(["9.*"])) == 54
    assert len(select(exclude=["9.*", "12.*", "13.*"])) == 247
