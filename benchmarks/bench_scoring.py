"""Benchmark: scoring and tiering 1,000,000 accounts; calibrating weights with 200 bootstrap resamples.

    .venv/bin/python benchmarks/bench_scoring.py [--accounts 1000000] [--calibration-rows 100000]
                                                 [--n-boot 200] [--repeats 3]

Targets (issue 3, 2-core machine): scoring + tiering 1M accounts < 5 s; calibration with 200
bootstrap resamples on 100,000 accounts < 60 s. Features are simulated with the shapes of the
real ones (log-normal money, skewed payment delays, missing growth and influence). Wall times
are the best of ``--repeats`` runs without tracing; peak memory comes from one extra run under
tracemalloc (Python and NumPy allocations) plus the process's maximum resident set size.
Writes docs/benchmarks/scoring.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import tracemalloc

import numpy as np
import pandas as pd

from analysis import params as config
from analysis.params import ScoringParams
from analysis.paths import PROJECT_ROOT
from analysis.scoring import score as scoring
from analysis.scoring import tiers, weights

OUT = PROJECT_ROOT / "docs" / "benchmarks" / "scoring.json"


def simulate_features(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    revenue = rng.lognormal(10, 1.3, n)
    growth = rng.normal(0.05, 0.4, n)
    growth[rng.random(n) < 0.15] = np.nan  # new accounts have no prior year
    influence = np.round(rng.uniform(1, 5, n), 1)
    influence[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame(
        {
            "revenue_12m": revenue,
            "margin_12m": revenue * rng.normal(0.3, 0.25, n),
            "tenure_days": rng.integers(30, 4000, n).astype(float),
            "market_influence": influence,
            "revenue_growth": growth,
            "payment_delay_days": rng.gamma(2.0, 20.0, n),
            "late_payment_share": rng.random(n),
            "tickets_12m": rng.poisson(3, n).astype(float),
        },
        index=pd.Index(np.char.add("A", np.arange(n).astype(str)), name="account_id"),
    )


def score_and_tier(feats: pd.DataFrame, section: ScoringParams, language: str) -> pd.DataFrame:
    spec = scoring.ScoringSpec.from_params(section)
    scored = scoring.score_accounts(feats, spec)
    return tiers.assign_tiers(scored, feats, section.tiers, language)  # joined to the scores by the caller when needed


def timed(func, repeats: int) -> tuple[float, list[float], object]:
    runs, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = func()
        runs.append(time.perf_counter() - t0)
    return min(runs), runs, result


def peak_traced(func) -> float:
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def calibration_data(n: int, seed: int, section: ScoringParams):
    """Normalised criteria of ``n`` accounts and a renewal outcome planted on three of them."""
    feats = simulate_features(n, seed)
    matrix = scoring.criteria_matrix(feats, scoring.ScoringSpec.from_params(section), fill_missing=True)
    beta = np.array([1.5, 1.0, 0.5, 0.0, 0.5, 1.0])  # per criterion, on the 0-1 scale
    eta = -1.0 + matrix.to_numpy() @ beta
    rng = np.random.default_rng(seed + 1)
    renewed = pd.Series((rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float), index=matrix.index, name="renewed")
    margin = pd.Series(eta + rng.normal(0, 1, n), index=matrix.index, name="margin_next_12m")
    return matrix, renewed, margin, beta / beta.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--calibration-rows", type=int, default=100_000)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    params = config.defaults()
    section, language = params.scoring, params.language
    load_before = os.getloadavg()

    feats = simulate_features(args.accounts, args.seed)
    best, runs, table = timed(lambda: score_and_tier(feats, section, language), args.repeats)
    scoring_result = {
        "accounts": args.accounts,
        "seconds_best": best,
        "seconds_runs": runs,
        "target_seconds": 5.0,
        "peak_traced_mib": peak_traced(lambda: score_and_tier(feats, section, language)),
        "tier_counts": table["tier"].value_counts().astype(int).to_dict(),
    }
    print(f"scoring + tiering {args.accounts:,} accounts: best {best:.2f} s of {runs}")

    matrix, renewed, margin, true_w = calibration_data(args.calibration_rows, args.seed, section)
    calib = {}
    for label, outcome in (("renewal_logistic", renewed), ("margin_nnls", margin)):
        t0 = time.perf_counter()
        res = weights.calibrated_weights(matrix, outcome, n_boot=args.n_boot, seed=args.seed, transform="none")
        seconds = time.perf_counter() - t0
        inside = (res.lower.to_numpy() <= true_w + 1e-12) & (true_w <= res.upper.to_numpy() + 1e-12)
        calib[label] = {
            "rows": args.calibration_rows,
            "n_boot": args.n_boot,
            "seconds": seconds,
            "target_seconds": 60.0,
            "usable_resamples": len(res.draws),
            "true_weights_inside_95": int(inside.sum()),
            "criteria": len(true_w),
            "weights": res.weights.round(4).to_dict(),
        }
        print(
            f"calibration ({label}) {args.calibration_rows:,} rows x {args.n_boot} resamples: {seconds:.1f} s; "
            f"true weights inside the 95% interval: {int(inside.sum())}/{len(true_w)}"
        )
    calib["renewal_logistic"]["peak_traced_mib"] = peak_traced(
        lambda: weights.calibrated_weights(matrix, renewed, n_boot=20, seed=args.seed)
    )

    result = {
        "scoring_and_tiering": scoring_result,
        "calibration": calib,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
            "note": "2 cores shared with other jobs while measured",
        },
        "versions": {"numpy": np.__version__, "pandas": pd.__version__, "scipy": __import__("scipy").__version__},
        "command": ".venv/bin/python benchmarks/bench_scoring.py",
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, default=float), encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
