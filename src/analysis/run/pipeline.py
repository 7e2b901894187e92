"""Run the analysis notebooks with papermill, safely enough to schedule with nobody watching.

``run_pipeline`` executes ``notebooks/NN_*.ipynb`` in order on the project's named kernel,
writes ``reports/<run-id>/`` (executed notebooks, code-free HTML, tables, manifest) and
returns a ``RunResult`` whose ``exit_code`` the command line passes on. A run is written into
a hidden temporary folder and renamed into place only when every notebook succeeded; a
failed run goes to ``reports/_failed/<run-id>/`` and earlier reports stay untouched.
Exit codes are in ``EXIT_CODES`` and docs/running.md. Folders, lock, manifest and the index
page live in ``analysis.runs``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analysis.core.machine import machine_info
from analysis.errors import ConfigError, DataContractError, PipelineError, RunLockedError
from analysis.params import Params, raw_params, validate_params
from analysis.paths import KERNEL_DISPLAY_NAME, KERNEL_NAME, NOTEBOOKS_DIR, REPORTS_DIR
from analysis.run import runs

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_NOTEBOOK_FAILED = 3
EXIT_LOCKED = 4
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "every notebook ran; the report is in reports/<run-id>/",
    EXIT_ERROR: "unexpected error in the runner itself (a bug: read the traceback)",
    EXIT_BAD_INPUT: "bad input: config, parameters, as-of date or data broke a rule (also when a notebook "
    "raised ConfigError or DataContractError); fix the input and rerun",
    EXIT_NOTEBOOK_FAILED: "a notebook failed; its cell error was printed and the partial run is in "
    "reports/_failed/<run-id>/",
    EXIT_LOCKED: "another run holds the lock on the same output folder; nothing was written",
    EXIT_TIMEOUT: "a notebook cell ran longer than the execution timeout; partial run in reports/_failed/",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C or SIGTERM, e.g. systemd stopping the job); partial run in reports/_failed/",
}

OUTCOME_EXIT = {
    "ok": EXIT_OK,
    "error": EXIT_ERROR,
    "bad_input": EXIT_BAD_INPUT,
    "failed": EXIT_NOTEBOOK_FAILED,
    "timeout": EXIT_TIMEOUT,
    "interrupted": EXIT_INTERRUPTED,
}

# Parameters the runner gives every notebook that declares them.
STANDARD_PARAMETERS = ("data_dir", "as_of", "run_dir", "config_path", "seed", "run_id", "previous_run_dir")
# ... of which these belong to the runner alone (per-notebook config may not set them).
# ... and `overrides` is the analyst's in JupyterLab: a run's notebooks all use the same parameters.
RUNNER_PARAMETERS = (frozenset(STANDARD_PARAMETERS) - {"seed"}) | {"overrides"}

NOTEBOOK_NAME = re.compile(r"^\d{2}_[\w-]+\.ipynb$")
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)")
TRACEBACK_LINES = 40  # printed; the manifest keeps the whole traceback
# The kernel's own log (not cell output) goes to our stderr; at the default level it prints
# transport warnings for every notebook, which buries the one line that matters in cron mail.
KERNEL_LOG_LEVEL = os.environ.get("ANALYSIS_KERNEL_LOG_LEVEL", "CRITICAL")

# Offline HTML: lab template without the CDN scripts (require.js, MathJax, Mermaid), so the
# page opens from disk or a share with no internet. Figures are embedded as base64 already.
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock %}
{% block html_head_js_mathjax %}{% endblock %}
{% block html_head_js_mermaidjs %}{% endblock %}
"""


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
    """What a run produced. ``path`` is ``reports/<run-id>`` or ``reports/_failed/<run-id>``."""

    run_id: str
    outcome: str  # ok | bad_input | failed | timeout (see OUTCOME_EXIT)
    exit_code: int
    path: Path
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
        pages = sorted((self.path / "html").glob("*.html"))
        main = self.path / "html" / runs.MAIN_REPORT
        return main if main.exists() else (pages[-1] if pages else None)


@dataclass
class _Failure(Exception):
    outcome: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


# --- kernel --------------------------------------------------------------------------------


def _writable_prefix() -> str | None:
    return sys.prefix if os.access(sys.prefix, os.W_OK) else None


def _display_name(kernel_name: str) -> str:
    return KERNEL_DISPLAY_NAME if kernel_name == KERNEL_NAME else f"Python ({kernel_name})"


