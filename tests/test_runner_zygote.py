"""Kernels forked from the preloading process (``pipeline.preload_kernels``, analysis.run.zygote):
the zygote reports each kernel's end and return code, stands in only for this interpreter's
ipykernel, and a run with forked kernels writes the same tables, bit for bit, as one with kernels
started anew."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from analysis.run import schedule
from analysis.run.forked import Zygote, _launcher_arguments
from analysis.run.pipeline import run_pipeline


@pytest.fixture(scope="module")
def zygote():
    z = Zygote()
    yield z
    z.close()


def wait_for_end(process, seconds: float = 60) -> int | None:
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return process.poll()


def test_the_zygote_imports_the_analysis_stack(zygote):
    assert zygote._ready.wait(120)
    assert zygote.failed_imports == []


def test_only_this_interpreters_ipykernel_is_forked(zygote):
    assert zygote.can_launch([sys.executable, "-m", "ipykernel_launcher", "-f", "x.json"])
    assert zygote.can_launch([sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "x"])
    assert not zygote.can_launch(["/opt/other/bin/python", "-m", "ipykernel_launcher", "-f", "x.json"])
    assert not zygote.can_launch([sys.executable, "-m", "some_other_kernel", "-f", "x.json"])
    assert not zygote.can_launch(["R", "--slave", "-e", "IRkernel::main()", "--args", "x.json"])
    assert _launcher_arguments([sys.executable, "-X", "y", "-m", "ipykernel_launcher", "-f", "c"]) == ["-f", "c"]


def test_a_forked_kernel_gets_its_folder_environment_and_stderr_and_its_exit_code_is_reported(zygote, tmp_path):
    log = tmp_path / "kernels.log"
    env = {**os.environ, "B2B_ZYGOTE_TEST": "yes"}
    # An option the launcher refuses: it prints the reason to stderr and exits non-zero.
    refused = [sys.executable, "-m", "ipykernel_launcher", "--no-such-option=1"]
    process = zygote.spawn(refused, str(tmp_path), env, str(log))
    code = wait_for_end(process)
    assert code is not None and code != 0
    assert "no-such-option" in log.read_text()
    ok = zygote.spawn([sys.executable, "-m", "ipykernel_launcher", "--help"], str(tmp_path), env, str(log))
    assert wait_for_end(ok) == 0


def test_a_killed_kernel_is_reported_killed(zygote, tmp_path):
    connection = tmp_path / "kernel.json"
    process = zygote.spawn(
        [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection)], str(tmp_path), dict(os.environ), None
    )
    deadline = time.monotonic() + 60
    while not connection.exists() and time.monotonic() < deadline:  # the kernel is up and serving
        time.sleep(0.05)
    assert connection.exists() and json.loads(connection.read_text())["shell_port"] > 0
    assert process.poll() is None
    process.kill()
    assert wait_for_end(process) == -signal.SIGKILL


def test_a_zygote_closed_while_it_still_imports_ends_at_once():
    z = Zygote()  # a run refused by its input checks closes the zygote within a second or two
    clock = time.monotonic()
    z.close()
    assert time.monotonic() - clock < 2 and z.proc.poll() is not None


def test_a_zygote_that_cannot_start_leaves_kernels_to_start_anew(monkeypatch):
    said = []

    def cannot(*args, **kwargs):
        raise OSError("no fork here")

    monkeypatch.setattr(schedule, "Zygote", cannot)
    with schedule.preloaded_kernels(None, None, said.append) as zygote:
        assert zygote is None
    assert said and "one by one" in said[0] and "no fork here" in said[0]


def test_no_zygote_when_preloading_is_off_or_the_parameters_do_not_load(monkeypatch):
    monkeypatch.setattr(schedule, "Zygote", lambda: pytest.fail("no zygote may start"))
    with schedule.preloaded_kernels(None, {"pipeline.preload_kernels": False}, print) as zygote:
        assert zygote is None
    with schedule.preloaded_kernels(None, {"pipeline.no_such_key": 1}, print) as zygote:  # planning says why
        assert zygote is None


@pytest.mark.slow
def test_forked_kernels_write_the_same_tables_as_kernels_started_anew(small_book_dir, tmp_path):
    results = {}
    for preload in (True, False):
        out = tmp_path / f"preload_{preload}"
        result = run_pipeline(
            small_book_dir,
            out_dir=out,
            as_of="2025-07-01",
            overrides={"pipeline": {"preload_kernels": preload}},
            progress=lambda line: None,
        )
        assert result.exit_code == 0, result.error
        results[preload] = result.path / "tables"
    names = sorted(p.name for p in results[True].glob("*.parquet"))
    assert names == sorted(p.name for p in results[False].glob("*.parquet")) and len(names) > 50
    for name in names:
        forked, fresh = (pd.read_parquet(results[p] / name) for p in (True, False))
        pd.testing.assert_frame_equal(forked, fresh, check_exact=True, obj=name)


def test_the_zygote_and_every_kernel_get_the_runs_kernel_environment(monkeypatch, tmp_path):
    from jupyter_client.manager import AsyncKernelManager

    from analysis.params import load_params
    from analysis.run.execute import Kernels
    from analysis.run.kernel import kernel_environment

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    env = kernel_environment(load_params(None).pipeline)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # the user's own setting is left as it is
    assert kernel_environment(load_params(None).pipeline) == {}
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert kernel_environment(load_params(None, {"pipeline": {"openmp_wait_policy": None}}).pipeline) == {}
    z = Zygote(env)  # OpenMP reads the variable when it loads, in the zygote: its own environment has it
    try:
        text = Path(f"/proc/{z.proc.pid}/environ").read_text()
        environ = dict(item.split("=", 1) for item in text.split("\0") if "=" in item)
        assert environ["OMP_WAIT_POLICY"] == "PASSIVE"
    finally:
        z.close()
    seen = {}

    async def launch(self, kernel_cmd, **kw):  # a kernel started anew: record what it would get
        seen.update(kw["env"])

    monkeypatch.setattr(AsyncKernelManager, "_async_launch_kernel", launch)
    manager = Kernels(None, env).manager_class()()
    import asyncio

    asyncio.run(manager._async_launch_kernel(["python", "-m", "ipykernel_launcher"], env={"KEEP": "1"}))
    assert seen["OMP_WAIT_POLICY"] == "PASSIVE" and seen["KEEP"] == "1"
