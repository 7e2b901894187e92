"""Order-stream CLV: unit invariance, discounting, margin, never negative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value
from analysis.errors import ConfigError


@pytest.fixture(scope="module")
def models(cdnow):
    return BetaGeoModel().fit(cdnow, time_unit="weeks"), GammaGammaModel().fit(cdnow)


def test_clv_does_not_depend_on_the_time_unit(cdnow, models):
    bg_weeks, gg = models
    clv_weeks = customer_lifetime_value(bg_weeks, gg, cdnow, "weeks", horizon=156, annual_discount_rate=0.1)
    # Same customers measured in days, model refitted in days, horizon given in days.
    days = cdnow.assign(recency=cdnow["recency"] * 7, T=cdnow["T"] * 7)
    bg_days = BetaGeoModel().fit(days, time_unit="days")
    clv_days = customer_lifetime_value(bg_days, gg, days, "days", horizon=156 * 7, annual_discount_rate=0.1)
    # ... and in months, with the weekly model converting.
    months = cdnow.assign(recency=cdnow["recency"] * 7 / (365.25 / 12), T=cdnow["T"] * 7 / (365.25 / 12))
    clv_months = customer_lifetime_value(
        bg_weeks, gg, months, "months", horizon=156 * 7 / (365.25 / 12), annual_discount_rate=0.1
    )
    np.testing.assert_allclose(clv_days["clv"], clv_weeks["clv"], rtol=1e-5)
    np.testing.assert_allclose(clv_months["clv"], clv_weeks["clv"], rtol=1e-9)
    assert clv_weeks.index.equals(cdnow.index)


def test_undiscounted_clv_is_purchases_times_spend_times_margin(cdnow, models):
    bg, gg = models
    out = customer_lifetime_value(bg, gg, cdnow, "weeks", horizon=52, annual_discount_rate=0.0, margin=0.3)
    purchases = bg.predict_purchases(cdnow, 12 * 365.25 / 12 / 7, "weeks")  # 12 calendar months
    np.testing.assert_allclose(out["expected_purchases"], purchases, rtol=1e-10)
    np.testing.assert_allclose(out["clv"], 0.3 * purchases * gg.predict_mean_spend(cdnow), rtol=1e-10)


def test_discounting_and_horizon_move_clv_the_right_way(cdnow, models):
    bg, gg = models
    base = customer_lifetime_value(bg, gg, cdnow, "weeks", 104, 0.10)["clv"]
    assert (customer_lifetime_value(bg, gg, cdnow, "weeks", 104, 0.25)["clv"] <= base + 1e-12).all()
    assert (customer_lifetime_value(bg, gg, cdnow, "weeks", 208, 0.10)["clv"] >= base - 1e-12).all()


def test_clv_is_never_negative(cdnow, models):
    bg, gg = models
    margin = pd.Series(np.where(np.arange(len(cdnow)) % 2 == 0, -0.4, 0.25), index=cdnow.index)
    out = customer_lifetime_value(bg, gg, cdnow, "weeks", 52, 0.1, margin=margin)
    assert (out["clv"] >= 0).all()
    assert (out.loc[margin < 0, "clv"] == 0).all()
    assert (out.loc[margin > 0, "clv"] > 0).all()


def test_bad_clv_settings(cdnow, models):
    bg, gg = models
    with pytest.raises(ConfigError, match="discount"):
        customer_lifetime_value(bg, gg, cdnow, "weeks", 52, 1.5)
    with pytest.raises(ConfigError, match="shorter than one"):
        customer_lifetime_value(bg, gg, cdnow, "weeks", 1, 0.1)
    with pytest.raises(ConfigError, match="time unit"):
        customer_lifetime_value(bg, gg, cdnow, "hours", 52, 0.1)


def test_predict_clv_method_matches_the_function(cdnow, models):
    bg, gg = models
    series = gg.predict_clv(bg, cdnow, "weeks", 52, 0.1, margin=0.3)
    frame = customer_lifetime_value(bg, gg, cdnow, "weeks", 52, 0.1, margin=0.3)
    assert series.index.equals(cdnow.index)
    np.testing.assert_array_equal(series, frame["clv"])
