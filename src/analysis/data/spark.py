"""The Spark engine: the book's DuckDB SQL transpiled to Spark SQL by SQLGlot, run on a Spark
session (local mode on this machine, or any cluster a Spark master URL reaches).

Why SQLGlot and not two dialects or Ibis: docs/architecture.md, "Engines". The DuckDB text stays
the one definition; :func:`to_spark` parses it and rewrites, on the syntax tree, the few
constructs whose result *types* differ between the engines, then writes Spark SQL:

1. ``a / b``: DuckDB divides as DOUBLE whatever the operands; Spark keeps DECIMAL / DECIMAL a
   DECIMAL rounded to a few places. Both operands are cast to DOUBLE, as DuckDB does.
2. ``avg(x)``: DuckDB answers DOUBLE; Spark answers a DECIMAL rounded to ``s + 4`` places when x
   is DECIMAL (the fixed-point shares and money of ``features.exact``). Rewritten as DuckDB 2.0
   computes it without a FILTER (the exact sum rounded once to DOUBLE, divided by the count:
   bit-identical), and with a FILTER as ``sum(x) / count(x)`` in units of 10^-scale divided as
   DOUBLE: DuckDB divides a filtered mean in extended precision, so it may differ in the last bit.
3. ``CAST(x AS DECIMAL(p, s))`` of a DOUBLE (``features.exact``): DuckDB multiplies by 10^s in
   double precision, rounds half away from zero and keeps every binary digit of the result; Spark
   rounds the shortest decimal text of x, which differs on about one value in a million (and on
   most values above 2^53 micro-units). Rewritten as DuckDB computes it: ``ROUND(x * 10^s)``
   (double, half away from zero), converted to DECIMAL exactly, then scaled back.
4. ``date_diff('day', a, b)``: cast to BIGINT, DuckDB's type (Spark's DATEDIFF forms vary).

and one construct whose *plan* differs: ``x IN (SELECT ...)`` (validation's unknown-account
check) is written as EXISTS subqueries with the same three-valued result, which Spark answers
with a hash join instead of a nested loop (:func:`_in_subquery_as_exists`).

Results come back through Arrow (``DataFrame.toArrow``) and are converted to pandas by DuckDB
(:class:`analysis.data.engine.ArrowToPandas`), so dtypes equal the default engine's.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa

from analysis.data.contract import TABLES
from analysis.data.engine import ArrowToPandas, Engine
from analysis.errors import ConfigError, EngineError

# The SQL's meaning depends on these, so the engine sets them on every session whatever the
# parameters say: calendar dates never shift with a time zone, and overflow or a bad cast raises
# (as on DuckDB) instead of turning into NULL.
FIXED_POINT_SCALE = 6  # decimals of features.exact: a filtered mean is computed in these units (rewrite 2)
REQUIRED_CONFIGS = {"spark.sql.session.timeZone": "UTC", "spark.sql.ansi.enabled": "true"}
INSTALL_HINT = (
    "install the Spark extra (pip install -e '.[spark]'; `python3 tasks.py test` does it when Java is present) "
    "and a Java 17+ runtime (apt-get install openjdk-17-jre-headless, or set JAVA_HOME); "
    "or run on the default engine (--engine duckdb)"
)


# --- DuckDB SQL -> Spark SQL -----------------------------------------------------------------


@functools.lru_cache(maxsize=512)
def to_spark(query: str) -> str:
    """``query`` (DuckDB SQL) as Spark SQL with the same result types (module docstring)."""
    import sqlglot

    tree = sqlglot.parse_one(query, read="duckdb").transform(_in_subquery_as_exists, copy=False)
    for rewrite in (_mean_as_sum_over_count, _divide_as_double, _decimal_like_duckdb, _days_as_bigint):
        tree = tree.transform(rewrite, copy=False)
    return tree.sql(dialect="spark")


IN_ROWS, IN_KEY = "in_subquery_rows", "in_subquery_key"  # names no query of the data layer uses


def _in_subquery_as_exists(node):
    """``x IN (SELECT k ...)`` as EXISTS subqueries with the same three-valued result.

    Spark plans an IN subquery anywhere but at the top of a WHERE (validation counts
    ``count(*) FILTER (WHERE id NOT IN (SELECT account_id ...))``) as an existence join on
    ``x = k OR (x = k) IS NULL``, which no hash join can answer: a nested loop over usage rows times
    accounts (82 s for 300,000 rows against 5,000 accounts; a whole validation of the sample did not
    finish in 17 minutes). A correlated ``EXISTS (... WHERE k = x)`` is a hash join. The NULL cases
    of IN are kept: NULL when x is NULL (and the subquery has rows) or when x is not found and the
    subquery holds a NULL; the two uncorrelated EXISTS are computed once. Row constructors
    (``(a, b) IN (...)``, only in examples of duplicate keys) are left as they are."""
    from sqlglot import exp

    if not isinstance(node, exp.In) or node.args.get("query") is None or isinstance(node.this, exp.Tuple):
        return node
    value = node.this.transform(_in_subquery_as_exists)
    rows = node.args["query"]
    rows = (rows.this if isinstance(rows, exp.Subquery) else rows).transform(_in_subquery_as_exists)
    key = exp.column(IN_KEY, table=IN_ROWS)

    def exists(where=None):
        listed = exp.Subquery(this=rows.copy(), alias=exp.TableAlias(this=exp.to_identifier(IN_ROWS), columns=[IN_KEY]))
        select = exp.select("1").from_(listed)
        return exp.Exists(this=select.where(where) if where is not None else select)

    unknown = exp.Case(ifs=[exp.If(this=exists(), true=exp.cast(exp.null(), "BOOLEAN"))], default=exp.false())
    return exp.Case(
        ifs=[
            exp.If(this=exists(exp.EQ(this=key.copy(), expression=value.copy())), true=exp.true()),
            exp.If(
                this=exp.or_(
                    exp.Is(this=value.copy(), expression=exp.null()),
                    exists(exp.Is(this=key.copy(), expression=exp.null())),
                ),
                true=unknown,
            ),
        ],
        default=exp.false(),
    )


def _mean_as_sum_over_count(node):
    from sqlglot import exp

    where = None
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.Avg):
        avg, where = node.this, node.expression
    elif isinstance(node, exp.Avg) and not isinstance(node.parent, exp.Filter):
        avg = node
    else:
        return node

    def filtered(aggregate):
        return exp.Filter(this=aggregate, expression=where.copy()) if where is not None else aggregate

    value = avg.this
    if where is None:
        # DuckDB (2.0, the pinned version) answers avg(x) of a DECIMAL without a FILTER as the exact
        # sum rounded once to DOUBLE, divided by the count: the same here, bit-identical. (Spark's own
        # DECIMAL to DOUBLE cast rounds twice above 2^53 units; Java's parsing of the text rounds once.)
        # For an integer x DuckDB divides in extended precision, as below: the last bit may differ.
        total = exp.cast(exp.cast(exp.Sum(this=value.copy()), "STRING"), "DOUBLE")
        return exp.Div(this=total, expression=exp.cast(exp.Count(this=value.copy()), "DOUBLE"))
    # With a FILTER DuckDB divides sum / (count * 10^scale) in x87 extended precision and rounds
    # that to DOUBLE (two roundings). Sum and count are taken here in units of 10^-scale: the scaled
    # sum is an integer (exact as a DOUBLE below 2^53), so one IEEE division gives the correctly
    # rounded mean, which differs from DuckDB's in the last bit on about one mean in 2,000
    # (tests/engine_compare.py, MEAN_TOLERANCE).
    unit = exp.cast(exp.Literal.number(10 ** max(_decimal_scale(value), FIXED_POINT_SCALE)), "DECIMAL(38, 0)")
    total = exp.Mul(this=filtered(exp.Sum(this=value.copy())), expression=unit)
    count = exp.Mul(this=filtered(exp.Count(this=value.copy())), expression=unit.copy())
    return exp.Div(this=total, expression=count)


def _decimal_scale(node) -> int:
    """The scale of ``CAST(... AS DECIMAL(p, s))``; 0 for anything else."""
    from sqlglot import exp

    if isinstance(node, exp.Cast) and node.to.is_type("decimal") and len(node.to.expressions) > 1:
        return int(node.to.expressions[1].name)
    return 0


def _divide_as_double(node):
    from sqlglot import exp

    if isinstance(node, exp.Div):  # changed in place, so the operands are visited too (nested divisions)
        for side in ("this", "expression"):
            node.set(side, exp.cast(node.args[side], "DOUBLE"))
    return node


def _decimal_like_duckdb(node):
    from sqlglot import exp

    if not isinstance(node, exp.Cast) or isinstance(node, exp.TryCast) or not node.to.is_type("decimal"):
        return node
    if isinstance(node.this, exp.Literal):
        return node
    scale = _decimal_scale(node)
    units = exp.Round(this=exp.Mul(this=exp.paren(node.this.copy()), expression=exp.Literal.number(10**scale)))
    scaled = exp.Div(this=_exact_integer(units), expression=exp.Literal.number(10**scale))  # exact: scale s fits
    return exp.Cast(this=scaled, to=node.to.copy())


def _exact_integer(value):
    """The integral DOUBLE ``value`` as DECIMAL(38, 0), every binary digit kept. Spark's own cast of a
    DOUBLE to DECIMAL goes through its shortest decimal text (3.3856902712437894E17 becomes
    ...940, not ...944 as DuckDB keeps), so the value is split into two parts that BIGINT holds
    exactly: high = floor(value / 2^32), low = value - high * 2^32 (both exact in DOUBLE)."""
    from sqlglot import exp

    two32 = exp.Literal.number(2**32)
    high = exp.Floor(this=exp.Div(this=value.copy(), expression=exp.cast(two32.copy(), "DOUBLE")))
    low = exp.Sub(this=value.copy(), expression=exp.Mul(this=high.copy(), expression=exp.cast(two32.copy(), "DOUBLE")))
    return exp.paren(  # a tree built by hand gets no parentheses from precedence: say them
        exp.Add(
            this=exp.Mul(this=exp.cast(high, "DECIMAL(38, 0)"), expression=two32),
            expression=exp.cast(exp.cast(low, "BIGINT"), "DECIMAL(38, 0)"),
        )
    )


def _days_as_bigint(node):
    from sqlglot import exp

    if isinstance(node, exp.DateDiff) and not isinstance(node.parent, exp.Cast):
        return exp.cast(node.copy(), "BIGINT")
    return node


# --- the session -----------------------------------------------------------------------------


def _java_found() -> bool:
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java") or (home and (Path(home) / "bin" / "java").exists()))


def spark_session(settings):
    """The Spark session for ``settings`` (``params.engine.spark``): created on first use, shared
    by every book of this process afterwards."""
    if not _java_found():
        raise EngineError(f"engine.backend is spark but no Java runtime was found: {INSTALL_HINT}.")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(f"engine.backend is spark but pyspark is not installed: {INSTALL_HINT}.") from None
    builder = SparkSession.builder.appName(settings.app_name)
    if settings.master:
        builder = builder.master(settings.master)
    for key, value in {**settings.configs, **REQUIRED_CONFIGS}.items():
        builder = builder.config(key, _conf_text(value))
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start or the master is unreachable: say which
        raise EngineError(
            f"Could not start Spark (master {settings.master or 'from spark-defaults'}): {exc}. {INSTALL_HINT}."
        ) from exc
    spark.sparkContext.setLogLevel(settings.log_level)
    for key, value in REQUIRED_CONFIGS.items():  # also when the session existed before
        spark.conf.set(key, value)
    return spark


def _conf_text(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class SparkEngine(Engine):
    """The book's SQL on a Spark session, through :func:`to_spark`."""

    name = "spark"

    def __init__(self, session):
        self.session = session
        self._to_pandas = ArrowToPandas()

    def _frame(self, query: str):
        return self.session.sql(to_spark(query))

    def sql(self, query: str) -> pd.DataFrame:
        return self._to_pandas.frame(self._frame(query).toArrow())

    def rows(self, query: str) -> list[tuple]:
        return self._to_pandas.rows(self._frame(query).toArrow())

    def execute(self, statement: str) -> None:
        self.session.sql(to_spark(statement))

    def put(self, name: str, frame: pd.DataFrame) -> None:
        self.session.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False)).createOrReplaceTempView(name)

    def unput(self, name: str) -> None:
        self.session.catalog.dropTempView(name)

    def create_temp_table(self, name: str, select: str) -> None:
        # Materialised (local checkpoint) so that it no longer depends on the views it was built from.
        self._frame(select).localCheckpoint().createOrReplaceTempView(name)

    def drop_temp_table(self, name: str) -> None:
        self.session.catalog.dropTempView(name)

    def arrow_batches(self, query: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        # Spark has no streaming Arrow fetch: split the rows into about count / batch_rows hash
        # buckets and fetch one bucket at a time (one scan per bucket, bounded driver memory).
        from pyspark.sql import functions as F

        frame = self._frame(query)
        buckets = max(1, math.ceil(frame.count() / batch_rows))
        if buckets == 1:
            yield from frame.toArrow().to_batches()
            return
        keyed = frame.withColumn("_bucket", F.pmod(F.xxhash64(*frame.columns), F.lit(buckets)))
        for bucket in range(buckets):
            yield from keyed.where(F.col("_bucket") == bucket).drop("_bucket").toArrow().to_batches()

    def close(self) -> None:
        self.session.stop()


# --- a book on Spark -------------------------------------------------------------------------


def _require_parquet(path: Path) -> None:
    if path.suffix != ".parquet":
        raise EngineError(
            f"The Spark engine reads Parquet (files, folders of parts or catalog tables); {path} is "
            f"{path.suffix[1:].upper()}. Convert it to Parquet or run on the default engine (--engine duckdb)."
        )


def _catalog_name(spark, settings, table: str) -> str | None:
    if table in settings.tables:
        return settings.tables[table]
    if settings.database and spark.catalog.tableExists(table, settings.database):
        return f"{settings.database}.{table}"
    return None


def open_spark_book(source: Path, extract_date: dt.date | None, settings):
    """A :class:`analysis.data.io.Book` whose views live on Spark: ``raw_<table>`` over the Parquet
    files (one file, or a folder of parts) or the catalog table named in ``settings``, and the
    typed ``<table>`` view, the same SELECT as on DuckDB, transpiled."""
    from analysis.data import files as files_
    from analysis.data import io

    unknown = sorted(set(settings.tables) - set(TABLES))
    if unknown:
        raise ConfigError(
            f"engine.spark.tables names {', '.join(unknown)}, which are not tables of the data contract "
            f"({', '.join(TABLES)})."
        )
    if not source.is_dir():
        raise EngineError(
            f"The Spark engine reads a folder of Parquet files (and catalog tables); {source} is not a folder. "
            "Convert the book to Parquet or run on the default engine (--engine duckdb)."
        )
    files = {table: files_.table_files(source, table) for table in TABLES if table not in settings.tables}
    files = {table: paths for table, paths in files.items() if paths}
    if not settings.database:  # refused before a JVM is started for nothing
        for paths in files.values():
            _require_parquet(paths[0])
    extract = files_.read_extract(source)
    engine = SparkEngine(spark_session(settings))
    tables: dict[str, list[str]] = {}
    raw_types: dict[str, dict[str, str]] = {}
    zones: dict[str, dict[str, str]] = {}
    for table in TABLES:
        name = _catalog_name(engine.session, settings, table)
        if name is not None:
            raw = engine.session.table(name)
            files.pop(table, None)
            raw_types[table] = {column: _duckdb_type(kind) for column, kind in raw.dtypes}
        elif table in files:
            _require_parquet(files[table][0])
            zones[table] = io._recorded_zones(files[table])
            raw_types[table] = _parquet_types(files[table])  # as DuckDB reads them: the same typed SQL
            raw = engine.session.read.parquet(*[str(p) for p in files[table]])
        else:
            continue
        raw.createOrReplaceTempView(f"raw_{table}")
        tables[table] = list(raw.columns)
    typed = {}
    for table, present in tables.items():
        typed[table] = io.typed_expressions(table, raw_types[table], zones.get(table, {}))
        select = io._typed_select(typed[table], present, table)
        engine.execute(f"CREATE OR REPLACE TEMP VIEW {io.quote(table)} AS {select}")
    extract_day = extract_date or extract.extract_date or dt.date.today()
    return io.Book(source, engine, tables, extract_day, files, raw_types, typed, zones)


def _parquet_types(found: list[Path]) -> dict[str, str]:
    """Column types of Parquet parts as DuckDB names them (read from the footers only)."""
    import duckdb

    from analysis.data import io

    listing = ", ".join(io.sql_literal(str(p)) for p in found)
    with duckdb.connect() as con:
        return {r[0]: r[1] for r in con.sql(f"DESCRIBE SELECT * FROM read_parquet([{listing}])").fetchall()}


SPARK_TO_DUCKDB = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "timestamp_ntz": "TIMESTAMP",
}


def _duckdb_type(spark_type: str) -> str:
    """A catalog column's Spark type under DuckDB's name (the typed SQL and validation read those)."""
    if spark_type.startswith("decimal"):
        return spark_type.upper()
    return SPARK_TO_DUCKDB.get(spark_type, spark_type.upper())
