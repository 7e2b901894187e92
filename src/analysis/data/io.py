"""All reading and writing of data: the customer book and the tables a run writes.

A *book* is the set of contract tables (see ``analysis.contract``) from one extract. It is
held as DuckDB views over the files, so that heavy aggregation runs as SQL over Parquet
without loading 100 million usage rows into pandas. Each table has two views:
``raw_<table>`` (as stored) and ``<table>`` (contract columns cast to contract types with
``TRY_CAST``, absent optional columns added as NULL). Validation compares the two.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from analysis.data.contract import DUCKDB_TYPES, TABLES, Column
from analysis.errors import DataContractError, MissingTableError

EXTRACT_FILE = "extract.json"
FILE_SUFFIXES = (".parquet", ".csv", ".xlsx")
# DuckDB spills to disk beyond this, which keeps the feature build of a 100k-account book
# under the 2 GB budget of the benchmark; override with B2B_DUCKDB_MEMORY.
DEFAULT_MEMORY_LIMIT = "1500MB"


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    with contextlib.suppress(duckdb.Error):  # no progress bar in logs; Jupyter refuses the setting (draws none)
        con.execute("SET enable_progress_bar = false")
    con.execute(f"SET memory_limit = {sql_literal(os.environ.get('B2B_DUCKDB_MEMORY', DEFAULT_MEMORY_LIMIT))}")
    con.execute("SET preserve_insertion_order = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


@dataclass
class Book:
    """A loaded customer book: DuckDB views named after the contract tables."""

    source: Path
    con: duckdb.DuckDBPyConnection
    tables: dict[str, list[str]]  # table -> columns present in the source
    extract_date: dt.date
    files: dict[str, list[Path]] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        return table in self.tables

    def require(self, table: str) -> None:
        if not self.has(table):
            raise MissingTableError(
                f"Table '{table}' is not in {self.source}; add {table}.parquet or {table}.csv "
                f"(see docs/data_contract.md) to run the analyses that need it."
            )

    def df(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The typed table as a pandas DataFrame (dates as datetime64)."""
        self.require(table)
        cols = ", ".join(quote(c) for c in columns) if columns else "*"
        return self.con.sql(f"SELECT {cols} FROM {quote(table)}").df()

    def sql(self, query: str) -> pd.DataFrame:
        return self.con.sql(query).df()

    def count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {quote(table)}").fetchall()[0][0] if self.has(table) else 0


def _table_files(folder: Path, table: str) -> list[Path]:
    partitioned = folder / table
    if partitioned.is_dir():
        parts = sorted(partitioned.glob("*.parquet"))
        if parts:
            return parts
    for suffix in FILE_SUFFIXES:
        path = folder / f"{table}{suffix}"
        if path.exists():
            return [path]
    return []


def _raw_relation_sql(con: duckdb.DuckDBPyConnection, table: str, files: list[Path]) -> str:
    suffix = files[0].suffix
    if suffix == ".parquet":
        listing = ", ".join(sql_literal(str(p)) for p in files)
        return f"SELECT * FROM read_parquet([{listing}])"
    if suffix == ".csv":
        # Contract columns are read as text and cast by the typed view (so validation can count
        # what does not parse, and a key like "00123" stays a string); extra columns keep
        # DuckDB's type detection.
        path = sql_literal(str(files[0]))
        header = [
            r[0]
            for r in con.execute(
                f"DESCRIBE SELECT * FROM read_csv({path}, header = true, all_varchar = true)"
            ).fetchall()
        ]
        known = set(TABLES[table].column_names)
        types = ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in header if c in known)
        return f"SELECT * FROM read_csv({path}, header = true, types = {{{types}}})"
    known = dict.fromkeys(TABLES[table].column_names, str)
    frame = pd.read_excel(files[0], dtype=known)
    con.register(f"excel_{table}", frame)
    return f"SELECT * FROM excel_{table}"


def _typed_select(table: str, present: list[str]) -> str:
    spec = TABLES[table]
    parts = []
    for col in spec.columns:
        target = DUCKDB_TYPES[col.kind]
        if col.name in present:
            parts.append(f"{_cast(col, quote(col.name))} AS {quote(col.name)}")
        else:
            parts.append(f"CAST(NULL AS {target}) AS {quote(col.name)}")
    known = set(spec.column_names)
    # Extra columns (for example analyst-entered scores on accounts) pass through unchanged.
    parts += [quote(c) for c in present if c not in known]
    return f"SELECT {', '.join(parts)} FROM {quote('raw_' + table)}"


def _cast(col: Column, expr: str) -> str:
    target = DUCKDB_TYPES[col.kind]
    if col.kind == "bool":
        # CSV exports spell booleans in many ways.
        return (
            f"CASE WHEN lower(CAST({expr} AS VARCHAR)) IN ('true','t','yes','y','1') THEN TRUE "
            f"WHEN lower(CAST({expr} AS VARCHAR)) IN ('false','f','no','n','0') THEN FALSE END"
        )
    if col.kind == "date":
        return f"TRY_CAST(TRY_CAST({expr} AS TIMESTAMP) AS DATE)"
    return f"TRY_CAST({expr} AS {target})"


