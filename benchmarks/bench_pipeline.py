"""Benchmark (not a timed test): the whole default run, today's code against an earlier commit, side by side.

Issue 15 ("Speed of the default run"): the default 5,000-account run in at most half the time of
commit bdd9c11 (aim: under 30 s), 100,000 accounts under 5 minutes, peak memory under 4 GB.

Each tree runs its own ``analysis run`` from its own ``.venv`` (so its own kernel) on the same book,
into a fresh output folder, alternating which tree goes first in each round, so that a change in the
machine's load falls on both. Wall time is the whole command; memory is the peak of the summed
resident memory of the run's process tree (runner and every kernel, sampled every 0.2 s) and the
largest single process (``wait4``'s maximum resident set).

    git worktree add /tmp/wt_before bdd9c11 && (cd /tmp/wt_before && python3 tasks.py setup)
    /tmp/wt_before/.venv/bin/analysis sample --out /tmp/bench_book5k           # the default book
    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_pipeline.py --data /tmp/bench_book5k

Writes ``docs/benchmarks/pipeline.json`` under ``--label`` (default: the number of accounts).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "benchmarks" / "pipeline.json"


def _tree_memory(pid: int) -> tuple[int, int]:
    """(sum of RSS, sum of PSS) over the process tree. Kernels forked from the preloading process
    share its pages copy-on-write: RSS counts a shared page in every kernel, PSS divides it among
    them, so the PSS sum is the memory the run really holds and the RSS sum an upper bound."""
    try:
        parent = psutil.Process(pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    rss = pss = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return rss, pss


def run_once(tree: Path, data: Path, extra: list[str]) -> dict:
    """One ``analysis run`` of ``tree`` on ``data`` into a fresh folder: wall, memory, per-notebook seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as out:
        cmd = [str(tree / ".venv" / "bin" / "analysis"), "run", "--data", str(data), "--out", out, *extra]
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["PATH"] = f"{tree / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        peak = [0, 0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                rss, pss = _tree_memory(proc.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        manifests = sorted(Path(out).rglob("manifest.json"), key=lambda p: p.stat().st_mtime)
        notebooks = {}
        if manifests:
            manifest = json.loads(manifests[-1].read_text())
            notebooks = {n["name"]: n.get("seconds") for n in manifest.get("notebooks", [])}
    if proc.returncode != 0:
        sys.stdout.write(output[-3000:])
    return {
        "exit": proc.returncode,
        "wall_s": round(wall, 1),
        "peak_rss_mb_run": round(peak[0] / 2**20),
        "peak_pss_mb_run": round(peak[1] / 2**20),
        "peak_rss_mb_largest_process": round(usage.ru_maxrss / 1024),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "per_notebook_s": notebooks,
    }


def count_accounts(data: Path) -> int | None:
    if (data / "accounts.parquet").exists():
        import pyarrow.parquet as pq

        return pq.ParquetFile(data / "accounts.parquet").metadata.num_rows
    if (data / "accounts.csv").exists():
        with open(data / "accounts.csv", encoding="utf-8") as f:
            return sum(1 for _ in f) - 1
    return None


def git_head(tree: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the book both trees run on")
    parser.add_argument("--before", type=Path, default=Path("/tmp/wt_before"), help="worktree of the earlier commit")
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--as-of", default=None)
    parser.add_argument("--label", default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", choices=["before", "after"], default=None, help="run one tree only (no ratio)")
    args = parser.parse_args()
    extra = ["--as-of", args.as_of] if args.as_of else []
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict]] = {"before": [], "after": []} if args.only is None else {args.only: []}
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    for i in range(args.rounds):
        order = ["before", "after"] if i % 2 == 0 else ["after", "before"]
        for which in (w for w in order if w in runs):
            figures = run_once(trees[which], args.data.resolve(), extra)
            print(f"round {i + 1} {which}: {figures['wall_s']} s, exit {figures['exit']}", flush=True)
            runs[which].append(figures)
    summary = {
        which: {
            "commit": git_head(trees[which]),
            "wall_s_median": statistics.median(r["wall_s"] for r in rs),
            "wall_s": [r["wall_s"] for r in rs],
            "peak_rss_mb_run": max(r["peak_rss_mb_run"] for r in rs),
            "peak_pss_mb_run": max(r["peak_pss_mb_run"] for r in rs),
            "peak_rss_mb_largest_process": max(r["peak_rss_mb_largest_process"] for r in rs),
            "all_ok": all(r["exit"] == 0 for r in rs),
            "runs": rs,
        }
        for which, rs in runs.items()
    }
    accounts = count_accounts(args.data)
    result = {
        "data": str(args.data),
        "accounts": accounts,
        "ratio_after_over_before": (
            round(summary["after"]["wall_s_median"] / summary["before"]["wall_s_median"], 2)
            if len(summary) == 2
            else None
        ),
        **summary,
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_avg_at_start": load_at_start,
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": " ".join(sys.argv),
    }
    label = args.label or (f"{accounts // 1000}k" if accounts else "run")
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    existing[label] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(existing, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k not in ("before", "after")}, indent=2))
    for which, s in summary.items():
        print(
            f"{which} ({s['commit']}): median {s['wall_s_median']} s, runs {s['wall_s']}, peak PSS "
            f"{s['peak_pss_mb_run']} MB, RSS {s['peak_rss_mb_run']} MB "
            f"(largest process {s['peak_rss_mb_largest_process']} MB)"
        )


if __name__ == "__main__":
    main()
