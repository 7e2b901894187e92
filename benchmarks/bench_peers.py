"""Benchmark: the package against its peers, side by side in one run, on real data where it exists.

    python3 -m venv /tmp/peervenv && /tmp/peervenv/bin/pip install lifetimes==0.11.3 polars
    .venv/bin/python benchmarks/bench_peers.py --peer-python /tmp/peervenv/bin/python --book data/sample

* **BG/NBD** (our ``BetaGeoModel`` with standard errors vs lifetimes 0.11.3 ``BetaGeoFitter``) on the
  full CDNOW master file (23,570 customers, 69,659 purchases; ``CDNOW_master.txt`` as shipped inside
  the lifetimes wheel: nothing is downloaded), summarised in weeks to the end of the file, and on
  1,000,000 customers drawn with replacement from those CDNOW summaries.
* **Cox** (our ``CoxChurnModel``, checks and proportional-hazards test included, vs lifelines'
  ``CoxPHFitter``) on the Rossi recidivism data shipped with lifelines (432 people), and on 100,000
  and 1,000,000 rows drawn with replacement from it.
* **Feature build**: the usage block of the as-of snapshot (90-day means, 180-day trend window, last
  login) for every account of a generated book (no real B2B telemetry ships in any package: the
  synthetic sample stands in), as our DuckDB SQL, as pandas and as polars; all three must agree.

lifelines is a project dependency; lifetimes and polars run in ``--peer-python`` (lifetimes does not
support the project's numpy/pandas). Writes docs/benchmarks/peers.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core.machine import machine_info
from analysis.paths import PROJECT_ROOT

sys.path.insert(0, str(Path(__file__).parent))
from bench_clv import time_lifetimes, time_ours  # the same timing on both sides as bench_clv

OUT = PROJECT_ROOT / "docs" / "benchmarks" / "peers.json"
COX_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]

POLARS_USAGE = """
import json, sys, time, datetime as dt
import polars as pl
book, as_of, out = sys.argv[1], dt.date.fromisoformat(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
u = pl.scan_parquet(f"{book}/usage/*.parquet").filter(pl.col("date") < as_of)
recent = pl.col("date") >= as_of - dt.timedelta(days=90)
before = (pl.col("date") >= as_of - dt.timedelta(days=180)) & ~recent
frame = u.group_by("account_id").agg(
    pl.col("active_users").filter(recent).mean().alias("active_users_90d"),
    pl.col("logins").filter(recent).mean().alias("logins_90d"),
    pl.col("feature_adoption").filter(recent).mean().alias("adoption_90d"),
    pl.col("feature_adoption").filter(before).mean().alias("adoption_prev_90d"),
    pl.col("meeting_minutes").filter(recent).sum().alias("meeting_minutes_90d"),
    pl.col("date").filter(pl.col("logins") > 0).max().alias("last_login"),
).collect()
seconds = time.perf_counter() - t0
frame.write_parquet(out)
print(json.dumps({"seconds": seconds, "version": pl.__version__}))
"""


def _peer(python: str, script: str, *args: str) -> dict:
    done = subprocess.run([python, "-c", script, *args], capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- BG/NBD on CDNOW --------------------------------------------------------------------------


def cdnow_master(peer_python: str) -> pd.DataFrame:
    where = subprocess.run(
        [peer_python, "-c", "import lifetimes.datasets as d, os; print(os.path.dirname(d.__file__))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    path = Path(where) / "CDNOW_master.txt"
    frame = pd.read_csv(
        path, sep=r"\s+", header=0, names=["customer", "date", "cds", "amount"], dtype={"customer": str}
    )
    frame["date"] = pd.to_datetime(frame["date"].astype(str), format="%Y%m%d")
    return frame


def bgnbd(peer_python: str, repeats: int, seed: int) -> list[dict]:
    from analysis.clv.bgnbd import loglik_at
    from analysis.clv.rfm import rfm_summary

    orders = cdnow_master(peer_python)
    end = (orders["date"].max() + pd.Timedelta(days=1)).date()
    rfm = rfm_summary(orders, end, "weeks", account_col="customer", date_col="date", amount_col="amount")
    rows = []
    draws = np.random.default_rng(seed).integers(0, len(rfm), 1_000_000)
    for label, data in (("CDNOW master", rfm), ("1,000,000 drawn from CDNOW", rfm.iloc[draws])):
        data = data[["frequency", "recency", "T"]].reset_index(drop=True)
        row = {"data": label, "customers": len(data), "ours": time_ours(data, repeats)}
        row["lifetimes"] = lifetimes = time_lifetimes(peer_python, data)
        if "params" in lifetimes:
            x, t, T = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
            gap = loglik_at(row["ours"]["params"], x, t, T) - loglik_at(lifetimes["params"], x, t, T)
            row["relative_log_likelihood_gap"] = gap / abs(loglik_at(lifetimes["params"], x, t, T))
            row["speed_ratio"] = lifetimes["seconds"] / row["ours"]["seconds_median"]
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k not in ("ours", "lifetimes")}), flush=True)
    return rows


# --- Cox on Rossi -----------------------------------------------------------------------------


def cox(sizes: list[int], seed: int) -> list[dict]:
    from lifelines import CoxPHFitter
    from lifelines.datasets import load_rossi

    from analysis.survival.cox import CoxChurnModel

    rossi = load_rossi()
    rows = []
    for n in [len(rossi), *sizes]:
        data = rossi if n == len(rossi) else rossi.sample(n, replace=True, random_state=seed).reset_index(drop=True)
        clock = time.perf_counter()
        peer = CoxPHFitter().fit(data, "week", "arrest")
        peer_seconds = time.perf_counter() - clock
        clock = time.perf_counter()
        ours = CoxChurnModel(standardize=False, ph_remedy="none").fit(data, "week", "arrest", numeric=COX_COVARIATES)
        _ = ours.summary
        our_seconds = time.perf_counter() - clock
        gap = (ours.summary["estimate"] - peer.params_.reindex(ours.summary.index)).abs().max()
        rows.append(
            {
                "data": "Rossi" if n == len(rossi) else f"{n:,} drawn from Rossi",
                "rows": n,
                "ours_seconds": round(our_seconds, 3),
                "lifelines_seconds": round(peer_seconds, 3),
                "speed_ratio": round(peer_seconds / our_seconds, 2),
                "max_coefficient_gap": float(gap),
                "note": "ours includes the pre-fit checks, the Schoenfeld PH test and the concordance",
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


# --- feature build ----------------------------------------------------------------------------


def usage_duckdb(book_dir: str, as_of) -> tuple[pd.DataFrame, float]:
    from analysis.data import features
    from analysis.data.io import load_book

    book = load_book(book_dir)
    accounts = book.sql("SELECT account_id FROM accounts ORDER BY account_id")
    cuts = accounts.assign(cut_id=np.arange(len(accounts)), as_of=pd.Timestamp(as_of))
    clock = time.perf_counter()
    book.engine.put("cuts_frame", cuts)
    book.engine.create_temp_table("cuts", "SELECT cut_id, account_id, CAST(as_of AS DATE) AS as_of FROM cuts_frame")
    frame = book.sql(features.USAGE_SQL)
    seconds = time.perf_counter() - clock
    frame = frame.merge(cuts[["cut_id", "account_id"]], on="cut_id").drop(columns="cut_id")
    frame["last_login"] = pd.Timestamp(as_of) - pd.to_timedelta(frame.pop("days_since_last_login"), unit="D")
    return frame, seconds


def usage_pandas(book_dir: str, as_of) -> tuple[pd.DataFrame, float]:
    as_of = pd.Timestamp(as_of)
    clock = time.perf_counter()
    u = pd.read_parquet(Path(book_dir) / "usage")
    u["date"] = pd.to_datetime(u["date"])  # stored as DATE: Python dates in pandas
    u = u[u["date"] < as_of]
    recent = u["date"] >= as_of - pd.Timedelta(days=90)
    before = (u["date"] >= as_of - pd.Timedelta(days=180)) & ~recent
    grouped = u[recent].groupby("account_id")
    frame = pd.DataFrame(
        {
            "active_users_90d": grouped["active_users"].mean(),
            "logins_90d": grouped["logins"].mean(),
            "adoption_90d": grouped["feature_adoption"].mean(),
            "meeting_minutes_90d": grouped["meeting_minutes"].sum(min_count=1),
        }
    )
    frame["adoption_prev_90d"] = u[before].groupby("account_id")["feature_adoption"].mean()
    frame["last_login"] = u[u["logins"] > 0].groupby("account_id")["date"].max()
    frame = frame.reindex(u["account_id"].unique()).rename_axis("account_id").reset_index()
    return frame, time.perf_counter() - clock


def feature_build(book_dir: str, peer_python: str) -> dict:
    from analysis.data.io import default_as_of, load_book

    as_of = default_as_of(load_book(book_dir))
    columns = ["active_users_90d", "logins_90d", "adoption_90d", "adoption_prev_90d", "meeting_minutes_90d"]
    duck, duck_seconds = usage_duckdb(book_dir, as_of)
    pandas_frame, pandas_seconds = usage_pandas(book_dir, as_of)
    with tempfile.TemporaryDirectory() as tmp:
        polars_run = _peer(peer_python, POLARS_USAGE, book_dir, as_of.isoformat(), f"{tmp}/polars.parquet")
        polars_frame = pd.read_parquet(f"{tmp}/polars.parquet") if "seconds" in polars_run else None
    reference = duck.set_index("account_id").sort_index()
    agree = {}
    for name, frame in (("pandas", pandas_frame), ("polars", polars_frame)):
        if frame is None:
            continue
        other = frame.set_index("account_id").sort_index().reindex(reference.index)
        diff = (reference[columns].astype(float) - other[columns].astype(float)).abs().max().max()
        same_login = (pd.to_datetime(reference["last_login"]) == pd.to_datetime(other["last_login"])).mean()
        agree[name] = {"max_abs_difference": float(diff), "same_last_login_share": float(same_login)}
    result = {
        "book": book_dir,
        "accounts": len(reference),
        "usage_rows": int(load_book(book_dir).count("usage")),
        "seconds": {"duckdb": round(duck_seconds, 3), "pandas": round(pandas_seconds, 3)},
        "agreement_with_duckdb": agree,
    }
    if "seconds" in polars_run:
        result["seconds"]["polars"] = round(polars_run["seconds"], 3)
        result["polars_version"] = polars_run["version"]
    print(json.dumps(result), flush=True)
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", required=True, help="interpreter of a venv with lifetimes 0.11.3 and polars")
    parser.add_argument("--book", action="append", default=[], help="generated book(s) for the feature build")
    parser.add_argument("--cox-sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results = {
        "machine": {**machine_info(), "note": "2-core machine shared with other jobs while measured: upper bounds"},
        "command": "python benchmarks/bench_peers.py " + " ".join(sys.argv[1:]),
        "bgnbd": bgnbd(args.peer_python, args.repeats, args.seed),
        "cox": cox(args.cox_sizes, args.seed),
        "feature_build": [feature_build(book, args.peer_python) for book in args.book],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
