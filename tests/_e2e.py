"""One end-to-end scenario, run once per test session and shared by test_end_to_end.py and
test_browser.py (import the fixture: ``from tests._e2e import e2e  # noqa: F401``).

The scenario, on a small synthetic book whose account names carry HTML/JS payloads:

1. ``analysis run`` as of 2025-11-01, then as of 2025-12-01 into the same output folder (two
   consecutive monthly runs; the second report compares with the first);
2. a run on a copy of the book with a broken contracts table (must exit 2 and change nothing);
3. the first run again into a fresh output folder (same data, parameters and seed);
4. the manager report of the second run rendered again in Chinese (notebook 07 only, papermill).

Under pytest-xdist every worker would build its own session fixtures, so the scenario is built
under a file lock in the directory the workers share and read back by the others (the
pattern of the pytest-xdist documentation).
"""

from __future__ import annotations

import contextlib
import hashlib
import io as stdio
import json
import os
import shutil
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import filelock
import pandas as pd
import pytest

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
N_ACCOUNTS = 2000  # enough renewal decisions for the four strongest planted drivers to be clear
SEED = 7
FIRST, SECOND = "2025-11-01", "2025-12-01"


@dataclass
class E2E:
    """Where everything of the scenario is, and what the runs returned."""

    root: str
    book: str
    out: str
    first: str  # run folder of the 2025-11-01 run
    second: str  # run folder of the 2025-12-01 run
    repro: str  # run folder of the repeated 2025-11-01 run (own output folder)
    zh_report: str  # Chinese rendering of the second run's report
    exit_codes: dict
    digest_before_bad: dict
    digest_after_bad: dict
    bad_output: str
    seconds: dict

    def path(self, name: str) -> Path:
        return Path(getattr(self, name))

    def report(self, run: str = "second") -> Path:
        return self.path(run) / "html" / "07_manager_report.html"

    def table(self, run: str, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.path(run) / "tables" / f"{name}.parquet")

    def manifest(self, run: str) -> dict:
        return json.loads((self.path(run) / "manifest.json").read_text(encoding="utf-8"))

    def ground_truth(self) -> dict:
        return json.loads((self.path("book") / "ground_truth.json").read_text(encoding="utf-8"))


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".run.lock")
    }


def poison_names(book: Path) -> None:
    """Every account name carries a script or an image-with-onerror payload."""
    path = book / "accounts.parquet"
    accounts = pd.read_parquet(path)
    payloads = [SCRIPT if i % 2 == 0 else IMG for i in range(len(accounts))]
    accounts["name"] = [f"{name} {p}" for name, p in zip(accounts["name"], payloads)]
    accounts.to_parquet(path, index=False)


def break_contracts(book: Path, target: Path) -> Path:
    """A copy of ``book`` whose contracts end before they start and name unknown accounts."""
    shutil.copytree(book, target)
    path = target / "contracts.parquet"
    contracts = pd.read_parquet(path)
    head = contracts.index[:50]
    contracts.loc[head, "end"] = contracts.loc[head, "start"] - pd.Timedelta(days=30)
    contracts.loc[contracts.index[50:60], "account_id"] = "GHOST"
    contracts.to_parquet(path, index=False)
    return target


def _cli(args: list[str]) -> tuple[int, str]:
    from analysis.run import cli

    buffer = stdio.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = cli.main(args)
    return code, buffer.getvalue()


def _newest_run(out: Path) -> Path:
    from analysis.run import runs

    found = runs.latest_successful_run(out)
    if found is None:
        raise AssertionError(f"No successful run in {out}")
    return found


def render_in_language(run_dir: Path, previous: Path | None, target: Path, language: str) -> Path:
    """Notebook 07 again on a copy of a finished run, in another language; returns the page it wrote."""
    import papermill

    from analysis.paths import KERNEL_NAME, NOTEBOOKS_DIR

    shutil.copytree(run_dir, target)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    params = next(n["parameters"] for n in manifest["notebooks"] if n["name"] == "07_manager_report")
    params = {
        **params,
        "run_dir": str(target),
        "config_path": str(target / "params.yaml"),
        "previous_run_dir": str(previous) if previous else None,
        "overrides": {"language": language},
    }
    page = target / "html" / "07_manager_report.html"
    page.unlink()  # the notebook writes the page itself
    executed = target / "notebooks" / "07_manager_report.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS_DIR / "07_manager_report.ipynb"),
        str(executed),
        parameters=params,
        kernel_name=KERNEL_NAME,
        cwd=str(target),
        progress_bar=False,
        log_output=False,
    )
    return page


def build(root: Path) -> E2E:
    import time

    from analysis.data.synth import generate_book

    clock = {}
    start = time.perf_counter()
    book = root / "book"
    generate_book(book, n_accounts=N_ACCOUNTS, seed=SEED)
    poison_names(book)
    out = root / "reports"
    codes, outputs = {}, {}
    clock["book"] = time.perf_counter() - start
    for key, as_of in (("first", FIRST), ("second", SECOND)):
        t = time.perf_counter()
        codes[key], outputs[key] = _cli(["run", "--data", str(book), "--as-of", as_of, "--out", str(out)])
        clock[key] = time.perf_counter() - t
        if codes[key] != 0:
            raise AssertionError(f"Run as of {as_of} exited {codes[key]}:\n{outputs[key][-4000:]}")
        if key == "first":
            first = _newest_run(out)
    second = _newest_run(out)
    before = tree_digest(out)
    bad = break_contracts(book, root / "bad_book")
    codes["bad"], outputs["bad"] = _cli(["run", "--data", str(bad), "--as-of", SECOND, "--out", str(out)])
    after = tree_digest(out)
    t = time.perf_counter()
    codes["repro"], outputs["repro"] = _cli(
        ["run", "--data", str(book), "--as-of", FIRST, "--out", str(root / "reports_repro")]
    )
    clock["repro"] = time.perf_counter() - t
    if codes["repro"] != 0:
        raise AssertionError(f"Repeated run exited {codes['repro']}:\n{outputs['repro'][-4000:]}")
    t = time.perf_counter()
    zh = render_in_language(second, first, root / "second_zh", "zh")
    clock["zh"] = time.perf_counter() - t
    return E2E(
        root=str(root),
        book=str(book),
        out=str(out),
        first=str(first),
        second=str(second),
        repro=str(_newest_run(root / "reports_repro")),
        zh_report=str(zh),
        exit_codes=codes,
        digest_before_bad=before,
        digest_after_bad=after,
        bad_output=outputs["bad"][-4000:],
        seconds={k: round(v, 1) for k, v in clock.items()},
    )


@pytest.fixture(scope="session")
def e2e(tmp_path_factory) -> E2E:
    """The scenario above, built once per session (across xdist workers)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "e2e_report"
    result, failure = shared / "e2e_report.json", shared / "e2e_report.failed"
    with filelock.FileLock(str(shared / "e2e_report.lock")):
        if failure.exists():
            pytest.fail(f"The end-to-end scenario failed (in another worker):\n{failure.read_text()}")
        if not result.exists():
            if root.exists():
                shutil.rmtree(root)
            root.mkdir()
            try:
                scenario = build(root)
            except Exception:
                failure.write_text(traceback.format_exc(), encoding="utf-8")
                raise
            result.write_text(json.dumps(asdict(scenario), indent=2), encoding="utf-8")
    return E2E(**json.loads(result.read_text(encoding="utf-8")))
