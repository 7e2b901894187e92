"""Benchmark of the churn survival models (issue 5), not a timed test.

Targets on a 2-core machine: Cox fit on 1,000,000 accounts x 15 covariates in under 20 s, and
scoring 1,000,000 accounts in under 10 s. Durations are whole days (lifelines groups tied times;
continuous times make it ~25x slower: run with --continuous to measure that too).

Each stage runs in its own process so that its peak memory (ru_maxrss) is its own.

    .venv/bin/python benchmarks/bench_survival.py            # writes docs/benchmarks/survival.json
    .venv/bin/python benchmarks/bench_survival.py --rows 100000 --no-write
    .venv/bin/python benchmarks/bench_survival.py --coverage 20   # + recovery coverage over 20 synthetic books

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
        results.append(queue.get())
        proc.join()
        print(json.dumps(results[-1]), flush=True)
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--continuous", action="store_true", help="also time lifelines on continuous times (slow)")
    parser.add_argument("--coverage", type=int, default=0, metavar="BOOKS", help="also run the recovery coverage study")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.rows, args.continuous)
    coverage = coverage_study(args.coverage) if args.coverage else None
    report = {
        "benchmark": "survival (issue 5)",
        "targets": {"cox_fit_1m_x15_seconds": 20, "scoring_1m_seconds": 10},
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "note": "2 cores shared with other jobs while measured",
        },
        "results": results,
        "coverage_study": coverage,
    }
    if not args.no_write:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"written {OUT}")


if __name__ == "__main__":
    main()
