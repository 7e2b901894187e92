"""``analysis.core.summary.adjust_p``: the hand-written Holm step equals statsmodels' bit for bit."""

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from analysis.core.summary import adjust_p, holm


@pytest.mark.parametrize("n", [1, 2, 5, 37, 400])
def test_holm_equals_statsmodels_bit_for_bit(n):
    rng = np.random.default_rng(n)
    for _ in range(20):
        p = rng.uniform(size=n) ** rng.uniform(0.2, 3)
        p[rng.uniform(size=n) < 0.2] = p[0]  # ties
        p[rng.uniform(size=n) < 0.05] = 1.0
        assert np.array_equal(holm(p), multipletests(p, method="holm")[1])


def test_holm_caps_at_one_and_keeps_the_order_of_the_input():
    got = holm(np.array([0.5, 0.01, 0.04]))
    assert got.tolist() == [pytest.approx(0.5 * 1), pytest.approx(0.03), pytest.approx(0.08)]
    assert holm(np.array([0.6, 0.7])).tolist() == [1.0, 1.0]


def test_missing_p_values_are_left_out_of_either_correction():
    p = np.array([0.01, np.nan, 0.02, 0.2])
    for method in ("holm", "fdr_bh"):
        got = adjust_p(p, method)
        assert np.isnan(got[1])
        assert np.array_equal(got[[0, 2, 3]], multipletests(p[[0, 2, 3]], method=method)[1])
    assert np.isnan(adjust_p(np.array([np.nan]))).all()
