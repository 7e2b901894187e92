"""Shifted-beta-geometric: Fader & Hardie (2007) published fits and projections, DERL, recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.clv import ShiftedBetaGeometricModel, fit_by_segment, simulate_sbg, survivors_to_histories
from analysis.errors import DataContractError, InsufficientDataError

# Fader & Hardie (2007), "How to project customer retention": survivors out of 1,000, years 0-12.
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394]


@pytest.mark.parametrize(
    "survivors, alpha, beta",
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
    ids=["regular", "high_end"],
)
def test_published_fit_on_years_1_to_7_and_projection(survivors, alpha, beta):
    model = ShiftedBetaGeometricModel().fit_survivors(survivors[:8])
    assert round(model.params_["alpha"], 3) == alpha
    assert round(model.params_["beta"], 3) == beta
    projected = model.projected_survivors(1000, range(8, 13)).to_numpy()
    # Out-of-sample years 8-12 within a few percent (the paper's Figure: within 5%).
    np.testing.assert_allclose(projected, survivors[8:], rtol=0.05)


def test_retention_rises_with_tenure_and_matches_survival_ratio():
    model = ShiftedBetaGeometricModel().fit_survivors(REGULAR[:8])
    r = model.retention_rate(range(1, 10)).to_numpy()
    s = model.survival(range(10)).to_numpy()
    assert np.all(np.diff(r) > 0)
    np.testing.assert_allclose(r, s[1:] / s[:-1], rtol=1e-12)
    np.testing.assert_allclose(model.renewal_probability([0, 3]), r[[0, 3]], rtol=1e-12)


def test_derl_closed_form_matches_direct_sum():
    model = ShiftedBetaGeometricModel().fit_survivors(HIGH_END[:8])
    renewals = np.array([0, 1, 4, 9])
    closed = model.derl(renewals, discount_rate=0.10)
    summed = model.derl(renewals, discount_rate=0.10, horizon=3000)
    np.testing.assert_allclose(closed, summed, rtol=1e-8)
    # Survivors are the loyal ones: residual value grows with renewals already made.
    assert np.all(np.diff(closed) > 0)
    # A shorter horizon values fewer renewals.
    assert np.all(model.derl(renewals, 0.10, horizon=3) < closed)


def test_derl_reduces_to_geometric_without_heterogeneity():
    # alpha, beta -> infinity with alpha / (alpha + beta) = churn: constant retention 1 - churn.
    churn, d, k = 0.2, 0.1, 1e7
    model = ShiftedBetaGeometricModel()
    model.params_ = pd.Series({"alpha": churn * k, "beta": (1 - churn) * k})
    model.homogeneous_ = False
    keep = 1 - churn
    assert model.derl([5], d, horizon=2000)[0] == pytest.approx(keep / (1 - keep / (1 + d)), rel=1e-5)


def test_recovers_simulated_parameters():
    histories = simulate_sbg(5000, alpha=0.7, beta=2.5, periods=6, seed=2)
    s = ShiftedBetaGeometricModel().fit(histories).summary
    for name, value in {"alpha": 0.7, "beta": 2.5}.items():
        assert abs(s.loc[name, "estimate"] - value) < 3 * s.loc[name, "std_error"], name


def test_survivor_counts_and_histories_give_the_same_fit():
    h = survivors_to_histories(REGULAR[:8])
    assert h["weight"].sum() == 1000
    expanded = h.loc[h.index.repeat(h["weight"].astype(int))]
    a = ShiftedBetaGeometricModel().fit(expanded)
    b = ShiftedBetaGeometricModel().fit_survivors(REGULAR[:8])
    np.testing.assert_allclose(a.params_, b.params_, rtol=1e-6)


def test_no_heterogeneity_gives_constant_churn_fit():
    # Retention 0.9 every year (not rising with tenure): the likelihood is maximal at the
    # boundary alpha, beta -> infinity, which the model reports as one churn probability.
    model = ShiftedBetaGeometricModel().fit_survivors([1000, 900, 810, 729, 656])
    assert model.homogeneous_
    s = model.summary
    assert s.index.tolist() == ["churn_probability"]
    assert s.loc["churn_probability", "estimate"] == pytest.approx(0.1, abs=0.001)
    assert s.loc["churn_probability", "lower_95"] < 0.1 < s.loc["churn_probability", "upper_95"]
    np.testing.assert_allclose(model.retention_rate([1, 5]), [0.9, 0.9], atol=0.001)
    keep = 1 - model.churn_probability_
    assert model.derl([3], 0.1)[0] == pytest.approx(keep / (1 - keep / 1.1))


def test_segment_fits_and_pooled_fallback():
    a = simulate_sbg(3000, alpha=0.7, beta=1.2, periods=6, seed=1).assign(tier="regular")
    b = simulate_sbg(3000, alpha=0.7, beta=3.8, periods=6, seed=2).assign(tier="high_end")
    tiny = simulate_sbg(30, alpha=1.0, beta=8.0, periods=2, seed=3).assign(tier="tiny")
    models, table = fit_by_segment(pd.concat([a, b, tiny]), "tier", min_churners=10)
    assert set(table.index) == {"all", "regular", "high_end", "tiny"}
    assert models["high_end"].retention_rate([1]).iloc[0] > models["regular"].retention_rate([1]).iloc[0]
    assert table.loc["high_end", "beta_lower_95"] < 3.8 < table.loc["high_end", "beta_upper_95"]
    assert models["tiny"] is models["all"] and "pooled" in table.loc["tiny", "note"]


def test_bad_histories_are_named():
    with pytest.raises(DataContractError, match="must not increase"):
        survivors_to_histories([100, 80, 90])
    with pytest.raises(InsufficientDataError, match="both churn and renewals"):
        ShiftedBetaGeometricModel().fit(pd.DataFrame({"periods": [3, 4], "churned": [0, 0]}))
    with pytest.raises(DataContractError, match="whole numbers"):
        ShiftedBetaGeometricModel().fit(pd.DataFrame({"periods": [1.5, 2], "churned": [1, 0]}))
    with pytest.raises(InsufficientDataError):
        ShiftedBetaGeometricModel().fit(pd.DataFrame({"periods": [], "churned": []}))
    with pytest.raises(DataContractError, match="discount rate"):
        ShiftedBetaGeometricModel().fit_survivors(REGULAR[:8]).derl([0], discount_rate=0.0)
