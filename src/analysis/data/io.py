"""All reading and writing of data: the customer book and the tables a run writes.

A *book* is the set of contract tables (see ``analysis.data.contract``) from one extract. It is
held as views over the files on the book's engine (``analysis.data.engine``: DuckDB in this
process by default, or Spark), so that heavy aggregation runs as SQL over Parquet without
loading 100 million usage rows into pandas. Each table has two views:
``raw_<table>`` (as stored) and ``<table>`` (contract columns cast to contract types with
``TRY_CAST``, absent optional columns added as NULL). Validation compares the two. The files are
checked before DuckDB reads them (``analysis.data.files``): one file per table, readable
``extract.json``, UTF-8 (or declared) CSV text, whole Parquet files.

Reading rules the typed views apply (docs/data_contract.md, "Reading rules"):

* ids are text everywhere: an id stored as a number reads as its digits (``123``, never ``123.0``);
* a time-zone-aware timestamp reads as the calendar date in the zone it was recorded in (Parquet
  keeps the zone), a timestamp with an offset in CSV text as the date written; DuckDB's session
  zone is UTC so that nothing depends on the machine's zone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from analysis.data import files as files_
from analysis.data.asof import require_date
from analysis.data.contract import DUCKDB_TYPES, TABLES, Column
from analysis.data.engine import DuckDBEngine, Engine
from analysis.errors import DataContractError, EngineError, MissingTableError

EXTRACT_FILE = files_.EXTRACT_FILE
# DuckDB spills to disk beyond this, which keeps the feature build of a 100k-account book
# under the 2 GB budget of the benchmark; override with B2B_DUCKDB_MEMORY.
DEFAULT_MEMORY_LIMIT = "1500MB"
NUMERIC_TYPES = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|REAL|DECIMAL.*)$")
FIXED_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


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
    con.execute("SET TimeZone = 'UTC'")  # time-zone-aware values never depend on the machine's zone
    # DuckDB 2.0's type_pushdown turns the typed views' TRY_CAST of CSV text into the CSV reader's
    # strict cast, so one unparsable value would fail every query instead of counting as wrong type.
    con.execute("SET disabled_optimizers = 'type_pushdown'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


@dataclass
class Book:
    """A loaded customer book: views named after the contract tables, on the book's engine."""

    source: Path
    engine: Engine
    tables: dict[str, list[str]]  # table -> columns present in the source
    extract_date: dt.date
    files: dict[str, list[Path]] = field(default_factory=dict)
    raw_types: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> stored type
    typed: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> SQL of its typed value
    zones: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> column -> recorded time zone

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection of a book on the default engine (code that needs DuckDB itself)."""
        if not isinstance(self.engine, DuckDBEngine):
            raise EngineError(f"This needs the book on DuckDB; it is on {self.engine.name} (use --engine duckdb).")
        return self.engine.con

    def close(self) -> None:
        self.engine.close()

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
        return self.engine.sql(f"SELECT {cols} FROM {quote(table)}")

    def sql(self, query: str) -> pd.DataFrame:
        return self.engine.sql(query)

    def count(self, table: str) -> int:
        return self.engine.rows(f"SELECT count(*) FROM {quote(table)}")[0][0] if self.has(table) else 0

    def where(self, table: str) -> str:
        """The file(s) a table was read from, for messages."""
        found = self.files.get(table, [])
        if len(found) > 1:
            return f"{found[0].parent} ({len(found)} Parquet parts)"
        return str(found[0]) if found else str(self.source)


def _raw_relation_sql(con: duckdb.DuckDBPyConnection, table: str, found: list[Path], encoding: str | None) -> str:
    suffix = found[0].suffix
    if suffix == ".parquet":
        listing = ", ".join(sql_literal(str(p)) for p in found)
        return f"SELECT * FROM read_parquet([{listing}])"
    if suffix == ".csv":
        # Contract columns are read as text and cast by the typed view (so validation can count
        # what does not parse, and a key like "00123" stays a string); extra columns keep
        # DuckDB's type detection.
        if encoding in (None, "utf-8"):
            files_.check_utf8(found[0])
        options = f"header = true, encoding = {sql_literal(encoding or 'utf-8')}"
        path = sql_literal(str(found[0]))
        header = [
            r[0]
            for r in con.execute(f"DESCRIBE SELECT * FROM read_csv({path}, {options}, all_varchar = true)").fetchall()
        ]
        known = set(TABLES[table].column_names)
        types = ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in header if c in known)
        return f"SELECT * FROM read_csv({path}, {options}, types = {{{types}}})"
    known = dict.fromkeys(TABLES[table].column_names, str)
    frame = pd.read_excel(found[0], dtype=known)
    con.register(f"excel_{table}", frame)
    return f"SELECT * FROM excel_{table}"


def _typed_select(typed: dict[str, str], present: list[str], table: str) -> str:
    parts = [f"{expr} AS {quote(name)}" for name, expr in typed.items()]
    known = set(TABLES[table].column_names)
    # Extra columns (for example analyst-entered scores on accounts) pass through unchanged.
    parts += [quote(c) for c in present if c not in known]
    return f"SELECT {', '.join(parts)} FROM {quote('raw_' + table)}"


def typed_expressions(table: str, raw_types: dict[str, str], zones: dict[str, str]) -> dict[str, str]:
    """Per contract column, the SQL that turns the stored value into the contract type (NULL when
    the column is absent or the value does not parse): the typed view and validation share it."""
    out = {}
    for col in TABLES[table].columns:
        if col.name in raw_types:
            out[col.name] = cast_sql(col, quote(col.name), raw_types[col.name], zones.get(col.name))
        else:
            out[col.name] = f"CAST(NULL AS {DUCKDB_TYPES[col.kind]})"
    return out


def cast_sql(col: Column, expr: str, raw_type: str = "VARCHAR", zone: str | None = None) -> str:
    target = DUCKDB_TYPES[col.kind]
    if raw_type.upper() == target:  # stored as the contract type (typed Parquet): nothing to cast
        return expr
    if col.kind == "bool":
        # CSV exports spell booleans in many ways.
        return (
            f"CASE WHEN lower(CAST({expr} AS VARCHAR)) IN ('true','t','yes','y','1') THEN TRUE "
            f"WHEN lower(CAST({expr} AS VARCHAR)) IN ('false','f','no','n','0') THEN FALSE END"
        )
    if col.kind == "date":
        if zone is not None:
            return f"TRY_CAST({_wall_clock(expr, zone)} AS DATE)"
        return f"TRY_CAST(TRY_CAST({expr} AS TIMESTAMP) AS DATE)"
    if col.kind == "string" and NUMERIC_TYPES.match(raw_type.upper()):
        # An id exported as a number reads as its digits: 123.0 (a float column) is id "123".
        return (
            f"CASE WHEN {expr} = round({expr}) THEN CAST(TRY_CAST({expr} AS BIGINT) AS VARCHAR) "
            f"ELSE CAST({expr} AS VARCHAR) END"
        )
    return f"TRY_CAST({expr} AS {target})"


def _wall_clock(expr: str, zone: str) -> str:
    """A time-zone-aware timestamp as the wall-clock time in ``zone`` (the zone it was recorded in)."""
    offset = FIXED_OFFSET.match(zone)
    if offset:  # Arrow allows fixed offsets such as +08:00, which are not zone names
        sign, hours, minutes = offset.groups()
        total = (1 if sign == "+" else -1) * (int(hours) * 60 + int(minutes))
        return f"(CAST({expr} AS TIMESTAMP) + INTERVAL ({total}) MINUTE)"
    # AT TIME ZONE (standard SQL; DuckDB's ICU, Spark via from_utc_timestamp) on a UTC session.
    return f"({expr} AT TIME ZONE {sql_literal(zone)})"


def _recorded_zones(found: list[Path]) -> dict[str, str]:
    """Columns of a Parquet table stored as time-zone-aware timestamps, with their zone; every part
    is checked to be a whole Parquet file first."""
    import pyarrow as pa

    schemas = [files_.check_parquet(p) for p in found]
    return {f.name: f.type.tz for f in schemas[0] if pa.types.is_timestamp(f.type) and f.type.tz}


def _describe(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.sql(f"DESCRIBE {quote(view)}").fetchall()}


def _open_folder(con, source: Path, extract: files_.Extract):
    found_files, zones = {}, {}
    for table in TABLES:
        found = files_.table_files(source, table)
        if not found:
            continue
        if found[0].suffix == ".parquet":
            zones[table] = _recorded_zones(found)
        try:
            sql = _raw_relation_sql(con, table, found, extract.encodings.get(table))
            con.execute(f"CREATE VIEW {quote('raw_' + table)} AS {sql}")
        except DataContractError:
            raise
        except Exception as exc:  # DuckDB, Excel (zip) or OS errors: name the file instead of a traceback
            raise DataContractError(
                f"Could not read {found[0] if len(found) == 1 else found[0].parent} for table '{table}': "
                f"{_first_line(exc)}. Check that it is a {found[0].suffix[1:]} file as exported (see "
                f"docs/data_contract.md)."
            ) from None
        found_files[table] = found
    return found_files, zones


def _open_database(con, source: Path):
    try:
        con.execute(f"ATTACH {sql_literal(str(source))} AS src (READ_ONLY)")
    except duckdb.Error as exc:
        raise DataContractError(
            f"{source} is not a readable DuckDB database ({_first_line(exc)}); it may be corrupt, from a newer "
            f"DuckDB, or open in another program. Export it again, or pass a folder of CSV/Parquet files."
        ) from None
    stored = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() WHERE database_name = 'src'").fetchall()}
    found_files = {}
    for table in TABLES:
        if table in stored:
            con.execute(f"CREATE VIEW {quote('raw_' + table)} AS SELECT * FROM src.{quote(table)}")
            found_files[table] = [source]
    return found_files


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def load_book(source: str | Path, extract_date: dt.date | None = None, threads: int | None = None, engine=None) -> Book:
    """Open a book from a folder of CSV/Parquet/Excel files or a DuckDB database file.

    ``extract_date`` (the day the data was exported; nothing may be dated after it) comes from
    the argument, else from ``extract.json`` in the folder, else today. Unreadable files raise
    DataContractError naming the file. ``engine`` is the parameters' ``engine`` section; None or
    backend ``duckdb``: DuckDB in this process; ``spark``: Spark (``analysis.data.spark``: Parquet
    files, folders of parts, catalog tables).
    """
    source = Path(source).expanduser().resolve()
    if not source.exists():
        raise DataContractError(
            f"Data source {source} does not exist; pass a folder of CSV/Parquet files or a .duckdb file."
        )
    if extract_date is not None:
        require_date(extract_date, "extract_date")
    if engine is not None and engine.backend == "spark":
        from analysis.data.spark import open_spark_book

        return open_spark_book(source, extract_date, engine.spark)
    con = connect(threads)
    try:
        return _open(con, source, extract_date)
    except BaseException:
        con.close()
        raise


def _open(con: duckdb.DuckDBPyConnection, source: Path, extract_date: dt.date | None) -> Book:
    zones: dict[str, dict[str, str]] = {}
    if source.is_dir():
        extract = files_.read_extract(source)
        found_files, zones = _open_folder(con, source, extract)
    elif source.suffix in (".duckdb", ".db"):
        extract = files_.read_extract(source.parent)
        found_files = _open_database(con, source)
    else:
        raise DataContractError(f"{source} is neither a folder nor a .duckdb file.")
    tables, raw_types, typed = {}, {}, {}
    for table in found_files:
        raw_types[table] = _describe(con, "raw_" + table)
        tables[table] = list(raw_types[table])
        typed[table] = typed_expressions(table, raw_types[table], zones.get(table, {}))
        con.execute(f"CREATE VIEW {quote(table)} AS {_typed_select(typed[table], tables[table], table)}")
    extract_day = extract_date or extract.extract_date or dt.date.today()
    return Book(source, DuckDBEngine(con), tables, extract_day, found_files, raw_types, typed, zones)


def _date_bound(book: Book, bound: str) -> dt.date | None:
    selects = [
        f"SELECT {bound}({quote(col)}) AS d FROM {quote(table)}"
        for table in book.tables
        for col in TABLES[table].event_dates
        if col in book.tables[table]
    ]
    if not selects:
        return None
    return book.engine.rows(f"SELECT {bound}(d) FROM ({' UNION ALL '.join(selects)})")[0][0]


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
