"""Benchmark: the pandera check of every ruled run table (``analysis.table_schemas.check_values``,
what ``RunTables.write`` adds before writing) on frames of N rows that hold every rule.

    .venv/bin/python benchmarks/bench_run_table_schemas.py [--rows 100000] [--rounds 3]

Writes docs/benchmarks/run_tables.json: per table the best of ``--rounds`` seconds, and the import
of ``pandera.pandas`` (paid once per notebook kernel, on its first write).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np
import pandas as pd

from analysis import catalog
from analysis.params import defaults
from analysis.paths import PROJECT_ROOT
from analysis.table_schemas import VOCABULARIES, check_values

OUT = PROJECT_ROOT / "docs" / "benchmarks" / "run_tables.json"


def frame_for(spec: catalog.TableSpec, rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """``rows`` rows with the spec's promised columns, every rule holding (the first key column
    unique, the others constant). A table keyed by its codes (tier_sizes) has one row per code."""
    params = defaults()
    codes = {column: VOCABULARIES[vocabulary](params) for column, vocabulary in spec.levels}
    key = spec.keys[0] if spec.keys else None
    rows = len(codes[key]) if key in codes else rows
    frame = pd.DataFrame(dict.fromkeys(spec.columns, "x"), index=range(rows))
    for column in spec.probabilities:
        frame[column] = rng.uniform(0, 1, rows)
    for column in spec.finite:
        frame[column] = rng.lognormal(8, 2, rows)
    for column, allowed in codes.items():
        frame[column] = allowed if column == key else rng.choice(allowed, rows)
    if key is not None and key not in codes:
        frame[key] = [f"K{i}" for i in range(rows)]
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    script = "import time; t = time.perf_counter(); import pandera.pandas; print(time.perf_counter() - t)"
    imports = [float(subprocess.check_output([sys.executable, "-c", script])) for _ in range(args.rounds)]
    rng = np.random.default_rng(0)
    seconds = {}
    for spec in catalog.TABLES.values():
        if not spec.ruled_columns():
            continue
        frame = frame_for(spec, args.rows, rng)
        times = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            check_values(frame, spec)
            times.append(time.perf_counter() - start)
        seconds[spec.name] = round(min(times), 4)
    result = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.machine(),
        },
        "rows": args.rows,
        "import_pandera_seconds": round(min(imports), 3),
        "check_seconds": seconds,
        "check_seconds_all_tables": round(sum(seconds.values()), 3),
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "check_seconds"}, indent=2))
    print("slowest:", sorted(seconds.items(), key=lambda kv: -kv[1])[:3])


if __name__ == "__main__":
    main()