def register_kernel(
    kernel_name: str = KERNEL_NAME, *, prefix: str | Path | None = None, display_name: str | None = None
) -> Path:
    """Install kernelspec ``kernel_name`` running this interpreter (``sys.executable``).

    Goes into ``<prefix>/share/jupyter/kernels`` (default: this environment, so neither root
    nor ``~/.local`` is needed); into the user's folder only when the environment is read-only.
    """
    import filelock
    from ipykernel.kernelspec import install

    prefix = str(prefix) if prefix is not None else _writable_prefix()
    # install() deletes and copies the folder: two runs registering at once must take turns.
    with filelock.FileLock(str(Path(tempfile.gettempdir()) / f"{kernel_name}.kernelspec.lock"), timeout=60):
        dest = install(
            kernel_name=kernel_name,
            display_name=display_name or _display_name(kernel_name),
            prefix=prefix,
            user=prefix is None,
        )
    return Path(dest)


def _runs_this_interpreter(argv0: str) -> bool:
    # Compare without resolving symlinks: a venv's python links to the system python.
    return Path(os.path.abspath(argv0)).parent == Path(os.path.abspath(sys.executable)).parent


def ensure_kernel(kernel_name: str = KERNEL_NAME, *, prefix: str | Path | None = None) -> Path:
    """The kernelspec folder of ``kernel_name``, registering it first when it is missing or stale."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        return register_kernel(kernel_name, prefix=prefix)
    if spec.argv and _runs_this_interpreter(spec.argv[0]):
        return Path(spec.resource_dir)
    own = Path(prefix or _writable_prefix() or sys.prefix) / "share" / "jupyter" / "kernels"
    if Path(spec.resource_dir).resolve().parent == own.resolve():
        return register_kernel(kernel_name, prefix=prefix)  # ours, left by an earlier environment
    raise ConfigError(
        f"Jupyter kernel '{kernel_name}' at {spec.resource_dir} runs {spec.argv[:1]}, not this "
        f"environment's {sys.executable}. Remove it (jupyter kernelspec remove {kernel_name}); the "
        f"runner then registers the right one."
    )


# --- notebooks and their parameters --------------------------------------------------------


def discover_notebooks(notebooks_dir: str | Path = NOTEBOOKS_DIR) -> list[Path]:
    """``NN_name.ipynb`` files in run order: the order the run-table catalog derives from who writes
    and who reads each table (``analysis.catalog.sequence``)."""
    from analysis import catalog

    folder = Path(notebooks_dir)
    found = {p.stem: p for p in folder.glob("*.ipynb") if NOTEBOOK_NAME.match(p.name)}
    if not found:
        raise ConfigError(
            f"No notebooks named NN_name.ipynb in {folder}; create them with "
            f"`jupytext --to ipynb notebooks/NN_name.py`."
        )
    return [found[name] for name in catalog.sequence(found)]


def declared_parameters(path: Path) -> list[str]:
    """Names in the notebook's single cell tagged ``parameters``."""
    import nbformat
    import papermill

    cells = nbformat.read(path, as_version=4).cells
    tagged = sum("parameters" in c.get("metadata", {}).get("tags", []) for c in cells)
    if tagged != 1:
        raise ConfigError(f"{path.name} has {tagged} cells tagged 'parameters'; it needs exactly one.")
    return list(papermill.inspect_notebook(str(path)))


def check_notebook_overrides(declared: dict[str, list[str]], configured: Any) -> dict[str, dict]:
    """Validate ``pipeline.notebooks`` of the config: known notebooks, declared parameters only."""
    configured = configured or {}
    if not isinstance(configured, dict):
        raise ConfigError("pipeline.notebooks must map notebook names (e.g. 02_clv) to {parameter: value}.")
    unknown = sorted(set(configured) - set(declared))
    if unknown:
        raise ConfigError(f"pipeline.notebooks names unknown notebook(s) {unknown}; known: {sorted(declared)}.")
    checked = {}
    for name, values in configured.items():
        values = values or {}
        if not isinstance(values, dict):
            raise ConfigError(f"pipeline.notebooks.{name} must be a mapping {{parameter: value}}, got {values!r}.")
        owned = sorted(RUNNER_PARAMETERS & set(values))
        if owned:
            raise ConfigError(
                f"pipeline.notebooks.{name} sets {owned}, which the runner sets for every run "
                f"(use --data, --as-of, --config, --set or --out instead: every notebook of a run uses the "
                f"same parameters)."
            )
        undeclared = sorted(set(values) - set(declared[name]))
        if undeclared:
            raise ConfigError(
                f"pipeline.notebooks.{name} sets {undeclared}, which {name} does not declare; "
                f"its parameters are {declared[name]}."
            )
        checked[name] = values
    return checked


