"""Benchmark of the churn survival models (issue 5), not a timed test.

Targets on a 2-core machine: Cox fit on 1,000,000 accounts x 15 covariates in under 20 s, and
scoring 1,000,000 accounts in under 10 s. Durations are whole days (lifelines groups tied times;
continuous times make it ~25x slower: run with --continuous to measure that too).

Each stage runs in its own process so that its peak memory (ru_maxrss) is its own.

    .venv/bin/python benchmarks/bench_survival.py            # writes docs/benchmarks/survival.json
    .venv/bin/python benchmarks/bench_survival.py --rows 100000 --no-write
    .venv/bin/python benchmarks/bench_survival.py --coverage 20   # + recovery coverage over 20 synthetic books
    .venv/bin/python benchmarks/bench_survival.py --book /tmp/book100k --label 100k   # the churn analysis of a book

``--book`` times ``survival.analyse`` on a real book (notebook 04's work) with its parts: the
renewals and landmark rows of the per-account risk, its back-test, fit and scoring, the Cox and
cross-check models; the per-date tables every notebook shares (feature snapshots, outcomes,
decided contracts, lifetimes) are built first and timed apart. Its figures and the back-test's
calibration go into ``renewal_clock.<label>`` of the JSON; the other results are kept.

The coverage study is statistical evidence rather than speed: it generates synthetic books with
different seeds, fits the discrete-time hazard model and the Cox model on the renewal episodes,
and counts how often each planted effect falls inside the 95% interval.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "survival.json"
N_COVARIATES = 15


def _data(rows: int, late_entry: bool, continuous: bool = False):
    from analysis.survival import simulate_survival

    rng = np.random.default_rng(0)
    beta = {f"x{i:02d}": float(b) for i, b in enumerate(rng.normal(0, 0.2, N_COVARIATES))}
    frame = simulate_survival(rows, beta, seed=1, max_entry_days=700 if late_entry else 0)
    if continuous:  # the same times spread inside their day: every time distinct
        frame["stop_days"] = frame["stop_days"] - rng.random(rows) * 0.999
    return frame, list(beta)


def _stage(name: str, rows: int, queue) -> None:
    warnings.simplefilter("ignore")
    from lifelines import CoxPHFitter

    from analysis.params import defaults
    from analysis.survival import ENTRY, EVENT, STOP, CoxChurnModel, churn_risk

    late = name in ("wrapper_fit_late_entry", "scoring")
    frame, cov = _data(rows, late_entry=late, continuous=name == "lifelines_fit_continuous")
    start = time.perf_counter()
    detail = {}
    if name.startswith("lifelines_fit"):
        model = CoxPHFitter().fit(frame[[*cov, STOP, EVENT]], STOP, EVENT)
        detail["log_likelihood"] = float(model.log_likelihood_)
    elif name.startswith("wrapper_fit"):
        model = CoxChurnModel(cycle_days=365).fit(frame, numeric=cov, entry_col=ENTRY if late else None)
        detail.update(
            log_likelihood=model.log_likelihood_,
            ph_violations=int(model.ph_test_["violated"].sum()),
            concordance=model.concordance_index_,
        )
    else:  # scoring: fit first (not timed), then the per-account table of the notebook
        model = CoxChurnModel(cycle_days=365).fit(frame, numeric=cov, entry_col=ENTRY)
        features = frame[cov].assign(
            tenure_days=frame[ENTRY],
            is_active=True,
            days_to_next_renewal=np.random.default_rng(2).integers(0, 365, rows).astype(float),
        )
        settings = defaults().survival
        start = time.perf_counter()
        risk = churn_risk(model, features, settings.horizons, settings.top_risk_factors)
        detail["mean_p_churn_365d"] = float(risk["p_churn_365d"].mean())
    seconds = time.perf_counter() - start
    queue.put(
        {
            "stage": name,
            "rows": rows,
            "covariates": N_COVARIATES,
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            **detail,
        }
    )


def coverage_study(books: int, accounts: int = 3000) -> dict:
    """Share of books whose 95% interval holds the planted effect, per model and factor."""
    import shutil
    import tempfile

    import pandas as pd

    from analysis.data import features, io
    from analysis.data.synth import generate_book
    from analysis.params import defaults
    from analysis.survival import ENTRY, CoxChurnModel, DiscreteHazardModel, renewal_episodes

    lead, margin = defaults().features.renewal_lead_days, defaults().features.subscription_margin

    warnings.simplefilter("ignore")
    rows = []
    for seed in range(100, 100 + books):  # one synthetic book per seed
        folder = tempfile.mkdtemp()
        truth = generate_book(folder, n_accounts=accounts, seed=seed)["churn_hazard"]
        covariates = [*truth["log_hazard_ratio_per_unit"], *truth["noise_features"]]
        contracts = features.build_contract_features(io.load_book(folder), lead, margin)
        frame = renewal_episodes(contracts, covariates, lead)
        shutil.rmtree(folder)
        for name, model in (
            ("discrete-time logit", DiscreteHazardModel(standardize=False)),
            ("Cox (Efron)", CoxChurnModel(standardize=False, ph_remedy="none")),
        ):
            s = model.fit(frame, numeric=covariates, entry_col=ENTRY).summary
            planted = pd.Series(truth["log_hazard_ratio_per_unit"]).reindex(covariates).fillna(0.0)
            rows.append(s.assign(model=name, planted=planted, seed=seed))
    table = pd.concat(rows).reset_index()
    table["inside"] = (table["lower_95"] <= table["planted"]) & (table["planted"] <= table["upper_95"])
    table["significant"] = table["p_adjusted"] < 0.05
    out = table.groupby(["model", "factor"]).agg(
        planted=("planted", "first"),
        mean_estimate=("estimate", "mean"),
        coverage_95=("inside", "mean"),
        share_significant=("significant", "mean"),
    )
    out["mean_over_planted"] = out["mean_estimate"] / out["planted"].where(out["planted"] != 0)
    print(out.round(3).to_string(), flush=True)
    return {
        "books": books,
        "accounts_per_book": accounts,
        "seeds": f"100-{99 + books}",
        "table": out.round(4).reset_index().to_dict(orient="records"),
    }


# the parts of survival.analyse timed by --book: (module, class or None, function) where it is looked up
TIMED = [
    ("analysis.survival.analysis", None, "renewal_inputs"),
    ("analysis.survival.renewal_run", None, "renewals"),
    ("analysis.survival.renewal_run", None, "landmark_frame"),
    ("analysis.survival.landmarks", None, "build_cut_features"),
    ("analysis.survival.analysis", None, "risk_backtest"),
    ("analysis.survival.analysis", None, "fit_risk_model"),
    ("analysis.survival.analysis", None, "risk_at"),
    ("analysis.survival.analysis", None, "at_risk_renewals"),
    ("analysis.survival.renewal_risk", "RenewalRiskModel", "fit"),
    ("analysis.survival.analysis", None, "renewal_data"),
    ("analysis.survival.cox", "CoxChurnModel", "fit"),
    ("analysis.survival.discrete", "DiscreteHazardModel", "fit"),
    ("analysis.survival.parametric", "ParametricChurnModel", "fit"),
    ("analysis.survival.analysis", None, "km_by_group"),
    ("analysis.survival.analysis", None, "_snapshot_design"),
]


def _timed(owner, attribute: str, seconds: dict, label: str) -> None:
    """Replace ``owner.attribute`` by a wrapper adding its run time to ``seconds[label]``."""
    import functools

    original = getattr(owner, attribute)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start

    setattr(owner, attribute, wrapper)


def _book_stage(path: str, overrides: dict, queue) -> None:
    """survival.analyse on the book at ``path`` with the shipped parameters (plus ``overrides``)."""
    import datetime as dt
    import importlib

    warnings.simplefilter("ignore")
    from analysis import survival
    from analysis.data.io import default_as_of, load_book
    from analysis.data.sources import BookInputs
    from analysis.params import defaults

    params = defaults()
    if overrides:
        params = params.updated(survival=overrides)
    book = load_book(path)
    as_of = default_as_of(book)
    run = BookInputs(book, as_of, params, {})
    shared, seconds = {}, {}
    earlier = as_of - dt.timedelta(days=params.survival.backtest_days)
    for name, build in (  # what a pipeline run builds once and every notebook reads
        ("features at as-of", lambda: run.features_at(as_of)),
        ("features a year before", lambda: run.features_at(earlier)),
        ("outcomes a year before", lambda: run.outcomes_at(earlier)),
        ("decided contracts' features", lambda: run.contract_features(as_of)),
        ("lifetimes", lambda: run.lifetimes(as_of)),
    ):
        start = time.perf_counter()
        build()
        shared[name] = round(time.perf_counter() - start, 2)
    for module, cls, attribute in TIMED:
        owner = importlib.import_module(module)
        owner = getattr(owner, cls) if cls else owner
        _timed(owner, attribute, seconds, f"{cls or module.rsplit('.', 1)[-1]}.{attribute}")
    start = time.perf_counter()
    result = survival.analyse(run)
    total = time.perf_counter() - start
    metrics = result.backtest.metrics if result.backtest is not None else None
    calibration = (
        []
        if metrics is None
        else metrics[metrics["metric"].str.startswith("predicted / observed")][
            ["metric", "group", "judged_on", "value", "accounts", "churned"]
        ]
        .round(4)
        .to_dict(orient="records")
    )
    queue.put(
        {
            "book": path,
            "accounts": int(book.df("accounts").shape[0]),
            "as_of": str(as_of),
            "overrides": overrides,
            "backtest_accounts": None if result.backtest is None else int(result.backtest.accounts.shape[0]),
            "landmark_rows_fitted": None if result.risk_model is None else int(result.risk_model.n_),
            "shared_tables_seconds": shared,
            "analyse_seconds": round(total, 2),
            "parts_seconds": {k: round(v, 2) for k, v in seconds.items()},
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "backtest_calibration": calibration,
            "problems": result.notes(),
        }
    )


def _result_of(proc, queue) -> dict:
    """The stage's result; a stage that died raises instead of leaving the benchmark waiting."""
    import queue as queues

    while True:
        try:
            return queue.get(timeout=5)
        except queues.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"the benchmark stage failed (exit code {proc.exitcode}); see above") from None


