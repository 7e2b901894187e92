"""Every case of the bad-input registry (tests/bad_inputs.py) through the command line: the exit
code and message it promises, no traceback, nothing written; every runner fault it lists is shown by
a test that exists; and docs/bad_input.md is current."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from bad_inputs import CASES, DOC, FAULTS, Case, document
from test_pipeline import FIXTURES, make_data, make_notebooks, run, tree_digest

from analysis.run import pipeline
from analysis.run.cli import main

ROOT = Path(__file__).resolve().parents[1]


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


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.known_bug)] if case.known_bug else []
    return pytest.param(case, id=case.name, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
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


def _test_functions(path: Path) -> dict[str, str]:
    """The test functions of a test file by name, with their source."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    return {
        node.name: ast.get_source_segment(text, node) or ""
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def _runner_source() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "src" / "analysis").rglob("*.py")))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_every_listed_fault_is_shown_by_a_test_that_exists(fault):
    file, _, name = fault.test.partition("::")
    tests = _test_functions(ROOT / file)
    assert name in tests, f"{fault.test} does not exist: the table in docs/bad_input.md is stale"
    assert fault.message in tests[name] or fault.message in _runner_source(), (
        f"{fault.name}: {fault.message!r} is neither printed by src/analysis nor asserted by {fault.test}"
    )
    assert fault.exit_code in pipeline.EXIT_CODES


def test_fault_names_do_not_repeat_case_names():
    names = [c.name for c in CASES] + [f.name for f in FAULTS]
    assert len(names) == len(set(names))


@pytest.mark.slow
def test_a_killed_kernel_fails_the_run_with_exit_3_and_keeps_the_earlier_report(tmp_path):
    # The out-of-memory killer ends a kernel with SIGKILL; the notebook does it to itself.
    data, out = make_data(tmp_path / "data"), tmp_path / "reports"
    earlier = run(data, out, make_notebooks(tmp_path / "good", "write_table"))
    assert earlier.ok
    before = tree_digest(earlier.path)
    notebook = json.loads((FIXTURES / "fail_cell.ipynb").read_text(encoding="utf-8"))
    notebook["cells"][3]["source"] = ["import os, signal\n", "os.kill(os.getpid(), signal.SIGKILL)"]
    killer = tmp_path / "nb" / "01_killed.ipynb"
    killer.parent.mkdir()
    killer.write_text(json.dumps(notebook), encoding="utf-8")
    lines: list[str] = []
    result = run(data, out, killer.parent, lines)
    assert result.exit_code == pipeline.EXIT_NOTEBOOK_FAILED, "\n".join(lines)
    assert "the kernel died (out of memory?)" in "\n".join(lines)
    assert result.path == out / "_failed" / result.run_id
    assert json.loads((result.path / "manifest.json").read_text())["notebooks"][0]["status"] == "failed"
    assert tree_digest(earlier.path) == before
    assert not list(out.glob(".tmp-*"))
