"""Benchmark: validation and feature build of one existing book, each in a fresh process.

    .venv/bin/analysis sample --accounts 100000 --out /tmp/book100k      # once, ~3 minutes
    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_data.py /tmp/book100k [--label after]

Validation = ``load_book`` + ``validate_book`` (every contract rule, the warnings and the capacity
check); feature build = ``build_features`` at as-of 2025-07-01 (the foundation benchmark's date).
Each step runs in its own child process so that its peak resident memory (DuckDB's native memory
included) is its own. Appends the figures with the machine to docs/benchmarks/data.json under
``--label`` (for a before/after comparison run the script on both commits with the same book).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from analysis.core.machine import machine_info
from analysis.paths import PROJECT_ROOT

OUT = PROJECT_ROOT / "docs" / "benchmarks" / "data.json"
AS_OF = dt.date(2025, 7, 1)


def _child(step: str, folder: str) -> dict:
    from analysis.data.io import load_book
    from analysis.params import defaults

    start = time.perf_counter()
    book = load_book(folder)
    if step == "validate":
        from analysis.data import validate

        try:  # the section argument arrived with the SQL checks; older code takes the book alone
            report = validate.validate_book(book, defaults().validation)
        except AttributeError:
            report = validate.validate_book(book)
        detail = {"errors": len(report.errors if hasattr(report, "errors") else report.problems)}
    else:
        from analysis.data.features import build_features

        detail = {"rows_out": len(build_features(book, AS_OF, defaults().features.subscription_margin))}
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb, 1), **detail}


def _rows(folder: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    counts = {}
    for path in sorted(folder.glob("*.parquet")):
        counts[path.stem] = pq.ParquetFile(path).metadata.num_rows
    for part_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        counts[part_dir.name] = sum(pq.ParquetFile(p).metadata.num_rows for p in part_dir.glob("*.parquet"))
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", type=Path)
    parser.add_argument("--label", default="current")
    parser.add_argument("--steps", nargs="+", default=["validate", "features"], choices=["validate", "features"])
    args = parser.parse_args()
    run = {"label": args.label, "book": str(args.book), "rows": _rows(args.book), "machine": machine_info()}
    run["git"] = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT
    ).stdout.strip()
    for step in args.steps:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", step, str(args.book)], capture_output=True, text=True, check=True
        )
        run[step] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{args.label:>10}  {step:<9} {run[step]['seconds']:>8.1f} s  peak {run[step]['peak_rss_mb']:>7.0f} MB")
    runs = json.loads(OUT.read_text()) if OUT.exists() else []
    runs.append(run)
    OUT.write_text(json.dumps(runs, indent=2) + "\n")
    print(f"Wrote {OUT}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3])))
    else:
        main()
