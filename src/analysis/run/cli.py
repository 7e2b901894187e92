"""Command line: ``analysis sample | validate | run | report | bench | kernel``.

Exit codes (``analysis.run.pipeline.EXIT_CODES``, docs/running.md): 0 success, 1 unexpected error,
2 bad input (validation failed, bad parameters, an unwritable --out), 3 a notebook failed, 4 another
run holds the lock, 5 a cell timed out, 6 the run could not be written (disk full), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis import paths
from analysis.errors import AnalysisError

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def cmd_sample(args) -> int:
    from analysis.data.synth import generate_book

    truth = generate_book(args.out, n_accounts=args.accounts, seed=args.seed, fmt=args.format)
    print(f"Wrote a synthetic book of {args.accounts:,} accounts (seed {args.seed}) to {Path(args.out).resolve()}")
    print(
        f"Top 20% of accounts hold {truth['revenue_share_top20']:.0%} of revenue; "
        f"renewal rate {truth['renewal']['renewal_rate']:.0%}. Planted truths: ground_truth.json"
    )
    return EXIT_OK


def cmd_validate(args) -> int:
    from analysis.data.asof import parse_optional_date
    from analysis.data.io import load_book
    from analysis.data.validate import validate_book
    from analysis.params import load_params

    extract_date = parse_optional_date(args.extract_date, "extract date")  # refused (exit 2) before any reading
    params = load_params(args.config, _overrides(args))  # raises ConfigError (exit 2) naming the key
    if args.config or args.set:
        print(
            f"Parameters valid: {args.config or 'config/params.yaml'}"
            + (f" with {len(args.set)} --set" if args.set else "")
        )
    book = load_book(args.data, extract_date=extract_date, engine=params.engine)
    try:
        report = validate_book(book, params.validation)
    finally:
        book.close()
    print(report.to_text())
    return EXIT_OK if report.ok else EXIT_BAD_INPUT


def _overrides(args) -> dict:
    """``--set`` pairs, and ``--engine`` as the override ``engine.backend`` it stands for."""
    from analysis.params import deep_merge, parse_overrides

    overrides = parse_overrides(args.set)
    return deep_merge(overrides, {"engine": {"backend": args.engine}}) if args.engine else overrides


def cmd_run(args) -> int:
    from analysis.run.pipeline import run_pipeline

    result = run_pipeline(
        args.data,
        as_of=args.as_of,
        config_path=args.config,
        overrides=_overrides(args),
        out_dir=args.out,
        timeout=args.timeout,
        progress_bar=sys.stderr.isatty(),
    )
    if result.ok:
        print(f"Report: {result.report}")
        print(f"All runs: {Path(args.out).resolve() / 'index.html'}")
    else:
        where = f" in {result.failed_notebook}" if result.failed_notebook else ""
        print(f"error: run {result.run_id} {result.outcome}{where}: {result.error}", file=sys.stderr)
        kept = f"is kept in {result.path}" if result.path else "could not be kept (see above)"
        print(f"The failed run {kept}; earlier reports are untouched.", file=sys.stderr)
    return result.exit_code


def cmd_report(args) -> int:
    from analysis.run.report_cli import report_command

    return report_command(args)


def cmd_bench(args) -> int:
    from analysis.run.bench import run_benchmarks

    run_benchmarks(args.sizes, out=args.out, seed=args.seed)
    return EXIT_OK


def cmd_kernel(args) -> int:
    from analysis.run.pipeline import register_kernel

    print(f"Registered Jupyter kernel '{register_kernel()}' for {sys.executable}")
    return EXIT_OK


def _add_engine_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default=None,
        help="where the aggregations over the book run (default engine.backend of the config; docs/scaling.md)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="analysis", description="B2B customer tiering toolkit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample", help="write the seeded synthetic customer book")
    p.add_argument("--accounts", type=int, default=paths.DEFAULT_SAMPLE_ACCOUNTS)
    p.add_argument("--seed", type=int, default=paths.DEFAULT_SEED)
    p.add_argument("--out", default=str(paths.SAMPLE_DIR))
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("validate", help="check a book against the data contract; exit 2 on problems")
    p.add_argument("data", help="folder of CSV/Parquet/Excel files, or a .duckdb file")
    p.add_argument("--extract-date", default=None, help="YYYY-MM-DD; default extract.json in the folder, else today")
    p.add_argument("--config", default=None, help="also check this parameters file (merged over config/params.yaml)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="also check one parameter override")
    _add_engine_argument(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="validate, then execute every notebook into reports/<run-id>/")
    p.add_argument("--data", default=str(paths.SAMPLE_DIR))
    p.add_argument("--as-of", default=None, help="YYYY-MM-DD; default the day after the latest date in the data")
    p.add_argument("--config", default=None, help="YAML merged over config/params.yaml")
    p.add_argument("--out", default=str(paths.REPORTS_DIR))
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override one parameter")
    _add_engine_argument(p)
    p.add_argument(
        "--timeout",
        type=int,
        default=None,
        help="most seconds one cell may run (default pipeline.execution_timeout in the config)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="the manager report of a finished run: another language, a PDF, screenshots")
    p.add_argument("run", nargs="?", default=None, help="run folder (default: the latest successful run in --out)")
    p.add_argument("--out", default=str(paths.REPORTS_DIR), help="output folder holding the runs")
    p.add_argument("--language", choices=["en", "zh"], default=None, help="render the page in this language")
    p.add_argument("--pdf", nargs="?", const="", default=None, metavar="FILE", help="print the page to a PDF")
    p.add_argument("--screenshots", default=None, metavar="FOLDER", help="small PNGs of every section, both languages")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("bench", help="time and measure memory of sample generation and feature build")
    p.add_argument("--sizes", type=int, nargs="+", default=[5000, 100000])
    p.add_argument("--seed", type=int, default=paths.DEFAULT_SEED)
    p.add_argument("--out", default=str(paths.PROJECT_ROOT / "docs" / "benchmarks" / "foundation.json"))
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("kernel", help=f"register the '{paths.KERNEL_NAME}' Jupyter kernel for this environment")
    p.set_defaults(func=cmd_kernel)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AnalysisError as exc:
        from analysis.run.pipeline import exit_code_for

        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: no traceback; a filed run printed its own lines
        from analysis.run.pipeline import EXIT_INTERRUPTED

        if getattr(exc, "result", None) is None:
            print(f"error: {exc or 'interrupted (Ctrl-C)'}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
