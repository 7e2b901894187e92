"""The registry of bad inputs: every case the command line must refuse (or accept) clearly.

One ``Case`` per input: how its tiny book or command is made, the exit code, and a fragment the
printed message must contain. ``tests/test_bad_input.py`` runs every case through the command line
and checks the exit code, the message, that no traceback is printed and that nothing was written;
``docs/bad_input.md`` is generated from this registry (``python tests/bad_inputs.py``), and a test
fails when the document is stale.

Add a case: write a builder ``build(folder)`` that makes the book in ``folder`` (tiny: tests/worlds.py
at 30 accounts, or a hand-made table), then append ``Case(...)`` to ``CASES``. ``argv`` may use the
placeholders ``{book}`` (the folder the builder filled) and ``{out}`` (a reports folder that must stay
absent). A case that needs a real process (signals, locks) sets ``subprocess=True``.
"""

from __future__ import annotations

import functools
import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
import worlds

from analysis.run.pipeline import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_LOCKED,
    EXIT_NOTEBOOK_FAILED,
    EXIT_WRITE_FAILED,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_input.md"
TINY_ACCOUNTS = 30


@dataclass(frozen=True)
class Case:
    name: str
    group: str  # heading in docs/bad_input.md
    what: str  # the input, in words
    argv: tuple[str, ...]  # after `analysis`; placeholders {book} and {out}
    exit_code: int
    message: str  # the printed output contains this
    build: Callable[[Path], None] | None = None
    absent: tuple[str, ...] = ()  # ... and does not contain these (e.g. blaming the wrong table)
    subprocess: bool = False
    owner: str = "data"
    extra: Callable[[Path, str], None] | None = field(default=None, compare=False)  # more checks (folder, output)
    how: str = ""  # for input accepted without a word: what is done with it (``extra`` checks it)
    known_bug: str = ""  # the case fails today for this reason (the test is a strict xfail until fixed)


# --- tiny books ----------------------------------------------------------------------------------


@functools.cache
def _world() -> worlds.World:
    return worlds.calendar_terms(n_accounts=TINY_ACCOUNTS, seed=11)


def world() -> worlds.World:
    """A fresh copy of the tiny contract-valid book (30 accounts, calendar-year terms)."""
    return _world().copy()


def write(folder: Path, book: worlds.World | None = None, fmt: str = "parquet") -> Path:
    return (book or world()).write(folder, fmt=fmt)


