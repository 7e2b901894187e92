"""BG/NBD: published CDNOW figures, analytic derivatives, recovery on simulated customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _derivatives import assert_derivatives_match

from analysis.clv import BetaGeoModel, group_rfm, simulate_bgnbd
from analysis.clv.bgnbd import loglik_at

TRUE = {"r": 0.8, "alpha": 12.0, "a": 1.0, "b": 6.0}


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    return BetaGeoModel().fit(cdnow, time_unit="weeks")


def test_cdnow_reproduces_published_parameters(cdnow_fit):
    # Fader, Hardie & Lee (2005), CDNOW sample of 2,357 customers, weeks.
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert round(cdnow_fit.params_[name], 3) == value, name
    assert abs(cdnow_fit.log_likelihood_ - (-9582.4)) < 0.1


def test_cdnow_published_conditional_expectation(cdnow_fit):
    # FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226
    # purchases in the next 39 weeks.
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]}, index=["c1516"])
    pred = cdnow_fit.predict_purchases(one, 39, "weeks")
    assert pred.index.tolist() == ["c1516"]
    assert round(pred.iloc[0], 3) == 1.226


def test_summary_shape_and_intervals(cdnow_fit):
    s = cdnow_fit.summary
    assert s.index.name == "factor"
    assert list(s.columns[:6]) == ["estimate", "std_error", "lower_95", "upper_95", "z", "p"]
    assert (s["lower_95"] < s["estimate"]).all() and (s["estimate"] < s["upper_95"]).all()
    assert (s["lower_95"] > 0).all()  # log-scale intervals stay positive
    # Standard errors from the observed information agree with lifetimes 0.11.3 on CDNOW.
    assert s.loc["r", "std_error"] == pytest.approx(0.012557, rel=1e-3)
    assert s.loc["b", "std_error"] == pytest.approx(0.705345, rel=1e-3)


def test_analytic_gradient_and_hessian_match_finite_differences(cdnow):
    model = BetaGeoModel()
    model._prepare(
        cdnow["frequency"].to_numpy(), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy(), np.ones(len(cdnow))
    )
    # Away from the optimum, so the gradient is not ~0.
    assert_derivatives_match(model._loglik, [0.3, 5.0, 0.7, 2.0], atol=1e-6)


def test_grouped_rows_with_weights_give_the_same_fit(cdnow, cdnow_fit):
    grouped = group_rfm(cdnow)
    assert len(grouped) < len(cdnow)
    fit = BetaGeoModel().fit(grouped, time_unit="weeks", weights=grouped["weight"])
    np.testing.assert_allclose(fit.params_, cdnow_fit.params_, rtol=1e-5)
    assert fit.log_likelihood_ == pytest.approx(cdnow_fit.log_likelihood_, rel=1e-9)


def test_recovers_simulated_parameters():
    rng = np.random.default_rng(11)
    data = simulate_bgnbd(20_000, **TRUE, T=rng.uniform(20, 150, 20_000), seed=5)
    fit = BetaGeoModel().fit(data, time_unit="weeks")
    s = fit.summary
    # 3 standard errors: one fixed seed, four parameters; a wrong likelihood misses by far more.
    for name, value in TRUE.items():
        assert abs(s.loc[name, "estimate"] - value) < 3 * s.loc[name, "std_error"], name
    # The fitted optimum beats the truth on its own data (it is the maximum).
    x, t, T = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
    assert fit.log_likelihood_ >= loglik_at(list(TRUE.values()), x, t, T)


def test_conditional_expectation_averages_to_population_increment():
    # Law of total expectation: over customers drawn from the model and observed to T, the mean
    # of E[purchases in (T, T+h] | history] equals E[X(T+h)] - E[X(T)] for a new customer.
    T, h = 52.0, 26.0
    data = simulate_bgnbd(40_000, **TRUE, T=T, seed=9)
    model = BetaGeoModel()
    model.params_ = pd.Series(TRUE)
    model.time_unit_ = "weeks"
    mean_pred = model.predict_purchases(data, h, "weeks").mean()
    expected = np.diff(model.expected_purchases_new_customer([T, T + h], "weeks"))[0]
    assert mean_pred == pytest.approx(expected, rel=0.03)
    # ... and the simulator agrees with the closed form E[X(T)].
    assert data["frequency"].mean() == pytest.approx(model.expected_purchases_new_customer(T, "weeks"), rel=0.03)


def test_p_alive_is_one_without_repeats_and_falls_with_silence(cdnow_fit):
    rows = pd.DataFrame({"frequency": [0, 3, 3], "recency": [0.0, 30.0, 5.0], "T": [40.0, 40.0, 40.0]})
    p = cdnow_fit.predict_p_alive(rows, "weeks")
    assert p.iloc[0] == 1.0
    assert 0 < p.iloc[2] < p.iloc[1] < 1


def test_time_unit_changes_alpha_only(cdnow, cdnow_fit):
    days = cdnow.assign(recency=cdnow["recency"] * 7, T=cdnow["T"] * 7)
    fit = BetaGeoModel().fit(days, time_unit="days")
    assert fit.params_["alpha"] == pytest.approx(7 * cdnow_fit.params_["alpha"], rel=1e-5)
    for name in ("r", "a", "b"):
        assert fit.params_[name] == pytest.approx(cdnow_fit.params_[name], rel=1e-5)
    # log L changes by the Jacobian constant -sum(x) log 7 only.
    shift = -cdnow["frequency"].sum() * np.log(7)
    assert fit.log_likelihood_ == pytest.approx(cdnow_fit.log_likelihood_ + shift, rel=1e-9)
    # Predictions in either unit agree.
    p_weeks = cdnow_fit.predict_purchases(cdnow, 52, "weeks")
    p_days = cdnow_fit.predict_purchases(days, 364, "days")
    np.testing.assert_allclose(p_weeks, p_days, rtol=1e-10)
