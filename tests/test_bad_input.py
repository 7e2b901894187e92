"""Every case of the bad-input registry (tests/bad_inputs.py) through the command line: the exit
code and message it promises, no traceback, nothing written; and docs/bad_input.md is current."""

from __future__ import annotations

import subprocess
import sys

import pytest
from bad_inputs import CASES, DOC, Case, document

from analysis.run.cli import main


def _tree(folder) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def _run(case: Case, argv: list[str], capsys) -> tuple[int, str]:
    if case.subprocess:
        proc = subprocess.run([sys.executable, "-m", "analysis.run.cli", *argv], capture_output=True, text=True)
        return proc.returncode, proc.stdout + proc.stderr
    code = main(argv)
    printed = capsys.readouterr()
    return code, printed.out + printed.err


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_input_case(case: Case, tmp_path, capsys):
    book, out = tmp_path / "book", tmp_path / "reports"
    if case.build is not None:
        case.build(book)
    argv = [a.replace("{book}", str(book)).replace("{out}", str(out)) for a in case.argv]
    before = _tree(tmp_path)
    code, printed = _run(case, argv, capsys)
    assert code == case.exit_code, printed
    assert case.message in printed, printed
    assert not [text for text in case.absent if text in printed], printed
    assert "Traceback" not in printed, printed
    assert _tree(tmp_path) == before, "the command wrote or changed files"
    assert not out.exists()
    if case.extra is not None:
        case.extra(tmp_path, printed)


def test_case_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))


def test_bad_input_document_is_generated_from_the_registry():
    assert DOC.read_text(encoding="utf-8") == document(), "run: python tests/bad_inputs.py"
