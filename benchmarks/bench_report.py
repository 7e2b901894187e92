"""Benchmark (not a timed test): the whole notebook pipeline, with the time of every notebook.

Targets (issue 8): the default sample (5,000 accounts) in under 60 s and 100,000 accounts in
under 10 minutes on a 2-core machine. Runs ``analysis.pipeline.run_pipeline`` into a temporary
output folder (the project's reports/ is not touched) and reads the per-notebook seconds from
the run manifest.

    .venv/bin/python benchmarks/bench_report.py                       # data/sample, 5,000 accounts
    .venv/bin/analysis sample --accounts 100000 --out /tmp/book100k  # once, about 3 minutes
    .venv/bin/python benchmarks/bench_report.py --data /tmp/book100k --label 100k

Merges its figures into docs/benchmarks/report.json under ``--label`` (default: the number of
accounts), so the 5k and 100k runs sit side by side.
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

import pandas as pd

from analysis import params as config
from analysis.data import io
from analysis.run import pipeline

OUT = config.PROJECT_ROOT / "docs" / "benchmarks" / "report.json"


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux reports KiB


def planted_truths(run: Path, data_dir: Path) -> dict:
    """Does the report state the book's planted truths? (synthetic books only)"""
    truth_file = data_dir / "ground_truth.json"
    if not truth_file.exists():
        return {"note": "no ground_truth.json: not a synthetic book"}
    truth = json.loads(truth_file.read_text())["renewal"]
    decisions = pd.read_csv(data_dir / "ground_truth_decisions.csv")
    beta = truth["log_odds_per_unit"]
    strength = {f: abs(b) * decisions[f].std() for f, b in beta.items()}
    planted = sorted(strength, key=strength.get, reverse=True)[:4]
    findings = pd.read_parquet(run / "tables" / "report_drivers_findings_all.parquet").reset_index(drop=True)
    out = {"planted_top4": planted, "report_top6": findings["_variable"].head(6).tolist()}
    for f in planted:
        row = findings[findings["_variable"] == f]
        out[f] = (
            {
                "rank": int(row.index[0]) + 1,
                "direction": row["_direction"].iloc[0],
                "odds_ratio": round(float(row["effect"].iloc[0]), 3),
                "planted_sign": "+" if beta[f] > 0 else "-",
            }
            if len(row)
            else "absent"
        )
    noise = findings[findings["_variable"].isin(truth["noise_features"])]
    out["noise_reported_clear"] = noise.loc[noise["_direction"] != "no clear effect", "_variable"].tolist()
    export = pd.read_parquet(run / "exports" / "scored_accounts.parquet")
    pyramid = pd.read_parquet(run / "tables" / "report_pyramid.parquet").set_index("_tier_code")["accounts"]
    out["tier_table_matches_export"] = bool(
        (export["tier"].value_counts().reindex(pyramid.index, fill_value=0) == pyramid).all()
    )
    return out


def bench(data_dir: Path, as_of: str | None) -> dict:
    book = io.load_book(data_dir)
    accounts = book.count("accounts")
    book.con.close()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = pipeline.run_pipeline(
            data_dir, as_of=as_of, out_dir=out, progress=lambda line: print(line, flush=True)
        )
        wall = time.perf_counter() - start
        manifest = result.manifest
        truths = planted_truths(result.path, data_dir) if result.ok else {}
    return {
        "data": str(data_dir),
        "accounts": accounts,
        "as_of": manifest["as_of"],
        "outcome": result.outcome,
        "wall_s": round(wall, 1),
        "notebooks_s": round(sum(n["seconds"] or 0 for n in manifest["notebooks"]), 1),
        "runner_overhead_s": round(wall - sum(n["seconds"] or 0 for n in manifest["notebooks"]), 1),
        "per_notebook_s": {n["name"]: n["seconds"] for n in manifest["notebooks"]},
        "peak_rss_mb_largest_kernel": round(peak_rss_mb(resource.RUSAGE_CHILDREN), 1),
        "peak_rss_mb_runner": round(peak_rss_mb(resource.RUSAGE_SELF), 1),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "report_checks": truths,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=config.SAMPLE_DIR)
    parser.add_argument("--as-of", default=None)
    parser.add_argument("--label", default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    figures = bench(args.data.resolve(), args.as_of)
    label = args.label or f"{figures['accounts'] // 1000}k"
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    existing[label] = figures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(existing, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
