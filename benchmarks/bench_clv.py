"""Benchmark: BG/NBD fit (including standard errors) on simulated customers, against lifetimes 0.11.3.

    .venv/bin/python benchmarks/bench_clv.py [--sizes 100000 1000000] [--lifetimes-python PY]

lifetimes is NOT a project dependency: give the interpreter of a separate environment that has
it (``python3 -m venv /tmp/ltvenv && /tmp/ltvenv/bin/pip install lifetimes==0.11.3``) with
``--lifetimes-python`` or the LIFETIMES_PYTHON variable; without one only our side is measured.
Both fits see the same customers; both parameter sets are scored with one log-likelihood so
"same optimum" is checked on equal terms (lifetimes rescales time internally).
Writes docs/benchmarks/clv.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from analysis.clv import BetaGeoModel, simulate_bgnbd
from analysis.clv.bgnbd import loglik_at
from analysis.paths import PROJECT_ROOT

TRUE = {"r": 0.8, "alpha": 12.0, "a": 1.0, "b": 6.0}  # weeks, as in the synthetic book
OUT = PROJECT_ROOT / "docs" / "benchmarks" / "clv.json"

LIFETIMES_SCRIPT = """
import json, sys, time
import numpy as np
from lifetimes import BetaGeoFitter
d = np.load(sys.argv[1])
t0 = time.perf_counter()
fit = BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
se = fit.summary["se(coef)"]  # standard errors (from the autograd Hessian computed in fit)
seconds = time.perf_counter() - t0
import lifetimes
print(json.dumps({"seconds": seconds, "params": [float(fit.params_[k]) for k in ("r", "alpha", "a", "b")],
                  "std_errors": [float(v) for v in se], "version": lifetimes.__version__}))
"""


def simulate(n: int, seed: int):
    """Customers with whole-day times over a 3-year window, in weeks."""
    T_days = np.random.default_rng(seed).integers(1, 3 * 365, n)
    return simulate_bgnbd(n, **TRUE, T=T_days / 7.0, seed=seed, round_to=1 / 7)


def time_ours(data, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model = BetaGeoModel().fit(data, time_unit="weeks")
        _ = model.summary  # standard errors and intervals
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    _ = BetaGeoModel().fit(data, time_unit="weeks").summary
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "seconds_best": min(times),
        "seconds_median": float(np.median(times)),
        "runs": times,
        "peak_memory_mb": peak / 2**20,
        "iterations": model.n_iterations_,
        "params": model.params_.tolist(),
        "std_errors": model.standard_errors_.tolist(),
        "log_likelihood": model.log_likelihood_,
    }


def time_lifetimes(python: str, data) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rfm.npz"
        np.savez(
            path, frequency=data["frequency"].to_numpy(), recency=data["recency"].to_numpy(), T=data["T"].to_numpy()
        )
        done = subprocess.run([python, "-c", LIFETIMES_SCRIPT, str(path)], capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lifetimes-python", default=os.environ.get("LIFETIMES_PYTHON"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    results = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "note": "2-core machine shared with other jobs while measured",
        },
        "command": "python benchmarks/bench_clv.py " + " ".join(sys.argv[1:]),
        "runs": [],
    }
    for n in args.sizes:
        data = simulate(n, seed=n % 9973)
        x, t, T = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
        row = {"customers": n, "repeat_buyers": int((x > 0).sum()), "ours": time_ours(data, args.repeats)}
        if args.lifetimes_python:
            lt = time_lifetimes(args.lifetimes_python, data)
            row["lifetimes"] = lt
            if "params" in lt:
                ll_ours = loglik_at(row["ours"]["params"], x, t, T)
                ll_lt = loglik_at(lt["params"], x, t, T)
                lt["log_likelihood"] = ll_lt
                row["relative_log_likelihood_gap"] = (ll_ours - ll_lt) / abs(ll_lt)
                row["speed_ratio"] = lt["seconds"] / row["ours"]["seconds_median"]
        results["runs"].append(row)
        print(json.dumps(row, indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
