"""Where the book's SQL runs: DuckDB in this process (the default) or Apache Spark.

Every aggregation over the book (the feature blocks, outcomes, lifetimes, validation's structural
checks, the data-quality counts) is written once, in DuckDB's SQL dialect, and handed to the
book's engine. Both engines answer with pandas frames converted by DuckDB, so a column has the
same dtype whichever engine computed it:

* :class:`DuckDBEngine` runs the SQL as it is on an in-process connection (the default path,
  unchanged from before engines existed);
* :class:`analysis.data.spark.SparkEngine` transpiles it to Spark SQL with SQLGlot
  (:func:`analysis.data.spark.to_spark`), runs it on a local or remote Spark session, and brings
  the result back through Arrow.

The interface is deliberately small: the statements the data layer needs and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pandas as pd
import pyarrow as pa


class Engine:
    """What the data layer asks of an engine. ``query`` is always DuckDB SQL."""

    name = "engine"

    def sql(self, query: str) -> pd.DataFrame:
        """The result as a pandas frame (DuckDB's conversion of every type)."""
        raise NotImplementedError

    def rows(self, query: str) -> list[tuple]:
        """The result as Python tuples (DuckDB's Python types: int, float, datetime.date ...)."""
        raise NotImplementedError

    def execute(self, statement: str) -> None:
        """A statement without a result (``CREATE VIEW``)."""
        raise NotImplementedError

    def put(self, name: str, frame: pd.DataFrame) -> None:
        """Make a pandas frame queryable under ``name`` until :meth:`unput`."""
        raise NotImplementedError

    def unput(self, name: str) -> None:
        raise NotImplementedError

    def create_temp_table(self, name: str, select: str) -> None:
        """Materialise ``select`` as temporary table ``name`` (independent of what it was built from)."""
        raise NotImplementedError

    def drop_temp_table(self, name: str) -> None:
        raise NotImplementedError

    def arrow_batches(self, query: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The result in Arrow batches of at most about ``batch_rows`` rows (bounded memory)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class DuckDBEngine(Engine):
    """The book's SQL on an in-process DuckDB connection, exactly as written."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def sql(self, query: str) -> pd.DataFrame:
        return self.con.sql(query).df()

    def rows(self, query: str) -> list[tuple]:
        return self.con.execute(query).fetchall()

    def execute(self, statement: str) -> None:
        self.con.execute(statement)

    def put(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)

    def unput(self, name: str) -> None:
        self.con.unregister(name)

    def create_temp_table(self, name: str, select: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")

    def drop_temp_table(self, name: str) -> None:
        self.con.execute(f"DROP TABLE {name}")

    def arrow_batches(self, query: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
        yield from self.con.sql(query).to_arrow_reader(batch_rows)

    def close(self) -> None:
        self.con.close()


class ArrowToPandas:
    """Arrow results of another engine turned into pandas (or Python rows) by DuckDB, so that every
    type (DECIMAL, DATE, BIGINT ...) converts exactly as it does on the default engine."""

    def __init__(self):
        self._con = duckdb.connect(":memory:")

    def frame(self, table: pa.Table) -> pd.DataFrame:
        return self._con.from_arrow(table).df()

    def rows(self, table: pa.Table) -> list[tuple]:
        return self._con.from_arrow(table).fetchall()
