"""Lazy validation of a book against the data contract: every problem reported at once.

Two passes, each doing what it does best:

* **Structure, in DuckDB SQL** over the whole table (scales to 100M rows): missing tables and
  columns, empty tables, values that do not parse as the contract type, missing required
  values, duplicate keys, child rows whose ``account_id`` is unknown.
* **Values, with pandera** on the typed rows, streamed in batches: allowed categories, ranges
  (negative amounts, NPS outside 0-10), dates after the extract date, end before start.

Each problem names its table, column, check, count and a few example rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from analysis.data.contract import DATE, TABLES, Table
from analysis.data.io import Book, quote
from analysis.errors import ValidationFailed

BATCH_ROWS = 2_000_000
REPORT_FILE = "validation.json"
MAX_EXAMPLES = 3


@dataclass
class Problem:
    table: str
    column: str | None
    check: str
    count: int
    message: str
    examples: list[dict] = field(default_factory=list)


@dataclass
class ValidationReport:
    source: str
    extract_date: str
    problems: list[Problem]
    row_counts: dict[str, int]
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_frame(self) -> pd.DataFrame:
        columns = ["table", "column", "check", "count", "message", "examples"]
        return pd.DataFrame(
            [[p.table, p.column, p.check, p.count, p.message, p.examples] for p in self.problems], columns=columns
        )

    def to_text(self) -> str:
        head = f"Validation of {self.source} (extract date {self.extract_date}): "
        if self.ok:
            lines = [head + "OK, " + ", ".join(f"{t} {n:,} rows" for t, n in self.row_counts.items())]
        else:
            lines = [head + f"{len(self.problems)} problem(s); nothing was written."]
            for p in self.problems:
                where = f"{p.table}.{p.column}" if p.column else p.table
                lines.append(f"- {where} [{p.check}] {p.count:,} row(s): {p.message}")
                lines += [f"    e.g. {example}" for example in p.examples]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)

    def save(self, run_dir) -> Path:
        path = Path(run_dir) / REPORT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, default=str), encoding="utf-8")
        return path

    @classmethod
    def load(cls, run_dir) -> ValidationReport | None:
        path = Path(run_dir) / REPORT_FILE if run_dir else None
        if path is None or not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        data["problems"] = [Problem(**p) for p in data["problems"]]
        return cls(**data)

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise ValidationFailed(self)


def _examples(book: Book, table: str, where: str, columns: list[str]) -> list[dict]:
    cols = ", ".join(quote(c) for c in dict.fromkeys(columns))
    rows = book.sql(f"SELECT {cols} FROM {quote('raw_' + table)} WHERE {where} LIMIT {MAX_EXAMPLES}")
    return [{k: (None if pd.isna(v) else str(v)) for k, v in row.items()} for row in rows.to_dict("records")]


def _structure_problems(book: Book, spec: Table) -> list[Problem]:
    """Structural checks of one table, counted in a single scan of the raw rows."""
    table, present = spec.name, book.tables[spec.name]
    raw = quote("raw_" + table)
    key_cols = [c for c in spec.key if c in present]
    problems = []
    candidates = []  # (column, check, message, SQL condition on a raw row)
    for col in spec.columns:
        if col.name not in present:
            if col.required:
                problems.append(
                    Problem(
                        table,
                        col.name,
                        "missing column",
                        0,
                        f"required column '{col.name}' is absent; columns found: {', '.join(present)}",
                    )
                )
            continue
        name = quote(col.name)
        if col.kind != "string":
            candidates.append(
                (
                    col.name,
                    "wrong type",
                    f"values that are not a valid {col.kind}",
                    f"{name} IS NOT NULL AND CAST({name} AS VARCHAR) <> '' "
                    f"AND ({_typed_expr(table, col.name)}) IS NULL",
                )
            )
        if not col.nullable:
            candidates.append(
                (
                    col.name,
                    "missing value",
                    "required values are empty",
                    f"{name} IS NULL OR CAST({name} AS VARCHAR) = ''",
                )
            )
        if col.references and table != "accounts" and book.has("accounts"):
            candidates.append(
                (
                    col.name,
                    "unknown account",
                    "rows whose account_id is not in accounts",
                    f"{name} NOT IN (SELECT account_id FROM raw_accounts WHERE account_id IS NOT NULL)",
                )
            )
    if spec.key and len(key_cols) == len(spec.key):
        keys = ", ".join(quote(c) for c in key_cols)
        candidates.append(
            (
                ", ".join(key_cols),
                "duplicate key",
                f"rows share a key ({', '.join(key_cols)}) that must be unique",
                f"({keys}) IN (SELECT ({keys}) FROM {raw} GROUP BY {keys} HAVING count(*) > 1)",
            )
        )
    counts = ", ".join(["count(*)"] + [f"count(*) FILTER (WHERE {cond})" for *_, cond in candidates])
    n_rows, *bad_counts = book.con.execute(f"SELECT {counts} FROM {raw}").fetchall()[0]
    if n_rows == 0 and spec.required:
        problems.append(Problem(table, None, "empty table", 0, f"required table '{table}' has no rows"))
    for (column, check, message, cond), bad in zip(candidates, bad_counts):
        if bad:
            shown = key_cols + [c for c in column.split(", ") if c not in key_cols]
            problems.append(Problem(table, column, check, int(bad), message, _examples(book, table, cond, shown)))
    return problems


def _typed_expr(table: str, column: str) -> str:
    """The typed view's expression for one column, reused to spot unparsable raw values."""
    from analysis.data.io import _cast  # one definition of how raw values are cast

    return _cast(TABLES[table].column(column), quote(column))


