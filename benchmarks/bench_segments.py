"""Benchmark (not a timed test): clustering 100,000 accounts x 12 features including k selection.

Target: under 30 s on a 2-core machine. Also records assigning 100,000 accounts to saved
centroids, the Gaussian-mixture path, and the recovery figures on the sample book (adjusted
Rand index against the planted segments, top-tier rule precision and coverage).

    .venv/bin/python benchmarks/bench_segments.py [--accounts 100000] [--no-book]

Writes docs/benchmarks/segments.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import adjusted_rand_score

from analysis import segments as sg
from analysis.data import io
from analysis.data.features import build_features
from analysis.params import defaults
from analysis.paths import PROJECT_ROOT, SAMPLE_DIR

OUT = PROJECT_ROOT / "docs" / "benchmarks" / "segments.json"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_clustering(n: int) -> dict:
    frame = sg.simulate_segment_features(n, seed=1)
    base = {"features": sg.SIM_FEATURES, "log_features": sg.SIM_LOG, "k_range": (2, 10), "seed": 42}
    out = {"accounts": n, "features": len(sg.SIM_FEATURES), "k_range": [2, 10]}
    model, seconds = timed(lambda: sg.SegmentModel(**base).fit(frame))
    out["kmeans_fit_with_k_selection_s"] = round(seconds, 2)  # includes the stability of k (10 resamples)
    out["kmeans_chosen_k"] = int(model.k_)
    out["k_bootstrap_share_of_chosen"] = float(model.selection_.loc[model.k_, "bootstrap_share"])
    out["k_choice_close"] = bool(model.selection_["close"].iloc[0])
    _, seconds = timed(lambda: sg.SegmentModel(**base, k_bootstrap=0).fit(frame))
    out["kmeans_fit_without_k_stability_s"] = round(seconds, 2)
    out["kmeans_ari_vs_planted"] = round(adjusted_rand_score(frame["segment"], model.labels_), 4)
    out["peak_rss_mb_after_kmeans"] = round(peak_rss_mb(), 1)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        loaded = sg.SegmentModel.load(tmp)
        _, seconds = timed(lambda: loaded.predict(frame))
    out["predict_saved_model_s"] = round(seconds, 2)
    gmm, seconds = timed(lambda: sg.SegmentModel(**base, algorithm="gmm").fit(frame))
    out["gmm_fit_with_k_selection_s"] = round(seconds, 2)
    out["gmm_chosen_k"] = int(gmm.k_)
    out["gmm_ari_vs_planted"] = round(adjusted_rand_score(frame["segment"], gmm.labels_), 4)
    out["peak_rss_mb"] = round(peak_rss_mb(), 1)
    return out


def book_recovery(data_dir: Path) -> dict:
    """ARI against the planted segments and top-tier rule figures on a synthetic book."""
    params = defaults()
    section = params.segments
    book = io.load_book(data_dir)
    snapshot = build_features(book, io.default_as_of(book), params.features.subscription_margin)
    active = sg.clustering_population(snapshot, section.active_only)
    truth = pd.read_csv(data_dir / "ground_truth_accounts.csv", index_col="account_id")["segment"].reindex(active.index)
    out = {"data": str(data_dir), "active_accounts": len(active)}
    auto = sg.SegmentModel.from_params(section, seed=42).fit(active)
    out["auto_k"] = int(auto.k_)
    out["auto_k_ari"] = round(adjusted_rand_score(truth, auto.labels_), 4)
    out["selection"] = auto.selection_.round(4).reset_index().to_dict("records")
    out["ari_by_k"] = {}
    for k in range(section.k_range[0], section.k_range[1] + 1):
        fixed = sg.SegmentModel.from_params(section.updated(k=k), seed=42).fit(active)
        out["ari_by_k"][k] = round(adjusted_rand_score(truth, fixed.labels_), 4)
    gmm = sg.SegmentModel.from_params(section.updated(k=4, algorithm="gmm"), seed=42).fit(active)
    out["gmm_full_k4_ari"] = round(adjusted_rand_score(truth, gmm.labels_), 4)
    pyramid = params.scoring.tiers.pyramid
    tiers = sg.fallback_tiers(active["revenue_12m"], pyramid.shares, pyramid.codes)
    top = sg.top_flag(tiers, section.top_tiers)
    rules = sg.TraitRules.from_params(section, seed=42).fit(active, top, section.rule_features + ["noise_1", "noise_2"])
    out["top_tier_rules"] = rules.rules_.drop(columns="sentence").round(4).to_dict("records")
    out["top_tier_rules_overall"] = {k: round(v, 4) for k, v in rules.overall_.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--no-book", action="store_true", help="skip the recovery figures on data/sample")
    args = parser.parse_args()
    result = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "scikit_learn": sklearn.__version__,
            "numpy": np.__version__,
            "note": "2-core machine shared with other jobs while measuring",
        },
        "clustering": bench_clustering(args.accounts),
    }
    if not args.no_book and (SAMPLE_DIR / "ground_truth_accounts.csv").exists():
        result["sample_book_recovery"] = book_recovery(SAMPLE_DIR)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