def run_book(path: str, overrides: dict) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_book_stage, args=(path, overrides, queue))
    proc.start()
    result = _result_of(proc, queue)
    proc.join()
    print(json.dumps(result, indent=1), flush=True)
    return result


def run(rows: int, continuous: bool) -> list[dict]:
    stages = ["lifelines_fit_days", "wrapper_fit", "wrapper_fit_late_entry", "scoring"]
    if continuous:
        stages.append("lifelines_fit_continuous")
    results = []
    ctx = mp.get_context("spawn")
    for name in stages:  # one fresh process per stage
        queue = ctx.Queue()
        proc = ctx.Process(target=_stage, args=(name, rows, queue))
        proc.start()
        results.append(_result_of(proc, queue))
        proc.join()
        print(json.dumps(results[-1]), flush=True)
    return results


def _machine() -> dict:
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "note": "2 cores shared with other jobs while measured",
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--continuous", action="store_true", help="also time lifelines on continuous times (slow)")
    parser.add_argument("--coverage", type=int, default=0, metavar="BOOKS", help="also run the recovery coverage study")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--book", help="time survival.analyse on this book instead (notebook 04's work)")
    parser.add_argument("--label", default="book", help="key of the --book figures in the JSON")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a survival setting for --book (repeatable)"
    )
    args = parser.parse_args(argv)
    if args.book:
        overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
        figures = run_book(args.book, overrides) | {"machine": _machine()}
        if not args.no_write:
            report = json.loads(OUT.read_text(encoding="utf-8")) if OUT.exists() else {}
            report.setdefault("renewal_clock", {})[args.label] = figures
            OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            print(f"written {OUT}")
        return
    results = run(args.rows, args.continuous)
    coverage = coverage_study(args.coverage) if args.coverage else None
    report = {
        "benchmark": "survival (issue 5)",
        "targets": {"cox_fit_1m_x15_seconds": 20, "scoring_1m_seconds": 10},
        "machine": _machine(),
        "results": results,
        "coverage_study": coverage,
    }
    if not args.no_write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        if OUT.exists():  # the --book figures are measured apart: keep them
            report["renewal_clock"] = json.loads(OUT.read_text(encoding="utf-8")).get("renewal_clock", {})
        OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"written {OUT}")


if __name__ == "__main__":
    main()