def table_schema(spec: Table, extract_date) -> pa.DataFrameSchema:
    """pandera schema for the value rules of one contract table (structure is checked in SQL)."""
    extract = pd.Timestamp(extract_date)
    columns = {}
    for col in spec.columns:
        checks = []
        if col.allowed:
            checks.append(pa.Check.isin(list(col.allowed), error="allowed values"))
        if col.min_value is not None:
            checks.append(pa.Check.ge(col.min_value, error=f">= {col.min_value:g}"))
        if col.max_value is not None:
            checks.append(pa.Check.le(col.max_value, error=f"<= {col.max_value:g}"))
        if col.kind == DATE and col.name in spec.event_dates:
            checks.append(pa.Check.le(extract, error="not after the extract date"))
        columns[col.name] = pa.Column(nullable=True, required=False, checks=checks)
    frame_checks = [
        pa.Check(lambda df, a=a, b=b: ~(df[b] < df[a]), name=f"{b} not before {a}", ignore_na=True)
        for a, b in spec.ordered_dates
    ]
    return pa.DataFrameSchema(columns, checks=frame_checks, coerce=False)


def _value_problems(book: Book, spec: Table) -> list[Problem]:
    schema = table_schema(spec, book.extract_date)
    present = [c for c in spec.column_names if c in book.tables[spec.name]]
    key_cols = [c for c in spec.key if c in present]
    counts: dict[tuple[str, str], int] = {}
    examples: dict[tuple[str, str], list[dict]] = {}
    relation = book.con.sql(f"SELECT {', '.join(quote(c) for c in present)} FROM {quote(spec.name)}")
    for batch in relation.to_arrow_reader(BATCH_ROWS):
        frame = batch.to_pandas()
        for col in frame.columns:
            if TABLES[spec.name].column(col).kind == DATE:
                frame[col] = pd.to_datetime(frame[col])
        try:
            schema.validate(frame, lazy=True)
        except SchemaErrors as err:
            cases = err.failure_cases
            # A frame-wide check (end before start) is reported once per row, not per column.
            cases["column"] = cases["column"].where(cases["schema_context"] == "Column", None)
            for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
                column = column if isinstance(column, str) else None
                key = (column or spec.name, str(check))
                rows = group["index"].dropna().astype(int).unique()
                counts[key] = counts.get(key, 0) + (len(rows) if len(rows) else len(group))
                if len(examples.get(key, [])) < MAX_EXAMPLES:
                    show = key_cols + ([column] if column else [])
                    sample = frame.loc[rows[:MAX_EXAMPLES], list(dict.fromkeys(show or list(frame.columns)))]
                    examples.setdefault(key, []).extend(
                        {k: (None if pd.isna(v) else str(v)) for k, v in r.items()} for r in sample.to_dict("records")
                    )
    return [
        Problem(
            spec.name,
            None if column == spec.name else column,
            check,
            count,
            _value_message(check, book.extract_date),
            examples[(column, check)][:MAX_EXAMPLES],
        )
        for (column, check), count in counts.items()
    ]


def _value_message(check: str, extract_date) -> str:
    if check.startswith(">="):
        return f"values below the allowed minimum ({check}); negative amounts are not allowed"
    if check == "not after the extract date":
        return f"dates after the extract date {extract_date}"
    if "not before" in check:
        return f"rows where {check.replace('not before', 'is before')}"
    return f"values break the rule '{check}'"


def validate_book(book: Book) -> ValidationReport:
    """Check every contract rule and return all problems at once (never raises on bad data)."""
    problems: list[Problem] = []
    notes: list[str] = []
    for name, spec in TABLES.items():
        if not book.has(name):
            if spec.required:
                problems.append(
                    Problem(
                        name,
                        None,
                        "missing table",
                        0,
                        f"required table '{name}' not found: add {name}.csv or {name}.parquet",
                    )
                )
            else:
                notes.append(f"optional table '{name}' is absent: the analyses that need it are skipped")
            continue
        structure = _structure_problems(book, spec)
        problems += structure
        if not any(p.check in ("missing column", "wrong type") for p in structure):
            problems += _value_problems(book, spec)
    counts = {name: book.count(name) for name in book.tables}
    return ValidationReport(str(book.source), book.extract_date.isoformat(), problems, counts, notes)


def report_for_run(book: Book, run_dir) -> ValidationReport:
    """The report the pipeline saved for this run, or a fresh validation when run interactively."""
    return ValidationReport.load(run_dir) or validate_book(book)
