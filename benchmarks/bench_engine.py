"""Benchmark: the data layer's aggregations on DuckDB and on local Spark, by number of usage rows.

    .venv/bin/analysis sample --accounts 1200 --out /tmp/engine_bench/b1200      # ~1 M usage rows
    .venv/bin/analysis sample --accounts 12000 --out /tmp/engine_bench/b12000    # ~10 M
    .venv/bin/analysis sample --accounts 100000 --out /tmp/engine_bench/b100000  # ~84 M (the 100 k sample)
    .venv/bin/python benchmarks/bench_engine.py --book /tmp/engine_bench/b1200 --book /tmp/engine_bench/b12000 \\
        --book /tmp/engine_bench/b100000 [--engines duckdb spark]

Each (book, engine) runs in a fresh process: opening the book (for Spark: starting the JVM and the
session, registering the views), validation (every check, one scan per table), the
as-of feature snapshot (``build_features``) and the outcomes a year earlier. Peak memory: the
Python process's maximum RSS and, for Spark, the JVM's (VmHWM of the py4j gateway process).
Spark runs with the shipped ``engine.spark`` parameters (local[2], 2 GB driver). A least-squares
line per engine and step gives the cost per 100 M rows and the projection to 1 B rows (the
projection for a cluster is in docs/scaling.md). Writes docs/benchmarks/engine.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from analysis.core.machine import machine_info
from analysis.paths import PROJECT_ROOT

OUT = PROJECT_ROOT / "docs" / "benchmarks" / "engine.json"
STEPS = ("open", "validation", "features", "outcomes")


def _jvm_peak_mb(book) -> float | None:
    proc = getattr(getattr(book.engine.session.sparkContext, "_gateway", None), "proc", None)
    if proc is None:
        return None
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def measure(book_dir: str, engine_name: str) -> dict:
    """One book on one engine, in this (fresh) process."""
    import datetime as dt

    from analysis.data import features, validate
    from analysis.data.io import default_as_of, load_book
    from analysis.params import defaults

    params = defaults()
    engine = params.engine.updated(backend=engine_name)
    seconds = {}
    clock = time.perf_counter()
    book = load_book(book_dir, engine=engine)
    seconds["open"] = time.perf_counter() - clock
    usage_rows = book.count("usage")
    clock = time.perf_counter()
    problems = validate.validate_book(book, params.validation).problems  # every check is SQL on the engine
    seconds["validation"] = time.perf_counter() - clock
    as_of = default_as_of(book)
    clock = time.perf_counter()
    snapshot = features.build_features(book, as_of, params.features.subscription_margin)
    seconds["features"] = time.perf_counter() - clock
    clock = time.perf_counter()
    outcomes = features.build_outcomes(book, as_of - dt.timedelta(days=365), params.features.subscription_margin)
    seconds["outcomes"] = time.perf_counter() - clock
    return {
        "book": book_dir,
        "engine": engine_name,
        "usage_rows": usage_rows,
        "accounts": len(snapshot),
        "outcome_rows": len(outcomes),
        "validation_problems": len(problems),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "python_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "jvm_peak_mb": _jvm_peak_mb(book) if engine_name == "spark" else None,
    }


def fit_lines(runs: list[dict]) -> dict:
    """Seconds = fixed + per_row x rows, per engine and step (least squares over the books)."""
    lines = {}
    for engine in sorted({r["engine"] for r in runs}):
        mine = [r for r in runs if r["engine"] == engine and "seconds" in r]
        if len(mine) < 2:
            continue
        rows = np.array([r["usage_rows"] for r in mine], dtype=float)
        for step in STEPS:
            per_row, fixed = np.polyfit(rows, [r["seconds"][step] for r in mine], 1)
            lines[f"{engine}/{step}"] = {
                "fixed_seconds": round(float(fixed), 2),
                "seconds_per_100M_rows": round(float(per_row) * 1e8, 1),
                "projected_seconds_at_1B_rows": round(float(fixed + per_row * 1e9), 0),
            }
    return lines


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", action="append", default=[], help="a generated book (repeat, smallest first)")
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    parser.add_argument("--measure", nargs=2, metavar=("BOOK", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return {}
    runs = []
    for book in args.book:
        for engine in args.engines:
            done = subprocess.run(
                [sys.executable, __file__, "--measure", book, engine], capture_output=True, text=True, check=False
            )
            row = (
                json.loads(done.stdout.strip().splitlines()[-1])
                if done.returncode == 0
                else {"book": book, "engine": engine, "error": done.stderr.strip().splitlines()[-1:]}
            )
            runs.append(row)
            print(json.dumps(row), flush=True)
    results = {
        "machine": {**machine_info(), "note": "2-core machine shared with other jobs while measured: upper bounds"},
        "command": "python benchmarks/bench_engine.py " + " ".join(sys.argv[1:]),
        "runs": runs,
        "lines": fit_lines(runs),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["lines"], indent=1))
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
