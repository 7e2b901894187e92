"""Benchmark: the data layer's aggregations on DuckDB and on local Spark, by number of usage rows.

    .venv/bin/analysis sample --accounts 1200 --out /tmp/scale/b1200        # ~1 M usage rows
    .venv/bin/analysis sample --accounts 12000 --out /tmp/scale/b12000      # ~10 M
    .venv/bin/analysis sample --accounts 100000 --out /tmp/scale/b100000    # ~84 M (the 100 k sample)
    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_engine.py --book /tmp/scale/b1200 --engines duckdb
    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_engine.py --book /tmp/scale/b1200 --engines spark
    ... (one command per book and engine, so that no single job holds the machine for long)

Each (book, engine) runs in a fresh process: opening the book (for Spark: starting the JVM and the
session, registering the views), validation (every check of ``validate_book``; the number of
queries it sent is recorded), the as-of feature snapshot (``build_features``) and the outcomes a
year earlier. The process prints each step as it finishes, so a run stopped at ``--timeout``
records the steps that finished and the one that did not, with the time it had run. Peak memory:
the Python process's maximum RSS and, for Spark, the JVM's (VmHWM of the py4j gateway process).
Spark runs with the shipped ``engine.spark`` parameters (local[2], 2 GB driver).

Runs are merged into docs/benchmarks/engine.json (a run replaces an earlier one of the same book,
engine and ``--label``), and a least-squares line per engine and step over the finished runs gives
the cost per 100 M rows and the projection to 1 B rows (the projection for a cluster is derived in
docs/scaling.md). ``--label before`` with ``PYTHONPATH=<a checkout of older code>/src`` measures
older code side by side.
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
            return round(int(line.split()[1]) / 1024, 1)
    return None


def _count_queries(engine) -> list[int]:
    """Count the queries sent through ``engine`` from now on (the one-element list grows)."""
    sent = [0]
    for method in ("rows", "sql"):
        send = getattr(engine, method)

        def counted(query, _send=send):
            sent[0] += 1
            return _send(query)

        setattr(engine, method, counted)
    return sent


def measure(book_dir: str, engine_name: str, skip: tuple[str, ...] = ()) -> dict:
    """One book on one engine, in this (fresh) process; a JSON line on stdout after every step.
    Steps in ``skip`` (not open) are left out, so that a long step can be measured on its own."""
    import datetime as dt

    from analysis.data import features, validate
    from analysis.data.io import default_as_of, load_book
    from analysis.params import defaults

    params = defaults()
    engine = params.engine.updated(backend=engine_name)
    row = {"book": book_dir, "engine": engine_name, "seconds": {}, "skipped": list(skip)}
    opened = []

    def step(name, work):
        if name in skip:
            return None
        clock = time.perf_counter()
        print(json.dumps({**row, "running": name, "started": time.time()}), flush=True)
        result = work()
        row["seconds"][name] = round(time.perf_counter() - clock, 2)
        row["python_peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        row["jvm_peak_mb"] = _jvm_peak_mb(opened[0]) if engine_name == "spark" and opened else None
        return result

    book = step("open", lambda: load_book(book_dir, engine=engine))
    opened.append(book)
    row["jvm_peak_mb"] = _jvm_peak_mb(book) if engine_name == "spark" else None
    row["usage_rows"] = book.count("usage")
    sent = _count_queries(book.engine)
    report = step("validation", lambda: validate.validate_book(book, params.validation))
    if report is not None:
        row["validation_queries"], row["validation_problems"] = sent[0], len(report.problems)
    as_of = default_as_of(book)
    margin = params.features.subscription_margin
    snapshot = step("features", lambda: features.build_features(book, as_of, margin))
    outcomes = step("outcomes", lambda: features.build_outcomes(book, as_of - dt.timedelta(days=365), margin))
    row["accounts"] = None if snapshot is None else len(snapshot)
    row["outcome_rows"] = None if outcomes is None else len(outcomes)
    return row


def run_one(book: str, engine: str, timeout: float | None, skip: tuple[str, ...] = ()) -> dict:
    """``measure`` in a fresh process; on a timeout or a failure, what finished and what did not."""
    command = [sys.executable, __file__, "--measure", book, engine, *(["--skip", *skip] if skip else [])]
    started, lines, stderr = time.time(), [], ""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=timeout)
        lines, stderr, failed = done.stdout.strip().splitlines(), done.stderr, done.returncode != 0
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        lines, failed = out.strip().splitlines(), True
        stderr = f"stopped after {timeout:.0f} s (--timeout)"
    rows = [json.loads(line) for line in lines if line.startswith("{")]
    last = rows[-1] if rows else {"book": book, "engine": engine, "seconds": {}, "skipped": list(skip)}
    if not failed:
        return last
    unfinished = last.pop("running", None)
    if unfinished is not None:
        last["unfinished"] = {"step": unfinished, "seconds_run": round(time.time() - last.pop("started"), 1)}
    last["error"] = (stderr.strip().splitlines() or ["failed"])[-1]
    last["total_seconds"] = round(time.time() - started, 1)
    return last


def fit_lines(runs: list[dict]) -> dict:
    """Seconds = fixed + per_row x rows, per engine and step (least squares over the books where
    the step finished)."""
    lines = {}
    for engine in sorted({r["engine"] for r in runs}):
        for step in STEPS:
            mine = [r for r in runs if r["engine"] == engine and step in r.get("seconds", {})]
            if len({r["usage_rows"] for r in mine}) < 2:
                continue
            rows = np.array([r["usage_rows"] for r in mine], dtype=float)
            per_row, fixed = np.polyfit(rows, [r["seconds"][step] for r in mine], 1)
            lines[f"{engine}/{step}"] = {
                "books": len(mine),
                "fixed_seconds": round(float(fixed), 2),
                "seconds_per_100M_rows": round(float(per_row) * 1e8, 1),
                "projected_seconds_at_1B_rows": round(float(fixed + per_row * 1e9), 0),
            }
    return lines


def merged(out: Path, new: list[dict]) -> list[dict]:
    """The runs already in ``out`` with ``new`` replacing those of the same book, engine, label and
    skipped steps."""

    def same(run):
        return run["book"], run["engine"], run.get("label"), tuple(run.get("skipped", ()))

    earlier = json.loads(out.read_text())["runs"] if out.exists() else []
    replaced = {same(run) for run in new}
    return [run for run in earlier if same(run) not in replaced] + new


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", action="append", default=[], help="a generated book (repeat, smallest first)")
    parser.add_argument("--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"])
    parser.add_argument("--label", default=None, help="tag these runs (e.g. before: older code via PYTHONPATH)")
    parser.add_argument("--timeout", type=float, default=None, help="stop a (book, engine) run after this many s")
    parser.add_argument("--skip", nargs="+", default=[], choices=STEPS[1:], help="leave these steps out")
    parser.add_argument("--measure", nargs=2, metavar=("BOOK", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(*args.measure, tuple(args.skip))), flush=True)
        return {}
    runs = []
    for book in args.book:
        for engine in args.engines:
            row = {**run_one(book, engine, args.timeout, tuple(args.skip)), "label": args.label, "measured_at": _now()}
            runs.append(row)
            print(json.dumps(row), flush=True)
    runs = merged(args.out, runs)
    results = {
        "machine": {**machine_info(), "note": "2-core machine shared with other jobs while measured: upper bounds"},
        "command": "python benchmarks/bench_engine.py --book BOOK --engines ENGINE [--label L] (one per run)",
        "runs": runs,
        "lines": fit_lines([r for r in runs if r.get("label") is None]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results["lines"], indent=1))
    print(f"wrote {args.out}")
    return results


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


if __name__ == "__main__":
    main()
