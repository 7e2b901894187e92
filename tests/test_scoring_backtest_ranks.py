"""The back-test ranks its bootstrap resamples from counts (``resample_ranks``): exactly what
``scipy.stats.rankdata`` gives row by row, ties averaged, NaN handed to rankdata."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analysis.scoring.backtest import resample_ranks


@pytest.mark.parametrize("kind", ["continuous", "few distinct values", "rounded", "one value"])
def test_ranks_of_resamples_equal_rankdata_bit_for_bit(kind):
    rng = np.random.default_rng(7)
    values = {
        "continuous": rng.normal(size=400),
        "few distinct values": rng.integers(0, 4, 400).astype(float),
        "rounded": np.round(rng.normal(size=400), 1),
        "one value": np.ones(400),
    }[kind]
    idx = np.vstack([np.arange(len(values)), rng.integers(0, len(values), (50, len(values)))])
    assert np.array_equal(resample_ranks(values, idx), stats.rankdata(values[idx], axis=-1))


def test_values_with_nan_and_empty_resamples_go_to_rankdata():
    values = np.array([0.3, np.nan, 0.1, 0.2])
    idx = np.array([[0, 1, 2, 3], [2, 2, 0, 3]])
    assert np.array_equal(resample_ranks(values, idx), stats.rankdata(values[idx], axis=-1), equal_nan=True)
    assert resample_ranks(values, np.zeros((3, 0), dtype=int)).shape == (3, 0)
