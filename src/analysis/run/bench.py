"""Benchmarks of the foundation: sample generation and feature build, wall time and peak memory.

Each step runs in a fresh child process so that its peak resident memory (which includes
DuckDB's native allocations, invisible to tracemalloc) is its own. Not a timed test: the
figures are written to JSON and copied into the README by hand with the machine they came from.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis.core.machine import machine_info

BENCH_AS_OF = dt.date(2025, 7, 1)


def _child(step: str, folder: str, accounts: int, seed: int) -> dict:
    start = time.perf_counter()
    if step == "sample":
        from analysis.data.synth import generate_book

        generate_book(folder, n_accounts=accounts, seed=seed)
        rows = None
    else:
        from analysis.data.features import build_features
        from analysis.data.io import load_book
        from analysis.params import defaults

        book = load_book(folder)
        rows = len(build_features(book, BENCH_AS_OF, defaults().features.subscription_margin))
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak_mb, 1), "rows_out": rows}


def _usage_rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted((folder / "usage").glob("*.parquet")))


def run_benchmarks(sizes: list[int], out: str | Path, seed: int = 42) -> dict:
    results = {"machine": machine_info(), "as_of": BENCH_AS_OF.isoformat(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="b2b-bench-") as tmp:
        for accounts in sizes:
            folder = Path(tmp) / f"book-{accounts}"
            run = {"accounts": accounts}
            for step in ("sample", "features"):
                proc = subprocess.run(
                    [sys.executable, "-m", "analysis.run.bench", step, str(folder), str(accounts), str(seed)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                run[step] = json.loads(proc.stdout.strip().splitlines()[-1])
                print(
                    f"{accounts:>9,} accounts  {step:<9} {run[step]['seconds']:>8.1f} s  "
                    f"peak {run[step]['peak_rss_mb']:>8.0f} MB",
                    flush=True,
                )
            run["usage_rows"] = _usage_rows(folder)
            results["runs"].append(run)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"Wrote {out}")
    return results


if __name__ == "__main__":
    step, folder, accounts, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(_child(step, folder, accounts, seed)))
