"""RFM summary from raw orders, calibration/holdout split and the holdout check."""

from __future__ import annotations

import datetime as dt

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analysis.clv import (
    BetaGeoModel,
    GammaGammaModel,
    calibration_holdout,
    holdout_check,
    plot_holdout_check,
    rfm_summary,
    simulate_orders,
)
from analysis.errors import ConfigError, DataContractError, InsufficientDataError

matplotlib.use("Agg")

TRUE = {"r": 0.8, "alpha": 12.0, "a": 1.0, "b": 6.0}
SPEND = {"p": 4.0, "q": 5.0, "gamma": 8000.0}


@pytest.fixture(scope="module")
def orders():
    return simulate_orders(8000, **TRUE, **SPEND, start="2021-01-01", end="2023-01-01", seed=4)


def test_rfm_by_hand():
    orders = pd.DataFrame(
        {
            "account_id": ["A", "A", "A", "A", "B", "C"],
            "date": pd.to_datetime(
                ["2024-01-01", "2024-01-08", "2024-01-08", "2024-01-29", "2024-01-20", "2024-03-01"]
            ),
            "amount": [10.0, 20.0, 5.0, 40.0, 7.0, 99.0],
        }
    )
    rfm = rfm_summary(orders, dt.date(2024, 2, 6), "weeks")
    assert rfm.index.tolist() == ["A", "B"]  # C ordered after the as-of date
    a = rfm.loc["A"]
    assert a["frequency"] == 2  # same-day orders are one purchase
    assert a["recency"] == pytest.approx(4.0)
    assert a["T"] == pytest.approx(5.0)  # to the last observed day, 2024-02-05
    assert a["monetary_value"] == pytest.approx((25.0 + 40.0) / 2)  # repeat purchases only
    b = rfm.loc["B"]
    assert (b["frequency"], b["recency"], b["monetary_value"]) == (0, 0.0, 0.0)
    assert b["T"] == pytest.approx(16 / 7)


def test_rfm_missing_column_and_no_orders():
    with pytest.raises(DataContractError, match="amount"):
        rfm_summary(pd.DataFrame({"account_id": ["A"], "date": ["2024-01-01"]}), dt.date(2024, 2, 1), "weeks")
    orders = pd.DataFrame({"account_id": ["A"], "date": ["2024-03-01"], "amount": [1.0]})
    with pytest.raises(InsufficientDataError, match="No orders"):
        rfm_summary(orders, dt.date(2024, 2, 1), "weeks")
    with pytest.raises(ConfigError, match="time unit"):
        rfm_summary(orders, dt.date(2024, 4, 1), "fortnights")


def test_models_recover_parameters_from_raw_orders(orders):
    rfm = rfm_summary(orders, dt.date(2023, 1, 1), "weeks")
    bg = BetaGeoModel().fit(rfm, time_unit="weeks").summary
    gg = GammaGammaModel().fit(rfm).summary
    # Times are whole days and same-day orders merge, a small distortion at this size;
    # 3 standard errors for one fixed seed.
    for s, truth in ((bg, TRUE), (gg, SPEND)):
        for name, value in truth.items():
            assert abs(s.loc[name, "estimate"] - value) < 3 * s.loc[name, "std_error"], name


def test_calibration_holdout_check(orders):
    split = calibration_holdout(orders, dt.date(2022, 7, 1), dt.date(2023, 1, 1), "weeks")
    np.testing.assert_allclose(split["duration_holdout"], 184 / 7)
    first = pd.to_datetime(orders.groupby("account_id")["date"].min())
    assert set(split.index) == set(first[first < "2022-07-01"].index)
    # Holdout purchases counted directly from the orders.
    later = orders[(orders["date"] >= "2022-07-01")].groupby("account_id")["date"].nunique()
    np.testing.assert_array_equal(split["frequency_holdout"], later.reindex(split.index, fill_value=0))

    model = BetaGeoModel().fit(split, time_unit="weeks")
    table = holdout_check(model, split, "weeks")
    assert table.index.tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    assert table.loc["all", "customers"] == len(split)
    # A correct model predicts the holdout: overall within 5%, by group within ~3 SE of the mean.
    assert table.loc["all", "predicted"] == pytest.approx(table.loc["all", "actual"], rel=0.05)
    sd = split.groupby(split["frequency"].clip(upper=7))["frequency_holdout"].std().to_numpy()
    se = sd / np.sqrt(table["customers"].iloc[:-1].to_numpy())
    assert np.all(np.abs(table["predicted"].iloc[:-1] - table["actual"].iloc[:-1]) < 3 * se + 0.02)
    # Predictions rise with past frequency, as the actuals do.
    assert table["predicted"].iloc[:-1].is_monotonic_increasing
    ax = plot_holdout_check(table)
    assert len(ax.lines) == 2


def test_holdout_rejects_reversed_dates(orders):
    with pytest.raises(ConfigError, match="after calibration_end"):
        calibration_holdout(orders, dt.date(2022, 7, 1), dt.date(2022, 1, 1), "weeks")
