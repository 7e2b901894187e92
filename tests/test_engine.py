"""Engines without a JVM: the SQL of the data layer transpiles to Spark SQL with the rewrites that
keep result types equal, and every way of asking for Spark where it cannot run stops with a named
error that says what to do (before a JVM is started). Spark itself: tests/test_engine_spark.py."""

from __future__ import annotations

import datetime as dt
import os
import re
import sys

import pytest

from analysis.data import features, quality
from analysis.data.engine import DuckDBEngine
from analysis.data.io import default_as_of, load_book
from analysis.data.synth import generate_book
from analysis.data.validate import validate_book
from analysis.errors import ConfigError, EngineError
from analysis.params import defaults, load_params
from analysis.paths import PROJECT_ROOT
from analysis.run.cli import main

NO_SQLGLOT = "sqlglot comes with the spark extra (pip install -e '.[spark]'); python3 tasks.py test installs it"


def spark_engine(**spark):
    engine = defaults().engine
    return engine.updated(backend="spark", spark=spark)


@pytest.fixture(scope="module")
def tiny_book_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny_book")
    generate_book(path, n_accounts=12, seed=3)
    return path


def _pins(path):
    return dict(
        m.groups() for line in path.read_text().splitlines() if (m := re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line))
    )


def test_the_spark_lock_keeps_every_default_pin_and_pins_the_extra():
    default = _pins(PROJECT_ROOT / "requirements.lock")
    spark = _pins(PROJECT_ROOT / "requirements-spark.lock")
    assert {name: spark.get(name) for name in default} == default
    assert {"pyspark", "sqlglot", "py4j"} <= set(spark) - set(default)


# --- transpiling ---------------------------------------------------------------------------


class RecordingEngine(DuckDBEngine):
    """DuckDB, keeping every statement the data layer sends."""

    def __init__(self, con):
        super().__init__(con)
        self.statements: list[str] = []

    def sql(self, query):
        self.statements.append(query)
        return super().sql(query)

    def rows(self, query):
        self.statements.append(query)
        return super().rows(query)

    def create_temp_table(self, name, select):
        self.statements.append(select)
        super().create_temp_table(name, select)


def test_every_statement_of_the_data_layer_transpiles(tiny_book_dir):
    pytest.importorskip("sqlglot", reason=NO_SQLGLOT)
    from analysis.data.spark import to_spark

    book = load_book(tiny_book_dir)
    book.engine = recorder = RecordingEngine(book.con)
    as_of = default_as_of(book)
    features.build_features(book, as_of, 0.8)
    features.build_contract_features(book, 90, 0.8)
    features.build_outcomes(book, as_of - dt.timedelta(days=365), 0.8)
    features.account_lifetimes(book, as_of)
    validate_book(book, defaults().validation)
    quality.table_overview(book)
    quality.missingness(book)
    assert len(recorder.statements) > 30
    for statement in recorder.statements:
        spark_sql = to_spark(statement)
        assert "EXCLUDE" not in spark_sql and " AVG(" not in spark_sql.upper(), spark_sql


def test_the_rewrites_keep_duckdb_result_types():
    pytest.importorskip("sqlglot", reason=NO_SQLGLOT)
    from analysis.data.spark import to_spark

    assert to_spark("SELECT a / b FROM t") == "SELECT CAST(a AS DOUBLE) / CAST(b AS DOUBLE) FROM t"
    mean = to_spark("SELECT avg(CAST(x AS DECIMAL(18, 6))) FILTER (WHERE y > 1) FROM t")
    assert "AVG" not in mean and mean.count("FILTER(WHERE y > 1)") == 2 and "1000000" in mean
    rounded = to_spark("SELECT CAST(x AS DECIMAL(18, 6)) FROM t")
    assert "ROUND((x) * 1000000)" in rounded and rounded.endswith("AS DECIMAL(18, 6)) FROM t")
    assert to_spark("SELECT CAST(1.5 AS DECIMAL(18, 6))") == "SELECT CAST(1.5 AS DECIMAL(18, 6))"
    assert to_spark("SELECT date_diff('day', a, b) FROM t") == "SELECT CAST(DATEDIFF(DAY, a, b) AS BIGINT) FROM t"


# --- Spark asked for where it cannot run -----------------------------------------------------


def test_spark_without_java_says_what_to_install(tiny_book_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(EngineError, match="no Java runtime.*openjdk-17-jre-headless"):
        load_book(tiny_book_dir, engine=spark_engine())


def test_spark_without_pyspark_says_what_to_install(tiny_book_dir, tmp_path, monkeypatch):
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(EngineError, match=r"pyspark is not installed.*pip install -e '\.\[spark\]'"):
        load_book(tiny_book_dir, engine=spark_engine())


def test_spark_refuses_csv_and_duckdb_files_before_starting(tmp_path):
    generate_book(tmp_path / "csv", n_accounts=5, seed=1, fmt="csv")
    with pytest.raises(EngineError, match=r"reads Parquet.*accounts\.csv is CSV.*--engine duckdb"):
        load_book(tmp_path / "csv", engine=spark_engine())
    db = tmp_path / "book.duckdb"
    db.touch()
    with pytest.raises(EngineError, match="not a folder.*--engine duckdb"):
        load_book(db, engine=spark_engine())


def test_spark_tables_must_be_contract_tables(tiny_book_dir):
    with pytest.raises(ConfigError, match="engine.spark.tables names usages, which are not tables"):
        load_book(tiny_book_dir, engine=spark_engine(tables={"usages": "lake.usage"}))


def test_the_engine_section_refuses_an_unknown_backend():
    with pytest.raises(ConfigError, match="engine.backend: Input should be 'duckdb' or 'spark'"):
        load_params(overrides={"engine.backend": "snowflake"})


def test_cli_engine_flag_reaches_the_book(tmp_path, capsys):
    generate_book(tmp_path / "csv", n_accounts=60, seed=1, fmt="csv")  # enough for the models
    assert main(["validate", str(tmp_path / "csv"), "--engine", "duckdb"]) == 0
    assert main(["validate", str(tmp_path / "csv"), "--engine", "spark"]) == 2
    assert "accounts.csv is CSV" in capsys.readouterr().err
    out = tmp_path / "reports"
    assert main(["run", "--data", str(tmp_path / "csv"), "--out", str(out), "--engine", "spark"]) == 2
    assert "--engine duckdb" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit):
        main(["run", "--engine", "snowflake"])