def _read_extract_date(folder: Path) -> dt.date | None:
    path = folder / EXTRACT_FILE
    if not path.exists():
        return None
    return dt.date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["extract_date"])


def load_book(source: str | Path, extract_date: str | dt.date | None = None, threads: int | None = None) -> Book:
    """Open a book from a folder of CSV/Parquet/Excel files or a DuckDB database file.

    ``extract_date`` (the day the data was exported; nothing may be dated after it) comes from
    the argument, else from ``extract.json`` in the folder, else today.
    """
    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise DataContractError(
            f"Data source {source} does not exist; pass a folder of CSV/Parquet files or a .duckdb file."
        )
    con = connect(threads)
    tables: dict[str, list[str]] = {}
    files: dict[str, list[Path]] = {}
    if source.is_dir():
        for table in TABLES:
            found = _table_files(source, table)
            if not found:
                continue
            con.execute(f"CREATE VIEW {quote('raw_' + table)} AS {_raw_relation_sql(con, table, found)}")
            files[table] = found
        folder = source
    elif source.suffix in (".duckdb", ".db"):
        con.execute(f"ATTACH {sql_literal(str(source))} AS src (READ_ONLY)")
        stored = {
            r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall()
        }
        for table in TABLES:
            if table in stored:
                con.execute(f"CREATE VIEW {quote('raw_' + table)} AS SELECT * FROM src.{quote(table)}")
                files[table] = [source]
        folder = source.parent
    else:
        raise DataContractError(f"{source} is neither a folder nor a .duckdb file.")
    for table in files:
        tables[table] = [r[0] for r in con.sql(f"DESCRIBE {quote('raw_' + table)}").fetchall()]
        con.execute(f"CREATE VIEW {quote(table)} AS {_typed_select(table, tables[table])}")
    if isinstance(extract_date, str):
        extract_date = dt.date.fromisoformat(extract_date)
    extract = extract_date or _read_extract_date(folder) or dt.date.today()
    return Book(source=source, con=con, tables=tables, extract_date=extract, files=files)


def _date_bound(book: Book, bound: str) -> dt.date | None:
    selects = [
        f"SELECT {bound}({quote(col)}) AS d FROM {quote(table)}"
        for table in book.tables
        for col in TABLES[table].event_dates
        if col in book.tables[table]
    ]
    if not selects:
        return None
    return book.con.execute(f"SELECT {bound}(d) FROM ({' UNION ALL '.join(selects)})").fetchall()[0][0]


def latest_date(book: Book) -> dt.date | None:
    """The latest event date anywhere in the book (the default as-of date is the day after)."""
    return _date_bound(book, "max")


def earliest_date(book: Book) -> dt.date | None:
    """The earliest event date anywhere in the book (an as-of date must come after it)."""
    return _date_bound(book, "min")


def default_as_of(book: Book) -> dt.date:
    latest = latest_date(book)
    if latest is None:
        raise DataContractError(f"{book.source} holds no dated rows; pass --as-of explicitly.")
    return latest + dt.timedelta(days=1)


# --- tables written by a run ---------------------------------------------------------------


def tables_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "tables"


def write_table(df: pd.DataFrame, run_dir: str | Path, name: str) -> Path:
    """Write ``df`` as ``run_dir/tables/<name>.parquet`` and ``.csv``; return the Parquet path.

    A named index (for example ``account_id``) is written as a column.
    """
    folder = tables_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    frame = df.reset_index() if df.index.name is not None or isinstance(df.index, pd.MultiIndex) else df
    parquet = folder / f"{name}.parquet"
    frame.to_parquet(parquet, index=False)
    frame.to_csv(folder / f"{name}.csv", index=False)
    return parquet


def read_table(run_dir: str | Path | None, name: str) -> pd.DataFrame | None:
    """A table an earlier notebook of the run wrote, or None when it is absent."""
    if run_dir is None:
        return None
    path = tables_dir(run_dir) / f"{name}.parquet"
    return pd.read_parquet(path) if path.exists() else None


def write_book(tables: dict[str, pd.DataFrame], out_dir: str | Path, fmt: str = "parquet") -> None:
    """Write contract tables to a folder as Parquet or CSV (used by the sample generator and tests)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "parquet":
            frame.to_parquet(out / f"{name}.parquet", index=False)
        elif fmt == "csv":
            frame.to_csv(out / f"{name}.csv", index=False, date_format="%Y-%m-%d")
        else:
            raise DataContractError(f"Unknown format {fmt!r}; use 'parquet' or 'csv'.")


def export_duckdb(book: Book, path: str | Path) -> Path:
    """Copy every typed table of ``book`` into a DuckDB database file."""
    path = Path(path)
    if path.exists():
        path.unlink()
    book.con.execute(f"ATTACH {sql_literal(str(path))} AS out")
    try:
        for table in book.tables:
            book.con.execute(f"CREATE TABLE out.{quote(table)} AS SELECT * FROM raw_{table}")
    finally:
        book.con.execute("DETACH out")
    return path