def edit_csv(folder: Path, table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = folder / f"{table}.csv"
    change(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)


def _csv_book(change_table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        write(folder, fmt="csv")
        edit_csv(folder, change_table, change)

    return build


def _first_row(column: str, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame.index[0], column] = value
        return frame

    return change


def _latin1(folder: Path) -> None:
    write(folder, fmt="csv")
    path = folder / "accounts.csv"
    text = path.read_text(encoding="utf-8").replace("Company A00003", "Société Générale Müller")
    path.write_bytes(text.encode("latin-1"))


def _latin1_declared(folder: Path) -> None:
    _latin1(folder)
    (folder / "extract.json").write_text(
        json.dumps({"extract_date": "2025-12-31", "encoding": {"accounts": "latin-1"}}), encoding="utf-8"
    )


def _encoding_unsupported(folder: Path) -> None:
    write(folder, fmt="csv")
    (folder / "extract.json").write_text(json.dumps({"extract_date": "2025-12-31", "encoding": "gbk"}))


def _truncated_parquet(folder: Path) -> None:
    write(folder)
    path = folder / "contracts.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _truncated_part(folder: Path) -> None:
    write(folder)
    usage = pd.read_parquet(folder / "usage.parquet")
    (folder / "usage.parquet").unlink()
    (folder / "usage").mkdir()
    for i, part in enumerate((usage.iloc[: len(usage) // 2], usage.iloc[len(usage) // 2 :])):
        part.to_parquet(folder / "usage" / f"part-{i}.parquet", index=False)
    broken = folder / "usage" / "part-1.parquet"
    broken.write_bytes(broken.read_bytes()[:-100])


def _corrupt_duckdb(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "book.duckdb").write_bytes(b"DUCK" + bytes(range(256)) * 64)


def _extract_json(text: str) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        write(folder)
        (folder / "extract.json").write_text(text, encoding="utf-8")

    return build


def _two_files(folder: Path) -> None:
    write(folder)
    pd.read_parquet(folder / "accounts.parquet").to_csv(folder / "accounts.csv", index=False)


def _parquet_table(folder: Path, table: str, change: Callable[[pa.Table], pa.Table]) -> None:
    path = folder / f"{table}.parquet"
    pq.write_table(change(pq.read_table(path)), path)


def _numeric(ids: pd.Series) -> pd.Series:
    return ids.str.lstrip("A").astype("int64")


def _integer_ids(zero_padded_children: bool) -> Callable[[Path], None]:
    """accounts.account_id stored as integers; the child tables as text (the same digits, or with
    leading zeros: 00007 against 7)."""

    def build(folder: Path) -> None:
        book = world()
        for frame in book.tables.values():
            digits = _numeric(frame["account_id"])
            frame["account_id"] = digits.map(lambda n: f"{n:05d}" if zero_padded_children else str(n))
        write(folder, book)
        accounts = book.tables["accounts"].assign(account_id=lambda f: f["account_id"].astype("int64"))
        accounts.to_parquet(folder / "accounts.parquet", index=False)  # an int64 column, not text

    return build


def _padded_accounts(folder: Path) -> None:
    write(folder, fmt="csv")
    edit_csv(folder, "accounts", lambda f: f.assign(account_id=" " + f["account_id"]))


def _money(table: str, column: str, value: float) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        write(folder)
        frame = pd.read_parquet(folder / f"{table}.parquet")
        frame.loc[frame.index[0], column] = value
        frame.to_parquet(folder / f"{table}.parquet", index=False)

    return build


def _money_scaled(folder: Path) -> None:
    write(folder, worlds.with_money_scale(world(), 1e9))


def _tz_aware(folder: Path) -> None:
    write(folder)

    def change(table: pa.Table) -> pa.Table:
        i = table.schema.get_field_index("date")
        local = pa.compute.cast(table["date"], pa.timestamp("s"))
        return table.set_column(i, "date", pa.compute.assume_timezone(local, "Asia/Shanghai"))

    _parquet_table(folder, "orders", change)


def _one_account(folder: Path) -> None:
    book = world()
    contracts = book.tables["contracts"]
    keep = contracts.loc[contracts["renewal_outcome"] == "open"].iloc[0]
    for name, frame in book.tables.items():
        book.tables[name] = frame[frame["account_id"] == keep["account_id"]].copy()
    lines = book.tables["contracts"]
    book.tables["contracts"] = lines[lines["product_line"] == keep["product_line"]].assign(annual_value=70_000.0)
    write(folder, book)


def _bom(folder: Path) -> None:
    write(folder, fmt="csv")
    path = folder / "accounts.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _semicolons(folder: Path) -> None:
    write(folder, fmt="csv")
    path = folder / "contracts.csv"
    pd.read_csv(path, dtype=str, keep_default_na=False).to_csv(path, index=False, sep=";")


def _day_first(frame: pd.DataFrame) -> pd.DataFrame:
    frame["start"] = pd.to_datetime(frame["start"]).dt.strftime("%d/%m/%Y")
    return frame


FORMULA_NAMES = ('=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1:A2)", "\tTab Co")
CARRIAGE_RETURN_NAMES = ("\rReturn Co",)


def _named(names: tuple[str, ...], fmt: str) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        book = world()
        accounts = book.tables["accounts"]
        accounts.loc[accounts.index[: len(names)], "name"] = list(names)
        write(folder, book, fmt=fmt)

    return build


def _neutralised(names: tuple[str, ...]) -> Callable[[Path, str], None]:
    def check(tmp: Path, printed: str) -> None:
        _check_neutralised(tmp, names)

    return check


def _check_neutralised(tmp: Path, names: tuple[str, ...]) -> None:
    """The names as the analysis reads them, through the CRM export writer: every cell a spreadsheet
    would run starts with a single quote in the CSV; the Parquet keeps the exact text."""
    from analysis.data.io import load_book
    from analysis.report.exports import write_export

    accounts = load_book(tmp / "book").df("accounts", ["account_id", "name"])
    assert set(names) <= set(accounts["name"]), "the names were changed on reading"
    write_export(accounts, tmp / "run", "scored_accounts")
    shown = pd.read_csv(tmp / "run/exports/scored_accounts.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    exact = pd.read_parquet(tmp / "run/exports/scored_accounts.parquet")
    assert len(shown) == len(exact), "a name split its CSV row"
    risky = exact["name"].isin(names).to_numpy()
    assert (shown["name"][risky] == "'" + exact["name"][risky]).all(), shown["name"][risky].tolist()
    assert not shown["name"][~risky].str.startswith("'").any()
    assert sorted(exact["name"][risky]) == sorted(names)


VALIDATE = ("validate", "{book}")
RUN = ("run", "--data", "{book}", "--out", "{out}")

CASES: list[Case] = [
    # --- files that cannot be read as they are -------------------------------------------------
    Case(
        "latin1_csv",
        "Files",
        "accounts.csv saved as Latin-1 (Société Générale Müller), not UTF-8",
        VALIDATE,
        2,
        "accounts.csv is not UTF-8 text: byte 0xe9 at byte offset",
        _latin1,
    ),
    Case(
        "latin1_csv_declared",
        "Files",
        'the same file with "encoding": {"accounts": "latin-1"} in extract.json',
        VALIDATE,
        0,
        "OK",
        _latin1_declared,
    ),
    Case(
        "encoding_unsupported",
        "Files",
        'extract.json declares "encoding": "gbk"',
        VALIDATE,
        2,
        "encoding 'gbk' for accounts cannot be read here",
        _encoding_unsupported,
    ),
    Case(
        "truncated_parquet",
        "Files",
        "contracts.parquet cut off halfway (an interrupted copy)",
        VALIDATE,
        2,
        "contracts.parquet is not a readable Parquet file",
        _truncated_parquet,
    ),
    Case(
        "truncated_parquet_part",
        "Files",
        "one part of a usage/ folder of Parquet parts cut off",
        VALIDATE,
        2,
        "part-1.parquet is not a readable Parquet file",
        _truncated_part,
    ),
    Case(
        "corrupt_duckdb",
        "Files",
        "a .duckdb file that is not a DuckDB database",
        ("validate", "{book}/book.duckdb"),
        2,
        "book.duckdb is not a readable DuckDB database",
        _corrupt_duckdb,
    ),
    Case(
        "extract_json_malformed",
        "Files",
        "extract.json that is not JSON",
        VALIDATE,
        2,
        "extract.json is not valid JSON",
        _extract_json('{"extract_date": "2025-12-31",'),
    ),
    Case(
        "extract_json_bad_date",
        "Files",
        "extract.json with extract_date 31.12.2025",
        VALIDATE,
        2,
        "extract_date '31.12.2025' is not a date; use YYYY-MM-DD",
        _extract_json('{"extract_date": "31.12.2025"}'),
    ),
    Case(
        "extract_date_argument",
        "Files",
        "--extract-date 2025-13-45",
        ("validate", "{book}", "--extract-date", "2025-13-45"),
        2,
        "The extract date '2025-13-45' is not a date; use YYYY-MM-DD",
        write,
    ),
    Case(
        "two_files_one_table",
        "Files",
        "both accounts.parquet and accounts.csv in the folder",
        VALIDATE,
        2,
        "Table 'accounts' is in 2 places",
        _two_files,
    ),
    Case(
        "missing_folder",
        "Files",
        "--data names a folder that does not exist",
        ("run", "--data", "{book}/nowhere", "--out", "{out}"),
        2,
        "does not exist",
        write,
    ),
    Case("bom_csv", "Files", "CSV files with a UTF-8 byte-order mark", VALIDATE, 0, "OK", _bom),
    Case("semicolon_csv", "Files", "contracts.csv separated by semicolons", VALIDATE, 0, "OK", _semicolons),
    # --- ids ---------------------------------------------------------------------------------
    Case(
        "integer_ids",
        "Ids",
        "accounts.account_id stored as integers (7), the child tables' ids as text ('7')",
        VALIDATE,
        0,
        "accounts.account_id is stored as numbers (BIGINT); it is read as text",
        _integer_ids(zero_padded_children=False),
    ),
    Case(
        "leading_zeros_lost",
        "Ids",
        "accounts.account_id stored as integers (7), the child tables' ids with leading zeros ('00007')",
        VALIDATE,
        2,
        "match an account once leading zeros are ignored (such as 00123 and 123): accounts stores account_id "
        "as numbers",
        _integer_ids(zero_padded_children=True),
    ),
    Case(
        "padded_account_ids",
        "Ids",
        "accounts.account_id with a leading space (' A00001'), the child tables without",
        VALIDATE,
        2,
        "accounts.account_id [padded id]",
        _padded_accounts,
        absent=("unknown account",),
    ),
    # --- values -----------------------------------------------------------------------------
    Case(
        "nan_money",
        "Values",
        "contracts.annual_value NaN",
        VALIDATE,
        2,
        "contracts.annual_value [not finite]",
        _csv_book("contracts", _first_row("annual_value", "NaN")),
    ),
    Case(
        "inf_money",
        "Values",
        "orders.amount infinite (Parquet)",
        VALIDATE,
        2,
        "orders.amount [not finite]",
        _money("orders", "amount", float("inf")),
    ),
    Case(
        "overflowing_money",
        "Values",
        "orders.cost written as 1e400 in CSV (overflows to infinity)",
        VALIDATE,
        2,
        "orders.cost [not finite]",
        _csv_book("orders", _first_row("cost", "1e400")),
    ),
    Case(
        "money_beyond_range",
        "Values",
        "a contract worth 2e15 (beyond the 1e15 the features sum exactly)",
        VALIDATE,
        2,
        "contracts.annual_value [above supported range]",
        _money("contracts", "annual_value", 2e15),
    ),
    Case(
        "money_in_dong",
        "Values",
        "every amount times 1e9 (a VND book: contracts worth up to about 1e14)",
        VALIDATE,
        0,
        "OK",
        _money_scaled,
    ),
    Case(
        "nps_below_zero",
        "Values",
        "surveys.nps -1",
        VALIDATE,
        2,
        "values below 0: nps must be between 0 and 10 (score 0-10)",
        _csv_book("surveys", _first_row("nps", "-1")),
        absent=("negative amounts",),
    ),
    Case(
        "category_outside_list",
        "Values",
        "accounts.size_band 'SMB'",
        VALIDATE,
        2,
        "size_band must be one of enterprise, mid-market, small",
        _csv_book("accounts", _first_row("size_band", "SMB")),
    ),
    Case(
        "day_first_dates",
        "Values",
        "contracts.start written DD/MM/YYYY",
        VALIDATE,
        2,
        "contracts.start [wrong type]",
        _csv_book("contracts", _day_first),
    ),
    Case(
        "time_zone_aware_dates",
        "Values",
        "orders.date as time-zone-aware timestamps (Asia/Shanghai): read as the calendar date there",
        VALIDATE,
        0,
        "OK",
        _tz_aware,
    ),
    # --- histories ----------------------------------------------------------------------------
    Case(
        "contradictory_history",
        "Histories",
        "a not_renewed contract followed by a later contract of the same account and product line",
        VALIDATE,
        0,
        "warning: contracts.renewal_outcome [contradictory history]",
        lambda folder: write(folder, worlds.with_contradictory_history(world(), n=2)),
    ),
    Case(
        "reexported_orders",
        "Histories",
        "a fifth of the orders exported twice under new ids",
        VALIDATE,
        0,
        "warning: orders [probable duplicates]",
        lambda folder: write(folder, worlds.with_reexported_orders(world(), share=0.2)),
    ),
    Case(
        "subscription_only",
        "Histories",
        "no orders table (a subscription-only company)",
        VALIDATE,
        0,
        "note: optional table 'orders' is absent",
        lambda folder: write(folder, worlds.without_tables(world(), "orders")),
    ),
    # --- size ---------------------------------------------------------------------------------
    Case(
        "one_account",
        "Size",
        "a book of one account (ARR 70,000), analysis run",
        RUN,
        2,
        "the book is too small for the models: 1 account(s)",
        _one_account,
    ),
    # --- the command line -----------------------------------------------------------------
    Case(
        "set_not_yaml",
        "Command line",
        "--set 'scoring=[1, 2' (an unclosed YAML list)",
        (*RUN, "--set", "scoring=[1, 2"),
        2,
        "--set scoring: the value '[1, 2' is not valid YAML",
        write,
    ),
    Case(
        "as_of_in_the_future",
        "Command line",
        "--as-of 2030-01-01, after the book's extract date 2025-12-31",
        (*RUN, "--as-of", "2030-01-01"),
        2,
        "As-of date 2030-01-01 is after the data's extract date 2025-12-31",
        write,
    ),
    Case(
        "out_is_a_file",
        "Command line",
        "--out names an existing file",
        ("run", "--data", "{book}", "--out", "{book}/accounts.parquet"),
        2,
        "accounts.parquet is a file; pass --out with a folder",
        write,
    ),
    Case(
        "out_below_a_file",
        "Command line",
        "--out names a folder below a file (it cannot be created)",
        ("run", "--data", "{book}", "--out", "{book}/accounts.parquet/reports"),
        2,
        "reports cannot be created:",
        write,
    ),
    # --- handled without a word ----------------------------------------------------------------
    Case(
        "formula_names",
        "Accepted as they are",
        "account names beginning with =, +, -, @ or a tab (spreadsheet formulas) in accounts.csv",
        VALIDATE,
        0,
        "OK",
        _named(FORMULA_NAMES, "csv"),
        extra=_neutralised(FORMULA_NAMES),
        how="read exactly; in the CSV exports each such cell starts with a single quote (OWASP), so a "
        "spreadsheet shows it as text; the Parquet exports keep the exact text",
    ),
    Case(
        "formula_name_carriage_return",
        "Accepted as they are",
        "an account name beginning with a carriage return (Parquet book)",
        VALIDATE,
        0,
        "OK",
        _named(CARRIAGE_RETURN_NAMES, "parquet"),
        extra=_neutralised(CARRIAGE_RETURN_NAMES),
        how="the CSV export ends lines with CRLF, so a field holding a carriage return is quoted and its "
        "row stays whole; the cell starts with a single quote; Parquet keeps the exact text",
    ),
]


# --- runner faults: shown by their own tests, listed here ----------------------------------------


@dataclass(frozen=True)
class Fault:
    """A fault of the run itself that needs a real process, a signal or a monkeypatched file system,
    so it cannot run as a registry case. ``test`` (``tests/<file>.py::<name>``) shows it;
    tests/test_bad_input.py checks that the test exists and that ``message`` is the text the runner
    prints (it is in src/analysis) or the text that test asserts."""

    name: str
    what: str
    exit_code: int
    message: str
    test: str


FAULTS: list[Fault] = [
    Fault(
        "lock_first",
        "a second run on the same --out while another holds the lock (the lock is taken before the book is read)",
        EXIT_LOCKED,
        "is locked by",
        "tests/test_runner_faults.py::test_the_lock_is_taken_before_the_book_is_read",
    ),
    Fault(
        "concurrent_run",
        "two runs started together on the same --out: the second is refused and writes nothing",
        EXIT_LOCKED,
        "Wait for it to finish, or pass another --out folder",
        "tests/test_pipeline.py::test_second_concurrent_run_is_refused_by_the_lock",
    ),
    Fault(
        "out_not_writable",
        "--out a folder this user cannot write; the folders made for it are removed again",
        EXIT_BAD_INPUT,
        "cannot be written",
        "tests/test_runner_faults.py::test_an_out_folder_this_user_cannot_write_is_refused_and_left_as_it_was",
    ),
    Fault(
        "out_read_only_file_system",
        "--out on a read-only file system",
        EXIT_BAD_INPUT,
        "Read-only file system",
        "tests/test_runner_faults.py::test_an_out_folder_that_cannot_be_created_is_refused",
    ),
    Fault(
        "out_read_only_folder",
        "--out a folder with mode 0555 (skipped as root, who may write it)",
        EXIT_BAD_INPUT,
        "cannot be written",
        "tests/test_runner_faults.py::test_a_read_only_folder_is_refused",
    ),
    Fault(
        "disk_full_manifest",
        "the disk fills while the manifest is written: no .tmp- folder stays, the earlier report is intact",
        EXIT_WRITE_FAILED,
        "No space left on device",
        "tests/test_runner_faults.py::test_a_full_disk_while_writing_the_manifest_ends_clearly_and_keeps_the_earlier_report",
    ),
    Fault(
        "sigterm",
        "SIGTERM during a notebook (systemd stopping the job): one message, no traceback, run under _failed/",
        EXIT_INTERRUPTED,
        "interrupted",
        "tests/test_runner_faults.py::test_sigterm_prints_one_clean_message_exits_130_and_files_the_partial_run",
    ),
    Fault(
        "kill_9",
        "kill -9 mid-run: the next run moves it to _failed/, finished notebooks stay ok (the killed process has "
        "no exit code of its own)",
        EXIT_INTERRUPTED,
        "The run was killed before it finished (kill -9, power cut, out of memory).",
        "tests/test_runner_faults.py::test_after_kill_9_the_recovered_manifest_keeps_the_finished_notebooks",
    ),
    Fault(
        "kernel_killed",
        "the notebook's kernel is killed (what the out-of-memory killer does): the run is filed under _failed/",
        EXIT_NOTEBOOK_FAILED,
        "the kernel died (out of memory?)",
        "tests/test_bad_input.py::test_a_killed_kernel_fails_the_run_with_exit_3_and_keeps_the_earlier_report",
    ),
]


# --- the document --------------------------------------------------------------------------------


def command(case: Case) -> str:
    argv = [a.replace("{book}", "BOOK").replace("{out}", "OUT") for a in case.argv]
    return "analysis " + shlex.join(argv)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def document(cases: list[Case] = CASES, faults: list[Fault] = FAULTS) -> str:
    lines = [
        "# Bad input: what each case gives",
        "",
        "Generated from the registry `tests/bad_inputs.py` by `python tests/bad_inputs.py`; do not edit.",
        "`tests/test_bad_input.py` runs every case through the command line on a tiny book made in the",
        "test and checks the exit code, that the output contains the message shown, that no traceback",
        "is printed, and that nothing was written (no report folder, the book untouched). Exit codes:",
        "[docs/running.md](running.md#exit-codes). `BOOK` is the book's folder, `OUT` the reports folder.",
        "",
    ]
    for group in dict.fromkeys(c.group for c in cases):
        rows = [c for c in cases if c.group == group]
        how = any(c.how for c in rows)
        head = "| case | input | command | exit | the output says |" + (" what is done with it |" if how else "")
        lines += [f"## {group}", "", head, "|---|---|---|---|---|" + ("---|" if how else "")]
        for c in rows:
            row = f"| `{c.name}` | {_cell(c.what)} | `{command(c)}` | {c.exit_code} | {_cell(c.message)} |"
            lines.append(row + (f" {_cell(c.how)} |" if how else ""))
        lines.append("")
    lines += [
        "## Faults of the run itself",
        "",
        "These need a real process, a signal or a file system made to fail, so each is shown by its own",
        "test (named in the last column); `tests/test_bad_input.py` checks that every named test exists and",
        "that the message is the runner's own text or the text that test asserts.",
        "",
        "| case | fault | exit | the output says | shown by |",
        "|---|---|---|---|---|",
    ]
    for f in faults:
        lines.append(f"| `{f.name}` | {_cell(f.what)} | {f.exit_code} | {_cell(f.message)} | `{f.test}` |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    DOC.write_text(document(), encoding="utf-8")
    print(f"Wrote {DOC} ({len(CASES)} cases, {len(FAULTS)} faults)")
