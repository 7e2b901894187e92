"""Runner faults from issue 12: the lock before validation, a read-only or full --out, SIGTERM,
kill -9 recovery. Tiny dummy data and the fixture notebooks of tests/test_pipeline.py."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_pipeline import AS_OF, make_data, make_notebooks, run, tree_digest

from analysis.errors import OutputFolderError, RunLockedError
from analysis.run import filing, pipeline, runs


def test_the_lock_is_taken_before_the_book_is_read(tmp_path):
    out = tmp_path / "reports"
    garbage = tmp_path / "not-a-book"
    garbage.mkdir()
    (garbage / "accounts.csv").write_text("nonsense\n")
    with runs.run_lock(out):
        clock = time.perf_counter()
        with pytest.raises(RunLockedError):  # not the data error: the lock comes first
            pipeline.run_pipeline(garbage, as_of=AS_OF, out_dir=out, progress=lambda line: None)
        assert time.perf_counter() - clock < 5


def test_an_out_folder_this_user_cannot_write_is_refused_and_left_as_it_was(tmp_path, monkeypatch):
    # Through a monkeypatched os.access (root may write a 0555 folder); the chmod test below is the real one.
    out = tmp_path / "new" / "reports"
    monkeypatch.setattr(filing.os, "access", lambda path, mode: False)
    with pytest.raises(OutputFolderError, match="cannot be written") as info:
        run(make_data(tmp_path / "data"), out, make_notebooks(tmp_path / "nb", "write_table"))
    assert pipeline.exit_code_for(info.value) == pipeline.EXIT_BAD_INPUT
    assert not (tmp_path / "new").exists()  # the folders it created are removed again


def test_an_out_folder_that_cannot_be_created_is_refused(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(OutputFolderError, match="Read-only file system"):
        run(tmp_path, tmp_path / "reports", tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_read_only_folder_is_refused(tmp_path):
    out = tmp_path / "reports"
    out.mkdir()
    out.chmod(0o555)
    try:
        with pytest.raises(OutputFolderError):
            run(make_data(tmp_path / "data"), out, make_notebooks(tmp_path / "nb", "write_table"))
    finally:
        out.chmod(0o755)


@pytest.mark.slow
def test_a_full_disk_while_writing_the_manifest_ends_clearly_and_keeps_the_earlier_report(tmp_path, monkeypatch):
    data, out = make_data(tmp_path / "data"), tmp_path / "reports"
    notebooks = make_notebooks(tmp_path / "nb", "write_table")
    earlier = run(data, out, notebooks)
    assert earlier.ok
    before = tree_digest(earlier.path)
    original = runs.write_json_atomic

    def full(path, obj, indent=2):
        if Path(path).name == runs.MANIFEST:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(path, obj, indent)

    monkeypatch.setattr(runs, "write_json_atomic", full)
    lines: list[str] = []
    result = run(data, out, notebooks, lines)
    assert not result.ok and result.exit_code != 0
    assert "No space left on device" in "\n".join(lines)
    assert not list(out.glob(".tmp-*"))  # moved to _failed/ or removed, never left behind
    assert result.path is None or result.path.parent.name == "_failed"
    assert tree_digest(earlier.path) == before


def _start(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(predicate, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
        time.sleep(0.05)


def _staged_status(out: Path) -> list[str]:
    for folder in out.glob(".tmp-*"):
        manifest = runs.read_manifest(folder)
        if manifest:
            return [n["status"] for n in manifest["notebooks"]]
    return []


@pytest.mark.slow
def test_sigterm_prints_one_clean_message_exits_130_and_files_the_partial_run(tmp_path):
    data, out = make_data(tmp_path / "data"), tmp_path / "reports"
    notebooks = make_notebooks(tmp_path / "nb", "sleep")
    proc = _start(
        "import functools, sys; from analysis.run import cli, pipeline; "
        f"pipeline.run_pipeline = functools.partial(pipeline.run_pipeline, notebooks_dir={str(notebooks)!r}, "
        "validate=False); "
        f"sys.exit(cli.main(['run', '--data', {str(data)!r}, '--as-of', {AS_OF!r}, '--out', {str(out)!r}]))"
    )
    _wait_for(lambda: _staged_status(out) == ["running"], proc)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == pipeline.EXIT_INTERRUPTED, output
    assert "Traceback" not in output
    failed = list((out / "_failed").iterdir())
    assert len(failed) == 1 and json.loads((failed[0] / "manifest.json").read_text())["outcome"] == "interrupted"
    assert not list(out.glob(".tmp-*"))


@pytest.mark.slow
def test_after_kill_9_the_recovered_manifest_keeps_the_finished_notebooks(tmp_path):
    data, out = make_data(tmp_path / "data"), tmp_path / "reports"
    notebooks = make_notebooks(tmp_path / "nb", "write_table", "sleep")
    proc = _start(
        "from analysis.run.pipeline import run_pipeline; "
        f"run_pipeline({str(data)!r}, as_of={AS_OF!r}, out_dir={str(out)!r}, notebooks_dir={str(notebooks)!r}, "
        "validate=False)"
    )
    _wait_for(lambda: _staged_status(out) == ["ok", "running"], proc)
    proc.kill()
    proc.communicate(timeout=30)
    with runs.run_lock(out):
        (moved,) = runs.recover_stale_runs(out)
    manifest = json.loads((moved / "manifest.json").read_text())
    assert [n["status"] for n in manifest["notebooks"]] == ["ok", "interrupted"]
    assert manifest["outcome"] == "interrupted"