def select_parameters(declared: list[str], standard: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The parameters one notebook gets: only those it declares, so it never sees unknown ones."""
    merged = {**standard, **extra}
    return {name: merged[name] for name in declared if name in merged}


def resolve_as_of(book, as_of: str | dt.date | None) -> tuple[dt.date, str]:
    """(as-of date, where it came from), parsed once here and refused when outside the data.

    Default: the day after the latest date in the data."""
    from analysis.data import asof as asof_
    from analysis.data import io

    parsed = asof_.parse_optional_date(as_of)
    date = parsed if parsed is not None else io.default_as_of(book)
    asof_.check_in_range(date, io.earliest_date(book), book.extract_date)
    return date, "argument" if parsed is not None else "data"


def _settings(params: Params, timeout: float | None) -> tuple[int | None, int, dict]:
    pipe = params.pipeline
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(f"The timeout must be a positive number of seconds, got {timeout!r}.")
    cell = math.ceil(timeout) if timeout is not None else pipe.cell_timeout()  # nbclient takes whole seconds
    return cell, math.ceil(pipe.start_timeout), pipe.notebooks


# --- one notebook --------------------------------------------------------------------------


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)


def _bad_input_names() -> set[str]:
    """Exception class names that mean 'fix the input', whichever notebook raised them."""
    names, todo = set(), [ConfigError, DataContractError]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo += cls.__subclasses__()
    return names


def _failure(name: str, exc: BaseException, timeout: float | None) -> _Failure:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        evalue = strip_ansi(str(exc.evalue))
        trace = strip_ansi("\n".join(exc.traceback)).strip().splitlines()
        shown = trace if len(trace) <= TRACEBACK_LINES else ["..."] + trace[-TRACEBACK_LINES:]
        outcome = "bad_input" if exc.ename in _bad_input_names() else "failed"
        message = f"Notebook {name} failed in cell In [{exc.exec_count}]: {exc.ename}: {evalue}\n" + "\n".join(shown)
        return _Failure(
            outcome,
            message,
            {"ename": exc.ename, "evalue": evalue, "cell": exc.exec_count, "traceback": "\n".join(trace)},
        )
    if isinstance(exc, CellTimeoutError):
        detail = strip_ansi(str(exc)).strip()
        return _Failure(
            "timeout",
            f"Notebook {name} timed out: a cell ran longer than {timeout} s "
            f"(raise pipeline.execution_timeout if that is expected).\n{detail}",
            {"ename": "CellTimeoutError", "evalue": detail},
        )
    if isinstance(exc, DeadKernelError):
        return _Failure(
            "failed",
            f"Notebook {name}: the kernel died (out of memory?): {exc}",
            {"ename": "DeadKernelError", "evalue": str(exc)},
        )
    return _Failure(
        "failed",
        f"Notebook {name} could not run: {type(exc).__name__}: {strip_ansi(str(exc))}",
        {"ename": type(exc).__name__, "evalue": strip_ansi(str(exc))},
    )


def render_html(executed: Path, target: Path) -> Path:
    """Code-free, self-contained HTML of an executed notebook (no inputs, no prompts, no CDN)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
        template_file="offline.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_filename(str(executed))
    target.write_text(body, encoding="utf-8")
    return target


def _execute(
    source: Path,
    executed: Path,
    parameters: dict,
    kernel_name: str,
    cwd: Path,
    timeout: int | None,
    start_timeout: int,
    progress_bar: bool,
) -> None:
    import papermill

    papermill.execute_notebook(
        str(source),
        str(executed),
        parameters=parameters,
        kernel_name=kernel_name,
        cwd=str(cwd),
        log_output=False,
        progress_bar=progress_bar,
        execution_timeout=timeout,
        start_timeout=start_timeout,
        extra_arguments=[f"--IPKernelApp.log_level={KERNEL_LOG_LEVEL}"],
    )


# --- the run -------------------------------------------------------------------------------


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Let SIGTERM (systemd stopping a job) unwind like Ctrl-C, so the partial run is filed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class _Plan:
    data_dir: Path
    as_of: str
    as_of_source: str
    config_path: str | None
    params: Params
    seed: int
    notebooks: list[Path]
    declared: dict[str, list[str]]
    per_notebook: dict[str, dict]
    kernel_name: str
    timeout: int | None
    start_timeout: int
    progress: Callable[[str], Any]
    progress_bar: bool
    secrets: list[str]
    validation: Any = None  # analysis.validate.ValidationReport, or None when not validated


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
    """Run every notebook in order and file the run; see the module docstring.

    Raises (before anything is written): ``ConfigError`` / ``DataContractError`` for bad
    input, ``RunLockedError`` when another run holds ``out_dir``. A notebook that fails or
    times out does not raise: the result says so (``outcome``, ``exit_code``, ``error``).
    ``timeout`` is the most seconds one cell may run, rounded up to whole seconds (default:
    ``pipeline.execution_timeout`` of the parameters; null there: no limit).
    """
    started = dt.datetime.now().astimezone()
    data_path = Path(data_dir).expanduser().resolve()
    if not data_path.exists():
        raise DataContractError(
            f"Data source {data_path} does not exist; pass --data with a folder of CSV/Parquet files or a .duckdb file."
        )
    raw = raw_params(config_path, overrides)
    secrets = runs.secret_values()
    problems = runs.credential_problems(raw, secrets)  # before validation: a credential is never echoed back
    if problems:
        raise ConfigError(
            "Parameters must not hold credentials: "
            + "; ".join(problems)
            + ". Put them in environment variables (see docs/running.md)."
        )
    params = validate_params(raw)
    cell_timeout, start_timeout, configured = _settings(params, timeout)
    if run_id:
        runs.check_run_id(run_id)
    notebooks = discover_notebooks(notebooks_dir)
    declared = {p.stem: declared_parameters(p) for p in notebooks}
    per_notebook = check_notebook_overrides(declared, configured)
    validation, as_of_date, as_of_source = _check_book(data_path, as_of, validate, progress, params)
    as_of_iso = as_of_date.isoformat()
    plan = _Plan(
        data_dir=data_path,
        as_of=as_of_iso,
        as_of_source=as_of_source,
        config_path=str(Path(config_path).resolve()) if config_path else None,
        params=params,
        seed=params.seed,
        notebooks=notebooks,
        declared=declared,
        per_notebook=per_notebook,
        kernel_name=kernel_name,
        timeout=cell_timeout,
        start_timeout=start_timeout,
        progress=progress,
        progress_bar=progress_bar,
        secrets=secrets,
        validation=validation,
    )
    base_id = run_id or runs.make_run_id(started, as_of_iso)
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    ensure_kernel(kernel_name)
    with runs.run_lock(out, lock_timeout) as claim, _sigterm_as_interrupt():
        for stale in runs.recover_stale_runs(out):
            progress(f"An earlier run was killed before it finished; moved it to {stale}")
        rid = runs.unique_run_id(out, base_id)
        claim(rid)
        return _run(plan, out, rid, started)


def _manifest(plan: _Plan, rid: str, started: dt.datetime, out: Path) -> dict[str, Any]:
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


def _save_manifest(folder: Path, manifest: dict, secrets: list[str]) -> None:
    runs.write_json_atomic(folder / runs.MANIFEST, runs.scrub(manifest, secrets))


def _check_book(data_path: Path, as_of, validate: bool, progress: Callable[[str], Any], params: Params):
    """Validate the book (unless told not to) and resolve the as-of date, on one load of the book,
    before anything is written, on the engine of the parameters; a failure raises ValidationFailed or
    ConfigError (exit 2)."""
    from analysis.data.io import load_book
    from analysis.data.validate import validate_book

    clock = time.perf_counter()
    book = load_book(data_path, engine=params.engine)
    try:
        report = None
        if validate:
            report = validate_book(book, params.validation)
            report.raise_if_failed()
            progress(
                f"Data valid ({time.perf_counter() - clock:.1f} s): "
                + ", ".join(f"{t} {n:,}" for t, n in report.row_counts.items())
            )
            for warning in report.warnings:  # shown again in the data-quality section and the report
                progress(f"warning: {warning.table} [{warning.check}] {warning.message}")
        as_of_date, source = resolve_as_of(book, as_of)
    finally:
        book.close()
    return report, as_of_date, source


def _run(plan: _Plan, out: Path, rid: str, started: dt.datetime) -> RunResult:
    tmp = out / f"{runs.TMP_PREFIX}{rid}"
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
    manifest = _manifest(plan, rid, started, out)
    _save_manifest(tmp, manifest, plan.secrets)
    say = plan.progress
    say(f"Run {rid}: {len(plan.notebooks)} notebooks on kernel {plan.kernel_name}, as of {plan.as_of}")
    clock = time.perf_counter()
    failure: _Failure | None = None
    try:
        manifest["data"] = runs.data_fingerprint(plan.data_dir)
        say(
            f"Data fingerprint {manifest['data']['sha256'][:12]} ({len(manifest['data']['files'])} files, "
            f"{manifest['data']['seconds']:.1f} s)"
        )
        for i, (source, record) in enumerate(zip(plan.notebooks, manifest["notebooks"], strict=True), 1):
            try:
                _run_notebook(plan, source, record, tmp, standard, f"[{i}/{len(plan.notebooks)}]")
            except _Failure as exc:
                failure = exc
                manifest.update(failed_notebook=source.stem, error=exc.details | {"message": exc.message})
                break
    except BaseException as exc:  # Ctrl-C, SIGTERM or a runner bug: file what exists, then let it unwind
        kind = "interrupted" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "error"
        _finish(plan, manifest, tmp, out, rid, clock, _Failure(kind, f"Run {kind}: {type(exc).__name__}: {exc}"))
        raise
    return _finish(plan, manifest, tmp, out, rid, clock, failure)


def _run_notebook(plan: _Plan, source: Path, record: dict, tmp: Path, standard: dict, tag: str) -> None:
    name = source.stem
    executed = tmp / "notebooks" / source.name
    parameters = select_parameters(plan.declared[name], standard, plan.per_notebook.get(name, {}))
    record.update(status="running", parameters=parameters)
    plan.progress(f"{tag} {name} ...")
    clock = time.perf_counter()
    try:
        _execute(
            source, executed, parameters, plan.kernel_name, tmp, plan.timeout, plan.start_timeout, plan.progress_bar
        )
        error = None
    except Exception as exc:  # any way a notebook can fail becomes a filed, printed failure
        error = _failure(name, exc, plan.timeout)
    finally:
        record["seconds"] = round(time.perf_counter() - clock, 2)
        if executed.exists():
            runs.scrub_json_file(executed, plan.secrets)
    page = tmp / "html" / f"{name}.html"
    if error is None and not page.exists():  # a notebook may write its own page (the manager report does)
        try:
            render_html(executed, page)
        except Exception as exc:
            error = _Failure(
                "failed",
                f"Notebook {name} ran but its HTML could not be rendered: {exc!r}",
                {"ename": type(exc).__name__, "evalue": str(exc)},
            )
    record["status"] = "ok" if error is None else error.outcome
    plan.progress(f"{tag} {name} {record['status']} ({record['seconds']:.1f} s)")
    if error is not None:
        raise error


def _finish(
    plan: _Plan, manifest: dict, tmp: Path, out: Path, rid: str, clock: float, failure: _Failure | None
) -> RunResult:
    outcome = "ok" if failure is None else failure.outcome
    for record in manifest["notebooks"]:
        if record["status"] == "running":  # only when interrupted mid-notebook
            record["status"] = outcome
            manifest["failed_notebook"] = record["name"]
        elif record["status"] == "pending":
            record["status"] = "not run"
    manifest.update(
        outcome=outcome,
        exit_code=OUTCOME_EXIT[outcome],
        finished_at=runs.now_iso(),
        seconds=round(time.perf_counter() - clock, 2),
        tables=runs.tables_fingerprint(tmp),
    )
    if failure is not None and manifest["error"] is None:
        manifest["error"] = {"message": failure.message}
    final = out / rid if failure is None else runs.failed_target(out, rid)
    manifest["output"] = str(final)
    manifest = runs.scrub(manifest, plan.secrets)
    runs.write_json_atomic(tmp / runs.MANIFEST, manifest)
    os.replace(tmp, final)  # a rename: readers see the whole run or none of it
    index = _refresh_index(out, plan.progress)
    if failure is None:
        plan.progress(f"Run {rid} ok in {manifest['seconds']:.1f} s: {final}")
    else:
        plan.progress(runs.scrub(failure.message, plan.secrets))
        plan.progress(
            f"Run {rid} {outcome} (exit code {OUTCOME_EXIT[outcome]}); partial run kept in {final}; "
            f"earlier reports are untouched."
        )
    return RunResult(
        rid,
        outcome,
        OUTCOME_EXIT[outcome],
        final,
        manifest,
        manifest["failed_notebook"],
        None if failure is None else runs.scrub(failure.message, plan.secrets),
        index,
    )


def _refresh_index(out: Path, progress: Callable[[str], Any]) -> Path | None:
    try:
        return runs.write_index(out)
    except OSError as exc:  # the run itself is filed; a stale index must not turn it into a failure
        progress(f"Could not rewrite {out / runs.INDEX}: {exc}")
        return None
