"""The Spark engine in local mode gives the default engine's tables, bit for bit but for the last
bit of a mean (MEAN_TOLERANCE): features, outcomes, lifetimes and validation on the sample, and
books read from a folder of Parquet parts or from the Spark catalog.

Needs the spark extra and a Java runtime (`python3 tasks.py test` installs both when the machine
allows); without them every test here skips with a message.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from engine_compare import FAST_JVM, MEAN_TOLERANCE, assert_bit_identical, skip_without_spark

from analysis.data import features, validate
from analysis.data.io import default_as_of, load_book, write_book
from analysis.data.synth import generate_book
from analysis.params import defaults

skip_without_spark()

pytestmark = pytest.mark.slow
MARGIN = defaults().features.subscription_margin


@pytest.fixture(scope="session")
def spark_engine(tmp_path_factory):
    """The engine section for local Spark; one session per test process (Spark's own rule)."""
    warehouse = tmp_path_factory.mktemp("spark_warehouse")
    configs = {**FAST_JVM, "spark.sql.warehouse.dir": str(warehouse)}
    return defaults().engine.updated(backend="spark", spark={"configs": configs})


def data_layer_tables(book, as_of: dt.date) -> dict[str, pd.DataFrame]:
    year_before = as_of - dt.timedelta(days=365)
    return {
        "features": features.build_features(book, as_of, MARGIN),
        "features a year before": features.build_features(book, year_before, MARGIN),
        "contract features": features.build_contract_features(book, 90, MARGIN),
        "outcomes": features.build_outcomes(book, year_before, MARGIN),
        "lifetimes": features.account_lifetimes(book, as_of),
    }


def test_features_are_bit_identical_on_the_sample(default_book_dir, spark_engine):
    duck = load_book(default_book_dir)
    spark = load_book(default_book_dir, engine=spark_engine)
    assert spark.engine.name == "spark" and spark.tables == duck.tables
    as_of = default_as_of(duck)
    assert default_as_of(spark) == as_of
    assert_bit_identical(data_layer_tables(duck, as_of), data_layer_tables(spark, as_of))


def test_catalog_tables_read_like_files(small_book_dir, spark_engine):
    from analysis.data.spark import spark_session

    session = spark_session(spark_engine.spark)
    session.sql("CREATE DATABASE IF NOT EXISTS b2b_test")
    duck = load_book(small_book_dir)
    for table in duck.tables:
        session.read.parquet(*[str(p) for p in duck.files[table]]).write.mode("overwrite").saveAsTable(
            f"b2b_test.{table}"
        )
    as_of = default_as_of(duck)
    expected = data_layer_tables(duck, as_of)
    whole = load_book(small_book_dir, engine=spark_engine.updated(spark={"database": "b2b_test"}))
    assert whole.files == {} and set(whole.tables) == set(duck.tables)
    assert_bit_identical(expected, data_layer_tables(whole, as_of))
    usage_only = load_book(small_book_dir, engine=spark_engine.updated(spark={"tables": {"usage": "b2b_test.usage"}}))
    assert "usage" not in usage_only.files and "orders" in usage_only.files
    assert_bit_identical(expected, data_layer_tables(usage_only, as_of))


def _bad_book(folder):
    """A small book with one of each structural and value problem."""
    generate_book(folder, n_accounts=30, seed=5)
    book = load_book(folder)
    orders = book.df("orders")
    orders.loc[0, "amount"] = -5.0  # negative amount (value check)
    orders.loc[1, "account_id"] = "NOBODY"  # unknown account
    orders.loc[2, "date"] = pd.Timestamp(book.extract_date) + pd.Timedelta(days=30)  # after the extract
    surveys = book.df("surveys")
    surveys["nps"] = surveys["nps"].astype(object)
    surveys.loc[0, "nps"] = "ten"  # wrong type
    contracts = book.df("contracts")
    contracts = pd.concat([contracts, contracts.head(2)])  # duplicate keys
    contracts.loc[contracts.index[3], "product_line"] = None  # missing required value
    surveys["nps"] = surveys["nps"].astype(str)
    write_book({"orders": orders, "surveys": surveys, "contracts": contracts}, folder)


def test_validation_finds_the_same_problems(tmp_path, spark_engine):
    _bad_book(tmp_path)
    duck = validate.validate_book(load_book(tmp_path), defaults().validation).to_frame()
    spark = validate.validate_book(load_book(tmp_path, engine=spark_engine), defaults().validation).to_frame()
    checks = set(zip(duck["table"], duck["check"]))
    assert {("orders", "unknown account"), ("contracts", "duplicate key"), ("surveys", "wrong type")} <= checks
    assert {("orders", ">= 0"), ("orders", "not after the extract date")} <= checks
    key = ["table", "column", "check"]
    pd.testing.assert_frame_equal(
        duck.drop(columns="examples").sort_values(key).reset_index(drop=True),
        spark.drop(columns="examples").sort_values(key).reset_index(drop=True),
    )


def test_validation_plans_no_nested_loop_join(tmp_path, spark_engine):
    """Every query validation sends, on a book where every check finds rows, is planned by Spark
    without a nested-loop join (NOT IN inside an aggregate's FILTER was one: every child row
    against every account: 57 s of 1 M usage rows)."""
    from analysis.data.spark import to_spark

    _bad_book(tmp_path)
    book = load_book(tmp_path, engine=spark_engine)
    sent, rows = [], book.engine.rows
    book.engine.rows = lambda query: (sent.append(query), rows(query))[1]
    book.engine.sql = lambda query, _sql=book.engine.sql: (sent.append(query), _sql(query))[1]
    validate.validate_book(book, defaults().validation)
    plans = {query: book.engine.session.sql("EXPLAIN " + to_spark(query)).collect()[0][0] for query in sent}
    looped = [query[:200] for query, plan in plans.items() if "NestedLoopJoin" in plan]
    assert len(plans) > 20 and not looped, looped


def test_fixed_point_casts_and_means_match_duckdb(spark_engine):
    """The rewrites of analysis.data.spark on a spread of 140,000 doubles, half-way cases
    (x * 10^6 ending in .5, where the two engines' own casts round differently) included: every
    fixed-point sum identical, every mean of a DECIMAL without a FILTER too, every other mean to the
    last bit."""
    from analysis.data.engine import DuckDBEngine
    from analysis.data.io import connect
    from analysis.data.spark import SparkEngine, spark_session

    rng = np.random.default_rng(0)
    ties = (rng.integers(-(10**9), 10**9, 20_000) + 0.5) / 1e6
    values = np.concatenate([rng.random(100_000) * 10.0 ** rng.integers(-6, 13, 100_000), ties, -ties])
    frame = pd.DataFrame({"g": rng.integers(0, 5_000, len(values)), "x": values})
    frame["i"] = rng.integers(-(10**15), 10**15, len(values))  # an integer mean, sums beyond 2^53
    query = """SELECT g, CAST(sum(CAST(x AS DECIMAL(38, 6))) AS VARCHAR) AS total,
                 avg(CAST(x AS DECIMAL(38, 6))) FILTER (WHERE x > 0) AS mean,
                 avg(CAST(x AS DECIMAL(38, 6))) AS whole_mean, avg(i) AS integer_mean
               FROM numbers GROUP BY g ORDER BY g"""
    results = []
    for engine in (DuckDBEngine(connect()), SparkEngine(spark_session(spark_engine.spark))):
        engine.put("numbers", frame)
        results.append(engine.sql(query))
        engine.unput("numbers")
    duck, spark = results
    assert len(duck) == 5_000 and (duck["total"] == spark["total"]).all()  # every cast rounded as DuckDB does
    for column in ("mean", "integer_mean"):  # DuckDB divides these in extended precision: the last bit
        a, b = duck[column].to_numpy(), spark[column].to_numpy()
        assert (np.abs(a - b) <= MEAN_TOLERANCE * np.abs(a)).all(), column
    a, b = duck["whole_mean"].to_numpy(), spark["whole_mean"].to_numpy()  # a DECIMAL's mean without FILTER
    assert (a == b).all(), f"{(a != b).sum()} of {len(a)} means of a DECIMAL differ"


def test_in_subqueries_keep_their_nulls_and_are_hash_joins(spark_engine):
    """``x [NOT] IN (SELECT ...)``, rewritten as EXISTS for Spark: the same TRUE / FALSE / NULL as
    DuckDB for a NULL x, a NULL in the list and an empty list, and no nested-loop join in the plan
    of validation's count of unknown accounts."""
    from analysis.data.engine import DuckDBEngine
    from analysis.data.io import connect
    from analysis.data.spark import SparkEngine, spark_session, to_spark

    values = pd.DataFrame({"x": ["a", "b", None]})
    listed = pd.DataFrame({"k": ["a", None], "g": [1, 2]})
    spark = SparkEngine(spark_session(spark_engine.spark))
    engines = (DuckDBEngine(connect()), spark)
    for engine in engines:
        engine.put("vals", values)
        engine.put("listed", listed)
    for where in ("", "WHERE k IS NOT NULL", "WHERE g = 2", "WHERE g = 3"):  # both, no NULL, only NULL, none
        subquery = f"(SELECT k FROM listed {where})"
        query = f"SELECT x, x IN {subquery} AS found, x NOT IN {subquery} AS absent FROM vals ORDER BY x NULLS LAST"
        counts = f"count(*) FILTER (WHERE x NOT IN {subquery}), count(*) FILTER (WHERE x IN {subquery})"
        counted = f"SELECT {counts} FROM vals"
        assert engines[0].rows(counted) == spark.rows(counted), where
        duck, ours = (engine.rows(query) for engine in engines)
        assert duck == ours, where
    unknown = "SELECT count(*) FILTER (WHERE x NOT IN (SELECT k FROM listed WHERE k IS NOT NULL)) FROM vals"
    plan = spark.session.sql(to_spark(unknown))._jdf.queryExecution().executedPlan().toString()
    assert "HashJoin" in plan and "NestedLoop" not in plan, plan
    for engine in engines:
        engine.unput("vals")
        engine.unput("listed")
