"""Run the analysis notebooks with papermill, safely enough to schedule with nobody watching.

``run_pipeline`` takes the lock on the output folder first, checks every input (``analysis.run.plan``),
then executes ``notebooks/NN_*.ipynb`` on the project's named kernel, side by side where the
run-table catalog allows (``analysis.run.schedule``), writes ``reports/<run-id>/`` (executed
notebooks, code-free HTML, tables, manifest) and returns a ``RunResult`` whose ``exit_code`` the
command line passes on. A run is written into a hidden staging folder and renamed into place only
when every notebook succeeded; a failed run goes to ``reports/_failed/<run-id>/`` (or, when even
that cannot be written, is removed) and earlier reports stay untouched. Exit codes are in
``EXIT_CODES`` and docs/running.md. Folders, lock, manifest and the index page live in
``analysis.run.runs``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from analysis.core.machine import machine_info
from analysis.errors import ConfigError, DataContractError, PipelineError, RunLockedError
from analysis.paths import KERNEL_NAME, NOTEBOOKS_DIR, REPORTS_DIR
from analysis.run import filing, runs, schedule
from analysis.run.execute import NotebookFailure, render_html, storage_failure, strip_ansi  # noqa: F401 (API)
from analysis.run.kernel import ensure_kernel, kernel_environment, register_kernel  # noqa: F401 (API)
from analysis.run.plan import (  # noqa: F401 (API)
    STANDARD_PARAMETERS,
    Plan,
    check_notebook_overrides,
    declared_parameters,
    discover_notebooks,
    make_plan,
    resolve_as_of,
    select_parameters,
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_NOTEBOOK_FAILED = 3
EXIT_LOCKED = 4
EXIT_TIMEOUT = 5
EXIT_WRITE_FAILED = 6
EXIT_INTERRUPTED = 130

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "every notebook ran; the report is in reports/<run-id>/",
    EXIT_ERROR: "unexpected error in the runner itself (a bug: read the traceback)",
    EXIT_BAD_INPUT: "bad input: config, parameters, as-of date, data or an unwritable --out folder broke a rule "
    "(also when a notebook raised ConfigError or DataContractError); fix the input and rerun",
    EXIT_NOTEBOOK_FAILED: "a notebook failed; its cell error was printed and the partial run is in "
    "reports/_failed/<run-id>/",
    EXIT_LOCKED: "another run holds the lock on the same output folder; nothing was written",
    EXIT_TIMEOUT: "a notebook cell ran longer than the execution timeout; partial run in reports/_failed/",
    EXIT_WRITE_FAILED: "the run could not be written (disk full, quota, read-only): free space and rerun; "
    "partial run in reports/_failed/ when it could be moved there, else removed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGTERM, e.g. systemd stopping the job); partial run in reports/_failed/",
}

OUTCOME_EXIT = {
    "ok": EXIT_OK,
    "error": EXIT_ERROR,
    "bad_input": EXIT_BAD_INPUT,
    "failed": EXIT_NOTEBOOK_FAILED,
    "timeout": EXIT_TIMEOUT,
    "write_failed": EXIT_WRITE_FAILED,
    "interrupted": EXIT_INTERRUPTED,
}


def exit_code_for(exc: BaseException) -> int:
    """Exit code for an exception ``run_pipeline`` raised before any notebook ran."""
    if isinstance(exc, RunLockedError):
        return EXIT_LOCKED
    if isinstance(exc, (ConfigError, DataContractError)):
        return EXIT_BAD_INPUT
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, PipelineError):
        return EXIT_NOTEBOOK_FAILED
    return EXIT_ERROR


@dataclass
class RunResult:
    """What a run produced. ``path`` is ``reports/<run-id>`` or ``reports/_failed/<run-id>`` (None
    when the partial run could not be kept: the disk was full)."""

    run_id: str
    outcome: str  # see OUTCOME_EXIT
    exit_code: int
    path: Path | None
    manifest: dict[str, Any]
    failed_notebook: str | None = None
    error: str | None = None
    index: Path | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def report(self) -> Path | None:
        """The main HTML report (manager report if present, else the last notebook's page)."""
        if self.path is None:
            return None
        pages = sorted((self.path / "html").glob("*.html"))
        main = self.path / "html" / runs.MAIN_REPORT
        return main if main.exists() else (pages[-1] if pages else None)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM ended a run: ``result`` is the partial run as filed (its lines were printed
    through ``progress``), or None when it was interrupted before any notebook ran."""

    def __init__(self, result: RunResult | None, message: str):
        super().__init__(message)
        self.result = result


# --- signals -------------------------------------------------------------------------------


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM (systemd stopping a job) unwinds like Ctrl-C, so the partial run is filed. Only the
    first signal interrupts: a second one during the clean-up is ignored, so filing completes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = {"fired": False}

    def handler(signum, frame):
        if not state["fired"]:
            state["fired"] = True
            raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- the run -------------------------------------------------------------------------------


def run_pipeline(
    data_dir: str | Path,
    *,
    as_of: str | dt.date | None = None,
    config_path: str | Path | None = None,
    overrides: dict | None = None,
    out_dir: str | Path = REPORTS_DIR,
    notebooks_dir: str | Path = NOTEBOOKS_DIR,
    run_id: str | None = None,
    kernel_name: str = KERNEL_NAME,
    timeout: float | None = None,
    lock_timeout: float = 0.0,
    progress: Callable[[str], Any] = print,
    progress_bar: bool = False,
    validate: bool = True,
) -> RunResult:
    """Run every notebook and file the run; see the module docstring.

    The lock on ``out_dir`` is taken first, so a second run is refused at once. Raises (having
    written nothing): ``ConfigError`` / ``DataContractError`` for bad input (``OutputFolderError``
    when ``out_dir`` cannot be written), ``RunLockedError`` when another run holds ``out_dir``, and
    ``KeyboardInterrupt`` on Ctrl-C or SIGTERM (``RunInterrupted`` once a run was filed). A notebook
    that fails or times out does not raise: the result says so (``outcome``, ``exit_code``,
    ``error``). ``timeout`` is the most seconds one cell may run, rounded up to whole seconds
    (default: ``pipeline.execution_timeout`` of the parameters; null there: no limit).
    """
    started = dt.datetime.now().astimezone()
    warming = _warm_imports()
    out = Path(out_dir).expanduser().resolve()
    created = filing.prepare_out(out)
    refused = True
    try:
        with (
            runs.run_lock(out, lock_timeout) as claim,
            _signals_as_interrupt(),
            schedule.preloaded_kernels(config_path, overrides, progress) as zygote,
        ):
            plan = make_plan(
                data_dir,
                as_of=as_of,
                config_path=config_path,
                overrides=overrides,
                notebooks_dir=notebooks_dir,
                run_id=run_id,
                kernel_name=kernel_name,
                timeout=timeout,
                progress=progress,
                progress_bar=progress_bar,
                validate=validate,
            )
            warming.join()  # the imports below must not race the warm-up's (shared jupyter modules)
            ensure_kernel(kernel_name)
            rid = runs.unique_run_id(out, run_id or runs.make_run_id(started, plan.as_of))
            claim(rid)
            refused = False
            for stale in runs.recover_stale_runs(out):
                progress(f"An earlier run was killed before it finished; moved it to {stale}")
            return _run(plan, out, rid, started, zygote)
    except RunInterrupted:
        raise
    except KeyboardInterrupt as exc:
        where = "before any notebook ran; nothing was written" if refused else "while the run was being filed"
        raise RunInterrupted(None, f"Interrupted ({exc or 'Ctrl-C'}) {where}.") from exc
    finally:
        if refused:  # nothing ran: leave the output folder as it was
            filing.discard_created(out, created)


# rfc3987-syntax, installed for jupyter-events (JupyterLab) as an optional helper of jsonschema,
# compiles a Lark grammar when jsonschema imports it: 2.6 s of the runner's CPU at the start of
# every run, beside the input checks and the kernels' imports. It only adds draft-7 "iri" formats,
# which nbformat's draft-4 notebook schema never uses, so the runner's nbformat goes without it.
# jsonschema looks for it once: when the warm-up is what first imports jsonschema, that process's
# jsonschema has no "iri" checks afterwards (the runner's notebooks never need them).
IRI_GRAMMAR = "rfc3987_syntax"


def _import_quietly(*modules: str) -> None:
    hidden = IRI_GRAMMAR not in sys.modules
    if hidden:
        sys.modules[IRI_GRAMMAR] = None  # an import of it raises ImportError, which jsonschema skips
    try:
        with contextlib.suppress(Exception):  # the thread that needs a module imports it and sees the error
            for module in modules:
                importlib.import_module(module)
    finally:
        if hidden and sys.modules.get(IRI_GRAMMAR, False) is None:
            del sys.modules[IRI_GRAMMAR]  # the module itself is importable again afterwards


def _warm_imports() -> threading.Thread:
    """Import papermill and nbconvert in the background while the inputs are checked: they cost
    the runner 2-4 s of start-up (nbformat's JSON-schema checkers, nbconvert's templates) that
    the first notebook and the first HTML page would otherwise wait for. The book's checks run
    in DuckDB, which releases the interpreter lock, so the two overlap; planning imports none of
    their modules, and the caller joins the thread before it imports jupyter_client itself."""
    thread = threading.Thread(
        target=_import_quietly, args=("papermill", "nbconvert.exporters.html"), name="warm-imports", daemon=True
    )
    thread.start()
    return thread


def _manifest(plan: Plan, rid: str, started: dt.datetime, out: Path) -> dict[str, Any]:
    return {
        "run_id": rid,
        "outcome": "running",
        "exit_code": None,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": None,
        "seconds": None,
        "as_of": plan.as_of,
        "as_of_source": plan.as_of_source,
        "seed": plan.seed,
        "config_path": plan.config_path,
        "parameters": plan.params.model_dump(mode="json"),
        "kernel": plan.kernel_name,
        "execution_timeout": plan.timeout,
        "max_parallel_notebooks": plan.params.pipeline.max_parallel_notebooks,
        "output": str(out / rid),
        "git": runs.git_state(),
        "packages": runs.package_versions(),
        "machine": machine_info(),
        "data": None,
        "notebooks": [{"name": p.stem, "status": "pending", "seconds": None} for p in plan.notebooks],
        "tables": {},
        "failed_notebook": None,
        "error": None,
    }


def _stage(plan: Plan, tmp: Path, manifest: dict) -> Path:
    """The staging folder with what the notebooks need from the runner; returns its params.yaml."""
    for sub in ("notebooks", "html", "tables"):
        (tmp / sub).mkdir(parents=True)
    if plan.validation is not None:
        plan.validation.save(tmp)  # the data-quality notebook shows it instead of validating again
    # Notebooks read the effective parameters (defaults + --config + overrides) from the run's
    # own copy, so command-line overrides reach them too.
    params_file = tmp / "params.yaml"
    params_file.write_text(
        yaml.safe_dump(plan.params.model_dump(mode="json"), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    runs.write_json_atomic(tmp / runs.MANIFEST, runs.scrub(manifest, plan.secrets))
    return params_file


def _jobs(plan: Plan, tmp: Path, params_file: Path, out: Path, rid: str) -> list[schedule.Job]:
    previous = runs.latest_successful_run(out, before=plan.as_of)
    standard = {
        "data_dir": str(plan.data_dir),
        "as_of": plan.as_of,
        "run_dir": str(tmp),
        "config_path": str(params_file),
        "seed": plan.seed,
        "run_id": rid,
        "previous_run_dir": str(previous) if previous else None,
    }
    n = len(plan.notebooks)
    return [
        schedule.Job(
            source,
            select_parameters(plan.declared[source.stem], standard, plan.per_notebook.get(source.stem, {})),
            f"[{i}/{n}]",
        )
        for i, source in enumerate(plan.notebooks, 1)
    ]


def _run(plan: Plan, out: Path, rid: str, started: dt.datetime, zygote: schedule.Zygote | None) -> RunResult:
    tmp = out / f"{runs.TMP_PREFIX}{rid}"
    manifest = _manifest(plan, rid, started, out)
    records = {r["name"]: r for r in manifest["notebooks"]}
    say = plan.progress
    pipe = plan.params.pipeline
    clock = time.perf_counter()
    failure: NotebookFailure | None = None
    lost: list[str] = []  # manifest updates that could not be written (the final write says more)

    def save() -> None:
        try:
            runs.write_json_atomic(tmp / runs.MANIFEST, runs.scrub(manifest, plan.secrets))
        except OSError as exc:  # only for recovery after a crash; a full disk fails the notebooks anyway
            lost.append(str(exc))

    try:
        try:
            params_file = _stage(plan, tmp, manifest)
        except OSError as exc:
            failure = storage_failure(f"The run folder {tmp}", exc)
        if failure is None:
            say(
                f"Run {rid}: {len(plan.notebooks)} notebooks on kernel {plan.kernel_name}, as of {plan.as_of}, "
                f"up to {pipe.max_parallel_notebooks} at a time"
            )
            manifest["data"] = runs.data_fingerprint(plan.data_dir)
            say(
                f"Data fingerprint {manifest['data']['sha256'][:12]} ({len(manifest['data']['files'])} files, "
                f"{manifest['data']['seconds']:.1f} s)"
            )
            settings = schedule.Settings(
                kernel_name=plan.kernel_name,
                cwd=tmp,
                timeout=plan.timeout,
                start_timeout=plan.start_timeout,
                progress_bar=plan.progress_bar,
                secrets=plan.secrets,
                parallel=pipe.max_parallel_notebooks,
                stop_grace=pipe.interrupt_grace,
                zygote=zygote,
                kernel_env=kernel_environment(pipe),
                expected_seconds=runs.notebook_seconds(runs.latest_successful_run(out)),
            )
            failed = schedule.run_notebooks(_jobs(plan, tmp, params_file, out, rid), records, settings, save, say)
            if failed is not None:
                name, failure = failed
                manifest.update(failed_notebook=name, error=failure.details | {"message": failure.message})
    except BaseException as exc:  # Ctrl-C, SIGTERM or a runner bug: file what exists, then let it unwind
        kind = "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "error"
        result = _finish(plan, manifest, tmp, out, rid, clock, NotebookFailure(kind, f"Run {kind}: {exc!r}"))
        if kind == "interrupted":
            raise RunInterrupted(result, result.error or "interrupted") from exc
        raise
    return _finish(plan, manifest, tmp, out, rid, clock, failure)


def _settle(manifest: dict, outcome: str) -> None:
    """Final status of every notebook: the ones still running share the run's outcome."""
    for record in manifest["notebooks"]:
        if record["status"] == "running":  # only when interrupted mid-notebook
            record["status"] = outcome
            manifest["failed_notebook"] = manifest["failed_notebook"] or record["name"]
        elif record["status"] == "pending":
            record["status"] = "not run"


def _finish(
    plan: Plan, manifest: dict, tmp: Path, out: Path, rid: str, clock: float, failure: NotebookFailure | None
) -> RunResult:
    """Write the manifest and move the staging folder into place; say what happened.

    The failure is printed before anything is written, so a full disk cannot hide it; when the
    manifest or the move cannot be written either, the staging folder goes to ``_failed/`` as it
    is, or is removed, and the result says so."""
    say = plan.progress
    if failure is not None:
        say(runs.scrub(failure.message, plan.secrets))
    outcome = "ok" if failure is None else failure.outcome
    _settle(manifest, outcome)
    if failure is not None and manifest["error"] is None:
        manifest["error"] = {"message": failure.message}
    manifest.update(
        outcome=outcome,
        exit_code=OUTCOME_EXIT[outcome],
        finished_at=runs.now_iso(),
        seconds=round(time.perf_counter() - clock, 2),
        tables=runs.tables_fingerprint(tmp),
    )
    target = out / rid if failure is None else runs.failed_target(out, rid)
    manifest["output"] = str(target)
    manifest = runs.scrub(manifest, plan.secrets)
    try:
        runs.write_json_atomic(tmp / runs.MANIFEST, manifest)
    except OSError as exc:
        written = storage_failure(f"The manifest of run {rid}", exc)
        say(written.message)
        if failure is None:  # a run without its manifest is not a finished run
            failure, outcome = written, written.outcome
            target = runs.failed_target(out, rid)
            manifest.update(outcome=outcome, exit_code=OUTCOME_EXIT[outcome], output=str(target))
    final = filing.move_into_place(tmp, target)
    index = runs.refresh_index(out, say)
    code = OUTCOME_EXIT[outcome]
    if final is None:
        say(
            f"Run {rid} {outcome} (exit code {code}); the partial run could not be kept in {target} (see above) "
            f"and was removed; earlier reports are untouched."
        )
    elif failure is None:
        say(f"Run {rid} ok in {manifest['seconds']:.1f} s: {final}")
    else:
        say(f"Run {rid} {outcome} (exit code {code}); partial run kept in {final}; earlier reports are untouched.")
    error = None if failure is None else runs.scrub(failure.message, plan.secrets)
    return RunResult(rid, outcome, code, final, manifest, manifest["failed_notebook"], error, index)
