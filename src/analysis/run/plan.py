"""Everything a run checks before its first notebook starts, gathered into one ``Plan``.

Parameters (with the credential check before validation, so a credential is never echoed back),
the notebooks and what each declares, the per-notebook values of ``pipeline.notebooks``, the book
(validated once) and the as-of date (parsed once here). Any problem raises ``ConfigError`` or
``DataContractError`` (exit 2); nothing here writes a file.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.errors import ConfigError, DataContractError
from analysis.params import Params, raw_params, validate_params
from analysis.paths import NOTEBOOKS_DIR
from analysis.run import runs

# Parameters the runner gives every notebook that declares them.
STANDARD_PARAMETERS = ("data_dir", "as_of", "run_dir", "config_path", "seed", "run_id", "previous_run_dir")
# ... of which these belong to the runner alone (per-notebook config may not set them).
# ... and `overrides` is the analyst's in JupyterLab: a run's notebooks all use the same parameters.
RUNNER_PARAMETERS = (frozenset(STANDARD_PARAMETERS) - {"seed"}) | {"overrides"}

NOTEBOOK_NAME = re.compile(r"^\d{2}_[\w-]+\.ipynb$")


@dataclass
class Plan:
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


def make_plan(
    data_dir: str | Path,
    *,
    as_of,
    config_path,
    overrides,
    notebooks_dir,
    run_id: str | None,
    kernel_name: str,
    timeout: float | None,
    progress: Callable[[str], Any],
    progress_bar: bool,
    validate: bool,
) -> Plan:
    """Check every input of a run (see the module docstring) and return the plan to run."""
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
    validation, as_of_date, as_of_source = check_book(data_path, as_of, validate, progress, params)
    return Plan(
        data_dir=data_path,
        as_of=as_of_date.isoformat(),
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
    """Names assigned in the notebook's single cell tagged ``parameters`` (what papermill injects
    beside). Read from the notebook's JSON with ``ast``, not nbformat: importing nbformat costs the
    runner a second or two (its JSON-schema checkers) before the first notebook can start, and
    papermill imports it later, beside the input checks (``analysis.run.pipeline``)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        tagged = [c for c in cells if "parameters" in (c.get("metadata") or {}).get("tags", [])]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path.name} is not a readable Jupyter notebook ({exc}); re-create it with jupytext."
        ) from None
    if len(tagged) != 1:
        raise ConfigError(f"{path.name} has {len(tagged)} cells tagged 'parameters'; it needs exactly one.")
    source = tagged[0].get("source", "")
    try:
        body = ast.parse(source if isinstance(source, str) else "".join(source)).body
    except SyntaxError as exc:
        raise ConfigError(
            f"The parameters cell of {path.name} is not valid Python ({exc.msg}, line {exc.lineno})."
        ) from None
    names: list[str] = []
    for node in body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names += [t.id for t in targets if isinstance(t, ast.Name) and t.id not in names]
    return names


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


def check_book(data_path: Path, as_of, validate: bool, progress: Callable[[str], Any], params: Params):
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
