"""Comparing what the two engines computed: bit for bit, but for the last bit of a mean.

A mean with a FILTER (every mean of the feature blocks) or of an integer is the one value the
engines do not compute identically: DuckDB divides sum / count in x87 extended precision and
rounds that to a DOUBLE (two roundings), Spark divides once in DOUBLE (analysis.data.spark). The
two differ in the last bit on about one mean in 2,000 (1 ulp, a relative 1.1e-16); a difference of
two means (adoption_trend) inherits it. Every other value of the data layer is bit-identical.
Shared by tests/test_engine_spark.py (the data layer) and tests/test_engine_spark_run.py (every
table of a whole run).
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

MEAN_TOLERANCE = 1e-15  # relative to max(1, |value|)
# A JVM that starts in seconds (tests are short jobs); the shipped configs stay as they are.
FAST_JVM = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}


def skip_without_spark() -> None:
    """Skip the calling test module, with a message, without the spark extra or a Java runtime."""
    pytest.importorskip("pyspark", reason="the Spark engine's tests need the spark extra: pip install -e '.[spark]'")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.skip(
            "the Spark engine's tests need a Java 17+ runtime (openjdk-17-jre-headless)", allow_module_level=True
        )


def assert_bit_identical(
    duck: dict[str, pd.DataFrame],
    spark: dict[str, pd.DataFrame],
    tolerance: float = MEAN_TOLERANCE,
    few_rows: bool = True,
) -> None:
    """Every frame of ``duck`` equals the one of the same name in ``spark``: the same columns,
    index and dtypes, every value identical except floats within ``tolerance`` (relative to
    max(1, |value|)). ``few_rows``: and those on few rows only (in an aggregation, a last-bit
    difference on most rows would be a different computation, not a mean)."""
    assert sorted(duck) == sorted(spark), "the two engines gave different sets of tables"
    for name, frame in duck.items():
        other = spark[name]
        assert list(frame.columns) == list(other.columns) and frame.index.equals(other.index), name
        assert (frame.dtypes == other.dtypes).all(), name
        for column in frame.columns:
            left, right = frame[column], other[column]
            if left.dtype.kind != "f" or left.equals(right):
                pd.testing.assert_series_equal(left, right, check_exact=True, obj=f"{name}.{column}")
                continue
            a, b = left.to_numpy(), right.to_numpy()
            assert (np.isnan(a) == np.isnan(b)).all(), f"{name}.{column}: NaN in different rows"
            ok = np.isnan(a) | (np.abs(a - b) <= tolerance * np.maximum(1.0, np.abs(a)))
            assert ok.all(), f"{name}.{column}: {(~ok).sum()} values differ beyond {tolerance}"
            last_bit = ((a != b) & ~np.isnan(a)).sum()
            few = last_bit <= max(3, len(a) // 200)
            assert few or not few_rows, f"{name}.{column}: {last_bit} last-bit differences"
