"""Benchmark: BG/NBD fit (including standard errors) on simulated customers, against lifetimes 0.11.3;
and (``--contracts N``) the contract stream of N subscription accounts.

    .venv/bin/python benchmarks/bench_clv.py [--sizes 100000 1000000] [--lifetimes-python PY]
    .venv/bin/python benchmarks/bench_clv.py --contracts 100000     # writes docs/benchmarks/clv_contracts.json

lifetimes is NOT a project dependency: give the interpreter of a separate environment that has
it (``python3 -m venv /tmp/ltvenv && /tmp/ltvenv/bin/pip install lifetimes==0.11.3``) with
``--lifetimes-python`` or the LIFETIMES_PYTHON variable; without one only our side is measured.
Both fits see the same customers; both parameter sets are scored with one log-likelihood so
"same optimum" is checked on equal terms (lifetimes rescales time internally).
Writes docs/benchmarks/clv.json. The contract stream is timed on ``tests/worlds.py``
``subscription_only`` (1/6/12-month terms, 1-3 product lines per account): spells per term class,
the sBG per term class and size band with its fit check, and the valuation of every running spell.
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
OUT_CONTRACTS = PROJECT_ROOT / "docs" / "benchmarks" / "clv_contracts.json"

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


def time_contract_stream(n_accounts: int) -> dict:
    """Spells, retention fits (with the fit check) and valuation on a subscription-only book."""
    import datetime as dt

    sys.path.insert(0, str(PROJECT_ROOT / "tests"))
    from worlds import subscription_only  # the independent generator of the tests

    from analysis.clv.account import account_contracts, contract_stream
    from analysis.clv.contracts import subscription_spells
    from analysis.clv.retention import fit_retention
    from analysis.params import defaults

    world = subscription_only(n_accounts=n_accounts, seed=5)
    contracts = world.tables["contracts"][
        ["account_id", "product_line", "start", "end", "annual_value", "renewal_outcome"]
    ]
    segments = world.tables["accounts"].set_index("account_id")["size_band"]
    params = defaults().clv
    as_of = dt.date(2026, 1, 1)
    tracemalloc.start()
    t0 = time.perf_counter()
    spells = subscription_spells(contracts, as_of, segments)
    t1 = time.perf_counter()
    retention = fit_retention(spells, True, params)
    t2 = time.perf_counter()
    values = contract_stream(spells, retention, params)
    table = account_contracts(spells.join(values), params.contract_margin)
    t3 = time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "accounts": n_accounts,
        "contracts": len(contracts),
        "spells": len(spells),
        "accounts_valued": int((table["clv_contracts"] > 0).sum()),
        "spells_s": t1 - t0,
        "retention_fits_and_check_s": t2 - t1,
        "valuation_s": t3 - t2,
        "total_s": t3 - t0,
        "peak_memory_mb": peak / 2**20,
        "fit_checks": {term: check["verdict"] for term, check in retention.checks.items()},
    }


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "load_average": os.getloadavg(),
        "note": "2-core machine shared with other jobs while measured",
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lifetimes-python", default=os.environ.get("LIFETIMES_PYTHON"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--contracts", type=int, default=None, help="time the contract stream of N accounts instead")
    args = parser.parse_args(argv)
    command = "python benchmarks/bench_clv.py " + " ".join(sys.argv[1:])
    if args.contracts:
        results = {"machine": machine(), "command": command, "contract_stream": time_contract_stream(args.contracts)}
        out = args.out or OUT_CONTRACTS
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=1), f"wrote {out}", sep="\n")
        return results
    args.out = args.out or OUT

    results = {"machine": machine(), "command": command, "runs": []}
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
